package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
	"github.com/plasma-go/plasma/tabledef"
)

// The test schema: the demo's shape, lists shared through members, with
// read rules that consult the membership table, plus a counter table to
// detect mutations applied twice.
var (
	tLists   = orm.NewTable("lists", orm.ID(), orm.Text("name"), orm.Text("owner_id"))
	tMembers = orm.NewTable("members", orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade), orm.Text("user_id"))
	tTodos = orm.NewTable("todos", orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade),
		orm.Text("title"), orm.Boolean("done").Default(false), orm.Text("created_by"))
	tCounters = orm.NewTable("counters", orm.ID(), orm.Text("owner_id"), orm.BigInt("n").Default(0))
	// notes has no rules: everyone reads everything.
	tNotes = orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.JSON("meta").Nullable())
	// tags are read through their todo's list: a rule two subqueries
	// deep.
	tTags = orm.NewTable("tags", orm.ID(), orm.Text("todo_id"), orm.Text("label"))

	testSchema = orm.MustDefineSchema("1", tLists, tMembers, tTodos, tCounters, tNotes, tTags)
)

func myLists(id rowauth.Identity) *orm.SelectQuery {
	m := tMembers.As("m")
	return orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), id.UserID))
}

func init() {
	member := func(col *expr.Column) orm.AuthFunc {
		return rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			return expr.InArray(col, myLists(id)), nil
		}).Rule()
	}
	ownsList := rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		l := tLists.As("l")
		owned := orm.Select(l.Col("id")).From(l).Where(expr.Eq(l.Col("owner_id"), id.UserID))
		return expr.InArray(tMembers.Col("list_id"), owned), nil
	}).Rule()
	tLists.With(orm.TableOptions{Auth: orm.TableAuth{
		Read:  member(tLists.Col("id")),
		Write: rowauth.Owner(tLists.Col("owner_id")).Rule(),
	}})
	tMembers.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tMembers.Col("list_id")), Write: ownsList}})
	tTodos.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(tTodos.Col("list_id")), Write: member(tTodos.Col("list_id"))}, SyncScope: "list_id"})
	ofMyTodos := rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		t := tTodos.As("t")
		mine := orm.Select(t.Col("id")).From(t).Where(expr.InArray(t.Col("list_id"), myLists(id)))
		return expr.InArray(tTags.Col("todo_id"), mine), nil
	}).Rule()
	tTags.With(orm.TableOptions{Auth: orm.TableAuth{Read: ofMyTodos, Write: ofMyTodos}})
	owner := rowauth.Owner(tCounters.Col("owner_id")).Rule()
	tCounters.With(orm.TableOptions{Auth: orm.TableAuth{Read: owner, Write: owner}})
}

// appCtx is the test application's context.
type appCtx struct{ UserID string }

type createList struct{ ID, Name string }
type addMember struct{ ID, ListID, UserID string }
type removeMember struct{ ListID, UserID string }
type createTodo struct {
	ID     string `json:"id"`
	ListID string `json:"listID"`
	Title  string `json:"title"`
}

func (a createTodo) Validate() error {
	if a.Title == "" {
		return errors.New("empty title")
	}
	return nil
}

type updateTodo struct {
	ID     string  `json:"id"`
	Title  *string `json:"title"`
	Done   *bool   `json:"done"`
	ListID *string `json:"listID"` // moves the todo to another list
}
type idArgs struct {
	ID string `json:"id"`
}

var errApp = errors.New("the application refuses")

