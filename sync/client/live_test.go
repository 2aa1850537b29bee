package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

type liveTodo struct {
	ID    string `db:"id"`
	Title string `db:"title"`
	Done  bool   `db:"done"`
}

func openTodos(db *orm.DB, list string) *orm.SelectQuery {
	return db.Select(todo.Todos.Col("id"), todo.Todos.Col("title"), todo.Todos.Col("done")).From(todo.Todos).
		Where(expr.Eq(todo.Todos.Col("list_id"), list), expr.Eq(todo.Todos.Col("done"), false)).
		OrderBy(expr.Asc(todo.Todos.Col("title")))
}

// nextDelta waits for the subscription's next delta.
func nextDelta(t *testing.T, sub *live.Subscription[liveTodo], what string) live.Delta[liveTodo] {
	t.Helper()
	select {
	case d, ok := <-sub.Deltas():
		if !ok {
			t.Fatalf("%s: deltas closed: %v", what, sub.Err())
		}
		return d
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no delta", what)
	}
	return live.Delta[liveTodo]{}
}

func titles(rows []liveTodo) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Title
	}
	return out
}

// A live query on the replica fires on a local mutation, on a pull that
// brings another user's changes (a rebase), and on DiscardMutation;
// Close stops it.
func TestLiveOnReplica(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		s := newServer(t, engine)
		ann, bob := newClient(s, "ann"), newClient(s, "bob")
		must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
		must(t, ann.Mutate(ctx, todo.MutAddMember, todo.AddMember{ID: "m1", ListID: "L1", UserID: "bob"}))
		must(t, ann.Flush(ctx))
		_, err := bob.PullOnce(ctx)
		must(t, err)

		sub, err := live.Subscribe[liveTodo](ctx, bob.DB(), openTodos(bob.DB(), "L1"))
		must(t, err)
		defer sub.Close()
		<-sub.Ready()
		if err := sub.Err(); err != nil || len(sub.Snapshot()) != 0 {
			t.Fatalf("first snapshot %v, %v", sub.Snapshot(), err)
		}

		must(t, bob.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "bread"}))
		if d := nextDelta(t, sub, "mutate"); len(d.Added) != 1 || d.Added["t1"].Title != "bread" {
			t.Fatalf("mutate: delta %+v", d)
		}

		// Another user's todo and an edit of bob's pending one's
		// neighbour arrive by a pull: the rebase re-runs bob's pending
		// createTodo on top and announces the todos table.
		must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t2", ListID: "L1", Title: "apples"}))
		must(t, ann.Flush(ctx))
		_, err = bob.PullOnce(ctx)
		must(t, err)
		if d := nextDelta(t, sub, "rebase"); len(d.Added) != 1 || d.Added["t2"].Title != "apples" || len(d.Removed) != 0 {
			t.Fatalf("rebase: delta %+v", d)
		}
		if got := titles(sub.Snapshot()); !slices.Equal(got, []string{"apples", "bread"}) {
			t.Fatalf("after rebase: %v", got)
		}
		must(t, ann.Mutate(ctx, todo.MutUpdateTodo, todo.UpdateTodo{ID: "t2", Done: ptr(true)}))
		must(t, ann.Flush(ctx))
		_, err = bob.PullOnce(ctx)
		must(t, err)
		if d := nextDelta(t, sub, "rebase 2"); !slices.Equal(d.Removed, []string{"t2"}) || len(d.Added)+len(d.Changed) != 0 {
			t.Fatalf("rebase 2: delta %+v", d)
		}

		id, err := bob.MutateID(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t3", ListID: "L1", Title: "cheese"})
		must(t, err)
		if d := nextDelta(t, sub, "second mutate"); len(d.Added) != 1 || d.Added["t3"].Title != "cheese" {
			t.Fatalf("second mutate: delta %+v", d)
		}
		must(t, bob.DiscardMutation(ctx, id))
		if d := nextDelta(t, sub, "discard"); !slices.Equal(d.Removed, []string{"t3"}) {
			t.Fatalf("discard: delta %+v", d)
		}
		if sub.Class() != live.None {
			t.Fatalf("class %v on a replica: want None (re-run)", sub.Class())
		}

		sub.Close()
		must(t, bob.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t4", ListID: "L1", Title: "dates"}))
		for d := range sub.Deltas() {
			if _, ok := d.Added["t4"]; ok {
				t.Fatalf("a closed subscription got %+v", d)
			}
		}
		if !errors.Is(sub.Err(), live.ErrClosed) {
			t.Fatalf("Err after Close: %v", sub.Err())
		}
		if got := titles(sub.Snapshot()); !slices.Equal(got, []string{"bread"}) {
			t.Fatalf("snapshot after Close: %v", got)
		}
	})
}

