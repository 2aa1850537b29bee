package client_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/plasmatest"
	"github.com/plasma-go/plasma/sync/server"
)

var soakOps = flag.Int("client.ops", 0, "operations per client in the convergence test (default 300, 100 under -race; more for a soak)")

// processed counts, per client and mutation id, how often the server
// processed (applied or failed) a mutation.
type processed struct {
	mu     sync.Mutex
	counts map[string]map[int64]int
	failed int
}

func (p *processed) record(_ context.Context, info server.PushInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range info.Mutations {
		if m.Status != server.StatusApplied && m.Status != server.StatusFailed {
			continue
		}
		if p.counts[m.ClientID] == nil {
			p.counts[m.ClientID] = map[int64]int{}
		}
		p.counts[m.ClientID][m.ID]++
		if m.Status == server.StatusFailed {
			p.failed++
		}
	}
}

// world is what the random clients know of each other's ids.
type world struct {
	mu    sync.Mutex
	lists []string
	todos []string
	users []string
}

func (w *world) pick(r *rand.Rand, from *[]string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(*from) == 0 {
		return "none"
	}
	return (*from)[r.IntN(len(*from))]
}

func (w *world) add(to *[]string, id string) {
	w.mu.Lock()
	*to = append(*to, id)
	w.mu.Unlock()
}

// TestConvergence runs 8 clients of 4 users with random todo mutations
// (some denied by the server's rules), membership changes, deletes,
// random offline periods, partitions and restarts from the replica file,
// all pushing concurrently; at the end every replica equals what the
// server says its user may read, and every mutation was processed by the
// server exactly once.
func TestConvergence(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ops := 300 // 2,400 operations per engine
		if raceEnabled {
			ops = 100
		}
		if testing.Short() {
			ops = 30
		}
		if *soakOps > 0 {
			ops = *soakOps
		}
		proc := &processed{counts: map[string]map[int64]int{}}
		s := newServer(t, engine, func(o *plasmatest.ServerOptions[todo.AppCtx]) {
			o.Tweak = func(so *server.Options[todo.AppCtx]) { so.OnPushed = proc.record }
		})
		w := &world{users: []string{"ann", "bob", "cat", "dan"}}
		clients := make([]*plasmatest.Client[todo.AppCtx], 8)
		for i := range clients {
			clients[i] = newClient(s, w.users[i%4], started, func(o *plasmatest.ClientOptions[todo.AppCtx]) { o.Persistent = i%2 == 0 })
		}
		made := make([]map[string]int64, len(clients)) // mutations made per clientID
		var wg sync.WaitGroup
		for i, c := range clients {
			made[i] = map[string]int64{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				drive(t, c, w, rand.New(rand.NewPCG(uint64(i), 7)), ops, made[i])
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, c := range clients {
			c.SetOffline(false)
			c.Partition(false)
		}
		mustConverge(t, clients...)
		checkExactlyOnce(t, clients, made, proc)
		t.Logf("%s: %d clients × %d ops; %d mutations failed on the server (denied or stale)", engine, len(clients), ops, proc.failed)
	})
}

func drive(t *testing.T, c *plasmatest.Client[todo.AppCtx], w *world, r *rand.Rand, ops int, made map[string]int64) {
	ctx := context.Background()
	for n := range ops {
		switch k := r.IntN(100); {
		case k < 3 && c.Replica != "":
			c.Restart() // as after a crash: whatever the replica file holds
		case k < 6:
			c.SetOffline(!c.Offline())
		case k < 8:
			c.Partition(!c.Net.Partitioned())
		default:
			name, args := randomMutation(c, w, r, n)
			if err := c.Mutate(ctx, name, args); err == nil {
				made[c.ClientID()]++
			}
		}
		if r.IntN(10) == 0 {
			time.Sleep(time.Duration(r.IntN(3)) * time.Millisecond)
		}
	}
}

func randomMutation(c *plasmatest.Client[todo.AppCtx], w *world, r *rand.Rand, n int) (string, any) {
	id := fmt.Sprintf("%s-%s-%d", c.User, c.ClientID()[:6], n)
	switch k := r.IntN(100); {
	case k < 10:
		w.add(&w.lists, id)
		return todo.MutCreateList, todo.CreateList{ID: id, Name: "list " + id}
	case k < 20:
		l, u := w.pick(r, &w.lists), w.pick(r, &w.users)
		return todo.MutAddMember, todo.AddMember{ID: todo.MemberID(l, u), ListID: l, UserID: u}
	case k < 25:
		return todo.MutRemoveMember, todo.RemoveMember{ListID: w.pick(r, &w.lists), UserID: w.pick(r, &w.users)}
	case k < 60:
		w.add(&w.todos, id)
		return todo.MutCreateTodo, todo.CreateTodo{ID: id, ListID: w.pick(r, &w.lists), Title: "todo " + id}
	case k < 85:
		title := fmt.Sprintf("edit %d", n)
		return todo.MutUpdateTodo, todo.UpdateTodo{ID: w.pick(r, &w.todos), Title: &title, Done: ptr(r.IntN(2) == 0)}
	default:
		return todo.MutDeleteTodo, todo.DeleteTodo{ID: w.pick(r, &w.todos)}
	}
}

// checkExactlyOnce: the server processed each mutation every client made
// exactly once, and each client saw all of its own confirmed.
func checkExactlyOnce(t *testing.T, clients []*plasmatest.Client[todo.AppCtx], made []map[string]int64, proc *processed) {
	t.Helper()
	proc.mu.Lock()
	defer proc.mu.Unlock()
	for i, c := range clients {
		for cid, n := range made[i] {
			got := proc.counts[cid]
			if int64(len(got)) != n {
				t.Errorf("client %s: made %d mutations, the server processed %d", cid, n, len(got))
			}
			for id, k := range got {
				if k != 1 || id < 1 || id > n {
					t.Errorf("client %s: mutation %d processed %d times", cid, id, k)
				}
			}
		}
		if p, err := c.Pending(context.Background()); err != nil || len(p) != 0 {
			t.Errorf("client %d: still pending %v %v", i, p, err)
		}
	}
}
