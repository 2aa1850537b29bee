package todo

// This file holds what the server and the Go client share: the mutators,
// their argument types and the application context. It imports no server
// package, so a client can link it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/mutator"
)

// AppCtx is the application context mutators receive (mutator.Call.Ctx):
// who is acting. On the server BearerAuth fills it from the request.
type AppCtx struct {
	// UserID is the acting user; lists they create are theirs, todos
	// they create name them in created_by.
	UserID string
}

// The mutators' names, as clients push them.
const (
	MutCreateList   = "createList"
	MutAddMember    = "addMember"
	MutRemoveMember = "removeMember"
	MutCreateTodo   = "createTodo"
	MutUpdateTodo   = "updateTodo"
	MutDeleteTodo   = "deleteTodo"
)

// Limits on arguments, checked by the argument types' Validate methods.
const (
	// MaxIDBytes caps every id (of a list, member, todo or user).
	MaxIDBytes = 128
	// MaxNameRunes caps a list's name.
	MaxNameRunes = 200
	// MaxTitleRunes caps a todo's title.
	MaxTitleRunes = 500
)

// Errors the mutators return. They are permanent: the server rolls the
// mutation back, counts it as processed and reports it through OnError.
var (
	// ErrNotFound: the row to change or delete does not exist, or the
	// acting user may not write it (row auth hides it from the
	// statement).
	ErrNotFound = errors.New("todo: no such row, or not yours to change")
	// ErrAlreadyMember: addMember for a user who is a member already.
	ErrAlreadyMember = errors.New("todo: the user is a member of the list already")
)

// Mutators are the example application's mutators. Each runs in the
// mutation's transaction with row auth acting for the pushing user, so a
// write the rules forbid fails the mutation (see the table rules in the
// package documentation) and leaves nothing behind.
var Mutators = mutator.Set[AppCtx]{
	MutCreateList:   mutator.New(createList),
	MutAddMember:    mutator.New(addMember),
	MutRemoveMember: mutator.New(removeMember),
	MutCreateTodo:   mutator.New(createTodo),
	MutUpdateTodo:   mutator.New(updateTodo),
	MutDeleteTodo:   mutator.New(deleteTodo),
	MutAttachFile:   mutator.New(attachFile),
}

// CreateList is createList's arguments: a new list, owned by the acting
// user, who also becomes its first member.
type CreateList struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Validate checks the id and the name (not blank, at most MaxNameRunes).
func (a CreateList) Validate() error {
	return errors.Join(checkID("id", a.ID), checkText("name", a.Name, MaxNameRunes))
}

// AddMember is addMember's arguments: make UserID a member of ListID,
// with the member row's id ID. Only the list's owner may.
type AddMember struct {
	ID     string `json:"id"`
	ListID string `json:"listID"`
	UserID string `json:"userID"`
}

// Validate checks the ids.
func (a AddMember) Validate() error {
	return errors.Join(checkID("id", a.ID), checkID("listID", a.ListID), checkID("userID", a.UserID))
}

// RemoveMember is removeMember's arguments: UserID stops being a member
// of ListID. Only the list's owner may; the removed user's next pull
// deletes the list, its members and its todos from their view.
type RemoveMember struct {
	ListID string `json:"listID"`
	UserID string `json:"userID"`
}

// Validate checks the ids.
func (a RemoveMember) Validate() error {
	return errors.Join(checkID("listID", a.ListID), checkID("userID", a.UserID))
}

// CreateTodo is createTodo's arguments: a new todo in a list the acting
// user is a member of.
type CreateTodo struct {
	ID     string `json:"id"`
	ListID string `json:"listID"`
	Title  string `json:"title"`
}

// Validate checks the ids and the title (not blank, at most
// MaxTitleRunes).
func (a CreateTodo) Validate() error {
	return errors.Join(checkID("id", a.ID), checkID("listID", a.ListID), checkText("title", a.Title, MaxTitleRunes))
}

// UpdateTodo is updateTodo's arguments: the fields to change of a todo in
// a list the acting user is a member of. An absent (or null) field is left
// as it is; at least one must be given.
type UpdateTodo struct {
	ID    string  `json:"id"`
	Title *string `json:"title,omitempty"`
	Done  *bool   `json:"done,omitempty"`
}

