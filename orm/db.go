package orm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/plasma-go/plasma/dialect"
)

// DB runs statements on one database through a middleware chain. It is
// safe for concurrent use. Inside a transaction the same type runs on the
// transaction: see Tx.
type DB struct {
	d     dialect.Dialect
	exec  dialect.Executor
	sqlDB *sql.DB    // the pool, when plasma opened it (closed by Close)
	tx    *sql.Tx    // the transaction, for a transaction-scoped DB
	stmts *stmtCache // the transaction's prepared statements, if the dialect reuses them
	vals  *txValues  // the transaction's middleware state (TxValue)
	mws   []Middleware
	chain Handler
	memo  *Memo      // values derived from this database (Memo), shared by copies
	texts *textCache // rendered SQL texts, shared by the DBs made from this one
	// copier loads large plain INSERTs by the dialect's bulk protocol,
	// when the dialect has one and the pool's driver supports it.
	copier dialect.Copier
	// arrays binds a multi-row INSERT's values as one array per column,
	// when the dialect can and knows the pool's driver (unnest.go).
	arrays dialect.ArrayBinder
	// arrayTables records, per table, whether its columns in the database
	// have the types the array binder casts to (unnest.go).
	arrayTables *sync.Map
}

// New returns a DB that runs statements on exec, which is usually a
// *sql.DB (any dialect.Executor works; a dialect.Beginner can also start
// transactions), rendering SQL for d.
//
// When exec is a *sql.Tx its caller manages, the DB runs inside it and
// IsTx reports true; Begin then refuses, and DB.Tx runs its function in
// that transaction.
func New(exec dialect.Executor, d dialect.Dialect, mws ...Middleware) *DB {
	db := &DB{d: d, exec: exec, memo: &Memo{}, texts: &textCache{}}
	if tx, ok := exec.(*sql.Tx); ok {
		db.setTx(tx)
	}
	if pool, ok := exec.(*sql.DB); ok {
		if c, ok := d.(dialect.Copier); ok && c.CopiesWith(pool.Driver()) {
			db.copier = c
		}
		if a, ok := d.(dialect.ArrayInserter); ok {
			if db.arrays = a.ArrayBinder(pool.Driver()); db.arrays != nil {
				db.arrayTables = &sync.Map{}
			}
		}
	}
	db.setMiddleware(mws)
	return db
}

// Open opens a pool on d's engine with the driver its dialect package
// links, and returns a DB that owns it (Close closes it): for example
//
//	db, err := orm.Open(sqlite.Dialect, "app.db")   // dialect/sqlite, modernc.org/sqlite
//	db, err := orm.Open(postgres.Dialect, dsn)      // dialect/postgres, lib/pq
//
// dsn is what the dialect package's Open takes: a file path (or
// ":memory:") for SQLite, a URL or key=value string for PostgreSQL. The
// driver is linked by the dialect package the caller imports, never by
// orm, so a program links only the engines it names. To run PostgreSQL on
// pgx instead, open the pool with dialect/pgx and hand it to New:
//
//	sqldb, err := pgx.Open(dsn) // github.com/plasma-go/plasma/dialect/pgx
//	db := orm.New(sqldb, pgx.Dialect)
func Open(d dialect.Dialect, dsn string, mws ...Middleware) (*DB, error) {
	o, ok := d.(dialect.Opener)
	if !ok {
		return nil, fmt.Errorf("plasma: orm.Open: dialect %q cannot open a database; open the pool yourself and use orm.New", d.Name())
	}
	sqldb, err := o.Open(dsn)
	if err != nil {
		return nil, err
	}
	db := New(sqldb, d, mws...)
	db.sqlDB = sqldb
	return db, nil
}

// Close closes the connection pool if Open opened
// it; a DB made with New leaves its executor to its owner.
func (db *DB) Close() error {
	if db.sqlDB == nil {
		return nil
	}
	return db.sqlDB.Close()
}

// Dialect returns the dialect statements are rendered for.
func (db *DB) Dialect() dialect.Dialect { return db.d }

// Executor returns what statements run on: the pool, or the transaction.
func (db *DB) Executor() dialect.Executor { return db.exec }

// IsTx reports whether db runs inside a transaction (see InTx, which runs
// a function in one).
func (db *DB) IsTx() bool { return db.tx != nil }

