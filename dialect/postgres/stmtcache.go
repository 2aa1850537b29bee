package postgres

import (
	"context"
	"database/sql/driver"

	"github.com/plasma-go/plasma/dialect/internal/connwrap"
	"time"
)

// DefaultStatementCache is how many prepared statements Open keeps per
// connection.
const DefaultStatementCache = 256

// cachingConnector wraps lib/pq's connector so that each connection
// keeps its statements prepared, keyed by SQL text, as pgx does: a
// statement run again is bound and executed in one round trip, and the
// server skips parsing and planning it.
type cachingConnector struct {
	inner  driver.Connector
	size   int
	binary bool // lib/pq runs in binary_parameters mode
}

func (c *cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: connwrap.Conn{Conn: dc}, size: c.size, binary: c.binary}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.inner.Driver() }

// cachingConn is one lib/pq connection with its prepared statements.
// database/sql uses a connection from one goroutine at a time, so it
// needs no lock.
type cachingConn struct {
	connwrap.Conn
	size  int
	stmts map[string]*cachedStmt
	// simple holds query texts without arguments that the server would
	// not prepare: they run by the simple protocol.
	simple map[string]bool
	tick   uint64
	inTx   bool
	binary bool // lib/pq sends []byte arguments in binary format
}

type cachedStmt struct {
	stmt    driver.Stmt
	lastUse uint64
}

// The interfaces the cache serves itself; the rest are forwarded
// (connwrap.Conn).
var (
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.NamedValueChecker  = (*cachingConn)(nil)
)

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return &cachingTx{Tx: tx, c: c}, nil
}

type cachingTx struct {
	driver.Tx
	c *cachingConn
}

func (t *cachingTx) Commit() error   { t.c.inTx = false; return t.Tx.Commit() }
func (t *cachingTx) Rollback() error { t.c.inTx = false; return t.Tx.Rollback() }

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// CheckNamedValue accepts the values database/sql would pass through
// unchanged as they are, and asks lib/pq about the rest. lib/pq's own
// check reflects over every argument only to decline the common types
// (database/sql then converts them to themselves): on a 100-row insert
// that is 800 reflections per statement, a few percent of its time.
func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	switch v := nv.Value.(type) {
	case nil, string, int64, float64, bool, []byte, time.Time:
		return nil
	case pqArray:
		// In binary_parameters mode lib/pq sends a []byte in binary
		// format, which the server reads as the array's binary form;
		// otherwise it would send the bytes as text, so the array goes
		// as its text literal.
		if c.binary {
			nv.Value = v.bin
			return nil
		}
		var err error
		nv.Value, err = v.Value()
		return err
	}
	return c.Conn.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// ExecContext runs query through its cached statement. A query without
// arguments goes as it is (lib/pq's simple protocol: one round trip, and
// several statements may share the text, as schema scripts do).
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.Conn.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	for retry := true; ; retry = false {
		st, err := c.stmt(ctx, query)
		if err != nil {
			return nil, err
		}
		res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
		if err != nil && c.stale(query, err) && retry {
			continue
		}
		return res, err
	}
}

// QueryContext is ExecContext for statements that return rows, except
// that a query without arguments is prepared and cached too (it is read
// with lib/pq's binary formats, as raw prepared statements are), unless
// the server refuses to prepare it (several statements in one text):
// that text then runs by the simple protocol from then on.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 && c.simple[query] {
		return c.Conn.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	for retry := true; ; retry = false {
		st, err := c.stmt(ctx, query)
		if err != nil && len(args) == 0 && SQLState(err) == "42601" && len(c.simple) < c.size {
			if c.simple == nil {
				c.simple = make(map[string]bool)
			}
			c.simple[query] = true // "cannot insert multiple commands into a prepared statement"
			return c.Conn.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
		}
		if err != nil {
			return nil, err
		}
		rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil && c.stale(query, err) && retry {
			continue
		}
		return rows, err
	}
}

// stmt returns the statement prepared for query on this connection,
// preparing it on first use and closing the least recently used one when
// the cache is full.
func (c *cachingConn) stmt(ctx context.Context, query string) (driver.Stmt, error) {
	c.tick++
	if cs, ok := c.stmts[query]; ok {
		cs.lastUse = c.tick
		return cs.stmt, nil
	}
	st, err := c.Conn.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*cachedStmt)
	}
	if len(c.stmts) >= c.size {
		var oldest string
		var at uint64 = ^uint64(0)
		for q, cs := range c.stmts {
			if cs.lastUse < at {
				oldest, at = q, cs.lastUse
			}
		}
		if err := c.stmts[oldest].stmt.Close(); err != nil {
			_ = st.Close()
			return nil, err
		}
		delete(c.stmts, oldest)
	}
	c.stmts[query] = &cachedStmt{stmt: st, lastUse: c.tick}
	return st, nil
}

// stale drops query's statement when err says the server no longer runs
// it as prepared: a schema change altered its result columns (0A000,
// "cached plan must not change result type") or the statement is gone
// (26000, after DISCARD ALL or DEALLOCATE). It reports whether running
// the query again can succeed at once: outside a transaction (inside
// one, the failed statement has aborted it).
func (c *cachingConn) stale(query string, err error) bool {
	code := SQLState(err)
	if code != "0A000" && code != "26000" {
		return false
	}
	if cs, ok := c.stmts[query]; ok {
		delete(c.stmts, query)
		if code != "26000" {
			_ = cs.stmt.Close()
		}
	}
	return !c.inTx
}