// Validate checks the id, the title if given, and that something changes.
func (a UpdateTodo) Validate() error {
	errs := []error{checkID("id", a.ID)}
	if a.Title != nil {
		errs = append(errs, checkText("title", *a.Title, MaxTitleRunes))
	}
	if a.Title == nil && a.Done == nil {
		errs = append(errs, errors.New("nothing to update: give title or done"))
	}
	return errors.Join(errs...)
}

// DeleteTodo is deleteTodo's arguments: the todo to delete, in a list the
// acting user is a member of.
type DeleteTodo struct {
	ID string `json:"id"`
}

// Validate checks the id.
func (a DeleteTodo) Validate() error { return checkID("id", a.ID) }

// MemberID is the id of the member row that createList makes for a list's
// creator: derived from the list and the user, so the Go client's
// optimistic run and the server's write the same row.
func MemberID(listID, userID string) string {
	sum := sha256.Sum256([]byte(listID + "\x00" + userID))
	return "m-" + hex.EncodeToString(sum[:12])
}

func createList(ctx context.Context, c mutator.Call[AppCtx], a CreateList) error {
	if _, err := c.DB.Insert(Lists).Values(orm.Row{"id": a.ID, "name": a.Name, "owner_id": c.Ctx.UserID}).Exec(ctx); err != nil {
		return err
	}
	_, err := c.DB.Insert(Members).Values(orm.Row{
		"id": MemberID(a.ID, c.Ctx.UserID), "list_id": a.ID, "user_id": c.Ctx.UserID,
	}).Exec(ctx)
	return err
}

func addMember(ctx context.Context, c mutator.Call[AppCtx], a AddMember) error {
	// Read through row auth: a user who may not see the list's members
	// sees none here, and the insert's write rule then refuses them.
	n, err := orm.Scalar[int64](ctx, c.DB.Select(expr.CountAll()).From(Members).
		Where(expr.Eq(Members.Col("list_id"), a.ListID), expr.Eq(Members.Col("user_id"), a.UserID)))
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: %q in list %q", ErrAlreadyMember, a.UserID, a.ListID)
	}
	_, err = c.DB.Insert(Members).Values(orm.Row{"id": a.ID, "list_id": a.ListID, "user_id": a.UserID}).Exec(ctx)
	return err
}

func removeMember(ctx context.Context, c mutator.Call[AppCtx], a RemoveMember) error {
	n, err := c.DB.Delete(Members).
		Where(expr.Eq(Members.Col("list_id"), a.ListID), expr.Eq(Members.Col("user_id"), a.UserID)).Exec(ctx)
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: member %q of list %q", ErrNotFound, a.UserID, a.ListID)
	}
	return err
}

func createTodo(ctx context.Context, c mutator.Call[AppCtx], a CreateTodo) error {
	_, err := c.DB.Insert(Todos).Values(orm.Row{
		"id": a.ID, "list_id": a.ListID, "title": a.Title, "done": false, "created_by": c.Ctx.UserID,
	}).Exec(ctx)
	return err
}

func updateTodo(ctx context.Context, c mutator.Call[AppCtx], a UpdateTodo) error {
	set := orm.Row{}
	if a.Title != nil {
		set["title"] = *a.Title
	}
	if a.Done != nil {
		set["done"] = *a.Done
	}
	n, err := c.DB.Update(Todos).Set(set).Where(expr.Eq(Todos.Col("id"), a.ID)).Exec(ctx)
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: todo %q", ErrNotFound, a.ID)
	}
	return err
}

func deleteTodo(ctx context.Context, c mutator.Call[AppCtx], a DeleteTodo) error {
	n, err := c.DB.Delete(Todos).Where(expr.Eq(Todos.Col("id"), a.ID)).Exec(ctx)
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: todo %q", ErrNotFound, a.ID)
	}
	return err
}

// checkID refuses an empty id, one over MaxIDBytes, invalid UTF-8 and
// control characters.
func checkID(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is empty", field)
	case len(id) > MaxIDBytes:
		return fmt.Errorf("%s is %d bytes long, over the limit of %d", field, len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s is not valid UTF-8", field)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("%s contains a control character", field)
	}
	return nil
}

// checkText refuses blank text, text over max runes and invalid UTF-8.
func checkText(field, s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", field)
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is blank", field)
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("%s is %d characters long, over the limit of %d", field, utf8.RuneCountInString(s), max)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%s contains a NUL character", field)
	}
	return nil
}
