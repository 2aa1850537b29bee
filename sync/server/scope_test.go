package server_test

import (
	"context"
	"fmt"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// scopedEnv is ann, member of L1, and bob, member of L2, each with a
// client that has pulled once.
func scopedEnv(t *testing.T, tg *ormtest.Target) (e *env, ann, bob *client) {
	e = newEnv(t, tg, tg.DB, nil)
	e.mustPush("ann", "ann-g", mut{"ann-c", 1, "createList", `{"ID":"L1","Name":"a"}`})
	e.mustPush("bob", "bob-g", mut{"bob-c", 1, "createList", `{"ID":"L2","Name":"b"}`})
	ann, bob = e.newClient("ann", "ann-g"), e.newClient("bob", "bob-g")
	ann.pull(t)
	bob.pull(t)
	return e, ann, bob
}

// TestScopedPullReadsItsScope: with todos scoped by list (SyncScope), a
// pull of ann after bob's 30 todos in his list and one of hers in her
// own reads only hers on PostgreSQL, and every change on SQLite, whose
// log has no scope; both answer the same.
func TestScopedPullReadsItsScope(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		e, ann, _ := scopedEnv(t, tg)
		var muts []mut
		for i := range 30 {
			muts = append(muts, mut{"bob-c", int64(2 + i), "createTodo", fmt.Sprintf(`{"id":"b%d","listID":"L2","title":"x"}`, i)})
		}
		e.mustPush("bob", "bob-g", muts...)
		e.mustPush("ann", "ann-g", mut{"ann-c", 2, "createTodo", `{"id":"a1","listID":"L1","title":"x"}`})
		before := e.h.PullStats()
		ann.pull(t)
		ann.checkConverged(t)
		after := e.h.PullStats()
		if after.Incremental != before.Incremental+1 {
			t.Fatalf("the pull was not incremental: %+v", after)
		}
		read, scoped := after.Changes-before.Changes, after.Scoped-before.Scoped
		want, wantScoped := uint64(31), uint64(0)
		if tg.Name == "postgres" {
			want, wantScoped = 1, 1
		}
		if read != want || scoped != wantScoped {
			t.Fatalf("the pull read %d changes, %d scoped; want %d, %d", read, scoped, want, wantScoped)
		}
		if _, ok := ann.View["todos/a1"]; !ok {
			t.Fatal("ann's pull left out her todo")
		}
	})
}

// TestScopedPullSeesMoves: a todo moved out of ann's list is deleted
// from her view, and one moved in is put, also when the move's change
// was compacted away under a later change of the todo in its new list,
// and also when the move was made outside the ORM (raw SQL, logged by
// the capture triggers).
func TestScopedPullSeesMoves(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		ctx := context.Background()
		e, ann, bob := scopedEnv(t, tg)
		e.mustPush("ann", "ann-g",
			mut{"ann-c", 2, "createTodo", `{"id":"t1","listID":"L1","title":"x"}`},
			mut{"ann-c", 3, "createTodo", `{"id":"t2","listID":"L1","title":"x"}`})
		e.mustPush("bob", "bob-g", mut{"bob-c", 2, "createTodo", `{"id":"t3","listID":"L2","title":"x"}`})
		ann.pull(t)
		bob.pull(t)
		// ann moves t1 to bob's list (she may write there: she is made a
		// member, then removed), and bob updates it there; the move is
		// compacted away.
		e.mustPush("bob", "bob-g", mut{"bob-c", 3, "addMember", `{"ID":"L2:ann","ListID":"L2","UserID":"ann"}`})
		e.mustPush("ann", "ann-g", mut{"ann-c", 4, "updateTodo", `{"id":"t1","listID":"L2"}`})
		e.mustPush("bob", "bob-g", mut{"bob-c", 4, "removeMember", `{"ListID":"L2","UserID":"ann"}`})
		e.mustPush("bob", "bob-g", mut{"bob-c", 5, "updateTodo", `{"id":"t1","title":"bob's now"}`})
		head, err := changelog.Head(ctx, tg.DB, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := changelog.CompactChangeLog(ctx, tg.DB, "", head); err != nil {
			t.Fatal(err)
		}
		// bob moves t3 into ann's list with raw SQL, which the capture
		// triggers log.
		ph := "?"
		if tg.Name == "postgres" {
			ph = "$1"
		}
		if _, err := tg.SQL.ExecContext(ctx, `UPDATE "todos" SET "list_id" = 'L1' WHERE "id" = `+ph, "t3"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*client{ann, bob} {
			c.pull(t)
			c.checkConverged(t)
		}
		if _, ok := ann.View["todos/t1"]; ok {
			t.Fatal("ann still holds t1, moved out of her list")
		}
		if _, ok := ann.View["todos/t3"]; !ok {
			t.Fatal("ann does not hold t3, moved into her list")
		}
		if errs := e.takeErrors(); len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
	})
}

