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
//
// Each engine target runs once per executor mode named in
// PLASMA_TEST_EXEC_MODES (see EnvExecModes), as pgxtest runs a test once
// per query exec mode: the body's DB is built on the pool, on a *sql.Tx
// or *sql.Conn its caller (the harness) manages, or on what
// bunexec.From returns for a bun database. A body that cannot run on some
// executor says so with SkipExec, which names the mode and the reason.
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

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/schema"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/bunexec"
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

// EnvExecModes names the environment variable listing the executor modes
// each engine target runs in, such as "pool,tx,conn,bun" (unset: "pool",
// so that suites outside orm_test do not multiply their time).
const EnvExecModes = "PLASMA_TEST_EXEC_MODES"

// The executor modes a target's DB can be built on.
const (
	// ExecPool builds DB on the *sql.DB pool, as an application does.
	ExecPool = "pool"
	// ExecTx builds DB on a *sql.Tx the harness begins before the body:
	// DB.IsTx reports true, DB.Begin refuses and DB.Tx joins it. The
	// transaction is committed when the body ends without failing, so
	// the commit is exercised and a body that left it aborted (a failed
	// statement on PostgreSQL) fails; after a failure it is rolled back.
	ExecTx = "tx"
	// ExecConn builds DB on one *sql.Conn taken from the pool and closed
	// when the test ends: every statement, and every transaction DB
	// begins, runs on that one connection.
	ExecConn = "conn"
	// ExecBun builds DB on bunexec.From of a *bun.DB opened on the pool,
	// as an application adopting plasma from bun does.
	ExecBun = "bun"
)

// AllExecModes lists every executor mode, in the order Run runs them.
var AllExecModes = []string{ExecPool, ExecTx, ExecConn, ExecBun}

// ExecModes returns the executor modes EnvExecModes names, in its order;
// unknown names are kept, so that Run fails on them rather than silently
// skip.
func ExecModes() []string { return envList(EnvExecModes, ExecPool) }

// PostgresDrivers returns the drivers EnvPostgresDrivers names, in its
// order; unknown names are kept, so that Run fails on them rather than
// silently skip.
func PostgresDrivers() []string { return envList(EnvPostgresDrivers, DriverPQ) }

// envList splits the comma-separated list in the environment variable
// name, or returns def when it is unset or blank.
func envList(name, def string) []string {
	v := os.Getenv(name)
	if strings.TrimSpace(v) == "" {
		return []string{def}
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
	// Mode is the engine subtest the target runs in: "sqlite", "postgres"
	// (lib/pq), "postgres_pq_nocache" or "postgres_pgx". Run adds "_"
	// and the executor mode to the subtest name for modes other than
	// ExecPool.
	Mode string
	// Exec is the executor mode DB is built on: ExecPool, ExecTx,
	// ExecConn or ExecBun.
	Exec string
	// DB is a plasma DB on a database no other test uses, built on the
	// executor Exec names.
	DB *orm.DB
	// Executor is the executor under DB (the pool, the caller's
	// transaction or connection), for assertions that bypass plasma
	// but must see what DB sees, uncommitted rows included.
	Executor dialect.Executor
	// SQL is the pool, for assertions that bypass plasma and for
	// statements that must run outside DB's transaction.
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
// EnvPostgresDrivers), each once per executor mode (EnvExecModes, on the
// first PostgreSQL driver only: the others run on the pool; the
// subtest is named "sqlite_tx", "postgres_pgx_conn" and so on for modes
// other than ExecPool), each on a fresh database that is removed when the
// subtest ends.
func Run(t *testing.T, body func(t *testing.T, tg *Target)) {
	t.Helper()
	execs := ExecModes()
	for _, ex := range execs {
		t.Run(subtestName("sqlite", ex), func(t *testing.T) { body(t, SQLite(t).in(t, ex)) })
	}
	for i, drv := range PostgresDrivers() {
		for _, ex := range execs {
			if i > 0 && ex != ExecPool {
				// Driver and executor are separate axes: the other
				// executors run on the first driver only, so that
				// the suite's time adds rather than multiplies.
				continue
			}
			t.Run(subtestName(modeName(drv), ex), func(t *testing.T) { body(t, PostgresDriver(t, drv).in(t, ex)) })
		}
	}
}

// subtestName names the subtest of an engine mode in an executor mode.
func subtestName(mode, exec string) string {
	if exec == ExecPool {
		return mode
	}
	return mode + "_" + exec
}

// SkipExec skips t, saying why, when tg's executor mode is one of modes.
// It is for bodies whose subject cannot exist on that executor (a test of
// DB.Begin inside a caller's transaction), never to hide a failure: why
// must say what the mode lacks.
func (tg *Target) SkipExec(t testing.TB, why string, modes ...string) {
	t.Helper()
	for _, m := range modes {
		if m == tg.Exec {
			t.Skipf("not run on the %s executor: %s", m, why)
		}
	}
}

// in builds tg's DB on the executor mode ex, over the pool tg.SQL.
func (tg *Target) in(t testing.TB, ex string) *Target {
	t.Helper()
	ctx := context.Background()
	tg.Exec = ex
	switch ex {
	case ExecPool:
		return tg
	case ExecTx:
		tx, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("begin the caller's transaction: %v", err)
		}
		t.Cleanup(func() { endTx(t, tx) })
		tg.Executor = tx
	case ExecConn:
		conn, err := tg.SQL.Conn(ctx)
		if err != nil {
			t.Fatalf("take a connection: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		tg.Executor = conn
	case ExecBun:
		// bun.DB.Close would close the pool, which the target owns: the
		// bun value is left to the garbage collector.
		exec, err := bunexec.From(bun.NewDB(tg.SQL, bunDialect(tg.Name)))
		if err != nil {
			t.Fatalf("bunexec.From: %v", err)
		}
		tg.Executor = exec
	default:
		t.Fatalf("%s: unknown executor mode %q (want one of %v)", EnvExecModes, ex, AllExecModes)
	}
	tg.DB = orm.New(tg.Executor, tg.Dialect)
	return tg
}

// QueryRow runs query on tg.Executor, so that it sees what DB sees (the
// caller's uncommitted transaction included), and returns its one row.
func (tg *Target) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tg.Executor.(interface {
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}).QueryRowContext(ctx, query, args...)
}

// AbortsOnError reports whether a failed statement leaves DB unusable until
// its transaction ends: DB runs in the caller's transaction on PostgreSQL,
// which aborts a transaction at its first error. A body that goes on after
// an expected error declares it with SkipExec.
func (tg *Target) AbortsOnError() bool { return tg.Exec == ExecTx && tg.Name == "postgres" }

// endTx commits the caller's transaction after a body that passed, and
// rolls it back after one that failed.
func endTx(t testing.TB, tx *sql.Tx) {
	if t.Failed() {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		t.Errorf("commit the caller's transaction after the body: %v", err)
	}
}

// bunDialect is bun's dialect for the engine name.
func bunDialect(engine string) schema.Dialect {
	if engine == "postgres" {
		return pgdialect.New()
	}
	return sqlitedialect.New()
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
	return &Target{Name: "sqlite", Mode: "sqlite", Exec: ExecPool, Executor: sqldb, SQL: sqldb, DB: orm.New(sqldb, sqlite.Dialect), Dialect: sqlite.Dialect, Open: open}
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
	return &Target{Name: "postgres", Driver: driver, Mode: modeName(driver), Exec: ExecPool, Executor: sqldb, SQL: sqldb, DB: orm.New(sqldb, postgres.Dialect), Dialect: postgres.Dialect, Open: open}
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
