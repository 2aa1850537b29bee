package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"

	"github.com/plasma-go/plasma/dialect/internal/connwrap"
)

// StatementCache is how many prepared statements Open keeps per
// connection.
const StatementCache = 64

// Compiling a statement is a large part of what a short one costs in
// SQLite: in the sync server under load, a fifth of the CPU went to
// sqlite3_prepare_v2, since database/sql prepares a statement run
// without one anew each time, and plasma's own cache (orm) lives for one
// transaction. Open's connections keep their statements compiled, keyed
// by SQL text, for as long as the connection lives, the least recently
// used one finalized when the cache is full. SQLite recompiles a cached
// statement itself when the schema changes under it.
//
// A compiled statement has one cursor: while rows read from it are open,
// or while a caller holds it prepared (database/sql's Stmt), it is taken,
// and the same text meanwhile runs on a statement of its own, finalized
// after use. Texts holding several statements (scripts) are never cached.

// registered is modernc.org/sqlite's registered driver, with the
// functions and hooks registered on it.
var registered = func() driver.Driver {
	db, err := sql.Open("sqlite", "")
	if err != nil {
		panic("plasma: sqlite: the modernc.org/sqlite driver is not registered: " + err.Error())
	}
	defer db.Close()
	return db.Driver()
}()

// cachingConnector opens connections of modernc.org/sqlite that keep
// their statements compiled.
type cachingConnector struct {
	dsn  string
	size int
}

func (c *cachingConnector) Connect(context.Context) (driver.Conn, error) {
	dc, err := registered.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: connwrap.Conn{Conn: dc}, size: c.size, stmts: map[string]*cachedStmt{}}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return registered }

// cachingConn is one connection with its compiled statements. database/sql
// uses a connection from one goroutine at a time, so it needs no lock.
type cachingConn struct {
	connwrap.Conn
	size  int
	stmts map[string]*cachedStmt
	tick  uint64
}

type cachedStmt struct {
	stmt    driver.Stmt
	taken   bool // rows read from it are open, or a caller holds it
	lastUse uint64
}

// The interfaces the cache serves itself; the rest are forwarded
// (connwrap.Conn).
var (
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
)

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	for q, cs := range c.stmts {
		_ = cs.stmt.Close()
		delete(c.stmts, q)
	}
	return c.Conn.Conn.Close()
}

// PrepareContext hands out the cached statement for query, taken until
// the caller closes it.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	cs, st, err := c.take(ctx, query)
	if err != nil || cs == nil {
		return st, err
	}
	return &heldStmt{Stmt: cs.stmt, cs: cs}, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, st, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
	if cs != nil {
		cs.taken = false
	} else {
		_ = st.Close()
	}
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, st, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		if cs != nil {
			cs.taken = false
		} else {
			_ = st.Close()
		}
		return nil, err
	}
	return &cachedRows{Rows: rows, cs: cs, own: st}, nil
}

// take returns a statement for query: the cached one, marked taken (cs
// set), or one of its own that the caller closes (cs nil) when the cached
// one is taken, the text is a script, or every cached statement is taken.
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, driver.Stmt, error) {
	c.tick++
	if cs, ok := c.stmts[query]; ok {
		if cs.taken {
			st, err := c.prepare(ctx, query)
			return nil, st, err
		}
		cs.taken, cs.lastUse = true, c.tick
		return cs, cs.stmt, nil
	}
	st, err := c.prepare(ctx, query)
	if err != nil || strings.Contains(query, ";") || !c.makeRoom() {
		return nil, st, err
	}
	cs := &cachedStmt{stmt: st, taken: true, lastUse: c.tick}
	c.stmts[query] = cs
	return cs, st, nil
}

func (c *cachingConn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// makeRoom finalizes the least recently used statement not taken when
// the cache is full; it reports false if there is still no room.
func (c *cachingConn) makeRoom() bool {
	if len(c.stmts) < c.size {
		return true
	}
	var oldest string
	var at uint64 = ^uint64(0)
	for q, cs := range c.stmts {
		if !cs.taken && cs.lastUse < at {
			oldest, at = q, cs.lastUse
		}
	}
	if at == ^uint64(0) {
		return false
	}
	_ = c.stmts[oldest].stmt.Close()
	delete(c.stmts, oldest)
	return true
}

// heldStmt is a cached statement a caller holds prepared; closing it
// gives it back.
type heldStmt struct {
	driver.Stmt
	cs *cachedStmt
}

func (s *heldStmt) Close() error {
	s.cs.taken = false
	return nil
}

func (s *heldStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *heldStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// cachedRows are rows read from a cached statement (cs), or from a
// statement of their own (own) that closing them finalizes.
type cachedRows struct {
	driver.Rows
	cs  *cachedStmt
	own driver.Stmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.cs != nil {
		r.cs.taken = false
		r.cs = nil
	} else if r.own != nil {
		if cerr := r.own.Close(); err == nil {
			err = cerr
		}
		r.own = nil
	}
	return err
}
