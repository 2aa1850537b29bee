package server_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
)

// The INSERTs of a push's mutations are held back and merged
// (holdinserts.go); these tests pin that a push ends as if each ran
// alone.

// origins returns, per row id of table, the client and mutation its
// latest change row names.
func (e *env) origins(t *testing.T, table string) map[string]string {
	t.Helper()
	rows, err := e.tg.DB.Query(context.Background(), `SELECT "row_id", "client_id", "mutation_id" FROM "`+changelog.LogTable+`" WHERE "table_name" = ? ORDER BY "version"`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, client string
		var mutation int64
		if err := rows.Scan(&id, &client, &mutation); err != nil {
			t.Fatal(err)
		}
		out[id] = fmt.Sprintf("%s/%d", client, mutation)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// todoTitles returns the todos' titles by id, bypassing row auth.
func (e *env) todoTitles(t *testing.T) map[string]string {
	t.Helper()
	rows, err := e.tg.DB.Query(context.Background(), `SELECT "id", "title" FROM "todos"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, title string
		if err := rows.Scan(&id, &title); err != nil {
			t.Fatal(err)
		}
		out[id] = title
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHeldInsertsKeepTheirOrigin: each todo of a push whose INSERTs ran
// as one is logged as the change of its own mutation.
func TestHeldInsertsKeepTheirOrigin(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the handler needs a database, not a transaction", ormtest.ExecTx)
		e := newEnv(t, tg, tg.DB, nil)
		muts := []mut{{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`}}
		for i := int64(2); i <= 6; i++ {
			muts = append(muts, mut{"c1", i, "createTodo", fmt.Sprintf(`{"id":"t%d","listID":"L1","title":"x"}`, i)})
		}
		e.mustPush("ann", "g1", muts...)
		got := e.origins(t, "todos")
		for i := int64(2); i <= 6; i++ {
			if want := fmt.Sprintf("c1/%d", i); got[fmt.Sprintf("t%d", i)] != want {
				t.Errorf("todo t%d logged from %q, want %q (all: %v)", i, got[fmt.Sprintf("t%d", i)], want, got)
			}
		}
		if got := e.origins(t, "lists")["L1"]; got != "c1/1" {
			t.Errorf("list logged from %q", got)
		}
	})
}

