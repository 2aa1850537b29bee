package orm

import (
	"context"
	"database/sql"
	"sync"

	"github.com/plasma-go/plasma/dialect"
)

// maxCachedStmts bounds the statements one transaction keeps prepared.
// Past it, further texts run unprepared: a cached statement is never
// closed early, since one of its result sets may still be open.
const maxCachedStmts = 128

// stmtCache holds one transaction's prepared statements by SQL text, for
// a dialect that reuses statements (dialect.StatementReuser). A sync push
// runs the same handful of statements for each of its mutations; with the
// cache each is compiled once per push instead of once per mutation.
// database/sql closes the statements when the transaction ends.
//
// A prepared statement holds one cursor: while a result set read from it
// is open, running it again would reset that cursor under its reader (a
// caller iterating rows and running the same query for each). Such a
// statement is marked busy until its rows are closed, and the same text
// meanwhile runs unprepared.
type stmtCache struct {
	tx *sql.Tx
	mu sync.Mutex
	m  map[string]*cachedStmt
}

type cachedStmt struct {
	stmt *sql.Stmt
	busy bool // a result set read from stmt is open
}

// newStmtCache returns a cache for tx, or nil when d does not reuse
// statements.
func newStmtCache(d dialect.Dialect, tx *sql.Tx) *stmtCache {
	if r, ok := d.(dialect.StatementReuser); !ok || !r.ReusesStatements() {
		return nil
	}
	return &stmtCache{tx: tx}
}

// acquire returns the statement prepared for text, preparing it on first
// use, marked busy if rows is set. It returns nil, to run the text
// unprepared, when the statement is busy or the cache is full.
func (c *stmtCache) acquire(ctx context.Context, text string, rows bool) (*cachedStmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, ok := c.m[text]
	if !ok {
		if len(c.m) >= maxCachedStmts {
			return nil, nil
		}
		s, err := c.tx.PrepareContext(ctx, text)
		if err != nil {
			return nil, err
		}
		if c.m == nil {
			c.m = make(map[string]*cachedStmt)
		}
		cs = &cachedStmt{stmt: s}
		c.m[text] = cs
	}
	if cs.busy {
		return nil, nil
	}
	cs.busy = rows
	return cs, nil
}

func (c *stmtCache) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.busy = false
	c.mu.Unlock()
}

// cachedRows are rows read from a cached statement; closing them frees
// the statement for its next run.
type cachedRows struct {
	*sql.Rows
	cache *stmtCache
	cs    *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.cs != nil {
		r.cache.release(r.cs)
		r.cs = nil
	}
	return err
}

// cached returns the prepared statement to run text with on db, or nil
// to run it unprepared: no cache, a schema statement, or acquire's nil.
func (db *DB) cached(ctx context.Context, op Op, text string, rows bool) (*cachedStmt, error) {
	if db.stmts == nil || op == OpDDL {
		return nil, nil
	}
	return db.stmts.acquire(ctx, text, rows)
}

// query runs text as a query on db, through db's statement cache when it
// has one.
func (db *DB) query(ctx context.Context, op Op, text string, args []any) (Rows, error) {
	cs, err := db.cached(ctx, op, text, true)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		rows, err := db.exec.QueryContext(ctx, text, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}
	rows, err := cs.stmt.QueryContext(ctx, args...)
	if err != nil {
		db.stmts.release(cs)
		return nil, err
	}
	return &cachedRows{Rows: rows, cache: db.stmts, cs: cs}, nil
}

// execute runs text as a statement without result rows on db, through
// db's statement cache when it has one.
func (db *DB) execute(ctx context.Context, op Op, text string, args []any) (sql.Result, error) {
	cs, err := db.cached(ctx, op, text, false)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return db.exec.ExecContext(ctx, text, args...)
	}
	return cs.stmt.ExecContext(ctx, args...)
}
