package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

func serverCount(t testing.TB, s *plasmatest.Server[todo.AppCtx], table *orm.Table) int64 {
	t.Helper()
	n, err := orm.Scalar[int64](context.Background(), s.Target.DB.Select(expr.CountAll()).From(table))
	must(t, err)
	return n
}

func TestCrashBetweenApplyAndPush(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		s := newServer(t, engine)
		ann := newClient(s, "ann", persistent)
		must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
		must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
		cid, gid := ann.ClientID(), ann.ClientGroupID()
		ann.Restart()
		if ann.ClientID() != cid || ann.ClientGroupID() != gid {
			t.Fatal("ids changed across a restart")
		}
		if p, err := ann.Pending(ctx); err != nil || len(p) != 2 {
			t.Fatalf("pending after restart: %v %v", p, err)
		}
		if got := todos(t, ann.DB()); len(got) != 1 {
			t.Fatalf("optimistic view lost: %+v", got)
		}
		must(t, ann.Flush(ctx))
		if n := serverCount(t, s, todo.Todos); n != 1 {
			t.Fatalf("server has %d todos", n)
		}
		mustConverge(t, ann)
	})
}

func TestCrashBetweenPushAndPull(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		s := newServer(t, engine)
		ann := newClient(s, "ann", persistent)
		must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
		must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
		if n, err := ann.PushOnce(ctx); err != nil || n != 2 {
			t.Fatalf("push: %d %v", n, err)
		}
		ann.Restart()
		p, err := ann.Pending(ctx)
		if err != nil || len(p) != 2 || !p[0].Sent {
			t.Fatalf("pending after restart: %+v %v", p, err)
		}
		if err := ann.DiscardMutation(ctx, p[0].ID); !errors.Is(err, client.ErrMutationSent) {
			t.Fatalf("discard of a sent mutation: %v", err)
		}
		s.Errors.Take()
		must(t, ann.Flush(ctx)) // re-pushes: the server skips the duplicates
		if n := serverCount(t, s, todo.Todos); n != 1 {
			t.Fatalf("server has %d todos", n)
		}
		if errs := s.Errors.Take(); len(errs) != 0 {
			t.Fatalf("a duplicate ran again: %v", errs)
		}
		if ann.LastMutationID() != 2 {
			t.Fatalf("lastMutationID %d", ann.LastMutationID())
		}
		mustConverge(t, ann)
	})
}

func TestDiscardMutation(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	id, err := ann.MutateID(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "drop me"})
	must(t, err)
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t2", ListID: "L1", Title: "keep"}))
	if err := ann.DiscardMutation(ctx, 99); !errors.Is(err, client.ErrUnknownMutation) {
		t.Fatalf("discard 99: %v", err)
	}
	must(t, ann.DiscardMutation(ctx, id))
	if got := todos(t, ann.DB()); len(got) != 1 || got[0].ID != "t2" {
		t.Fatalf("after discard: %+v", got)
	}
	p, _ := ann.Pending(ctx)
	if len(p) != 2 || p[1].ID != 2 || p[1].Name != todo.MutCreateTodo {
		t.Fatalf("pending: %+v", p)
	}
	must(t, ann.Flush(ctx))
	if n := serverCount(t, s, todo.Todos); n != 1 {
		t.Fatalf("server has %d todos", n)
	}
	mustConverge(t, ann)
}

func TestResetLocalState(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann", persistent)
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Flush(ctx))
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "lost"}))
	cid, gid := ann.ClientID(), ann.ClientGroupID()
	must(t, ann.ResetLocalState(ctx))
	if ann.ClientID() == cid || ann.ClientGroupID() == gid || ann.LastMutationID() != 0 || ann.Cookie() != nil {
		t.Fatal("ids or state not rotated")
	}
	if v, _ := ann.View(ctx); len(v) != 0 {
		t.Fatalf("view after reset: %v", v)
	}
	if p, _ := ann.Pending(ctx); len(p) != 0 {
		t.Fatalf("pending after reset: %v", p)
	}
	ann.Restart()
	if ann.ClientID() == cid {
		t.Fatal("old id back after restart")
	}
	mustConverge(t, ann)
	if v, _ := ann.View(ctx); len(v) != 2 { // the list and ann's membership
		t.Fatalf("view: %v", v)
	}
}
