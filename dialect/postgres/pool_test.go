package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
)

// TestPoolKeepsItsConnections: a pool from postgres.Open or pgx.Open is
// bounded at DefaultMaxOpenConns and keeps the connections a burst of
// concurrent requests opened (database/sql alone keeps 2), so the next
// burst opens none.
func TestPoolKeepsItsConnections(t *testing.T) {
	base := os.Getenv("PLASMA_TEST_POSTGRES")
	if base == "" {
		t.Skip("set PLASMA_TEST_POSTGRES to run the PostgreSQL tests")
	}
	for _, o := range []struct {
		name string
		open func(string) (*sql.DB, error)
	}{{"pq", postgres.Open}, {"pgx", pgx.Open}} {
		t.Run(o.name, func(t *testing.T) {
			db, err := o.open(base)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.Stats().MaxOpenConnections; got != postgres.DefaultMaxOpenConns {
				t.Fatalf("MaxOpenConnections %d, want %d", got, postgres.DefaultMaxOpenConns)
			}
			const n = 6 // a few: the test server's connections are shared
			burst := func() {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for range n {
					wg.Go(func() {
						_, err := db.ExecContext(ctx, `SELECT pg_sleep(0.1)`)
						errs <- err
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			burst()
			if st := db.Stats(); st.OpenConnections != n || st.Idle != n || st.MaxIdleClosed != 0 {
				t.Fatalf("after %d concurrent statements: %d open, %d idle, %d closed as surplus; want %d, %d, 0",
					n, st.OpenConnections, st.Idle, st.MaxIdleClosed, n, n)
			}
			burst()
			if st := db.Stats(); st.OpenConnections != n || st.MaxIdleClosed != 0 {
				t.Fatalf("a second burst: %d open, %d closed as surplus; want %d and 0", st.OpenConnections, st.MaxIdleClosed, n)
			}
		})
	}
}