var testMutators = mutator.Set[appCtx]{
	"createList": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a createList) error {
		if _, err := c.DB.Insert(tLists).Values(orm.Row{"id": a.ID, "name": a.Name, "owner_id": c.Ctx.UserID}).Exec(ctx); err != nil {
			return err
		}
		_, err := c.DB.Insert(tMembers).Values(orm.Row{"id": a.ID + ":" + c.Ctx.UserID, "list_id": a.ID, "user_id": c.Ctx.UserID}).Exec(ctx)
		return err
	}),
	"addMember": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a addMember) error {
		_, err := c.DB.Insert(tMembers).Values(orm.Row{"id": a.ID, "list_id": a.ListID, "user_id": a.UserID}).Exec(ctx)
		return err
	}),
	"removeMember": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a removeMember) error {
		_, err := c.DB.Delete(tMembers).Where(expr.Eq(tMembers.Col("list_id"), a.ListID), expr.Eq(tMembers.Col("user_id"), a.UserID)).Exec(ctx)
		return err
	}),
	"createTodo": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a createTodo) error {
		_, err := c.DB.Insert(tTodos).Values(orm.Row{"id": a.ID, "list_id": a.ListID, "title": a.Title, "created_by": c.Ctx.UserID}).Exec(ctx)
		return err
	}),
	"updateTodo": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a updateTodo) error {
		set := orm.Row{}
		if a.Title != nil {
			set["title"] = *a.Title
		}
		if a.Done != nil {
			set["done"] = *a.Done
		}
		if a.ListID != nil {
			set["list_id"] = *a.ListID
		}
		if len(set) == 0 {
			return nil
		}
		_, err := c.DB.Update(tTodos).Set(set).Where(expr.Eq(tTodos.Col("id"), a.ID)).Exec(ctx)
		return err
	}),
	"deleteTodo": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
		_, err := c.DB.Delete(tTodos).Where(expr.Eq(tTodos.Col("id"), a.ID)).Exec(ctx)
		return err
	}),
	"tag": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct {
		ID     string `json:"id"`
		TodoID string `json:"todoID"`
		Label  string `json:"label"`
	}) error {
		_, err := c.DB.Insert(tTags).Values(orm.Row{"id": a.ID, "todo_id": a.TodoID, "label": a.Label}).Exec(ctx)
		return err
	}),
	// bump adds 1 to the user's counter a.ID, creating it: a mutation
	// applied twice counts twice.
	"bump": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
		n, err := c.DB.Update(tCounters).Set(orm.Row{"n": expr.SQL("? + 1", tCounters.Col("n"))}).Where(expr.Eq(tCounters.Col("id"), a.ID)).Exec(ctx)
		if err != nil || n > 0 {
			return err
		}
		_, err = c.DB.Insert(tCounters).Values(orm.Row{"id": a.ID, "owner_id": c.Ctx.UserID, "n": 1}).Exec(ctx)
		return err
	}),
	// failAfterWrite writes, then fails: the write must be rolled back.
	"failAfterWrite": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
		if _, err := c.DB.Insert(tNotes).Values(orm.Row{"id": a.ID, "body": "should vanish"}).Exec(ctx); err != nil {
			return err
		}
		return errApp
	}),
	"unavailable": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
		if _, err := c.DB.Insert(tNotes).Values(orm.Row{"id": a.ID, "body": "should vanish"}).Exec(ctx); err != nil {
			return err
		}
		return mutator.Temporary(errors.New("the mail service is down"))
	}),
	"note": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct {
		ID   string          `json:"id"`
		Body string          `json:"body"`
		Meta json.RawMessage `json:"meta"`
	}) error {
		row := orm.Row{"id": a.ID, "body": a.Body}
		if a.Meta != nil {
			row["meta"] = a.Meta
		}
		_, err := c.DB.Insert(tNotes).Values(row).Exec(ctx)
		return err
	}),
	// swallow ignores a failed statement and reports success: on
	// PostgreSQL the transaction is then unusable.
	"swallow": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
		_, _ = c.DB.Exec(ctx, `SELECT * FROM "no_such_table"`)
		return nil
	}),
	"panics": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
		panic("boom")
	}),
}

// testAuth takes the Authorization header as the user id; "" and "bad"
// are refused.
func testAuth(r *http.Request) (rowauth.Identity, appCtx, error) {
	a := r.Header.Get("Authorization")
	if a == "" || a == "bad" {
		return rowauth.Identity{}, appCtx{}, errors.New("no valid credentials")
	}
	return rowauth.Identity{UserID: a}, appCtx{UserID: a}, nil
}

// env is one handler on one database, served over HTTP.
type env struct {
	t      testing.TB
	tg     *ormtest.Target
	h      *server.Handler[appCtx]
	schema *orm.Schema
	srv    *httptest.Server
	errors synctest.ErrorLog
	mu     sync.Mutex
	pushed []server.PushInfo
}

