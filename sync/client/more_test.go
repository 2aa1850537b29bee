package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
	"github.com/plasma-go/plasma/sync/server"
)

// OnChange is the seam for live queries: it fires after each local
// mutation and each rebase, once committed.
func TestOnChangeFiresAfterCommits(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	var mu sync.Mutex
	var kinds []client.ChangeKind
	var tables []string
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) {
			co.OnChange = func(ch client.Change) {
				mu.Lock()
				kinds = append(kinds, ch.Kind)
				tables = append(tables, ch.Tables...)
				mu.Unlock()
			}
		}
	})
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	if err := ann.Mutate(ctx, todo.MutDeleteTodo, todo.DeleteTodo{ID: "none"}); err == nil {
		t.Fatal("delete of nothing succeeded")
	}
	must(t, ann.Flush(ctx)) // the first pull clears: Tables is nil (all)
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
	must(t, ann.Flush(ctx))
	mu.Lock()
	defer mu.Unlock()
	if len(kinds) < 2 || kinds[0] != client.ChangeMutate || kinds[len(kinds)-1] != client.ChangeRebase {
		t.Fatalf("changes %v", kinds)
	}
	if !strings.Contains(strings.Join(tables, ","), "todos") {
		t.Fatalf("tables %v", tables)
	}
}

// More mutations than one push may carry go out in several pushes, in
// order, within the server's limits.
func TestPushBatches(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	var pushes atomic.Int64
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) { co.PushBatch = 40 }
	})
	ann.Net.Fail = func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/push") {
			pushes.Add(1)
		}
		return nil, nil
	}
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	for i := range 99 {
		must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t" + string(rune('a'+i%26)) + string(rune('a'+i/26)), ListID: "L1", Title: "x"}))
	}
	must(t, ann.Flush(ctx))
	if n := pushes.Load(); n != 3 {
		t.Fatalf("%d pushes for 100 mutations in batches of 40", n)
	}
	if ann.LastMutationID() != 100 {
		t.Fatalf("lastMutationID %d", ann.LastMutationID())
	}
	mustConverge(t, ann)
}

// ClientStateNotFound makes the client start over as a new group, as
// replicache does.
func TestClientStateNotFoundResets(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Flush(ctx))
	gid := ann.ClientGroupID()
	ann.Net.Fail = func(r *http.Request) (*http.Response, error) {
		return answer(200, `{"error":"ClientStateNotFound"}`), nil
	}
	if _, err := ann.PullOnce(ctx); err == nil {
		t.Fatal("no error")
	}
	ann.Net.Fail = nil
	if ann.ClientGroupID() == gid {
		t.Fatal("group not replaced")
	}
	mustConverge(t, ann)
}

func TestOversizedPullAnswer(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) { co.MaxResponseBytes = 1 << 10 }
	})
	ann.Net.Fail = func(r *http.Request) (*http.Response, error) {
		return answer(200, `{"cookie":1,"lastMutationIDChanges":{},"patch":[`+strings.Repeat(`{"op":"del","key":"todos/x"},`, 100)+`{"op":"clear"}]}`), nil
	}
	if _, err := ann.PullOnce(ctx); !errors.Is(err, client.ErrBadResponse) {
		t.Fatalf("oversized: %v", err)
	}
	if ann.Cookie() != nil {
		t.Fatal("applied")
	}
}

// Mutate refuses arguments it cannot send, and a closed client.
func TestMutateBadInput(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	if err := ann.Mutate(ctx, todo.MutCreateList, make(chan int)); err == nil {
		t.Fatal("unencodable args accepted")
	}
	for _, raw := range []string{`{`, `{"id":"L1","name":"x","extra":1}`, `"\ud800"`, `[]`} {
		if err := ann.Mutate(ctx, todo.MutCreateList, []byte(raw)); err == nil {
			t.Fatalf("args %s accepted", raw)
		}
	}
	if err := ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: strings.Repeat("x", 1000), Name: "l"}); err == nil {
		t.Fatal("oversized id accepted")
	}
	if p, _ := ann.Pending(ctx); len(p) != 0 {
		t.Fatalf("queued: %v", p)
	}
	must(t, ann.Close())
	if err := ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := ann.PullOnce(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("pull after close: %v", err)
	}
}

// The loop sends a backlog larger than one push in several pushes, each
// confirmed by a pull before the next, and never re-sends a batch in a
// loop.
func TestLoopSendsBacklogInBatches(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	var pushes atomic.Int64
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) { co.PushBatch = 30; co.Offline = true }
	})
	ann.Net.Fail = func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/push") {
			pushes.Add(1)
		}
		return nil, nil
	}
	must(t, ann.Start(ctx))
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	for i := range 99 {
		must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: fmt.Sprintf("t%d", i), ListID: "L1", Title: "x"}))
	}
	ann.SetOffline(false)
	plasmatest.Eventually(t, 10*time.Second, "all confirmed", func() bool { return ann.LastMutationID() == 100 })
	if n := pushes.Load(); n < 4 || n > 6 {
		t.Fatalf("%d pushes for 100 mutations in batches of 30", n)
	}
}

func TestWatch(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	var n atomic.Int64
	var rebases atomic.Int64
	stop := ann.Watch(func(ch client.Change) {
		// A live query would re-run here; the change is committed and
		// the client free to use.
		if ch.Kind == client.ChangeRebase && ann.LastMutationID() > 0 {
			rebases.Add(1)
		}
		if ch.Kind == client.ChangeMutate {
			if got := todos(t, ann.DB()); len(got) == 1 {
				n.Add(1)
			}
		}
	})
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
	must(t, ann.Flush(ctx))
	if rebases.Load() == 0 {
		t.Fatal("no rebase seen")
	}
	stop()
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t2", ListID: "L1", Title: "b"}))
	if n.Load() != 1 {
		t.Fatalf("watch saw the todo %d times", n.Load())
	}
}

// A server whose push limit is below the client's batch refuses the
// push; the client halves its batch until the server takes it.
func TestPushAdaptsToServerLimit(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite, func(o *plasmatest.ServerOptions[todo.AppCtx]) {
		o.Tweak = func(so *server.Options[todo.AppCtx]) { so.MaxMutationsPerPush = 7 }
	})
	ann := newClient(s, "ann")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	for i := range 29 {
		must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: fmt.Sprintf("t%d", i), ListID: "L1", Title: "x"}))
	}
	must(t, ann.Flush(ctx))
	if ann.LastMutationID() != 30 {
		t.Fatalf("lastMutationID %d", ann.LastMutationID())
	}
	mustConverge(t, ann)
}

// The mutators' application context comes from CtxFunc at every local
// run; when it fails, the mutation fails and is not queued.
func TestCtxFunc(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	var user atomic.Value
	user.Store("ann")
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) {
			co.CtxFunc = func(context.Context) (todo.AppCtx, error) {
				u := user.Load().(string)
				if u == "" {
					return todo.AppCtx{}, errors.New("signed out")
				}
				return todo.AppCtx{UserID: u}, nil
			}
		}
	})
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	user.Store("")
	if err := ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "x"}); err == nil {
		t.Fatal("mutate without a context succeeded")
	}
	if p, _ := ann.Pending(ctx); len(p) != 1 {
		t.Fatalf("pending %v", p)
	}
	user.Store("ann")
	mustConverge(t, ann)
}
