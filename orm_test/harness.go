// Package ormtest is plasma's cross-dialect test harness: Run runs one
// test body against a fresh SQLite database and a fresh, isolated
// PostgreSQL schema, as subtests named "sqlite" and "postgres".
//
// PostgreSQL is used when PLASMA_TEST_POSTGRES holds a connection URL, for
// example postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Without
// it the postgres subtests skip with a message saying so; with it set and
// the server unreachable they fail, so CI never silently drops half.
//
// The PostgreSQL half runs once per driver named in PLASMA_TEST_PG_DRIVERS,
// a comma-separated list of "pq" (lib/pq, as postgres.Open opens it, with
// its per-connection statement cache), "pq_nocache" (lib/pq without the
// cache: every statement unprepared, in one round trip) and "pgx" (pgx/v5
// under database/sql, as dialect/pgx opens it); unset, it is "pq". The
// lib/pq subtest is named "postgres", the others "postgres_" and the
// driver's name; every PostgreSQL target has the Name "postgres" and
// tells its driver in Driver.
package ormtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL.
const EnvPostgres = "PLASMA_TEST_POSTGRES"

// EnvPostgresDrivers names the environment variable listing the drivers
// the PostgreSQL half runs on, such as "pq,pgx" (unset: "pq").
const EnvPostgresDrivers = "PLASMA_TEST_PG_DRIVERS"

// The PostgreSQL drivers a target can use.
const (
	DriverPQ        = "pq"         // github.com/lib/pq, opened by postgres.Open
	DriverPQNoCache = "pq_nocache" // lib/pq without the statement cache
	DriverPGX       = "pgx"        // github.com/jackc/pgx/v5/stdlib, opened by pgx.Open
)

// PostgresDrivers returns the drivers EnvPostgresDrivers names, in its
// order; unknown names are kept, so that Run fails on them rather than
// silently skip.
func PostgresDrivers() []string {
	v := os.Getenv(EnvPostgresDrivers)
	if strings.TrimSpace(v) == "" {
		return []string{DriverPQ}
	}
	var out []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Target is one database a test body runs against.
type Target struct {
	// Name is the engine: "sqlite" or "postgres".
	Name string
	// Driver is the PostgreSQL driver (DriverPQ, DriverPQNoCache or
	// DriverPGX); "" for SQLite.
	Driver string
	// Mode is the subtest the target runs in: "sqlite", "postgres"
	// (lib/pq), "postgres_pq_nocache" or "postgres_pgx".
	Mode string
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

// Run runs body as subtests, "sqlite" and one per PostgreSQL driver
// ("postgres" for lib/pq, "postgres_pgx" for pgx: see
// EnvPostgresDrivers), each on a fresh database that is removed when the
// subtest ends.
func Run(t *testing.T, body func(t *testing.T, tg *Target)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { body(t, SQLite(t)) })
	for _, drv := range PostgresDrivers() {
		t.Run(modeName(drv), func(t *testing.T) { body(t, PostgresDriver(t, drv)) })
	}
}

// modeName is the subtest name of a PostgreSQL driver.
func modeName(driver string) string {
	if driver == DriverPQ {
		return "postgres"
	}
	return "postgres_" + driver
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
	return &Target{Name: "sqlite", Mode: "sqlite", SQL: sqldb, DB: orm.New(sqldb, sqlite.Dialect), Dialect: sqlite.Dialect, Open: open}
}

// Postgres returns a target on a new PostgreSQL schema, dropped when t
// ends, on lib/pq. It skips t when PLASMA_TEST_POSTGRES is unset.
func Postgres(t testing.TB) *Target { t.Helper(); return PostgresDriver(t, DriverPQ) }

// PostgresDriver is Postgres on the named driver: DriverPQ,
// DriverPQNoCache or DriverPGX.
func PostgresDriver(t testing.TB, driver string) *Target {
	t.Helper()
	var openDB func(dsn string) (*sql.DB, error)
	switch driver {
	case DriverPQ:
		openDB = postgres.Open
	case DriverPQNoCache:
		openDB = func(dsn string) (*sql.DB, error) { return postgres.OpenWith(dsn, postgres.StatementCache(0)) }
	case DriverPGX:
		openDB = pgx.Open
	default:
		t.Fatalf("%s: unknown PostgreSQL driver %q (want %q, %q or %q)", EnvPostgresDrivers, driver, DriverPQ, DriverPQNoCache, DriverPGX)
	}
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
		db, err := openDB(dsn)
		if err != nil {
			t.Fatalf("open postgres (%s): %v", driver, err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sqldb := open(t)
	return &Target{Name: "postgres", Driver: driver, Mode: modeName(driver), SQL: sqldb, DB: orm.New(sqldb, postgres.Dialect), Dialect: postgres.Dialect, Open: open}
}

// withSearchPath adds the schema as the connection's search_path; lib/pq
// and pgx send unknown URL parameters to the server as run-time settings.
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
