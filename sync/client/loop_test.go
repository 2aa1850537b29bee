package client_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

func TestRebaseKeepsPendingOnTopOfServerState(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	bob := newClient(s, "bob")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Mutate(ctx, todo.MutAddMember, todo.AddMember{ID: todo.MemberID("L1", "bob"), ListID: "L1", UserID: "bob"}))
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
	mustConverge(t, ann, bob)

	// ann edits offline-ish (not pushed) while bob's edit reaches the server.
	must(t, ann.Mutate(ctx, todo.MutUpdateTodo, todo.UpdateTodo{ID: "t1", Title: ptr("ann's title")}))
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t2", ListID: "L1", Title: "ann's new"}))
	must(t, bob.Mutate(ctx, todo.MutUpdateTodo, todo.UpdateTodo{ID: "t1", Done: ptr(true)}))
	must(t, bob.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t3", ListID: "L1", Title: "bob's new"}))
	must(t, bob.Flush(ctx))

	changed, err := ann.PullOnce(ctx)
	if err != nil || !changed {
		t.Fatalf("pull: %v %v", changed, err)
	}
	got := todos(t, ann.DB())
	if len(got) != 3 || got[0].Title != "ann's title" || !got[0].Done || got[1].ID != "t2" || got[2].ID != "t3" {
		t.Fatalf("rebased view: %+v", got)
	}
	if p, _ := ann.Pending(ctx); len(p) != 2 {
		t.Fatalf("pending: %+v", p)
	}
	// bob deletes t1: ann's pending update of it now fails on rebase and
	// leaves no trace; the server rejects it too.
	must(t, bob.Mutate(ctx, todo.MutDeleteTodo, todo.DeleteTodo{ID: "t1"}))
	must(t, bob.Flush(ctx))
	if _, err := ann.PullOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := todos(t, ann.DB()); len(got) != 2 || got[0].ID != "t2" {
		t.Fatalf("after delete: %+v", got)
	}
	mustConverge(t, ann, bob)
	if ann.LastMutationID() != 5 {
		t.Fatalf("ann lastMutationID %d", ann.LastMutationID())
	}
}

func TestLoopPushesAndPullsOnPoke(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		s := newServer(t, engine)
		ann := newClient(s, "ann", started)
		bob := newClient(s, "bob", started)
		plasmatest.Eventually(t, 5*time.Second, "sockets up", func() bool { return ann.Connected() && bob.Connected() })
		must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
		must(t, ann.Mutate(ctx, todo.MutAddMember, todo.AddMember{ID: todo.MemberID("L1", "bob"), ListID: "L1", UserID: "bob"}))
		plasmatest.Eventually(t, 5*time.Second, "ann confirmed", func() bool { return ann.LastMutationID() == 2 })
		must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
		// bob gets it by a poke: his pull interval is 500 ms, so wait less
		// than that after ann's confirmation.
		plasmatest.Eventually(t, 5*time.Second, "bob sees t1", func() bool { return len(todos(t, bob.DB())) == 1 })
	})
}

func TestOfflineQueuesAndSendsOnReturn(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann", started, func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) { co.Offline = true }
	})
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	if _, err := ann.PushOnce(ctx); !errors.Is(err, client.ErrOffline) {
		t.Fatalf("push offline: %v", err)
	}
	if err := ann.Flush(ctx); !errors.Is(err, client.ErrOffline) {
		t.Fatalf("flush offline: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if r, _ := s.Readable("ann"); len(r) != 0 {
		t.Fatalf("the server has %v", r)
	}
	ann.SetOffline(false)
	plasmatest.Eventually(t, 5*time.Second, "sent", func() bool { return ann.LastMutationID() == 1 })
	mustConverge(t, ann)
}

func TestPartitionRetriesWithBackoff(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann", started)
	ann.Partition(true)
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	plasmatest.Eventually(t, 5*time.Second, "network errors reported", func() bool { return ann.Errors.Load() >= 3 })
	var ne *client.NetworkError
	if err, _ := ann.LastError(), true; !errors.As(err, &ne) {
		t.Fatalf("last error %v", err)
	}
	ann.Partition(false)
	plasmatest.Eventually(t, 5*time.Second, "sent after the partition", func() bool { return ann.LastMutationID() == 1 })
}

func TestNoRetryOn4xx(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) {
			co.Auth = func(context.Context) (string, error) { return "Basic nope", nil }
			co.NoWebSocket = true
		}
		o.Start = true
	})
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	plasmatest.Eventually(t, 5*time.Second, "an error", func() bool { return ann.Errors.Load() >= 1 })
	time.Sleep(100 * time.Millisecond)
	n := ann.Errors.Load()
	time.Sleep(300 * time.Millisecond) // the backoff would retry within 5..200 ms
	if n2 := ann.Errors.Load(); n2 != n || n > 3 {
		t.Fatalf("%d then %d errors: a 401 was retried", n, n2)
	}
	var se *client.ServerError
	if err, _ := ann.LastError(), true; !errors.As(err, &se) || se.Status != 401 || se.Kind != "Unauthorized" {
		t.Fatalf("last error %#v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Close stops the loop's goroutines.
func TestCloseStopsGoroutines(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	for range 5 {
		c, err := client.Open(ctx, client.Options[todo.AppCtx]{Server: "http://127.0.0.1:1/sync", Schema: todo.Schema,
			Mutators: todo.Mutators, Offline: true})
		must(t, err)
		must(t, c.Start(ctx))
		must(t, c.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
		c.SetOffline(false) // the loop and the socket now fail and back off
		time.Sleep(20 * time.Millisecond)
		must(t, c.Close())
	}
	plasmatest.Eventually(t, 5*time.Second, "goroutines gone", func() bool { return runtime.NumGoroutine() <= before+2 })
}