// TestSyncScopeLogged: on PostgreSQL, a change of a scoped table records
// the row's scope, unless the write may have moved the row: an UPDATE
// that sets the scope column, an upsert, a DELETE.
func TestSyncScopeLogged(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Name != "postgres" || tg.Exec != ormtest.ExecPool {
			t.Skip("the log has a scope on PostgreSQL")
		}
		e, _, _ := scopedEnv(t, tg)
		e.mustPush("ann", "ann-g",
			mut{"ann-c", 2, "createTodo", `{"id":"t1","listID":"L1","title":"x"}`},
			mut{"ann-c", 3, "updateTodo", `{"id":"t1","title":"y"}`},
			mut{"ann-c", 4, "createTodo", `{"id":"t2","listID":"L1","title":"x"}`},
			mut{"ann-c", 5, "updateTodo", `{"id":"t2","listID":"L1"}`},
			mut{"ann-c", 6, "deleteTodo", `{"id":"t2"}`})
		rows, err := tg.SQL.Query(`SELECT "mutation_id", coalesce("scope", '-') FROM "_plasma_changes" WHERE "table_name" = 'todos' ORDER BY "id"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[int64]string{}
		for rows.Next() {
			var m int64
			var s string
			if err := rows.Scan(&m, &s); err != nil {
				t.Fatal(err)
			}
			got[m] = s
		}
		want := map[int64]string{2: "L1", 3: "L1", 4: "L1", 5: "-", 6: "-"}
		for m, s := range want {
			if got[m] != s {
				t.Errorf("mutation %d logged scope %q, want %q (all: %v)", m, got[m], s, got)
			}
		}
	})
}

// TestScopedPullCheaperRescan: a scoped pull passes over the changes
// outside its scopes at a fraction of a probe's cost, so it rescans by
// choice only past four times the limit an unscoped pull has (on
// SQLite, past the limit itself).
func TestScopedPullCheaperRescan(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		e, ann, _ := scopedEnv(t, tg)
		next := int64(2)
		push := func(n int) { // in pushes of 150
			for n > 0 {
				var muts []mut
				for range min(n, 150) {
					muts = append(muts, mut{"bob-c", next, "createTodo", fmt.Sprintf(`{"id":"b%d","listID":"L2","title":"x"}`, next)})
					next++
				}
				n -= len(muts)
				e.mustPush("bob", "bob-g", muts...)
			}
		}
		pull := func() (cheaper uint64) {
			before := e.h.PullStats()
			ann.pull(t)
			ann.checkConverged(t)
			return e.h.PullStats().Fallbacks["cheaper"] - before.Fallbacks["cheaper"]
		}
		// ann's view holds her list and membership: her limit is
		// 2*2+256 = 260 changes.
		push(300)
		want := uint64(1)
		if tg.Name == "postgres" {
			want = 0
		}
		if got := pull(); got != want {
			t.Fatalf("after 300 other changes: %d cheaper rescans, want %d", got, want)
		}
		push(1100)
		if got := pull(); got != 1 {
			t.Fatalf("after 1,100 more changes: %d cheaper rescans, want 1", got)
		}
	})
}
