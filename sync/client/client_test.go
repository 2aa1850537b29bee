package client_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/mutator"
)

type todoRow struct {
	ID        string `db:"id"`
	ListID    string `db:"list_id"`
	Title     string `db:"title"`
	Done      bool   `db:"done"`
	CreatedBy string `db:"created_by"`
}

func todos(t testing.TB, db *orm.DB) []todoRow {
	t.Helper()
	rows, err := orm.All[todoRow](context.Background(), db.Select().From(todo.Todos).OrderBy(expr.Asc(todo.Todos.Col("id"))))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestMutateAppliesLocallyAndSyncs(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		s := newServer(t, engine)
		ann := newClient(s, "ann")
		if err := ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "groceries"}); err != nil {
			t.Fatal(err)
		}
		if err := ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "milk"}); err != nil {
			t.Fatal(err)
		}
		if got := todos(t, ann.DB()); len(got) != 1 || got[0].Title != "milk" || got[0].CreatedBy != "ann" {
			t.Fatalf("local view: %+v", got)
		}
		// A failing mutator is not queued and changes nothing.
		err := ann.Mutate(ctx, todo.MutUpdateTodo, todo.UpdateTodo{ID: "nope", Done: ptr(true)})
		if !errors.Is(err, todo.ErrNotFound) {
			t.Fatalf("update of a missing todo: %v", err)
		}
		if err := ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "", ListID: "L1", Title: "x"}); !errors.Is(err, mutator.ErrInvalidArgs) {
			t.Fatalf("invalid args: %v", err)
		}
		if err := ann.Mutate(ctx, "nope", nil); !errors.Is(err, mutator.ErrUnknownMutator) {
			t.Fatalf("unknown mutator: %v", err)
		}
		p, err := ann.Pending(ctx)
		if err != nil || len(p) != 2 {
			t.Fatalf("pending: %v %v", p, err)
		}
		if err := ann.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if ann.LastMutationID() != 2 {
			t.Fatalf("lastMutationID %d", ann.LastMutationID())
		}
		if p, _ := ann.Pending(ctx); len(p) != 0 {
			t.Fatalf("pending after flush: %v", p)
		}
		mustConverge(t, ann)

		bob := newClient(s, "bob")
		if err := ann.Mutate(ctx, todo.MutAddMember, todo.AddMember{ID: todo.MemberID("L1", "bob"), ListID: "L1", UserID: "bob"}); err != nil {
			t.Fatal(err)
		}
		mustConverge(t, ann, bob)
		if got := todos(t, bob.DB()); len(got) != 1 {
			t.Fatalf("bob sees %+v", got)
		}
		// bob edits, ann sees it.
		if err := bob.Mutate(ctx, todo.MutUpdateTodo, todo.UpdateTodo{ID: "t1", Done: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		mustConverge(t, bob, ann)
		if got := todos(t, ann.DB()); !got[0].Done {
			t.Fatalf("ann sees %+v", got)
		}
	})
}

func TestOpenRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []client.Options[todo.AppCtx]{
		{},
		{Server: "ftp://x", Schema: todo.Schema, Mutators: todo.Mutators},
		{Server: "http://x", Mutators: todo.Mutators},
		{Server: "http://x", Schema: todo.Schema},
	} {
		if c, err := client.Open(ctx, o); err == nil {
			c.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

func TestReplicaFileIsLockedAndChecked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.db")
	opts := client.Options[todo.AppCtx]{Server: "http://127.0.0.1:1/sync", Schema: todo.Schema, Mutators: todo.Mutators, Replica: path}
	a, err := client.Open(ctx, opts)
	must(t, err)
	if b, err := client.Open(ctx, opts); !errors.Is(err, client.ErrReplicaInUse) {
		if b != nil {
			b.Close()
		}
		t.Fatalf("second Open: %v", err)
	}
	must(t, a.Close())
	b, err := client.Open(ctx, opts)
	must(t, err)
	must(t, b.Close())

	// Not a database, or another app's database: an error, no panic.
	garbage := filepath.Join(dir, "garbage.db")
	must(t, os.WriteFile(garbage, bytes.Repeat([]byte("not sqlite "), 1000), 0o600))
	opts.Replica = garbage
	if c, err := client.Open(ctx, opts); err == nil {
		c.Close()
		t.Fatal("a garbage replica opened")
	}
	other := filepath.Join(dir, "other.db")
	sq, err := sql.Open("sqlite", other)
	must(t, err)
	_, err = sq.Exec(`CREATE TABLE _plasma_client (k INTEGER PRIMARY KEY, x TEXT); INSERT INTO _plasma_client VALUES (1, 'x')`)
	must(t, err)
	sq.Close()
	opts.Replica = other
	if c, err := client.Open(ctx, opts); !errors.Is(err, client.ErrReplica) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("a foreign table: %v", err)
	}
	opts.Replica, opts.AtRest = "", &client.AtRest{}
	if _, err := client.Open(ctx, opts); !errors.Is(err, client.ErrAtRest) {
		t.Fatalf("AtRest without keys: %v", err)
	}
}
