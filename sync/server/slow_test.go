package server_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// rawPost opens a TCP connection to addr and sends a push's headers,
// announcing contentLength bytes, followed by the first bytes of a body.
func rawPost(t testing.TB, addr string, contentLength int, first string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprintf(c, "POST /sync/push HTTP/1.1\r\nHost: %s\r\nAuthorization: ann\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		addr, contentLength, first)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// HTTPServer's settings cut off a client that sends headers and a few
// bytes of a large body and then stalls: the connection is closed once
// the read timeout passes (30 s by default; the test sets 300 ms), and
// the handler answers 408, not a 5xx.
func TestStalledBodyIsCutOff(t *testing.T) {
	d := server.HTTPServer(nil)
	if d.ReadHeaderTimeout <= 0 || d.ReadTimeout <= 0 || d.ReadTimeout > 30*time.Second ||
		d.WriteTimeout <= 0 || d.IdleTimeout <= 0 || d.MaxHeaderBytes <= 0 {
		t.Fatalf("HTTPServer's settings: %+v", d)
	}
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, nil)
	mux := http.NewServeMux()
	mux.Handle("/sync/", e.h)
	srv := server.HTTPServer(mux)
	srv.ReadTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	const conns = 20
	start := time.Now()
	var wg sync.WaitGroup
	answers := make([]string, conns)
	for i := range conns {
		c := rawPost(t, ln.Addr().String(), 1<<20-100, `{"pushVersion":1,"schemaVersion":"1",`)
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, err := io.ReadAll(c) // until the server closes the connection
			if err != nil {
				answers[i] = "error: " + err.Error()
				return
			}
			answers[i] = string(b)
		})
	}
	wg.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the stalled connections were held %v", took)
	}
	for i, a := range answers {
		if !strings.HasPrefix(a, "HTTP/1.1 408 ") {
			t.Errorf("connection %d: %.80q", i, a)
		}
	}
	errs := e.takeErrors()
	if len(errs) != conns {
		t.Errorf("%d errors reported, want %d", len(errs), conns)
	}
	for _, err := range errs {
		if !errors.Is(err, server.KindBadRequest) || err.Status != http.StatusRequestTimeout {
			t.Errorf("reported %v (status %d)", err, err.Status)
		}
	}
}

// A body that announces close to MaxPayloadBytes and brings ten bytes
// costs the server ten bytes' worth of buffer, not the announced size.
func TestBodyBufferGrowsAsBytesArrive(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, nil)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	const requests = 20
	const announced = server.DefaultMaxPayloadBytes - 1000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range requests {
		c := rawPost(t, addr, announced, `{"pushVersion":1`)
		_ = c.CloseWrite() // the body ends early: the handler reads EOF
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
			t.Fatalf("%.80q %v", b, err)
		}
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > requests*announced/4 {
		t.Fatalf("%d requests announcing %d bytes allocated %d bytes", requests, announced, alloc)
	}
}

// 64 clients of 64 users push and pull at once on a SQLite file
// database: the writers queue in the handler, none fails with SQLite's
// busy error.
//
// The database is opened with a busy timeout of 20 ms instead of plasma's
// 5 s, so that the test sees in a second what 5 s of queueing shows under
// a heavier load: without the handler's queue, writers that wait longer
// than the busy timeout in SQLite's busy handler fail (500 Unavailable).
func TestConcurrentPushersSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pushers.db")
	sqldb, err := sql.Open("sqlite", strings.Replace(sqlite.DSN(path), "busy_timeout(5000)", "busy_timeout(20)", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqldb.Close() })
	tg := &ormtest.Target{Name: "sqlite", SQL: sqldb, DB: orm.New(sqldb, sqlite.Dialect), Dialect: sqlite.Dialect}
	e := newEnv(t, tg, tg.DB, nil)
	const pushers, pushes, perPush = 64, 4, 20
	var wg sync.WaitGroup
	failures := make(chan string, pushers*pushes*2)
	for p := range pushers {
		wg.Go(func() {
			user, group, client := fmt.Sprintf("u%d", p), fmt.Sprintf("g%d", p), fmt.Sprintf("c%d", p)
			id := int64(0)
			for range pushes {
				var muts []mut
				for range perPush {
					id++
					muts = append(muts, mut{client, id, "bump", fmt.Sprintf(`{"id":"k%d"}`, p)})
				}
				status, body, err := postRaw(e, "push", user, pushBody(group, muts...))
				if err != nil || status != 200 {
					failures <- fmt.Sprintf("push %s: %d %s %v", user, status, body, err)
				}
				status, body, err = postRaw(e, "pull", user, pullBody(group, nil))
				if err != nil || status != 200 {
					failures <- fmt.Sprintf("pull %s: %d %.100s %v", user, status, body, err)
				}
			}
		})
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if n := e.count(t, "counters"); n != pushers {
		t.Fatalf("%d counters", n)
	}
	// Every bump ran exactly once: a lost or doubled mutation shows here,
	// not in the number of counters.
	for p := range pushers {
		var n int64
		if err := sqldb.QueryRow(`SELECT "n" FROM "counters" WHERE "id" = ?`, fmt.Sprintf("k%d", p)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != pushes*perPush || e.lmid(t, fmt.Sprintf("c%d", p)) != pushes*perPush {
			t.Fatalf("pusher %d: counter %d, lastMutationID %d; want %d", p, n, e.lmid(t, fmt.Sprintf("c%d", p)), pushes*perPush)
		}
	}
	noServerErrors(t, e)
}

// postRaw is env.post for other goroutines: it returns the error.
func postRaw(e *env, endpoint, auth, body string) (int, string, error) {
	return synctest.Post(e.srv.Client(), e.srv.URL+"/sync/"+endpoint, auth, body)
}
