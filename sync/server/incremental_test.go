package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/sync/server"
)

// incrementalSteps is how many random operations
// TestIncrementalMatchesRescan runs per engine; PLASMA_PULL_STEPS raises
// it for a soak.
func incrementalSteps() int {
	if n, err := strconv.Atoi(os.Getenv("PLASMA_PULL_STEPS")); err == nil && n > 0 {
		return n
	}
	return 400
}

// tab is one client (one browser tab) of a user's group, with the
// mutation id it pushes next.
type tab struct {
	*client
	id   string
	next int64
}

// TestIncrementalMatchesRescan drives random writes, membership changes,
// deletes, change-log compactions and handler restarts against several
// users' groups (two tabs sharing one group, and tabs that lose a
// response and pull again from an older cookie), and after every pull
// checks that the incremental answer is the rescan's answer for the same
// cookie in the same snapshot (the handler computes both), and that the
// client holds exactly what its user may read.
func TestIncrementalMatchesRescan(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		seed := uint64(1)
		if s, err := strconv.ParseUint(os.Getenv("PLASMA_PULL_SEED"), 10, 64); err == nil {
			seed = s
		}
		rng := rand.New(rand.NewPCG(seed, 24))
		var mu sync.Mutex
		var diffs []string
		var stats []server.PullStats
		start := func() *env {
			e := newEnv(t, tg, tg.DB, nil)
			server.VerifyPulls(e.h, func(group, diff string) {
				mu.Lock()
				diffs = append(diffs, group+": "+diff)
				mu.Unlock()
			})
			return e
		}
		e := start()
		users := []string{"ann", "bob", "cat"}
		lists := []string{"L1", "L2", "L3", "L4"}
		owner := map[string]string{"L1": "ann", "L2": "bob", "L3": "cat", "L4": "ann"}
		var tabs []*tab
		byUser := map[string][]*tab{}
		for _, u := range users {
			for _, g := range []string{"a", "a", "b"} {
				tb := &tab{client: e.newClient(u, u+"-"+g), id: fmt.Sprintf("%s-%s-%d", u, g, len(tabs)), next: 1}
				tabs = append(tabs, tb)
				byUser[u] = append(byUser[u], tb)
			}
		}
		push := func(tb *tab, name, args string) {
			tb.e.mustPush(tb.user, tb.group, mut{tb.id, tb.next, name, args})
			tb.next++
		}
		for _, l := range lists {
			push(byUser[owner[l]][0], "createList", fmt.Sprintf(`{"ID":%q,"Name":"n"}`, l))
		}
		todo := 0
		saved := map[*tab]synctestState{}
		for step := range incrementalSteps() {
			tb := tabs[rng.IntN(len(tabs))]
			switch op := rng.IntN(23); {
			case op < 5:
				todo++
				push(tb, "createTodo", fmt.Sprintf(`{"id":"t%d","listID":%q,"title":"x%d"}`, todo, lists[rng.IntN(len(lists))], step))
			case op < 8 && todo > 0:
				push(tb, "updateTodo", fmt.Sprintf(`{"id":"t%d","title":"u%d","done":%t}`, 1+rng.IntN(todo), step, rng.IntN(2) == 0))
			case op < 9 && todo > 0:
				push(tb, "deleteTodo", fmt.Sprintf(`{"id":"t%d"}`, 1+rng.IntN(todo)))
			case op < 10 && todo > 0:
				// Moved to another list: out of some users' scopes, into
				// others'.
				push(tb, "updateTodo", fmt.Sprintf(`{"id":"t%d","listID":%q}`, 1+rng.IntN(todo), lists[rng.IntN(len(lists))]))
			case op < 12:
				l := lists[rng.IntN(len(lists))]
				u := users[rng.IntN(len(users))]
				push(byUser[owner[l]][0], "addMember", fmt.Sprintf(`{"ID":"%s:%s:%d","ListID":%q,"UserID":%q}`, l, u, step, l, u))
			case op < 14:
				l := lists[rng.IntN(len(lists))]
				push(byUser[owner[l]][0], "removeMember", fmt.Sprintf(`{"ListID":%q,"UserID":%q}`, l, users[rng.IntN(len(users))]))
			case op < 15:
				push(tb, "note", fmt.Sprintf(`{"id":"n%d","body":"b"}`, step))
			case op < 16 && todo > 0:
				push(tb, "tag", fmt.Sprintf(`{"id":"g%d","todoID":"t%d","label":"l"}`, step, 1+rng.IntN(todo)))
			case op < 17:
				head, err := changelog.Head(context.Background(), tg.DB, "")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := changelog.CompactChangeLog(context.Background(), tg.DB, "", rng.Int64N(head+1)); err != nil {
					t.Fatal(err)
				}
			case op < 18:
				mu.Lock()
				stats = append(stats, e.h.PullStats())
				mu.Unlock()
				e = start()
				for _, x := range tabs {
					x.e = e
				}
			case op < 19:
				// The tab loses its next response: it pulls again later
				// from the cookie it holds now.
				saved[tb] = saveState(tb)
			}
			// Pull a random tab, and check it.
			p := tabs[rng.IntN(len(tabs))]
			p.pull(t)
			if s, ok := saved[p]; ok && rng.IntN(2) == 0 {
				delete(saved, p)
				s.restore(p)
				p.pull(t)
			}
			mu.Lock()
			if len(diffs) > 0 {
				t.Fatalf("step %d (seed %d): incremental pull differs from the rescan: %v", step, seed, diffs)
			}
			mu.Unlock()
			p.checkConverged(t)
		}
		for _, tb := range tabs {
			tb.pull(t)
			tb.checkConverged(t)
		}
		if len(diffs) > 0 {
			t.Fatalf("incremental pull differs from the rescan: %v", diffs)
		}
		stats = append(stats, e.h.PullStats())
		var inc, resets uint64
		for _, s := range stats {
			inc += s.Incremental
			resets += s.Fallbacks["reset"]
			if n := s.Fallbacks["rule"] + s.Fallbacks["changes"] + s.Fallbacks["fingerprint"]; n != 0 {
				t.Errorf("%d pulls rescanned without a reason to: %+v", n, s)
			}
		}
		t.Logf("seed %d: %d incremental pulls, %d resets, last handler %+v", seed, inc, resets, stats[len(stats)-1])
		if inc == 0 {
			t.Fatal("no pull was incremental")
		}
		for _, err := range e.takeErrors() {
			if err.Kind != server.KindMutatorFailed { // refused writes are expected
				t.Errorf("error: %v", err)
			}
		}
	})
}

