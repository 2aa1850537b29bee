package synctest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// The statement kinds a Counter tells apart besides the first keyword of
// a statement's text (SELECT, INSERT, UPDATE, DELETE, SAVEPOINT, RELEASE,
// ...).
const (
	KindBegin    = "BEGIN"    // a transaction started
	KindCommit   = "COMMIT"   // a transaction committed
	KindRollback = "ROLLBACK" // a transaction rolled back (not ROLLBACK TO SAVEPOINT)
	KindNotify   = "NOTIFY"   // a NOTIFY, or a SELECT of pg_notify
)

// Counter counts the statements a pool sends to its database, by kind:
// every Exec and Query a connection runs (through a prepared statement or
// not), and every transaction's BEGIN, COMMIT and ROLLBACK. Preparing a
// statement is not counted; running it is. It is safe for concurrent use.
//
// Tests use it to assert how many statements a request costs, so that
// the number cannot creep back up unnoticed: Reset before the request,
// Counts after. Work running in the background while a request runs is
// counted too, so tests count requests with nothing else in flight.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.counts = nil
	c.mu.Unlock()
}

// Counts returns a copy of the counts by kind since the last Reset.
func (c *Counter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Total returns the number of statements counted since the last Reset.
func (c *Counter) Total() int {
	n := 0
	for _, v := range c.Counts() {
		n += v
	}
	return n
}

// String lists the counts, kinds sorted, with the total, as
// "total 7: BEGIN 1, COMMIT 1, INSERT 2, SELECT 2, UPDATE 1".
func (c *Counter) String() string {
	counts := c.Counts()
	kinds := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(kinds))
	total := 0
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
		total += counts[k]
	}
	return fmt.Sprintf("total %d: %s", total, strings.Join(parts, ", "))
}

func (c *Counter) add(kind string) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[kind]++
	c.mu.Unlock()
}

// StatementKind is the kind a Counter files a statement's text under: its
// first keyword in upper case, NOTIFY for a pg_notify call, and
// "ROLLBACK TO" for a rollback to a savepoint.
func StatementKind(query string) string {
	q := strings.TrimSpace(query)
	end := strings.IndexFunc(q, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '(' || r == ';' })
	if end < 0 {
		end = len(q)
	}
	kind := strings.ToUpper(q[:end])
	switch {
	case kind == "SELECT" && strings.Contains(q, "pg_notify("):
		return KindNotify
	case kind == "ROLLBACK" && len(q) > end && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(q[end:])), "TO"):
		return "ROLLBACK TO"
	case kind == "":
		return "EMPTY"
	}
	return kind
}

// CountStatements opens a pool on drv with dsn whose connections count
// their statements in the returned Counter. drv is the driver under an
// engine's usual pool (pool.Driver()); dsn is what that driver's Open
// takes. The pool is closed when the caller closes it.
func CountStatements(drv driver.Driver, dsn string) (*sql.DB, *Counter) {
	c := &Counter{}
	return sql.OpenDB(&countingConnector{drv: drv, dsn: dsn, c: c}), c
}

type countingConnector struct {
	drv driver.Driver
	dsn string
	c   *Counter
}

func (cc *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	var err error
	if dc, ok := cc.drv.(driver.DriverContext); ok {
		var inner driver.Connector
		if inner, err = dc.OpenConnector(cc.dsn); err != nil {
			return nil, err
		}
		conn, err = inner.Connect(ctx)
	} else {
		conn, err = cc.drv.Open(cc.dsn)
	}
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: cc.c}, nil
}

func (cc *countingConnector) Driver() driver.Driver { return cc.drv }

// countingConn forwards every optional interface database/sql uses to
// the driver's connection, counting what runs.
type countingConn struct {
	driver.Conn
	c *Counter
}

var (
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
)

func (cn *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	if b, ok := cn.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 the driver implements nothing newer
		tx, err = cn.Conn.Begin()
	}
	if err != nil {
		return nil, err
	}
	cn.c.add(KindBegin)
	return &countingTx{Tx: tx, c: cn.c}, nil
}

type countingTx struct {
	driver.Tx
	c *Counter
}

func (t *countingTx) Commit() error   { t.c.add(KindCommit); return t.Tx.Commit() }
func (t *countingTx) Rollback() error { t.c.add(KindRollback); return t.Tx.Rollback() }

func (cn *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := cn.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = cn.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, kind: StatementKind(query), c: cn.c}, nil
}

func (cn *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := cn.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	res, err := e.ExecContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		cn.c.add(StatementKind(query))
	}
	return res, err
}

func (cn *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := cn.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if !errors.Is(err, driver.ErrSkip) {
		cn.c.add(StatementKind(query))
	}
	return rows, err
}

func (cn *countingConn) Ping(ctx context.Context) error {
	if p, ok := cn.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (cn *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := cn.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (cn *countingConn) IsValid() bool {
	if v, ok := cn.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (cn *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := cn.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// countingStmt counts each run of a prepared statement.
type countingStmt struct {
	driver.Stmt
	kind string
	c    *Counter
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.add(s.kind)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	//lint:ignore SA1019 the driver implements nothing newer
	return s.Stmt.Exec(values(args))
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.add(s.kind)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	//lint:ignore SA1019 the driver implements nothing newer
	return s.Stmt.Query(values(args))
}

func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func values(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}
