package todo

import (
	"context"
	"errors"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/tabledef"
)

// MutAttachFile names the attachFile mutator.
const MutAttachFile = "attachFile"

// MaxAttachmentBytes caps an attachment.
const MaxAttachmentBytes = 10 << 20

// AttachmentMIMETypes are the attachment types the demo accepts.
var AttachmentMIMETypes = []string{"image/*", "text/plain", "application/pdf"}

// Attachments are files attached to todos: read and written by the
// members of the todo's list (the todo's rules, through todo_id; set by
// attachmentOptions in the package's init). Deleting a todo deletes its
// attachments; the blobs stay until files.Service.GCOrphans finds them
// unreferenced.
var Attachments = orm.NewTable("attachments",
	orm.ID(),
	orm.Text("todo_id").References("todos", "id", tabledef.Cascade),
	orm.File("file"),
)

func attachmentOptions() orm.TableOptions {
	return orm.TableOptions{
		Auth:    orm.TableAuth{Read: todoOfMyLists().Rule(), Write: todoOfMyLists().Rule()},
		Indexes: []orm.Index{{Name: "attachments_todo", Columns: []string{"todo_id"}}},
	}
}

// todoOfMyLists is the policy "todo_id is a todo of a list the identity
// is a member of".
func todoOfMyLists() rowauth.AuthorizePolicy {
	return func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		t := Todos.As("t")
		mine := orm.Select(t.Col("id")).From(t).Where(expr.InArray(t.Col("list_id"), MyListIDs(id.UserID)))
		return expr.InArray(Attachments.Col("todo_id"), mine), nil
	}
}

// AttachFile is attachFile's arguments: a file already uploaded to
// {basePath}/files/<hash>?table=attachments&column=file, by ref. A ref
// is the only form a file takes here: bytes in the arguments fail to
// decode (files.Ref is strict).
type AttachFile struct {
	ID     string    `json:"id"`
	TodoID string    `json:"todoID"`
	File   files.Ref `json:"file"`
}

// Validate checks the ids.
func (a AttachFile) Validate() error {
	return errors.Join(checkID("id", a.ID), checkID("todoID", a.TodoID))
}

// attachFile attaches the file to a todo of one of the user's lists; the
// files middleware checks the ref (stored, within the column's limits,
// uploaded by this user or already readable by them).
func attachFile(ctx context.Context, c mutator.Call[AppCtx], a AttachFile) error {
	_, err := c.DB.Insert(Attachments).Values(orm.Row{"id": a.ID, "todo_id": a.TodoID, "file": a.File}).Exec(ctx)
	return err
}

// NewFiles returns the files service of the example schema on db, with
// store as its storage and the attachments' limits (MaxAttachmentBytes,
// AttachmentMIMETypes). Give it to NewServer as Options.Files.
func NewFiles(ctx context.Context, db *orm.DB, store files.Storage) (*files.Service, error) {
	return files.New(ctx, files.Options{
		Schema:   Schema,
		DB:       db,
		Storages: map[string]files.Storage{files.DefaultStorage: store},
		Columns: map[string]files.ColumnOptions{
			"attachments.file": {MaxSize: MaxAttachmentBytes, MIMEAllowList: AttachmentMIMETypes, Immutable: true},
		},
	})
}