// synctestState is a client's state, to rewind it.
type synctestState struct {
	cookie json.RawMessage
	view   map[string]json.RawMessage
	lmids  map[string]int64
}

func saveState(tb *tab) synctestState {
	return synctestState{cookie: tb.Cookie, view: maps.Clone(tb.View), lmids: maps.Clone(tb.LastMutationIDs)}
}

func (s synctestState) restore(tb *tab) {
	tb.Cookie, tb.View, tb.LastMutationIDs = s.cookie, s.view, s.lmids
}

// A push of the group that commits after a pull read the change-log
// heads, and before its snapshot, shows in the lastMutationIDs the
// snapshot reads: the incremental pull must then carry its effects too
// (on PostgreSQL its change is not numbered yet when the snapshot reads
// the log).
func TestIncrementalPullSeesCommitAfterHeads(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		var armed atomic.Bool
		var e *env
		interfere := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				res, err := next(ctx, st)
				if err == nil && (strings.Contains(st.SQL, "sqlite_sequence") || strings.Contains(st.SQL, "_plasma_publish")) && armed.CompareAndSwap(true, false) {
					if res.Rows, err = readAll(res.Rows); err != nil {
						return nil, err
					}
					e.mustPush("ann", "g1", mut{"c1", 3, "createTodo", `{"id":"t3","listID":"L1","title":"late"}`})
				}
				return res, err
			}
		}
		e = newEnv(t, tg, tg.DB.Use(interfere), nil)
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`})
		c := e.newClient("ann", "g1")
		c.pull(t)
		e.mustPush("ann", "g1", mut{"c1", 2, "createTodo", `{"id":"t2","listID":"L1","title":"hi"}`})
		armed.Store(true)
		r := c.pull(t)
		if armed.Load() {
			t.Fatal("the interfering push never ran")
		}
		if lmid := r.Response.LastMutationIDChanges["c1"]; lmid == 3 && c.View["todos/t3"] == nil {
			t.Fatalf("the pull reports mutation 3 without its todo: %s", r.Raw)
		}
		c.pull(t)
		c.checkConverged(t)
	})
}

// Tabs of one group pull at the same time, from different cookies,
// through two handlers (two processes) on one database, while the user
// writes: pulls of one group store their views one after the other (in
// a process they take turns; across processes the later computes
// again), no request fails, and every tab ends up holding exactly what
// the user may read.
func TestConcurrentPullsOfOneGroup(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		e := newEnv(t, tg, tg.DB, nil)
		other := newEnv(t, tg, orm.New(tg.Open(t), tg.Dialect), nil)
		e.mustPush("ann", "g", mut{"w", 1, "createList", `{"ID":"L1","Name":"home"}`})
		tabs := make([]*client, 6)
		for i := range tabs {
			tabs[i] = []*env{e, other}[i%2].newClient("ann", "g")
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(tabs)+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				status, body := e.post("push", "ann", pushBody("g", mut{"w", int64(i + 2), "createTodo", fmt.Sprintf(`{"id":"t%d","listID":"L1","title":"x"}`, i)}))
				if status != 200 {
					errs <- fmt.Errorf("push: %d %s", status, body)
				}
			}
		}()
		for _, c := range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 15 {
					if _, err := c.Pull(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err, e.takeErrors(), other.takeErrors())
		}
		for _, c := range tabs {
			c.pull(t)
			c.checkConverged(t)
		}
		for _, x := range []*env{e, other} {
			if errs := x.takeErrors(); len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			t.Logf("%+v", x.h.PullStats())
		}
	})
}

// TestPullDoesNotWaitForPublisher: on PostgreSQL a pull that finds
// another reader publishing (here a transaction holding the region's
// lock) does not wait for it: it answers with the changes its snapshot
// sees, numbered or not, stays off the fast path while the head it read
// may leave changes out, and converges once the lock is free.
func TestPullDoesNotWaitForPublisher(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Name != "postgres" || tg.Exec != ormtest.ExecPool {
			t.Skip("publishing is PostgreSQL's")
		}
		ctx := context.Background()
		pokes := &pokeRecorder{}
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.Notifier = pokes })
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`})
		c := e.newClient("ann", "g1")
		c.pull(t)
		lock, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Rollback()
		if _, err := lock.ExecContext(ctx, `SELECT 1 FROM "`+changelog.RegionTable+`" WHERE "region" = 'default' FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		e.mustPush("ann", "g1", mut{"c1", 2, "createTodo", `{"id":"t1","listID":"L1","title":"x"}`})
		done := make(chan error, 1)
		go func() {
			_, err := c.pullErr()
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the pull waited for the publisher")
		}
		c.checkConverged(t)
		if _, ok := c.View["todos/t1"]; !ok {
			t.Fatal("the pull left out the todo its snapshot saw")
		}
		// Its heads could not tell whether a commit landed after its
		// snapshot: it pokes its group rather than wait to find out.
		if got := pokes.take(); !slices.Contains(got, "g1") {
			t.Fatalf("pokes %v, want g1's", got)
		}
		before := e.h.PullStats()
		c.pull(t) // nothing new, but the head may leave changes out
		if got := e.h.PullStats(); got.Unchanged != before.Unchanged {
			t.Fatalf("a pull took the fast path from a partial head: %+v", got)
		}
		if err := lock.Rollback(); err != nil {
			t.Fatal(err)
		}
		e.mustPush("ann", "g1", mut{"c1", 3, "updateTodo", `{"id":"t1","title":"y"}`})
		c.pull(t)
		c.checkConverged(t)
		before = e.h.PullStats()
		c.pull(t)
		if got := e.h.PullStats(); got.Unchanged != before.Unchanged+1 {
			t.Fatalf("with the lock free, a pull with nothing new did not take the fast path: %+v", got)
		}
		if errs := e.takeErrors(); len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
	})
}
