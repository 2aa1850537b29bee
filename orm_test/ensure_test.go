package ormtest_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var (
	ensUsers, ensTodos, ensTags = testschema.Ensure()
	// Declared leaf first, so creation must reorder.
	ensSchema = orm.MustDefineSchema("ens-1", ensTags, ensTodos, ensUsers)
)

// ensTableDDL is how many DDL statements create ensSchema: one CREATE
// TABLE per table and one CREATE INDEX.
const ensTableDDL = 3 + 1

// ensCountingExec counts what reaches the database: statements on the pool
// and transactions begun (whose statements the middleware counts).
type ensCountingExec struct {
	*sql.DB
	execs, queries, begins atomic.Int64
}

func (c *ensCountingExec) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	c.execs.Add(1)
	return c.DB.ExecContext(ctx, q, args...)
}

func (c *ensCountingExec) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.queries.Add(1)
	return c.DB.QueryContext(ctx, q, args...)
}

func (c *ensCountingExec) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	c.begins.Add(1)
	return c.DB.BeginTx(ctx, opts)
}

var _ dialect.Beginner = (*ensCountingExec)(nil)

// ensCounter is a middleware counting every statement, on the pool or in
// a transaction.
type ensCounter struct {
	mu              sync.Mutex
	all, ddl        int
	creates, tables int // CREATE statements, and CREATE TABLE among them
	sql             []string
}

func (c *ensCounter) mw(next orm.Handler) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		c.mu.Lock()
		c.all++
		if st.Op == orm.OpDDL {
			c.ddl++
		}
		if strings.HasPrefix(st.SQL, "CREATE ") {
			c.creates++
		}
		if strings.HasPrefix(st.SQL, "CREATE TABLE ") {
			c.tables++
		}
		c.sql = append(c.sql, st.SQL)
		c.mu.Unlock()
		return next(ctx, st)
	}
}

func (c *ensCounter) snapshot() (all, ddl, creates, tables int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all, c.ddl, c.creates, c.tables
}

func (c *ensCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all, c.ddl, c.creates, c.tables, c.sql = 0, 0, 0, 0, nil
}

// counted wraps a pool in a counting executor and a counting middleware.
func ensCounted(tg *ormtest.Target, pool *sql.DB) (*orm.DB, *ensCountingExec, *ensCounter) {
	ce := &ensCountingExec{DB: pool}
	sc := &ensCounter{}
	return orm.New(ce, tg.Dialect, sc.mw), ce, sc
}

