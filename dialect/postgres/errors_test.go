package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
)

// pgDrivers are the openers the tests of this package run on.
var pgDrivers = []struct {
	name string
	open func(dsn string) (*sql.DB, error)
}{{"pq", postgres.Open}, {"pgx", pgx.Open}}

// testDSN returns PLASMA_TEST_POSTGRES with a fresh schema as its
// search_path (dropped when t ends), skipping t when it is unset.
func testDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("PLASMA_TEST_POSTGRES")
	if base == "" {
		t.Skip("set PLASMA_TEST_POSTGRES to run the PostgreSQL tests")
	}
	admin, err := postgres.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "plasma_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA "` + schema + `"`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP SCHEMA "` + schema + `" CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestClassifyErrors provokes each classified error on a real server,
// through each driver, and checks the classification.
func TestClassifyErrors(t *testing.T) {
	for _, drv := range pgDrivers {
		t.Run(drv.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := drv.open(testDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, s := range []string{
				`CREATE TABLE parent (id INT PRIMARY KEY, n INT NOT NULL DEFAULT 0)`,
				`CREATE TABLE child (id INT PRIMARY KEY, parent_id INT REFERENCES parent (id))`,
				`INSERT INTO parent (id) VALUES (1), (2)`,
			} {
				if _, err := db.Exec(s); err != nil {
					t.Fatal(err)
				}
			}

			_, err = db.Exec(`INSERT INTO parent (id) VALUES ($1)`, 1)
			if !postgres.IsUniqueViolation(err) || postgres.IsForeignKeyViolation(err) || postgres.IsTemporary(err) || postgres.SQLState(err) != "23505" {
				t.Errorf("duplicate key: %v (state %q)", err, postgres.SQLState(err))
			}
			if wrapped := fmt.Errorf("context: %w", err); !postgres.IsUniqueViolation(wrapped) {
				t.Errorf("wrapped duplicate key not classified: %v", wrapped)
			}
			_, err = db.Exec(`INSERT INTO child VALUES ($1, $2)`, 1, 99)
			if !postgres.IsForeignKeyViolation(err) || postgres.IsUniqueViolation(err) {
				t.Errorf("dangling reference: %v", err)
			}

			// A statement after a failed one in the same transaction.
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = tx.Exec(`INSERT INTO parent (id) VALUES ($1)`, 1)
			_, err = tx.Exec(`SELECT $1::int`, 1)
			if !postgres.IsAbortedTx(err) {
				t.Errorf("statement in an aborted transaction: %v", err)
			}
			_ = tx.Rollback()

			// Two serializable transactions that read what the other writes.
			err = serializationConflict(ctx, db)
			if !postgres.IsSerializationFailure(err) || !postgres.IsRetryable(err) || !postgres.IsTemporary(err) {
				t.Errorf("serialization conflict: %v (state %q)", err, postgres.SQLState(err))
			}

			// A connection the server ends (as at a restart or failover).
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var pid int
			if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
				t.Fatal(err)
			}
			_, err = conn.ExecContext(ctx, `SELECT $1::int`, 1)
			if err == nil || !postgres.IsTemporary(err) || postgres.IsRetryable(err) {
				t.Errorf("terminated connection: %v (state %q)", err, postgres.SQLState(err))
			}
			_ = conn.Close()
			if postgres.IsTemporary(nil) || postgres.IsRetryable(nil) || postgres.SQLState(nil) != "" || postgres.SafeToRetry(nil) {
				t.Error("nil classified as an error")
			}
		})
	}
}

// serializationConflict runs two serializable transactions that each
// read the row the other updates, and returns the error of the one that
// fails.
func serializationConflict(ctx context.Context, db *sql.DB) error {
	txs := make([]*sql.Tx, 2)
	for i := range txs {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		txs[i] = tx
		var n int
		if err := tx.QueryRow(`SELECT sum(n) FROM parent`).Scan(&n); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	var errs []error
	for i, tx := range txs {
		_, err := tx.Exec(`UPDATE parent SET n = n + 1 WHERE id = $1`, i+1)
		if err == nil {
			err = tx.Commit()
		}
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return errors.New("no conflict")
}

// safeErr is an error that says whether it is safe to retry, as pgx's
// connection errors do.
type safeErr bool

func (e safeErr) Error() string     { return "safe to retry: " + fmt.Sprint(bool(e)) }
func (e safeErr) SafeToRetry() bool { return bool(e) }

func TestSafeToRetry(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{safeErr(true), true},
		{fmt.Errorf("wrapped: %w", safeErr(true)), true},
		{safeErr(false), false},
		{driver.ErrBadConn, true},
		{errors.New("other"), false},
	} {
		if got := postgres.SafeToRetry(c.err); got != c.want {
			t.Errorf("SafeToRetry(%v) = %v, want %v", c.err, got, c.want)
		}
		if got := postgres.IsTemporary(c.err); got != c.want {
			t.Errorf("IsTemporary(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