// A pull that brings many rows at once is one local transaction; a live
// query never sees part of it, even while the query re-runs as the
// rebase commits. The count is read by an aggregate subscription.
func TestLiveNoHalfRebase(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann, bob := newClient(s, "ann"), newClient(s, "bob", persistent)
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Mutate(ctx, todo.MutAddMember, todo.AddMember{ID: "m1", ListID: "L1", UserID: "bob"}))
	must(t, ann.Flush(ctx))
	_, err := bob.PullOnce(ctx)
	must(t, err)

	type count struct {
		N int64 `db:"n"`
	}
	q := bob.DB().Select(expr.As(expr.CountAll(), "n")).From(todo.Todos)
	var mu sync.Mutex
	var seen []int64
	var sub *live.Subscription[count]
	sub, err = live.SubscribeFunc(ctx, bob.DB(), q, func(live.Delta[count]) {
		snap := sub.Snapshot()
		mu.Lock()
		seen = append(seen, snap[0].N)
		mu.Unlock()
	})
	must(t, err)
	defer sub.Close()
	<-sub.Ready()

	const batches, per = 5, 20
	n := 0
	for b := range batches {
		for range per {
			n++
			must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: fmt.Sprintf("t%d", n), ListID: "L1", Title: "x"}))
		}
		must(t, ann.Flush(ctx))
		// A pending local todo is re-run on top of each pull.
		must(t, bob.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: fmt.Sprintf("b%d", b), ListID: "L1", Title: "y"}))
		_, err := bob.PullOnce(ctx)
		must(t, err)
	}
	want := int64(batches*per + batches)
	plasmatest.Eventually(t, 10*time.Second, "the last count", func() bool {
		snap := sub.Snapshot()
		return len(snap) == 1 && snap[0].N == want
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("no delta seen")
	}
	for _, v := range seen {
		// Each state a commit left: b local todos plus whole batches.
		if v%(per+1) != 0 && (v-1)%(per+1) != 0 {
			t.Fatalf("a count of %d is no committed state (seen %v)", v, seen)
		}
	}
}

// ResetLocalState wipes the replica; a live query on it sees its rows go.
func TestLiveReset(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
	sub, err := live.Subscribe[liveTodo](ctx, ann.DB(), openTodos(ann.DB(), "L1"))
	must(t, err)
	defer sub.Close()
	<-sub.Ready()
	if got := titles(sub.Snapshot()); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("snapshot %v", got)
	}
	must(t, ann.ResetLocalState(ctx))
	if d := nextDelta(t, sub, "reset"); !slices.Equal(d.Removed, []string{"t1"}) {
		t.Fatalf("reset: delta %+v", d)
	}
}

// A pending todo the server refuses (bob lost the list meanwhile) goes
// at the rebase that confirms it, although the pull's patch has no todo
// in it: the rebase announces the tables whose rows it put back.
func TestLiveRefusedMutationLeaves(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann, bob := newClient(s, "ann"), newClient(s, "bob")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Mutate(ctx, todo.MutAddMember, todo.AddMember{ID: "m1", ListID: "L1", UserID: "bob"}))
	must(t, ann.Flush(ctx))
	_, err := bob.PullOnce(ctx)
	must(t, err)
	must(t, ann.Mutate(ctx, todo.MutRemoveMember, todo.RemoveMember{ListID: "L1", UserID: "bob"}))
	must(t, ann.Flush(ctx))

	sub, err := live.Subscribe[liveTodo](ctx, bob.DB(), openTodos(bob.DB(), "L1"))
	must(t, err)
	defer sub.Close()
	<-sub.Ready()
	must(t, bob.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
	if d := nextDelta(t, sub, "mutate"); len(d.Added) != 1 {
		t.Fatalf("mutate: delta %+v", d)
	}
	_, err = bob.PushOnce(ctx)
	must(t, err)
	_, err = bob.PullOnce(ctx)
	must(t, err)
	if bob.LastMutationID() != 1 {
		t.Fatalf("lastMutationID %d", bob.LastMutationID())
	}
	if d := nextDelta(t, sub, "rebase"); !slices.Equal(d.Removed, []string{"t1"}) {
		t.Fatalf("rebase: delta %+v", d)
	}
}
