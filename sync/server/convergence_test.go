package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// TestConvergence runs two handlers (two connection pools, as two server
// processes would) on one database, with 20 clients of 5 users pushing
// 100 mutations each concurrently — in batches, with re-pushes, some
// batches sent to both servers at once — and pulling in between, while
// list owners add and remove members. Then every client's pulls must
// have rebuilt exactly the rows its user may read, every mutation must
// have been processed exactly once, and every counter must show exactly
// its bumps.
//
// It is one long function on purpose: the soak's setup, its concurrent
// run and its final checks share one state.
func TestConvergence(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		const users, clients, perClient = 5, 20, 100
		servers := []*env{
			newEnv(t, tg, tg.DB, nil),
			newEnv(t, tg, orm.New(tg.Open(t), tg.Dialect), nil),
		}
		user := func(i int) string { return fmt.Sprintf("u%d", i) }
		list := func(i int) string { return fmt.Sprintf("L%d", i) }
		for u := range users {
			servers[u%2].mustPush(user(u), "setup-"+user(u), mut{"setup-" + user(u), 1, "createList", fmt.Sprintf(`{"ID":%q,"Name":"list"}`, list(u))})
		}

		type streamState struct {
			user    string
			c       *client
			muts    []mut
			bumps   int
			pulls   int
			changed int
		}
		streams := make([]*streamState, clients)
		for i := range clients {
			u := i % users
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			s := &streamState{user: user(u)}
			s.c = servers[i%2].newClient(user(u), fmt.Sprintf("g%d", i))
			cid := fmt.Sprintf("c%d", i)
			var todos []string
			for n := int64(1); n <= int64(perClient); n++ {
				var m mut
				switch k := rng.IntN(10); {
				case k < 4:
					m = mut{cid, n, "bump", fmt.Sprintf(`{"id":"k-%s"}`, cid)}
					s.bumps++
				case k < 6:
					id := fmt.Sprintf("t-%s-%d", cid, n)
					todos = append(todos, id)
					m = mut{cid, n, "createTodo", fmt.Sprintf(`{"id":%q,"listID":%q,"title":"x%d"}`, id, list(rng.IntN(users)), n)}
				case k < 7 && len(todos) > 0:
					m = mut{cid, n, "updateTodo", fmt.Sprintf(`{"id":%q,"done":true,"title":"y%d"}`, todos[rng.IntN(len(todos))], n)}
				case k < 8 && len(todos) > 0:
					m = mut{cid, n, "deleteTodo", fmt.Sprintf(`{"id":%q}`, todos[rng.IntN(len(todos))])}
				case k < 9:
					other := user(rng.IntN(users))
					m = mut{cid, n, "addMember", fmt.Sprintf(`{"ID":"m-%s-%s-%d","ListID":%q,"UserID":%q}`, list(u), other, n, list(u), other)}
				default:
					other := user(rng.IntN(users))
					if other == user(u) {
						other = user((u + 1) % users)
					}
					m = mut{cid, n, "removeMember", fmt.Sprintf(`{"ListID":%q,"UserID":%q}`, list(u), other)}
				}
				s.muts = append(s.muts, m)
			}
			streams[i] = s
		}

		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for i, s := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(i), 11))
				sent := 0
				for sent < len(s.muts) {
					end := min(sent+5+rng.IntN(10), len(s.muts))
					from := sent
					if rng.IntN(3) == 0 { // re-push some already sent
						from = max(0, sent-rng.IntN(5))
					}
					body := pushBody(s.c.group, s.muts[from:end]...)
					if rng.IntN(4) == 0 { // the same push to both servers at once
						var pw sync.WaitGroup
						perr := make([]error, 2)
						for k := range servers {
							pw.Add(1)
							go func() { defer pw.Done(); perr[k] = postOK(servers[k], "push", s.user, body, "{}") }()
						}
						pw.Wait()
						if perr[0] != nil || perr[1] != nil {
							errs <- fmt.Errorf("%v %v", perr[0], perr[1])
							return
						}
					} else if err := postOK(servers[rng.IntN(2)], "push", s.user, body, "{}"); err != nil {
						errs <- err
						return
					}
					sent = end
					// Pull from either server; the client checks every rule.
					s.c.e = servers[rng.IntN(2)]
					r, err := s.c.pullErr()
					if err != nil {
						errs <- fmt.Errorf("client %s: %w", s.c.group, err)
						return
					}
					s.pulls++
					if r.Changed {
						s.changed++
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			for _, e := range servers {
				for _, se := range e.takeErrors() {
					if se.Kind != server.KindMutatorFailed {
						t.Log(se)
					}
				}
			}
			t.Fatal(err)
		}

		// Every mutation was processed exactly once across both servers.
		seen := map[string]server.MutationStatus{}
		for _, e := range servers {
			e.mu.Lock()
			for _, info := range e.pushed {
				for _, m := range info.Mutations {
					if m.Status != server.StatusApplied && m.Status != server.StatusFailed {
						continue
					}
					k := fmt.Sprintf("%s/%d", m.ClientID, m.ID)
					if prev, dup := seen[k]; dup {
						t.Errorf("mutation %s processed twice (%v, then %v)", k, prev, m.Status)
					}
					seen[k] = m.Status
				}
			}
			e.mu.Unlock()
			for _, err := range e.takeErrors() {
				switch {
				case err.Kind == server.KindMutatorFailed:
				case err.Kind == server.KindUnavailable && tg.Name == "sqlite":
					// SQLite's busy timeout can expire under heavy
					// contention (with -race): the client retries.
					t.Logf("temporary: %v", err)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
		}
		failed := 0
		for _, st := range seen {
			if st == server.StatusFailed {
				failed++
			}
		}
		if want := clients*perClient + users; len(seen) != want {
			t.Fatalf("%d mutations processed, want %d", len(seen), want)
		}
		e := servers[0]
		for i, s := range streams {
			cid := fmt.Sprintf("c%d", i)
			if got := e.lmid(t, cid); got != int64(perClient) {
				t.Fatalf("%s: lastMutationID %d", cid, got)
			}
			var n int64
			if err := tg.SQL.QueryRow(`SELECT "n" FROM "counters" WHERE "id" = `+placeholder(tg), "k-"+cid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != int64(s.bumps) {
				t.Fatalf("%s: counter %d, want %d bumps", cid, n, s.bumps)
			}
			// A final pull from each server: the view is exactly what the
			// user may read, and the client knows its last mutation.
			for _, srv := range servers {
				s.c.e = srv
				if _, err := s.c.pullErr(); err != nil {
					t.Fatal(err)
				}
				s.c.checkConverged(t)
			}
			if s.c.LastMutationIDs[cid] != int64(perClient) {
				t.Fatalf("%s: pulled lastMutationID %d", cid, s.c.LastMutationIDs[cid])
			}
		}
		// Fresh clients (a reset from null) converge too.
		for u := range users {
			c := servers[u%2].newClient(user(u), "fresh-"+user(u))
			if _, err := c.pullErr(); err != nil {
				t.Fatal(err)
			}
			c.checkConverged(t)
		}
		t.Logf("%d mutations (%d failed permanently), %d todos left, %d requests retried", len(seen), failed, e.count(t, "todos"), retried.Swap(0))
	})
}

// postOK posts and checks the answer, for use off the test goroutine.
// Like the Replicache client, it retries an answer other than 200 (a
// temporary failure) with exponential backoff.
func postOK(e *env, endpoint, auth, body, want string) error {
	b, err := postRetry(e, endpoint, auth, body)
	if err != nil {
		return err
	}
	if want != "" && string(b) != want {
		return fmt.Errorf("%s: %s", endpoint, b)
	}
	return nil
}

// retried counts the requests the convergence test had to retry.
var retried atomic.Int64

func postRetry(e *env, endpoint, auth, body string) ([]byte, error) {
	delay := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		status, b, err := postOnce(e, endpoint, auth, body)
		if err == nil && status == 200 {
			return b, nil
		}
		if attempt == 8 || (err == nil && status < 500) {
			return nil, fmt.Errorf("%s: %d %s %v", endpoint, status, b, err)
		}
		retried.Add(1)
		time.Sleep(delay)
		delay *= 2
	}
}

func postOnce(e *env, endpoint, auth, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/sync/"+endpoint, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", auth)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// pullErr is pull for use off the test goroutine.
func (c *client) pullErr() (synctest.PullResult, error) {
	cookie := c.Cookie
	if cookie == nil {
		cookie = json.RawMessage("null")
	}
	b, err := postRetry(c.e, "pull", c.user, pullBody(c.group, cookie))
	if err != nil {
		return synctest.PullResult{}, err
	}
	return c.Apply(string(b))
}
