package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

// BenchmarkFanout (issue 7): N WebSocket connections (default 10,000) on
// loopback, all in one room ("all"), each its own client group; one push
// (a createTodo in list L1) per op; it reports how long after the push
// committed each connection had its {"type":"poke"} (first, p50, p99,
// max) and the memory each connection costs the server. See bench/README.md, "Realtime".
//
//   - one_user: every connection authenticates as ann, the list's owner:
//     one identity, so the hub's "who may read the new row" check is one
//     query and the time is the fan-out itself (10,000 queued pokes,
//     10,000 socket writes, 10,000 client reads).
//   - distinct_users: connection i authenticates as u<i>, and every u<i>
//     is a member of L1: the same fan-out, plus the hub's read-access
//     check for 10,000 distinct identities.
//   - unrelated (issue 14): connection i authenticates as u<i>, and u<i>
//     is the only member of its own list U<i>; each op is one createList
//     by u0, pushed by another client of u0's group g0. Only u0's
//     connection may be poked. It reports the pokes the hub wrote
//     (pokes/op, from Hub.Stats; the goal is 1), the connections that
//     received one (conns-poked/op) and the time from the push's commit
//     to the end of the hub's round that decided every poke
//     (decide-ms/op, Stats.LastRoundDecided), instead of the latency
//     percentiles.
//
// The clients run in a child process (this test binary re-executed as
// TestFanoutClientProcess), so the server process's memory growth is the
// server's alone, and each process needs N file descriptors, not 2N.
// Settings, from the environment:
//
//	PLASMA_FANOUT_CONNS=2000    connections (default 10000)
//	PLASMA_FANOUT_DIAL=64       dials in flight at once (default 64)
//	PLASMA_FANOUT_INPROC=1      clients in the benchmark's own process: the
//	                            memory figure is then both ends together
//	                            (total-KiB/conn) and nothing is exec'ed;
//	                            needs 2 descriptors per connection
//	PLASMA_FANOUT_PROFILE=dir   CPU profiles and execution traces of the
//	                            push (server and client process) and a
//	                            heap profile of the connected server
//
// Run with -benchtime=1x (each op is one push; setting up 10,000
// connections is outside the timer). Skipped under -short.
func BenchmarkFanout(b *testing.B) {
	if testing.Short() {
		b.Skip("10,000 WebSocket connections; skipped under -short")
	}
	n := envInt(b, "PLASMA_FANOUT_CONNS", 10_000)
	par := envInt(b, "PLASMA_FANOUT_DIAL", 64)
	inproc := os.Getenv("PLASMA_FANOUT_INPROC") == "1"
	// Each loopback connection is two descriptors, one in each process
	// (both in this one with PLASMA_FANOUT_INPROC).
	need := uint64(n + 256)
	if inproc {
		need = uint64(2*n + 256)
	}
	if err := raiseNoFile(need); err != nil {
		b.Fatalf("raising the open-file limit for %d connections: %v", n, err)
	}
	b.Run("one_user", func(b *testing.B) { benchFanout(b, n, par, inproc, fanoutOneUser) })
	b.Run("distinct_users", func(b *testing.B) { benchFanout(b, n, par, inproc, fanoutDistinct) })
	b.Run("unrelated", func(b *testing.B) { benchFanout(b, n, par, inproc, fanoutUnrelated) })
}

// The shapes of BenchmarkFanout.
type fanoutMode int

const (
	fanoutOneUser fanoutMode = iota
	fanoutDistinct
	fanoutUnrelated
)

// fanoutSettle is how long the unrelated case waits after the pusher's
// poke for pokes that should not come.
const fanoutSettle = time.Second

// fanoutPokeTimeout bounds the wait for every connection's poke after a
// push; a connection without one by then counts as missing (an error).
const fanoutPokeTimeout = 30 * time.Second

