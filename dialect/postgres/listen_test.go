package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
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
	makers := []struct {
		name string
		make func(dsn string, o postgres.ListenerOptions) (postgres.Listener, error)
	}{
		{"pq", func(dsn string, o postgres.ListenerOptions) (postgres.Listener, error) {
			return postgres.NewListener(dsn, o), nil
		}},
		{"pgx", pgx.NewListener},
	}
	for _, m := range makers {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			app := "plasma_listen_" + hex.EncodeToString(b)
			u, _ := url.Parse(base)
			q := u.Query()
			q.Set("application_name", app)
			u.RawQuery = q.Encode()

			var mu sync.Mutex
			var events []postgres.ListenerEvent
			l, err := m.make(u.String(), postgres.ListenerOptions{
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
