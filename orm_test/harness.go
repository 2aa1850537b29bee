// Package ormtest is plasma's cross-dialect test harness: Run runs one
// test body against a fresh SQLite database and a fresh, isolated
// PostgreSQL schema, as subtests named "sqlite" and "postgres".
//
// PostgreSQL is used when PLASMA_TEST_POSTGRES holds a connection URL, for
// example postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Without
// it the postgres subtests skip with a message saying so; with it set and
// the server unreachable they fail, so CI never silently drops half.
package ormtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL.
const EnvPostgres = "PLASMA_TEST_POSTGRES"

// Target is one database a test body runs against.
type Target struct {
	// Name is "sqlite" or "postgres".
	Name string
	// DB is a plasma DB on a database no other test uses.
	DB *orm.DB
	// SQL is the pool under DB, for assertions that bypass plasma.
	SQL *sql.DB
	// Dialect is DB's dialect.
	Dialect dialect.Dialect
	// Open opens another pool on the same database (same file, or same
	// PostgreSQL schema), as a second process would; it is closed when
	// the test ends.
	Open func(t testing.TB) *sql.DB
}

// Run runs body as two subtests, "sqlite" and "postgres", each on a fresh
// database that is removed when the subtest ends.
func Run(t *testing.T, body func(t *testing.T, tg *Target)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { body(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { body(t, Postgres(t)) })
}

// SQLite returns a target on a new database file in t's temp directory.
func SQLite(t testing.TB) *Target {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	open := func(t testing.TB) *sql.DB {
		t.Helper()
		db, err := sqlite.Open(path)
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sqldb := open(t)
	return &Target{Name: "sqlite", SQL: sqldb, DB: orm.New(sqldb, sqlite.Dialect), Dialect: sqlite.Dialect, Open: open}
}

// Postgres returns a target on a new PostgreSQL schema, dropped when t
// ends. It skips t when PLASMA_TEST_POSTGRES is unset.
func Postgres(t testing.TB) *Target {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("PostgreSQL half skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run it", EnvPostgres)
	}
	admin, err := postgres.Open(base)
	if err != nil {
		t.Fatalf("%s is set but PostgreSQL does not answer: %v", EnvPostgres, err)
	}
	schema := "plasma_test_" + randomHex(8)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+dialect.QuoteIdent(schema)); err != nil {
		admin.Close()
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+dialect.QuoteIdent(schema)+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
		admin.Close()
	})
	dsn, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	open := func(t testing.TB) *sql.DB {
		t.Helper()
		db, err := postgres.Open(dsn)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sqldb := open(t)
	return &Target{Name: "postgres", SQL: sqldb, DB: orm.New(sqldb, postgres.Dialect), Dialect: postgres.Dialect, Open: open}
}

// withSearchPath adds the schema as the connection's search_path; lib/pq
// sends unknown URL parameters to the server as run-time settings.
func withSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