// Use returns a DB that runs statements through mws after db's own
// middlewares: the first middleware given is the outermost of the new ones.
// db itself is unchanged.
func (db *DB) Use(mws ...Middleware) *DB {
	n := *db
	n.setMiddleware(append(append([]Middleware(nil), db.mws...), mws...))
	return &n
}

func (db *DB) setMiddleware(mws []Middleware) {
	db.mws = mws
	h := Handler(execute)
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	db.chain = h
}

// Tx is a DB bound to one database transaction.
type Tx struct {
	*DB
	done   bool
	nested bool // handed to DB.Tx's fn inside an enclosing transaction
}

// ErrNestedTx is returned by Commit and Rollback on the Tx that DB.Tx
// hands its fn inside an enclosing transaction: the enclosing transaction's
// owner decides, and fn aborts it by returning an error.
var ErrNestedTx = errors.New("plasma: a nested transaction is committed or rolled back by its enclosing one")

// ErrTxDone is returned by Commit and Rollback on a finished transaction.
var ErrTxDone = sql.ErrTxDone

// ErrNoBeginner is returned when starting a transaction on an executor that
// cannot begin one (a transaction cannot begin another).
var ErrNoBeginner = errors.New("plasma: the executor cannot begin a transaction")

// Begin starts a transaction. Statements run on the returned Tx go
// through the same middleware chain.
func (db *DB) Begin(ctx context.Context) (*Tx, error) { return db.BeginTx(ctx, nil) }

// BeginTx starts a transaction with options, such as a read-only
// snapshot (sql.TxOptions{ReadOnly: true, Isolation:
// sql.LevelRepeatableRead}). Statements run on the returned Tx go through
// the same middleware chain.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	b, ok := db.exec.(dialect.Beginner)
	if !ok || db.tx != nil {
		return nil, ErrNoBeginner
	}
	sqltx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("plasma: begin: %w", err)
	}
	n := *db
	n.exec, n.sqlDB = sqltx, nil
	n.setTx(sqltx)
	return &Tx{DB: &n}, nil
}

// setTx makes db run in tx, with the state plasma keeps per transaction
// (nil tx: none).
func (db *DB) setTx(tx *sql.Tx) {
	db.tx, db.stmts, db.vals = tx, nil, nil
	if tx != nil {
		db.stmts, db.vals = newStmtCache(db.d, tx), &txValues{}
	}
}

// Commit commits the transaction.
func (tx *Tx) Commit() error {
	if tx.nested {
		return ErrNestedTx
	}
	if tx.done {
		return ErrTxDone
	}
	tx.done = true
	if err := tx.tx.Commit(); err != nil {
		return err
	}
	tx.vals.runAfterCommit()
	return nil
}

// Rollback aborts the transaction. Rollback after Commit returns
// ErrTxDone, so it is safe to defer.
func (tx *Tx) Rollback() error {
	if tx.nested {
		return ErrNestedTx
	}
	if tx.done {
		return ErrTxDone
	}
	tx.done = true
	return tx.tx.Rollback()
}

// Tx runs fn in a transaction: it commits if fn returns nil, and rolls
// back if fn returns an error or panics (the panic then continues). If db
// already runs in a transaction, fn runs in it and the outer caller
// decides.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if db.tx != nil {
		return fn(&Tx{DB: db, nested: true})
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// fn panicked, or ended its goroutine (runtime.Goexit, as
		// t.FailNow does): roll back rather than leave the transaction
		// open, holding its connection and locks. A panic goes on.
		if !tx.done {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, ErrTxDone) {
			return errors.Join(err, fmt.Errorf("plasma: rollback: %w", rbErr))
		}
		return err
	}
	return tx.Commit()
}

// InTx runs fn on a DB inside a transaction, for middlewares that add
// statements to a write: db itself when it already runs in one, else a
// transaction opened on db and committed when fn returns nil. An executor
// that can begin no transaction and is not one (a custom
// dialect.Executor) is refused with ErrNoBeginner, as plasma's own
// plugins refuse it: it may be a pool, on which fn's statements could not
// be made one unit.
func InTx(ctx context.Context, db *DB, fn func(tx *DB) error) error {
	return db.Tx(ctx, func(tx *Tx) error { return fn(tx.DB) })
}