func TestEnsureSchemaSecondCallIssuesNothing(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it counts EnsureSchema's statements on DBs of its own over the pool or a second pool, which wait on the schema lock the caller's open transaction holds and cannot see its tables", ormtest.ExecTx)
		ctx := context.Background()
		db, ce, sc := ensCounted(tg, tg.SQL)
		if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
			t.Fatal(err)
		}
		if _, _, creates, _ := sc.snapshot(); creates != ensTableDDL {
			t.Fatalf("first EnsureSchema issued %d CREATE statements, want %d: %q", creates, ensTableDDL, sc.sql)
		}
		if ce.begins.Load() != 1 {
			t.Errorf("first EnsureSchema began %d transactions, want 1", ce.begins.Load())
		}

		// Second call on the same executor: nothing reaches the database.
		sc.reset()
		execs, queries, begins := ce.execs.Load(), ce.queries.Load(), ce.begins.Load()
		for range 3 {
			if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
				t.Fatal(err)
			}
		}
		if all, _, _, _ := sc.snapshot(); all != 0 {
			t.Errorf("second EnsureSchema sent %d statements through the chain: %q", all, sc.sql)
		}
		if ce.execs.Load() != execs || ce.queries.Load() != queries || ce.begins.Load() != begins {
			t.Errorf("second EnsureSchema reached the executor: %d execs, %d queries, %d begins",
				ce.execs.Load()-execs, ce.queries.Load()-queries, ce.begins.Load()-begins)
		}

		// The tables work.
		if _, err := db.Insert(ensUsers).Values(orm.Row{"id": "u", "email": "e"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEnsureSchemaFreshProcess: a process that has not ensured the schema
// yet (forgotten, or a new pool) and finds every table lists them once and
// issues no DDL, no lock and no transaction.
func TestEnsureSchemaFreshProcess(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it counts EnsureSchema's statements on DBs of its own over the pool or a second pool, which wait on the schema lock the caller's open transaction holds and cannot see its tables", ormtest.ExecTx)
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, ensSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		check := func(name string, db *orm.DB, ce *ensCountingExec, sc *ensCounter) {
			t.Helper()
			if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
				t.Fatal(err)
			}
			all, ddl, creates, _ := sc.snapshot()
			if ddl != 0 || creates != 0 || all != 1 {
				t.Errorf("%s: %d statements, %d DDL, %d CREATE, want only the table listing: %q", name, all, ddl, creates, sc.sql)
			}
			if ce.begins.Load() != 0 || ce.execs.Load() != 0 || ce.queries.Load() != 1 {
				t.Errorf("%s: %d begins, %d execs, %d queries at the executor, want 0, 0, 1",
					name, ce.begins.Load(), ce.execs.Load(), ce.queries.Load())
			}
			// And after that, nothing at all.
			sc.reset()
			if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
				t.Fatal(err)
			}
			if all, _, _, _ := sc.snapshot(); all != 0 || ce.queries.Load() != 1 {
				t.Errorf("%s: the call after the check sent %d statements", name, all)
			}
		}

		// A new pool on the same database, as a second process would open.
		db, ce, sc := ensCounted(tg, tg.Open(t))
		check("new pool", db, ce, sc)

		// The same pool, forgotten.
		orm.ForgetEnsured(db)
		ce.execs.Store(0)
		ce.queries.Store(0)
		ce.begins.Store(0)
		sc.reset()
		check("ForgetEnsured", db, ce, sc)
	})
}

// TestEnsureSchemaCreatesOnlyWhatIsMissing: a dropped table comes back,
// and only it.
func TestEnsureSchemaCreatesOnlyWhatIsMissing(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it counts EnsureSchema's statements on DBs of its own over the pool or a second pool, which wait on the schema lock the caller's open transaction holds and cannot see its tables", ormtest.ExecTx)
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, ensSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.SQL.ExecContext(ctx, `DROP TABLE "ens_tags"`); err != nil {
			t.Fatal(err)
		}
		db, _, sc := ensCounted(tg, tg.SQL)
		if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
			t.Fatal(err)
		}
		if _, _, creates, tables := sc.snapshot(); creates != 1 || tables != 1 || !strings.Contains(sc.sql[len(sc.sql)-1], `"ens_tags"`) {
			t.Errorf("recreating one table issued %d CREATE (%d tables): %q", creates, tables, sc.sql)
		}
		if !slices.Contains(introTables(t, tg), "ens_tags") {
			t.Error("ens_tags not recreated")
		}
	})
}

