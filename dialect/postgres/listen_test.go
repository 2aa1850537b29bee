package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
)

// TestListener sends notifications through a real server to each
// Listener: on the channels listened to and not others, after Unlisten
// no more, and after the server ends the listener's connection a nil
// notification, then notifications again on every channel.
func TestListener(t *testing.T) {
	base := os.Getenv("PLASMA_TEST_POSTGRES")
	if base == "" {
		t.Skip("set PLASMA_TEST_POSTGRES to run the PostgreSQL tests")
	}
	for _, m := range listenerMakers {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			app, dsn := namedDSN(base, "plasma_listen_")

			var mu sync.Mutex
			var events []postgres.ListenerEvent
			l, err := m.make(dsn, postgres.ListenerOptions{
				MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
				OnEvent: func(ev postgres.ListenerEvent, err error) {
					mu.Lock()
					events = append(events, ev)
					mu.Unlock()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			db, err := postgres.Open(base)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			chA, chB := "plasma Test "+app+" A", "plasma_test_"+app+"_b"
			notify := func(ch, payload string) {
				t.Helper()
				if _, err := db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ch, payload); err != nil {
					t.Fatal(err)
				}
			}
			next := func() *postgres.Notification {
				t.Helper()
				select {
				case n, ok := <-l.Notify():
					if !ok {
						t.Fatal("Notify closed")
					}
					return n
				case <-ctx.Done():
					t.Fatal("no notification")
				}
				return nil
			}
			expect := func(ch, payload string) {
				t.Helper()
				n := next()
				if n == nil || n.Channel != ch || n.Payload != payload || n.PID == 0 {
					t.Fatalf("got %+v, want %s %q", n, ch, payload)
				}
			}

			if err := l.Listen(ctx, chA); err != nil {
				t.Fatal(err)
			}
			notify(chB, "not listened")
			notify(chA, "one")
			expect(chA, "one")
			// A second channel while the listener waits.
			if err := l.Listen(ctx, chB); err != nil {
				t.Fatal(err)
			}
			notify(chB, "two")
			expect(chB, "two")
			if err := l.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if err := l.Unlisten(ctx, chB); err != nil {
				t.Fatal(err)
			}
			notify(chB, "unlistened")
			notify(chA, "three")
			expect(chA, "three")

			// The server ends the listener's connection.
			var ended bool
			if err := db.QueryRowContext(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&ended); err != nil || !ended {
				t.Fatalf("terminate the listener's backend: %v %v", ended, err)
			}
			if n := next(); n != nil {
				t.Fatalf("after the connection ended: %+v, want nil", n)
			}
			notify(chA, "four")
			expect(chA, "four")
			mu.Lock()
			got := append([]postgres.ListenerEvent(nil), events...)
			mu.Unlock()
			if len(got) < 3 || got[0] != postgres.ListenerConnected || got[len(got)-1] != postgres.ListenerReconnected {
				t.Errorf("events %v", got)
			}

			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for range l.Notify() { // drains, then ends: closed
			}
		})
	}
}