// Exec runs raw SQL through the middleware chain. Its '?' placeholders
// are renumbered for the dialect; values are bound.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	text, err := db.rawText(query, args)
	if err != nil {
		return 0, err
	}
	st := &Statement{Op: OpRaw, SQL: text.sql, Args: text.args}
	res, err := db.run(ctx, st)
	if err != nil {
		return 0, err
	}
	if res.Rows != nil {
		res.Rows.Close()
	}
	return res.RowsAffected, nil
}

// Query runs raw SQL that returns rows through the middleware chain, as
// an OpRaw statement: plasma cannot see into the text, which may write (a
// DELETE ... RETURNING). The caller closes the rows.
func (db *DB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	text, err := db.rawText(query, args)
	if err != nil {
		return nil, err
	}
	st := &Statement{Op: OpRaw, SQL: text.sql, Args: text.args, ReturnsRows: true}
	res, err := db.run(ctx, st)
	if err != nil {
		return nil, err
	}
	return res.Rows, nil
}

// Run sends a statement through db's middleware chain and runs it on db's
// executor. Builders and Exec/Query call it; it is exported for packages
// that make statements of their own, such as migrations.
func (db *DB) Run(ctx context.Context, st *Statement) (*Result, error) { return db.run(ctx, st) }

// WithExecutor returns a DB with db's dialect and middleware that runs on
// exec instead: a connection or a transaction its caller manages. When
// exec is a *sql.Tx the result reports IsTx.
func (db *DB) WithExecutor(exec dialect.Executor) *DB {
	n := *db
	n.exec, n.sqlDB = exec, nil
	tx, _ := exec.(*sql.Tx)
	n.setTx(tx)
	return &n
}

// ExecDDL runs a schema statement through the middleware chain.
func (db *DB) ExecDDL(ctx context.Context, table *Table, ddl string) error {
	_, err := db.run(ctx, &Statement{Op: OpDDL, Table: table, SQL: ddl})
	return err
}

type rendered struct {
	sql  string
	args []any
}

func (db *DB) rawText(query string, args []any) (rendered, error) {
	b := dialect.GetBuilder(db.d)
	defer dialect.PutBuilder(b)
	if err := b.Raw(query, args); err != nil {
		return rendered{}, err
	}
	return rendered{sql: string(b.Buf), args: b.Args}, nil
}

// ExecError is a statement the database refused.
type ExecError struct {
	Op  Op
	SQL string
	Err error
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("plasma: %s failed: %v (sql: %s)", e.Op, e.Err, e.SQL)
}

func (e *ExecError) Unwrap() error { return e.Err }

// txValues holds the state middlewares keep for one transaction.
type txValues struct {
	mu    sync.Mutex
	m     map[any]any
	after []func() // AfterCommit's functions, in registration order
}

// AfterCommit runs fn once db's transaction has committed, after Commit
// returns from the database and before it returns to its caller; a
// rollback drops fn. Outside a transaction fn runs at once. It is for
// middlewares that announce committed work in-process (the change log's
// commit feed). A transaction committed outside plasma (a *sql.Tx handed
// to WithExecutor and committed by its owner) runs no AfterCommit
// functions.
func (db *DB) AfterCommit(fn func()) {
	v := db.vals
	if v == nil {
		fn()
		return
	}
	v.mu.Lock()
	v.after = append(v.after, fn)
	v.mu.Unlock()
}

func (v *txValues) runAfterCommit() {
	if v == nil {
		return
	}
	v.mu.Lock()
	after := v.after
	v.after = nil
	v.mu.Unlock()
	for _, fn := range after {
		fn()
	}
}

// TxValue returns the value kept under key for db's transaction, made
// by init on first use: the DBs running in one transaction (the Tx
// DB.Tx or Begin hands out, and those made from it with Use) share it,
// and it is dropped with the transaction. It is for
// middlewares that remember something for the rest of a transaction, such
// as row auth's check results. Outside a transaction it returns nil, and
// with a nil init it returns nil rather than make a value.
func (db *DB) TxValue(key any, init func() any) any {
	v := db.vals
	if v == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if x, ok := v.m[key]; ok {
		return x
	}
	if init == nil {
		return nil
	}
	if v.m == nil {
		v.m = make(map[any]any)
	}
	x := init()
	v.m[key] = x
	return x
}