// TestEnsureSchemaConcurrent: 8 pools (as 8 processes would have) ensure
// the schema at once on a fresh database. All succeed, and each table is
// created exactly once: the callers take turns (an advisory lock on
// PostgreSQL, immediate transactions on SQLite) and re-check inside.
func TestEnsureSchemaConcurrent(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it counts EnsureSchema's statements on DBs of its own over the pool or a second pool, which wait on the schema lock the caller's open transaction holds and cannot see its tables", ormtest.ExecTx)
		ctx := context.Background()
		const n = 8
		sc := &ensCounter{}
		dbs := make([]*orm.DB, n)
		for i := range dbs {
			dbs[i] = orm.New(tg.Open(t), tg.Dialect, sc.mw)
		}
		var start, done sync.WaitGroup
		start.Add(1)
		errs := make([]error, n)
		for i, db := range dbs {
			done.Go(func() {
				start.Wait()
				errs[i] = orm.EnsureSchema(ctx, ensSchema, db)
			})
		}
		start.Done()
		done.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
		if _, _, creates, tables := sc.snapshot(); tables != 3 || creates != ensTableDDL {
			t.Errorf("%d CREATE TABLE and %d CREATE in all, want 3 and %d: %q", tables, creates, ensTableDDL, sc.sql)
		}
		names := introTables(t, tg)
		for _, tbl := range ensSchema.Tables() {
			if !slices.Contains(names, tbl.Name()) {
				t.Errorf("table %s missing", tbl.Name())
			}
		}
		// Every pool can use the tables.
		for i, db := range dbs {
			if _, err := db.Insert(ensUsers).Values(orm.Row{"id": string(rune('a' + i)), "email": string(rune('a' + i))}).Exec(ctx); err != nil {
				t.Errorf("pool %d: %v", i, err)
			}
		}
	})
}

// TestEnsureSchemaInCallerTx: inside a caller's transaction EnsureSchema
// runs in it and remembers nothing, so a rollback is not mistaken for
// success.
func TestEnsureSchemaInCallerTx(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it counts EnsureSchema's statements on DBs of its own over the pool or a second pool, which wait on the schema lock the caller's open transaction holds and cannot see its tables", ormtest.ExecTx)
		ctx := context.Background()
		db, _, sc := ensCounted(tg, tg.SQL)
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := orm.EnsureSchema(ctx, ensSchema, tx.DB); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if names := introTables(t, tg); slices.Contains(names, "ens_users") {
			t.Fatalf("rolled-back DDL left tables: %v", names)
		}
		sc.reset()
		if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
			t.Fatal(err)
		}
		if _, _, creates, _ := sc.snapshot(); creates != ensTableDDL {
			t.Errorf("after a rolled-back EnsureSchema the pool issued %d CREATE, want %d", creates, ensTableDDL)
		}
	})
}

// TestEnsureSchemaOnRawTx: an executor that cannot begin a transaction (a
// *sql.Tx, as under a bun.Tx) still works: the DDL runs in it.
func TestEnsureSchemaOnRawTx(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it counts EnsureSchema's statements on DBs of its own over the pool or a second pool, which wait on the schema lock the caller's open transaction holds and cannot see its tables", ormtest.ExecTx)
		ctx := context.Background()
		sqltx, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sqltx.Rollback()
		db := orm.New(sqltx, tg.Dialect)
		if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(ensUsers).Values(orm.Row{"id": "u", "email": "e"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := sqltx.Commit(); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(introTables(t, tg), "ens_users") {
			t.Error("tables not committed")
		}
	})
}

func TestEnsureSchemaNil(t *testing.T) {
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, nil, nil); err == nil {
		t.Error("nil schema and db accepted")
	}
}

// TestEnsureSchemaLockIsPerSchema: on PostgreSQL the schema-change lock
// serialises callers on one schema but never makes another schema (another
// tenant, a parallel test run) wait.
func TestEnsureSchemaLockIsPerSchema(t *testing.T) {
	a := ormtest.Postgres(t)
	b := ormtest.Postgres(t)
	ctx := context.Background()
	holder, err := a.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, a.Dialect.LockSchema()); err != nil {
		t.Fatal(err)
	}

	// Another schema goes ahead.
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := orm.EnsureSchema(bctx, ensSchema, b.DB); err != nil {
		t.Fatalf("another schema waited for the lock: %v", err)
	}

	// The same schema waits for the holder.
	actx, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if err := orm.EnsureSchema(actx, ensSchema, a.DB); err == nil {
		t.Fatal("EnsureSchema did not wait for the schema lock")
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := orm.EnsureSchema(ctx, ensSchema, a.DB); err != nil {
		t.Fatal(err)
	}
}