func newEnv(t testing.TB, tg *ormtest.Target, db *orm.DB, tweak func(*server.Options[appCtx])) *env {
	t.Helper()
	e := &env{t: t, tg: tg}
	opts := server.Options[appCtx]{
		Schema: testSchema, DB: db, Mutators: testMutators, Auth: testAuth,
		OnError: e.errors.Record,
		OnPushed: func(_ context.Context, info server.PushInfo) {
			e.mu.Lock()
			e.pushed = append(e.pushed, info)
			e.mu.Unlock()
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	h, err := server.NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.h, e.schema, e.srv = h, opts.Schema, synctest.Serve(t, h)
	return e
}

func (e *env) takeErrors() []*server.Error { return e.errors.Take() }

// post sends body to /sync/<endpoint> with the raw Authorization header
// auth ("" for none) and returns the status and the body.
func (e *env) post(endpoint, auth, body string) (int, string) {
	e.t.Helper()
	status, resp, err := synctest.Post(e.srv.Client(), e.srv.URL+"/sync/"+endpoint, auth, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return status, resp
}

// mut is a mutation to push.
type mut struct {
	client string
	id     int64
	name   string
	args   string
}

func pushBody(group string, muts ...mut) string {
	ms := make([]synctest.Mutation, len(muts))
	for i, m := range muts {
		ms[i] = synctest.Mutation{ClientID: m.client, ID: m.id, Name: m.name, Args: m.args}
	}
	return synctest.PushBody(group, "1", ms...)
}

func pullBody(group string, cookie json.RawMessage) string {
	return synctest.PullBody(group, "1", cookie)
}

// mustPush pushes and expects 200 {}.
func (e *env) mustPush(user, group string, muts ...mut) {
	e.t.Helper()
	status, body := e.post("push", user, pushBody(group, muts...))
	if status != 200 || body != "{}" {
		e.t.Fatalf("push: %d %s", status, body)
	}
}

// client is a strict Replicache client (synctest.Client) of one user's
// group on env's server.
type client struct {
	*synctest.Client
	e     *env
	user  string
	group string
}

func (e *env) newClient(user, group string) *client {
	sc := synctest.NewClient(e.srv.Client(), e.srv.URL+"/sync", user, group)
	return &client{Client: sc, e: e, user: user, group: group}
}

// pull pulls from c.e's server (tests move a client to another server
// by setting c.e) and applies the response, failing t on a non-200
// status or a response that breaks the protocol's rules.
func (c *client) pull(t testing.TB) synctest.PullResult {
	t.Helper()
	c.HTTP, c.PullURL, c.PushURL = c.e.srv.Client(), c.e.srv.URL+"/sync/pull", c.e.srv.URL+"/sync/push"
	r, err := c.Pull()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// visible returns what user may read, keyed as patches key rows, read
// directly through row auth.
func (e *env) visible(t testing.TB, user string) map[string]any {
	t.Helper()
	ctx := rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: user})
	out := map[string]any{}
	for _, tb := range e.schema.Tables() {
		rows, err := orm.Maps(ctx, e.h.DB().Select().From(tb))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out[tb.Name()+"/"+r["id"].(string)] = normalize(t, r)
		}
	}
	return out
}

func normalize(t testing.TB, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkConverged compares c's view with what its user may read.
func (c *client) checkConverged(t testing.TB) {
	t.Helper()
	want := c.e.visible(t, c.user)
	got := map[string]any{}
	for k, v := range c.View {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			t.Fatal(err)
		}
		got[k] = x
	}
	if !mapsEqualJSON(got, want) {
		var missing, extra, differ []string
		for k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			} else if !jsonEqualAny(got[k], want[k]) {
				differ = append(differ, fmt.Sprintf("%s: got %v want %v", k, got[k], want[k]))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				extra = append(extra, k)
			}
		}
		slices.Sort(missing)
		slices.Sort(extra)
		t.Fatalf("client %s/%s diverged: missing %v, extra %v, differ %v", c.user, c.group, missing, extra, differ)
	}
}

func mapsEqualJSON(a, b map[string]any) bool {
	return maps.EqualFunc(a, b, jsonEqualAny)
}

func jsonEqualAny(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// count returns the number of rows of a table, bypassing row auth.
func (e *env) count(t testing.TB, table string) int64 {
	t.Helper()
	var n int64
	if err := e.tg.SQL.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lmid returns a client's stored lastMutationID, -1 if it has no record.
func (e *env) lmid(t testing.TB, clientID string) int64 {
	t.Helper()
	rows, err := e.tg.SQL.Query(`SELECT "last_mutation_id" FROM "`+server.ClientsTable+`" WHERE "id" = `+placeholder(e.tg), clientID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		return -1
	}
	var n int64
	if err := rows.Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func placeholder(tg *ormtest.Target) string {
	if tg.Name == "postgres" {
		return "$1"
	}
	return "?"
}