func benchFanout(b *testing.B, n, par int, inproc bool, mode fanoutMode) {
	distinct := mode != fanoutOneUser
	ctx := context.Background()
	sqldb, err := sqlite.Open(filepath.Join(b.TempDir(), "fanout.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer sqldb.Close()
	db := orm.New(sqldb, sqlite.Dialect)

	hub, err := realtime.New(realtime.Options{
		DB:     db,
		Schema: todo.Schema,
		Auth: func(r *http.Request) (rowauth.Identity, error) {
			id, _, err := todo.BearerAuth(r)
			return id, err
		},
		AuthorizeRoom: func(_ context.Context, _ rowauth.Identity, room string) error {
			if room != "all" {
				return errors.New("no such room")
			}
			return nil
		},
		// 10,000 connections of one user, all in one room.
		MaxConnsPerUser: -1,
		MaxRoomMembers:  -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	hubClosed := false
	closeHub := func() {
		if hubClosed {
			return
		}
		hubClosed = true
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := hub.Close(cctx); err != nil {
			b.Errorf("closing the hub: %v", err)
		}
	}
	defer closeHub()

	// committed is when the last push's transaction committed: OnPushed
	// runs after the commit, just before the handler tells the hub.
	var committed atomic.Int64
	h, err := todo.NewServer(ctx, db, server.Options[todo.AppCtx]{
		Notifier: hub,
		OnPushed: func(context.Context, server.PushInfo) { committed.Store(time.Now().UnixNano()) },
		OnError:  func(_ context.Context, e *server.Error) { b.Errorf("sync error: %v", e) },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/sync/", h)
	mux.Handle("/sync/ws", hub)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	pushAs := func(user, group, client string, id int64, mut func([]byte, int64) []byte) {
		body := syncPushBody(group, client, id, 1, mut)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/sync/push", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+user)
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(out) != "{}" {
			b.Fatalf("push: %d %s", resp.StatusCode, out)
		}
	}
	push := func(group, client string, id int64, mut func([]byte, int64) []byte) {
		pushAs("ann", group, client, id, mut)
	}
	// ann's list L1; with distinct users, u0..u<n-1> are its members.
	push("g-setup", "c-setup", 1, func(dst []byte, _ int64) []byte {
		return append(dst, `"name":"createList","args":{"id":"L1","name":"fanout"}`...)
	})
	if mode == fanoutUnrelated {
		if err := seedUnrelated(ctx, h.DB(), n); err != nil {
			b.Fatal(err)
		}
	}
	if mode == fanoutDistinct {
		actx := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "ann"})
		err := h.DB().Tx(actx, func(tx *orm.Tx) error {
			rows := make([]orm.Row, 0, 500)
			for i := range n {
				rows = append(rows, orm.Row{"id": "m" + strconv.Itoa(i), "list_id": "L1", "user_id": "u" + strconv.Itoa(i)})
				if len(rows) == cap(rows) || i == n-1 {
					if _, err := tx.Insert(todo.Members).Values(rows...).Exec(actx); err != nil {
						return err
					}
					rows = rows[:0]
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// Let the hub see the setup writes while nobody is connected (its
	// poll then skips past them), so they poke no one later.
	time.Sleep(realtime.DefaultPollInterval + 100*time.Millisecond)

	user := "ann"
	if distinct {
		user = ""
	}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/sync/ws"

	heap0, stack0 := heapAndStacks()
	goroutinesBefore := runtime.NumGoroutine()
	start := time.Now()
	var cl fanoutClients
	if inproc {
		f, err := dialFleet(wsURL, user, n, par)
		if f != nil {
			defer f.close()
		}
		if err != nil {
			b.Fatal(err)
		}
		cl = f
	} else {
		p, err := startClientProcess(wsURL, user, strings.ReplaceAll(b.Name(), "/", "_"), n, par)
		if p != nil {
			defer p.close()
		}
		if err != nil {
			b.Fatal(err)
		}
		cl = p
	}
	dial := time.Since(start)
	if got := hub.Connections(); got != n {
		b.Fatalf("hub has %d connections; want %d", got, n)
	}
	heap1, stack1 := heapAndStacks()
	writeFanoutHeapProfile(b, "server-"+strings.ReplaceAll(b.Name(), "/", "_"))
	goroutines := runtime.NumGoroutine() - goroutinesBefore
	// Let presence and connect pokes settle, and a poll tick pass.
	time.Sleep(realtime.DefaultPollInterval + 200*time.Millisecond)

	var lat []time.Duration
	stopProfile := startFanoutProfile(b, "server-"+strings.ReplaceAll(b.Name(), "/", "_"))
	if mode == fanoutUnrelated {
		benchUnrelated(b, hub, cl, pushAs, &committed)
		stopProfile()
		finishFanout(b, n, inproc, cl, dial, heap0, stack0, heap1, stack1, goroutines)
		if err := cl.close(); err != nil {
			b.Errorf("closing the clients: %v", err)
		}
		closeHub()
		return
	}
	b.ResetTimer()
	for i := range b.N {
		if err := cl.arm(); err != nil {
			b.Fatal(err)
		}
		push("g-pusher", "c-pusher", int64(i+1), createTodoMut)
		t0 := committed.Load()
		arrivals, err := cl.collect(fanoutPokeTimeout, -1)
		if err != nil {
			b.Fatal(err)
		}
		missing := 0
		for _, at := range arrivals {
			switch {
			case at == 0:
				missing++
			case at < t0:
				b.Errorf("a poke arrived %v before the push committed", time.Duration(t0-at))
			default:
				lat = append(lat, time.Duration(at-t0))
			}
		}
		if missing > 0 {
			b.Errorf("push %d: %d of %d connections had no poke after %v", i+1, missing, n, fanoutPokeTimeout)
		}
	}
	b.StopTimer()
	stopProfile()

	slices.Sort(lat)
	if len(lat) > 0 {
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(lat[0]), "first-ms")
		b.ReportMetric(ms(percentile(lat, 50)), "p50-ms")
		b.ReportMetric(ms(percentile(lat, 99)), "p99-ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	}
	finishFanout(b, n, inproc, cl, dial, heap0, stack0, heap1, stack1, goroutines)

	// Close everything: the clients first, then the hub (which waits for
	// its handlers), the server and the database (deferred).
	if err := cl.close(); err != nil {
		b.Errorf("closing the clients: %v", err)
	}
	closeHub()
}

// finishFanout reports the memory and dial figures of every case.
func finishFanout(b *testing.B, n int, inproc bool, cl fanoutClients, dial time.Duration, heap0, stack0, heap1, stack1 uint64, goroutines int) {
	kib := func(after, before uint64) float64 { return (float64(after) - float64(before)) / float64(n) / 1024 }
	perConn := kib(heap1+stack1, heap0+stack0)
	b.Logf("%d connections: heap %+.2f KiB/conn, stacks %+.2f KiB/conn (this process)", n, kib(heap1, heap0), kib(stack1, stack0))
	if inproc {
		b.ReportMetric(perConn, "total-KiB/conn")
	} else {
		b.ReportMetric(perConn, "server-KiB/conn")
		b.ReportMetric(float64(cl.(*clientProcess).memDelta)/float64(n)/1024, "client-KiB/conn")
	}
	b.ReportMetric(float64(goroutines)/float64(n), "goroutines/conn")
	b.ReportMetric(dial.Seconds(), "dial-s")
}

// seedUnrelated gives each of u0..u<n-1> a list of its own, U<i>, of
// which it is the only member.
func seedUnrelated(ctx context.Context, db *orm.DB, n int) error {
	sys := rowauth.AsSystem(ctx)
	return db.Tx(sys, func(tx *orm.Tx) error {
		lists := make([]orm.Row, 0, 500)
		members := make([]orm.Row, 0, 500)
		for i := range n {
			u, l := "u"+strconv.Itoa(i), "U"+strconv.Itoa(i)
			lists = append(lists, orm.Row{"id": l, "name": "list of " + u, "owner_id": u})
			members = append(members, orm.Row{"id": todo.MemberID(l, u), "list_id": l, "user_id": u})
			if len(lists) == cap(lists) || i == n-1 {
				if _, err := tx.Insert(todo.Lists).Values(lists...).Exec(sys); err != nil {
					return err
				}
				if _, err := tx.Insert(todo.Members).Values(members...).Exec(sys); err != nil {
					return err
				}
				lists, members = lists[:0], members[:0]
			}
		}
		return nil
	})
}

// benchUnrelated times BenchmarkFanout/unrelated's ops: a createList by
// u0, pushed by another client of u0's group g0; it waits for u0's poke,
// then fanoutSettle for pokes that should not come, and reports what
// the hub poked and how long it took to decide.
func benchUnrelated(b *testing.B, hub *realtime.Hub, cl fanoutClients, pushAs func(user, group, client string, id int64, mut func([]byte, int64) []byte), committed *atomic.Int64) {
	var pokes, poked uint64
	var decide time.Duration
	b.ResetTimer()
	for i := range b.N {
		if err := cl.arm(); err != nil {
			b.Fatal(err)
		}
		before := hub.Stats()
		pushAs("u0", "g0", "c-pusher", int64(i+1), func(dst []byte, id int64) []byte {
			dst = append(dst, `"name":"createList","args":{"id":"N`...)
			dst = strconv.AppendInt(dst, id, 10)
			return append(dst, `","name":"another list"}`...)
		})
		t0 := committed.Load()
		if _, err := cl.collect(fanoutPokeTimeout, 1); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		time.Sleep(fanoutSettle)
		arrivals, err := cl.collect(0, 0)
		if err != nil {
			b.Fatal(err)
		}
		after := hub.Stats()
		b.StartTimer()
		if arrivals[0] == 0 {
			b.Errorf("push %d: the pusher's connection had no poke", i+1)
		}
		for _, at := range arrivals {
			if at != 0 {
				poked++
			}
		}
		pokes += after.Pokes - before.Pokes
		decide += after.LastRoundDecided.Sub(time.Unix(0, t0))
		if after.FallbackPokes != before.FallbackPokes {
			b.Errorf("push %d: %d fallback pokes", i+1, after.FallbackPokes-before.FallbackPokes)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(pokes)/float64(b.N), "pokes/op")
	b.ReportMetric(float64(poked)/float64(b.N), "conns-poked/op")
	b.ReportMetric(float64(decide)/float64(time.Millisecond)/float64(b.N), "decide-ms/op")
}

// startFanoutProfile starts a CPU profile and an execution trace of the
// push and its pokes, in PLASMA_FANOUT_PROFILE (a directory), when set.
func startFanoutProfile(tb testing.TB, name string) (stop func()) {
	dir := os.Getenv("PLASMA_FANOUT_PROFILE")
	if dir == "" {
		return func() {}
	}
	cpu, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := os.Create(filepath.Join(dir, name+".trace"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		tb.Fatal(err)
	}
	if err := trace.Start(tr); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			trace.Stop()
			pprof.StopCPUProfile()
			cpu.Close()
			tr.Close()
		})
	}
}

// writeFanoutHeapProfile writes a heap profile to PLASMA_FANOUT_PROFILE,
// when set.
func writeFanoutHeapProfile(tb testing.TB, name string) {
	dir := os.Getenv("PLASMA_FANOUT_PROFILE")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, name+".heap.pprof"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}

// percentile is the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// memInUse is the heap and stacks in use after two collections (the
// second frees what the first's finalizers released, and stacks shrink).
func memInUse() uint64 {
	heap, stack := heapAndStacks()
	return heap + stack
}

func heapAndStacks() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

func envInt(tb testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// raiseNoFile raises the open-file limit to at least need: the soft limit
// up to the hard one, and the hard one too when it is lower (that takes
// CAP_SYS_RESOURCE, which a container may withhold even from root).
func raiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		up := syscall.Rlimit{Cur: need, Max: need}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err == nil {
			return nil
		} else if lim.Max < need {
			return fmt.Errorf("need %d descriptors, the hard limit is %d and cannot be raised: %w", need, lim.Max, err)
		}
	}
	lim.Cur = need
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// fanoutClients are the N connected clients, in this process or another.
type fanoutClients interface {
	// arm makes each connection record the next poke it receives.
	arm() error
	// collect waits until want connections (every one, for want < 0)
	// have recorded a poke since arm, or timeout, and returns the
	// arrival times (Unix nanoseconds; 0: none).
	collect(timeout time.Duration, want int) ([]int64, error)
	// close closes every connection.
	close() error
}

// fleet is N WebSocket clients. Each has a goroutine reading its frames;
// the first poke (the one every connection gets when it connects) marks
// it connected, and after arm the next one is timed.
type fleet struct {
	conns []*fleetConn
	epoch atomic.Int64 // incremented by arm
	hits  atomic.Int64 // connections that recorded a poke since arm
	early atomic.Int64 // pokes after the connect poke, before arm
	wg    sync.WaitGroup
	once  sync.Once
}

type fleetConn struct {
	ws        *websocket.Conn
	connected chan struct{} // closed at the connect poke
	epoch     int64         // the arm the recorded poke answers; reader only
	at        atomic.Int64  // arrival of that poke, Unix ns
}

// dialFleet dials n clients to wsURL, at most par at once, each in its own
// client group g<i> with client id c<i>, in room "all", authenticated as
// user (or u<i> when user is ""), and waits for every connect poke.
func dialFleet(wsURL, user string, n, par int) (*fleet, error) {
	f := &fleet{conns: make([]*fleetConn, n)}
	d := &websocket.Dialer{HandshakeTimeout: time.Minute, ReadBufferSize: 1024, WriteBufferSize: 1024}
	var (
		next    atomic.Int64
		errOnce sync.Once
		dialErr error
		dw      sync.WaitGroup
	)
	for range par {
		dw.Add(1)
		go func() {
			defer dw.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				u := user
				if u == "" {
					u = "u" + strconv.Itoa(i)
				}
				url := fmt.Sprintf("%s?room=all&clientGroupID=g%d&clientID=c%d&auth=Bearer%%20%s", wsURL, i, i, u)
				ws, resp, err := d.Dial(url, nil)
				if err != nil {
					if resp != nil {
						err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
					}
					errOnce.Do(func() { dialErr = fmt.Errorf("dialing connection %d: %w", i, err) })
					next.Store(int64(n)) // stop the other dialers
					return
				}
				c := &fleetConn{ws: ws, connected: make(chan struct{})}
				f.conns[i] = c
				f.wg.Add(1)
				go f.read(c)
			}
		}()
	}
	dw.Wait()
	if dialErr != nil {
		return f, dialErr
	}
	deadline := time.After(time.Minute)
	for i, c := range f.conns {
		select {
		case <-c.connected:
		case <-deadline:
			return f, fmt.Errorf("connection %d had no connect poke within a minute", i)
		}
	}
	return f, nil
}

var pokeFrame = []byte(`{"type":"poke"}`)

func (f *fleet) read(c *fleetConn) {
	defer f.wg.Done()
	first := true
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if !bytes.Equal(msg, pokeFrame) {
			var m struct{ Type string }
			if json.Unmarshal(msg, &m) != nil || m.Type != "poke" {
				continue // presence
			}
		}
		if first {
			first = false
			close(c.connected)
			continue
		}
		if e := f.epoch.Load(); e > c.epoch {
			c.epoch = e
			c.at.Store(now)
			f.hits.Add(1)
		} else if e == 0 {
			f.early.Add(1)
		}
	}
}

func (f *fleet) arm() error {
	f.hits.Store(0)
	for _, c := range f.conns {
		c.at.Store(0)
	}
	f.epoch.Add(1)
	return nil
}

func (f *fleet) collect(timeout time.Duration, want int) ([]int64, error) {
	if want < 0 {
		want = len(f.conns)
	}
	deadline := time.Now().Add(timeout)
	for f.hits.Load() < int64(want) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	out := make([]int64, len(f.conns))
	for i, c := range f.conns {
		out[i] = c.at.Load()
	}
	return out, nil
}

func (f *fleet) close() error {
	f.once.Do(func() {
		for _, c := range f.conns {
			if c != nil {
				_ = c.ws.Close()
			}
		}
		f.wg.Wait()
	})
	return nil
}

// The child process: the benchmark re-executes its own test binary with
// -test.run=^TestFanoutClientProcess$ and these variables; it speaks a
// line protocol on stdin and stdout (lines starting "FANOUT ").
const (
	envFanoutChild = "PLASMA_FANOUT_CHILD_URL"
	envFanoutUser  = "PLASMA_FANOUT_CHILD_USER"
	envFanoutN     = "PLASMA_FANOUT_CHILD_N"
	envFanoutPar   = "PLASMA_FANOUT_CHILD_PAR"
	envFanoutName  = "PLASMA_FANOUT_CHILD_NAME" // for profile file names
)

// TestFanoutClientProcess is BenchmarkFanout's client process; without
// its environment it does nothing.
//
//	child:  FANOUT ready <bytes of heap+stacks the clients use>
//	parent: arm           child: FANOUT armed
//	parent: collect <ns> <want>  child: FANOUT arrivals <t1> <t2> ... (Unix ns, 0 = none)
//	parent: quit          child: FANOUT closed <early pokes>, then exits
func TestFanoutClientProcess(t *testing.T) {
	url := os.Getenv(envFanoutChild)
	if url == "" {
		t.Skip("BenchmarkFanout's client process")
	}
	n := envInt(t, envFanoutN, 1)
	par := envInt(t, envFanoutPar, 64)
	if err := raiseNoFile(uint64(n + 256)); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	reply := func(format string, args ...any) {
		fmt.Fprintf(out, "FANOUT "+format+"\n", args...)
		_ = out.Flush()
	}
	before := memInUse()
	f, err := dialFleet(url, os.Getenv(envFanoutUser), n, par)
	if err != nil {
		f.close()
		reply("error %s", strings.ReplaceAll(err.Error(), "\n", " "))
		t.Fatal(err)
	}
	defer f.close()
	reply("ready %d", int64(memInUse())-int64(before))
	stopProfile := func() {}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "arm":
			_ = f.arm()
			stopProfile = startFanoutProfile(t, "client-"+os.Getenv(envFanoutName))
			reply("armed")
		case "collect":
			a, w, _ := strings.Cut(arg, " ")
			ns, _ := strconv.ParseInt(a, 10, 64)
			want, err := strconv.Atoi(w)
			if err != nil {
				want = -1
			}
			arrivals, _ := f.collect(time.Duration(ns), want)
			stopProfile()
			var line []byte
			line = append(line, "FANOUT arrivals"...)
			for _, at := range arrivals {
				line = append(line, ' ')
				line = strconv.AppendInt(line, at, 10)
			}
			out.Write(append(line, '\n'))
			_ = out.Flush()
		case "quit":
			f.close()
			reply("closed %d", f.early.Load())
			return
		}
	}
}

// clientProcess is the fleet in a child process.
type clientProcess struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    chan string
	memDelta int64
	closed   bool
}

func startClientProcess(wsURL, user, name string, n, par int) (*clientProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^TestFanoutClientProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envFanoutChild+"="+wsURL, envFanoutUser+"="+user, envFanoutName+"="+name,
		envFanoutN+"="+strconv.Itoa(n), envFanoutPar+"="+strconv.Itoa(par))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &clientProcess{cmd: cmd, stdin: stdin, lines: make(chan string, 4)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "FANOUT "); ok {
				p.lines <- rest
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	line, err := p.await("ready", 10*time.Minute)
	if err != nil {
		return p, err
	}
	p.memDelta, _ = strconv.ParseInt(line, 10, 64)
	return p, nil
}

// await waits for the child's next line, which must start with want.
func (p *clientProcess) await(want string, timeout time.Duration) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("client process exited while waiting for %q", want)
		}
		cmd, rest, _ := strings.Cut(line, " ")
		if cmd != want {
			return "", fmt.Errorf("client process: %q; want %q", line, want)
		}
		return rest, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("client process: no %q after %v", want, timeout)
	}
}

func (p *clientProcess) send(line string) error {
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

func (p *clientProcess) arm() error {
	if err := p.send("arm"); err != nil {
		return err
	}
	_, err := p.await("armed", time.Minute)
	return err
}

func (p *clientProcess) collect(timeout time.Duration, want int) ([]int64, error) {
	if err := p.send("collect " + strconv.FormatInt(int64(timeout), 10) + " " + strconv.Itoa(want)); err != nil {
		return nil, err
	}
	line, err := p.await("arrivals", timeout+time.Minute)
	if err != nil {
		return nil, err
	}
	fields := strings.Fields(line)
	out := make([]int64, len(fields))
	for i, s := range fields {
		if out[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// close asks the child to close its connections and exit, and kills it if
// it has not within a minute.
func (p *clientProcess) close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	var err error
	if p.send("quit") == nil {
		_, err = p.await("closed", time.Minute)
	}
	_ = p.stdin.Close()
	done := make(chan error, 1)
	go func() {
		for range p.lines { // drain
		}
		done <- p.cmd.Wait()
	}()
	select {
	case werr := <-done:
		return errors.Join(err, werr)
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-done
		return errors.Join(err, errors.New("client process killed after a minute"))
	}
}
