package server_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// countedDB opens a second pool on tg's database whose statements c
// counts (synctest.CountStatements), and a plasma DB on it.
func countedDB(t *testing.T, tg *ormtest.Target) (*orm.DB, *synctest.Counter) {
	t.Helper()
	var dsn string
	switch tg.Name {
	case "sqlite":
		var seq int
		var name, file string
		if err := tg.SQL.QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
			t.Fatal(err)
		}
		dsn = sqlite.DSN(file)
	default:
		var schema string
		if err := tg.SQL.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(os.Getenv(ormtest.EnvPostgres))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		if tg.Driver != ormtest.DriverPGX {
			q.Set("binary_parameters", "yes") // as postgres.Connector sets it
		}
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	pool, c := synctest.CountStatements(tg.SQL.Driver(), dsn)
	t.Cleanup(func() { pool.Close() })
	return orm.New(pool, tg.Dialect), c
}

// stmtBudget is what one kind of request may cost, in statements sent
// to the database (BEGIN and COMMIT included), per engine.
type stmtBudget struct {
	request          string
	sqlite, postgres int
}

// TestStatementsPerRequest pins what each kind of sync request costs in
// statements, so that the number cannot creep back up. Issue 23's goals:
// a push of 1 mutation ≤ 6, a push of 20 ≤ 20 + a constant, a pull
// after a push ≤ 6 (met on PostgreSQL), an unchanged pull ≤ 2 (1). Where
// a number below is over its goal, it is today's, kept as a ceiling until
// the work lands.
func TestStatementsPerRequest(t *testing.T) {
	budgets := []stmtBudget{
		// Goal ≤ 6: the owner/clients precheck, BEGIN, the client's
		// locking SELECT, the todo's INSERT, the change-log row's INSERT
		// with the lastMutationID's UPDATE in its WITH (PostgreSQL; on
		// SQLite two statements, and a read of the write rule before the
		// todo's INSERT), COMMIT. On SQLite one more: the mark that lets
		// the push's writes pass the capture triggers
		// (changelog.EnsureCapture), set once per push.
		{"push of 1 createTodo", 9, 6},
		// The goal (≤ 20 + a constant), met with room: the 20 todos'
		// INSERTs are held back and run as one (holdinserts.go), their
		// change-log rows in one INSERT at the end (changelog.Batch): as
		// many statements as a push of 1.
		{"push of 20 createTodo", 9, 6},
		// Goal ≤ 6: the pull state with the heads; the snapshot's
		// transaction (BEGIN, the changed keys with their view lines, the
		// lastMutationIDs and the view's head in one SELECT, the changed
		// rows of the one table that changed, COMMIT); then the view: on
		// PostgreSQL one statement (the order's bump, the head's move, the
		// record, the lines and the pruning in a WITH), on SQLite a
		// transaction of them.
		{"pull after a push", 13, 6},
		// The heads, the group's owner, view record and lastMutationIDs in
		// one query.
		{"unchanged pull", 1, 1},
		// Under load, most pulls follow other users' pushes (here, 20
		// todos of another user's list): the pull state; the snapshot's
		// transaction (BEGIN, the changes counted with the lines of
		// those the view holds, the changed todos the user may read,
		// none, COMMIT); the newer heads recorded on the view record.
		// Each other table that changed would add its read. One more
		// than when the pull read every user's changes with their log
		// images and dropped others' rows in Go (5): the read of the
		// changed todos runs though none is the user's, and in exchange
		// others' rows never leave the database.
		{"pull after another user's push", 6, 6},
	}
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("counts a pool's statements")
		}
		db, counter := countedDB(t, tg)
		e := newEnv(t, tg, db, nil)
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`})
		e.mustPush("bob", "g2", mut{"c2", 1, "createList", `{"ID":"L2","Name":"bob's"}`})
		c := e.newClient("ann", "g1")
		c.pull(t)
		next := int64(2)
		todos := func(n int) []mut {
			ms := make([]mut, n)
			for i := range ms {
				ms[i] = mut{"c1", next, "createTodo", fmt.Sprintf(`{"id":"t%d","listID":"L1","title":"hi"}`, next)}
				next++
			}
			return ms
		}
		got := map[string]string{}
		measure := func(request string, do func()) int {
			counter.Reset()
			do()
			got[request] = counter.String()
			return counter.Total()
		}
		totals := map[string]int{
			budgets[0].request: measure(budgets[0].request, func() { e.mustPush("ann", "g1", todos(1)...) }),
			budgets[1].request: measure(budgets[1].request, func() { e.mustPush("ann", "g1", todos(20)...) }),
		}
		c.pull(t)
		e.mustPush("ann", "g1", todos(1)...)
		totals[budgets[2].request] = measure(budgets[2].request, func() {
			if r := c.pull(t); !r.Changed {
				t.Fatalf("pull after a push: nothing changed: %s", r.Raw)
			}
		})
		totals[budgets[3].request] = measure(budgets[3].request, func() {
			if r := c.pull(t); r.Changed {
				t.Fatalf("unchanged pull: %s", r.Raw)
			}
		})
		ms := make([]mut, 20)
		for i := range ms {
			ms[i] = mut{"c2", int64(i + 2), "createTodo", fmt.Sprintf(`{"id":"b%d","listID":"L2","title":"hi"}`, i)}
		}
		e.mustPush("bob", "g2", ms...)
		totals[budgets[4].request] = measure(budgets[4].request, func() {
			if r := c.pull(t); r.Changed {
				t.Fatalf("pull after another user's push: %s", r.Raw)
			}
		})
		for _, b := range budgets {
			want := b.sqlite
			if tg.Name == "postgres" {
				want = b.postgres
			}
			t.Logf("%s: %s", b.request, got[b.request])
			if totals[b.request] > want {
				t.Errorf("%s: %d statements, over its budget of %d (%s)", b.request, totals[b.request], want, got[b.request])
			}
		}
		if errs := e.takeErrors(); len(errs) != 0 {
			t.Fatalf("errors: %v", errs)
		}
	})
}

// TestSwallowedRefusalUndone: a mutator that goes on after row auth
// refused one of its writes commits its other writes, never the refused
// row, though the push runs row auth without its savepoints (the batch
// is replayed with them).
func TestSwallowedRefusalUndone(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) {
			o.Mutators = maps.Clone(o.Mutators)
			o.Mutators["sneaky"] = mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
				_, err := c.DB.Insert(tTodos).Values(orm.Row{"id": "stolen", "list_id": "L1", "title": "x", "created_by": c.Ctx.UserID}).Exec(ctx)
				var ae *rowauth.AuthorizationError
				if !errors.As(err, &ae) {
					return fmt.Errorf("want a refusal, got %v", err)
				}
				_, err = c.DB.Insert(tNotes).Values(orm.Row{"id": a.ID, "body": "kept"}).Exec(ctx)
				return err
			})
		})
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`})
		e.mustPush("bob", "g2",
			mut{"c2", 1, "note", `{"id":"n0","body":"before"}`},
			mut{"c2", 2, "sneaky", `{"id":"n1"}`},
			mut{"c2", 3, "note", `{"id":"n2","body":"after"}`})
		if n := e.count(t, "todos"); n != 0 {
			t.Fatalf("%d todos: the refused row was committed", n)
		}
		if n := e.count(t, "notes"); n != 3 {
			t.Fatalf("%d notes, want 3", n)
		}
		if got := e.lmid(t, "c2"); got != 3 {
			t.Fatalf("lastMutationID %d, want 3", got)
		}
		if errs := e.takeErrors(); len(errs) != 0 {
			t.Fatalf("errors: %v", errs)
		}
	})
}