// TestListenersShareOneConnection opens three Listeners on one DSN, as
// three hubs of one process do, on each driver: the server sees one
// backend, running LISTEN, for them all. Each Listener receives only the
// channels it listens on, one that unlistens or closes stops receiving
// without disturbing the others, a lost connection reaches every one as
// a nil Notification, and the connection ends with the last Listener (a
// new one then opens a connection of its own).
func TestListenersShareOneConnection(t *testing.T) {
	base := os.Getenv("PLASMA_TEST_POSTGRES")
	if base == "" {
		t.Skip("set PLASMA_TEST_POSTGRES to run the PostgreSQL tests")
	}
	db, err := postgres.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, m := range listenerMakers {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			app, dsn := namedDSN(base, "plasma_share_")
			backends := func(where string) int {
				t.Helper()
				var n int
				if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`+where, app).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			waitBackends := func(want int) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); backends("") != want; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%d backends for the listeners, want %d", backends(""), want)
					}
				}
			}
			opts := postgres.ListenerOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
			ls := make([]postgres.Listener, 3)
			for i := range ls {
				if ls[i], err = m.make(dsn, opts); err != nil {
					t.Fatal(err)
				}
			}
			defer func() {
				for _, l := range ls {
					_ = l.Close()
				}
			}()
			chA, chB := "share "+app+" A", "share_"+app+"_b"
			for _, sub := range []struct {
				l  int
				ch string
			}{{0, chA}, {1, chA}, {1, chB}, {2, chB}} {
				if err := ls[sub.l].Listen(ctx, sub.ch); err != nil {
					t.Fatal(err)
				}
			}
			if n, listening := backends(""), backends(` AND query ILIKE 'LISTEN%'`); n != 1 || listening != 1 {
				t.Fatalf("three listeners on one DSN: %d backends, %d running LISTEN; want 1 and 1", n, listening)
			}

			notify := func(ch, payload string) {
				t.Helper()
				if _, err := db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, ch, payload); err != nil {
					t.Fatal(err)
				}
			}
			// got reads l's next notification, or reports none within d.
			got := func(l postgres.Listener, d time.Duration) (*postgres.Notification, bool) {
				select {
				case n, ok := <-l.Notify():
					if !ok {
						t.Fatal("Notify closed")
					}
					return n, true
				case <-time.After(d):
					return nil, false
				}
			}
			expect := func(i int, ch, payload string) {
				t.Helper()
				n, ok := got(ls[i], 5*time.Second)
				if !ok || n == nil || n.Channel != ch || n.Payload != payload {
					t.Fatalf("listener %d: %+v (%v), want %s %q", i, n, ok, ch, payload)
				}
			}
			quiet := func(i int) {
				t.Helper()
				if n, ok := got(ls[i], 100*time.Millisecond); ok {
					t.Fatalf("listener %d got %+v, want nothing", i, n)
				}
			}

			notify(chA, "a1")
			expect(0, chA, "a1")
			expect(1, chA, "a1")
			quiet(2)
			notify(chB, "b1")
			expect(1, chB, "b1")
			expect(2, chB, "b1")
			quiet(0)

			// Listener 1 leaves A; listener 0 still hears it.
			if err := ls[1].Unlisten(ctx, chA); err != nil {
				t.Fatal(err)
			}
			notify(chA, "a2")
			expect(0, chA, "a2")
			quiet(1)

			// Listener 0 closes: A is unlistened, B still arrives.
			if err := ls[0].Close(); err != nil {
				t.Fatal(err)
			}
			for range ls[0].Notify() { // closed
			}
			if err := ls[0].Listen(ctx, chA); err == nil {
				t.Fatal("Listen on a closed listener succeeded")
			}
			notify(chA, "a3")
			notify(chB, "b2")
			expect(1, chB, "b2")
			expect(2, chB, "b2")
			if n := backends(""); n != 1 {
				t.Fatalf("%d backends after one listener closed, want 1", n)
			}

			// The server ends the shared connection: both remaining
			// listeners learn of it, and hear B again after.
			var ended bool
			if err := db.QueryRowContext(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&ended); err != nil || !ended {
				t.Fatalf("terminate the listeners' backend: %v %v", ended, err)
			}
			for i := 1; i <= 2; i++ {
				if n, ok := got(ls[i], 10*time.Second); !ok || n != nil {
					t.Fatalf("listener %d after the connection ended: %+v (%v), want nil", i, n, ok)
				}
			}
			waitBackends(1)
			notify(chB, "b3")
			expect(1, chB, "b3")
			expect(2, chB, "b3")

			// The last listener closes the connection.
			for _, l := range ls[1:] {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			waitBackends(0)

			// A new listener on the DSN has a connection again.
			l, err := m.make(dsn, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if err := l.Listen(ctx, chB); err != nil {
				t.Fatal(err)
			}
			notify(chB, "b4")
			ls[0] = l
			expect(0, chB, "b4")
			if n := backends(""); n != 1 {
				t.Fatalf("%d backends for a new listener, want 1", n)
			}
		})
	}
}

// TestSharedListenerSlowReader: a Listener whose reader stalls holds up
// no other on the shared connection; once past its queue's bound it is
// sent a nil Notification (catch up), then notifications again.
func TestSharedListenerSlowReader(t *testing.T) {
	base := os.Getenv("PLASMA_TEST_POSTGRES")
	if base == "" {
		t.Skip("set PLASMA_TEST_POSTGRES to run the PostgreSQL tests")
	}
	db, err := postgres.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, dsn := namedDSN(base, "plasma_slow_")
	fast, slow := postgres.NewListener(dsn, postgres.ListenerOptions{}), postgres.NewListener(dsn, postgres.ListenerOptions{})
	defer fast.Close()
	defer slow.Close()
	ch := "slow_" + app
	for _, l := range []postgres.Listener{fast, slow} {
		if err := l.Listen(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	burst := func(n int) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `SELECT pg_notify($1, g::text) FROM generate_series(1, $2::int) g`, ch, n); err != nil {
			t.Fatal(err)
		}
	}
	// A burst the slow reader's queue holds: the fast reader gets every
	// notification, in order, while the slow one reads none.
	burst(100)
	for i := 1; i <= 100; i++ {
		select {
		case n := <-fast.Notify():
			if n == nil || n.Payload != strconv.Itoa(i) {
				t.Fatalf("fast reader, notification %d: %+v", i, n)
			}
		case <-ctx.Done():
			t.Fatalf("fast reader: %d of 100 notifications", i-1)
		}
	}
	// A burst past the slow reader's bound.
	const sent = 6000
	burst(sent)
	for n := range fast.Notify() { // it may fall behind too: read to the end
		if n != nil && n.Payload == strconv.Itoa(sent) {
			break
		}
	}
	read := func() *postgres.Notification {
		t.Helper()
		select {
		case n := <-slow.Notify():
			return n
		case <-ctx.Done():
			t.Fatal("slow reader: no notification")
		}
		return nil
	}
	// The first notification may have left the queue before it
	// overflowed, waiting for the reader; the nil comes next.
	if n := read(); n != nil && (n.Payload != "1" || read() != nil) {
		t.Fatalf("slow reader's first notifications: %+v, want nil first (some were dropped)", n)
	}
	got := 0
	for n := read(); n == nil || n.Payload != strconv.Itoa(sent); n = read() {
		got++
	}
	if got >= 100+sent-1 {
		t.Fatalf("slow reader got %d notifications after the nil, want fewer than were sent", got)
	}
	if _, err := db.ExecContext(ctx, `SELECT pg_notify($1, 'after')`, ch); err != nil {
		t.Fatal(err)
	}
	if n := read(); n == nil || n.Payload != "after" {
		t.Fatalf("slow reader after catching up: %+v", n)
	}
}

// listenerMakers open a Listener on each driver.
var listenerMakers = []struct {
	name string
	make func(dsn string, o postgres.ListenerOptions) (postgres.Listener, error)
}{
	{"pq", func(dsn string, o postgres.ListenerOptions) (postgres.Listener, error) {
		return postgres.NewListener(dsn, o), nil
	}},
	{"pgx", pgx.NewListener},
}

// namedDSN returns base with a fresh application_name starting with
// prefix, and that name: the test finds its listener's backends by it.
func namedDSN(base, prefix string) (app, dsn string) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	app = prefix + hex.EncodeToString(b)
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return app, u.String()
}