// TestHeldInsertFailureFindsItsMutation: a merged INSERT that fails (one
// of its rows collides with a stored one, or with another user's; one is
// outside the pusher's write rule) is replayed one INSERT at a time, so
// that exactly the mutations at fault fail and the others apply; no row
// of another user's is taken over.
func TestHeldInsertFailureFindsItsMutation(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the handler needs a database, not a transaction", ormtest.ExecTx)
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "g1",
			mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`},
			mut{"c1", 2, "createTodo", `{"id":"t0","listID":"L1","title":"first"}`})
		e.mustPush("bob", "g2", mut{"c2", 1, "createList", `{"ID":"LB","Name":"bob's"}`})

		e.mustPush("ann", "g1",
			mut{"c1", 3, "createTodo", `{"id":"t1","listID":"L1","title":"a"}`},
			mut{"c1", 4, "createTodo", `{"id":"t0","listID":"L1","title":"again"}`},
			mut{"c1", 5, "createTodo", `{"id":"t2","listID":"L1","title":"b"}`})
		// Bob also tries to take over the id of one of ann's todos, in his
		// own list: a second failure in the batch, which then runs under
		// savepoints.
		e.mustPush("bob", "g2",
			mut{"c2", 2, "createTodo", `{"id":"b1","listID":"LB","title":"mine"}`},
			mut{"c2", 3, "createTodo", `{"id":"b2","listID":"L1","title":"forged"}`},
			mut{"c2", 4, "createTodo", `{"id":"b3","listID":"LB","title":"mine too"}`},
			mut{"c2", 5, "createTodo", `{"id":"t1","listID":"LB","title":"taken"}`})

		want := map[string]string{"t0": "first", "t1": "a", "t2": "b", "b1": "mine", "b3": "mine too"}
		if got := e.todoTitles(t); !maps.Equal(got, want) {
			t.Errorf("todos %v, want %v", got, want)
		}
		if a, b := e.lmid(t, "c1"), e.lmid(t, "c2"); a != 5 || b != 5 {
			t.Errorf("lastMutationIDs %d, %d; want 5, 5", a, b)
		}
		var failed []string
		for _, err := range e.takeErrors() {
			if err.Kind != server.KindMutatorFailed {
				t.Errorf("unexpected error %v", err)
				continue
			}
			failed = append(failed, fmt.Sprintf("%s/%d", err.ClientID, err.MutationID))
			if err.ClientID == "c2" && err.MutationID == 3 && !errors.Is(err, rowauth.ErrOutsideRule) {
				t.Errorf("bob's forged todo failed with %v, want a row-auth refusal", err)
			}
		}
		if fmt.Sprint(failed) != "[c1/4 c2/3 c2/5]" {
			t.Errorf("failed mutations %v, want [c1/4 c2/3 c2/5]", failed)
		}
		if got := e.origins(t, "todos"); got["t2"] != "c1/5" || got["b3"] != "c2/4" {
			t.Errorf("origins after the replay %v", got)
		}
	})
}

// TestHeldInsertsAreReadBack: a mutator that reads after it inserted
// reads its own rows and those of the mutations before it, held or not.
func TestHeldInsertsAreReadBack(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the handler needs a database, not a transaction", ormtest.ExecTx)
		e := newEnv(t, tg, tg.DB, withMutator("noteAndCount", mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct {
			ID   string `json:"id"`
			Want int64  `json:"want"`
		}) error {
			if _, err := c.DB.Insert(tNotes).Values(orm.Row{"id": a.ID, "body": "x"}).Exec(ctx); err != nil {
				return err
			}
			res, err := c.DB.Select(expr.SQL("COUNT(*)")).From(tNotes).Rows(ctx)
			if err != nil {
				return err
			}
			defer res.Rows.Close()
			var n int64
			if !res.Rows.Next() {
				return errors.New("no count")
			}
			if err := res.Rows.Scan(&n); err != nil {
				return err
			}
			if n != a.Want {
				return fmt.Errorf("read %d notes after inserting %q, want %d", n, a.ID, a.Want)
			}
			return nil
		})))
		e.mustPush("ann", "g1",
			mut{"c1", 1, "note", `{"id":"n1","body":"held"}`},
			mut{"c1", 2, "note", `{"id":"n2","body":"held"}`},
			mut{"c1", 3, "noteAndCount", `{"id":"n3","want":3}`},
			mut{"c1", 4, "note", `{"id":"n4","body":"held"}`},
			mut{"c1", 5, "noteAndCount", `{"id":"n5","want":5}`})
		if errs := e.takeErrors(); len(errs) != 0 {
			t.Fatalf("errors: %v", errs)
		}
		if n := e.count(t, "notes"); n != 5 {
			t.Fatalf("%d notes, want 5", n)
		}
	})
}

// TestHeldInsertsAreBounded: INSERTs held at once stay under a bound
// (an INSERT that would pass it runs as it comes, after the held ones),
// and large ones still end up each logged from its own mutation.
func TestHeldInsertsAreBounded(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the handler needs a database, not a transaction", ormtest.ExecTx)
		e := newEnv(t, tg, tg.DB, withMutator("notes", mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a struct {
			Prefix string `json:"prefix"`
			N      int    `json:"n"`
		}) error {
			rows := make([]orm.Row, a.N)
			for i := range rows {
				rows[i] = orm.Row{"id": fmt.Sprintf("%s%d", a.Prefix, i), "body": "x"}
			}
			_, err := c.DB.Insert(tNotes).Values(rows...).Exec(ctx)
			return err
		})))
		e.mustPush("ann", "g1",
			mut{"c1", 1, "notes", `{"prefix":"a","n":3000}`},
			mut{"c1", 2, "notes", `{"prefix":"b","n":3000}`},
			mut{"c1", 3, "notes", `{"prefix":"c","n":5000}`},
			mut{"c1", 4, "note", `{"id":"d","body":"last"}`})
		if n := e.count(t, "notes"); n != 11001 {
			t.Fatalf("%d notes, want 11001", n)
		}
		got := e.origins(t, "notes")
		for id, want := range map[string]string{"a0": "c1/1", "a2999": "c1/1", "b0": "c1/2", "c4999": "c1/3", "d": "c1/4"} {
			if got[id] != want {
				t.Errorf("note %s logged from %q, want %q", id, got[id], want)
			}
		}
	})
}

// withMutator is a newEnv tweak adding one mutator to the test set.
func withMutator(name string, m mutator.Mutator[appCtx]) func(*server.Options[appCtx]) {
	return func(o *server.Options[appCtx]) {
		o.Mutators = maps.Clone(o.Mutators)
		o.Mutators[name] = m
	}
}
