package orm

import (
	"context"
	"database/sql"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// Op is what a statement does.
type Op uint8

// The statement operations.
const (
	OpSelect Op = iota + 1
	OpInsert
	OpUpdate
	OpDelete
	OpDDL
	OpRaw // SQL text plasma cannot see into: it may read or write
)

var opNames = [...]string{OpSelect: "SELECT", OpInsert: "INSERT", OpUpdate: "UPDATE", OpDelete: "DELETE", OpDDL: "DDL", OpRaw: "RAW"}

// String returns the operation's name.
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "invalid"
}

// IsWrite reports whether the operation changes rows.
func (o Op) IsWrite() bool { return o == OpInsert || o == OpUpdate || o == OpDelete }

// Statement is one statement on its way through the middleware chain.
//
// For builder statements Query holds the builder (*SelectQuery,
// *InsertQuery, *UpdateQuery or *DeleteQuery): a middleware may inspect it
// or replace it with a changed copy, and it is rendered to SQL only by the
// last handler. DDL and raw statements carry SQL and Args instead.
type Statement struct {
	Op Op
	// Table is the statement's main table: FROM, INTO, UPDATE or DELETE
	// FROM. It is nil for raw SQL and subquery-only reads.
	Table *Table
	// Query is the builder, for builder statements.
	Query dialect.Appender
	// SQL and Args are the text of DDL and raw statements.
	SQL  string
	Args []any
	// ReturnsRows says a raw statement (OpRaw) is run as a query: DB.Query
	// sets it. Its text may still write, so a middleware guarding writes
	// must treat every OpRaw statement as a possible write.
	ReturnsRows bool
	// DB runs the statement. For a write inside a transaction it is the
	// transaction, so a middleware can add statements to it.
	DB *DB

	// res is the Result the last handler returns, kept in the statement
	// so that running one costs one allocation rather than two.
	res Result
}

// Result is what a statement returns.
type Result struct {
	// Rows holds the result set of a read or of a write with RETURNING.
	// The caller closes it.
	Rows Rows
	// Kinds gives the declared kind of each result column where known
	// (zero where not), so scanning decodes JSON and booleans the same way
	// on every engine.
	Kinds []tabledef.Kind
	// RowsAffected counts the rows a write without RETURNING changed.
	RowsAffected int64

	sizeHint int // rows to make room for when collecting, from a LIMIT
}

// Rows is a result set. *sql.Rows implements it; a middleware that must
// read the rows before the caller does (the change log reads RETURNING)
// can hand on a buffered copy (as plasma's own plugins do).
type Rows interface {
	Columns() ([]string, error)
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Handler runs a statement. The Result the last handler returns lives in
// the Statement it ran: a middleware that runs one Statement twice reads
// the first Result before the second run.
type Handler func(ctx context.Context, st *Statement) (*Result, error)

// Middleware wraps a Handler, in the shape of net/http middleware: it may
// inspect, rewrite or reject the statement before calling next, and look at
// or replace the result after.
type Middleware func(next Handler) Handler

// execute is the last handler: it renders the statement and runs it on
// the statement's executor.
func execute(ctx context.Context, st *Statement) (*Result, error) {
	text, args := st.SQL, st.Args
	var kinds []tabledef.Kind
	hint := 0
	rowsBack := st.Op == OpSelect || st.ReturnsRows || returns(st.Query)
	if q, ok := st.Query.(*InsertQuery); ok && st.DB.canCopy() && q.copies(st.DB.tx != nil) {
		return st.DB.copyInsert(ctx, st, q)
	}
	if q, ok := st.Query.(*InsertQuery); ok && st.DB.arrays != nil && q.unnestShaped() {
		st.DB.checkArrayTable(ctx, q.parts.Table)
	}
	if st.Query != nil {
		b := dialect.GetBuilder(st.DB.d)
		defer dialect.PutBuilder(b)
		var err error
		var ab *argsBuf
		if text, args, ab, err = renderArgs(st, b); ab != nil {
			defer func() { ab.s = b.Args; returnArgs(ab) }()
		}
		if err != nil {
			return nil, err
		}
		if rowsBack { // a write without RETURNING has no result columns
			if k, ok := st.Query.(ResultKinder); ok {
				kinds = k.ResultKinds()
			}
			if h, ok := st.Query.(RowsHinter); ok {
				hint = h.RowsHint()
			}
		}
	}
	if rowsBack {
		rows, err := st.DB.query(ctx, st.Op, text, args)
		if err != nil {
			return nil, &ExecError{Op: st.Op, SQL: text, Err: err}
		}
		st.res = Result{Rows: rows, Kinds: kinds, sizeHint: hint}
		return &st.res, nil
	}
	res, err := st.DB.execute(ctx, st.Op, text, args)
	if err != nil {
		return nil, &ExecError{Op: st.Op, SQL: text, Err: err}
	}
	n, _ := res.RowsAffected()
	st.res = Result{RowsAffected: n}
	return &st.res, nil
}

// renderArgs renders st.Query into b and returns its text and arguments.
//
// On database/sql's own executors, which convert the arguments into the
// driver's form and keep none, the arguments go in a pooled buffer, ab,
// which the caller takes back from b.Args and returns once the statement
// has run; a plain INSERT whose text is known hands on its rows' own
// array (InsertQuery.flatArgs) without copying them.
func renderArgs(st *Statement, b *dialect.Builder) (text string, args []any, ab *argsBuf, err error) {
	iq, _ := st.Query.(*InsertQuery)
	lend := st.DB.lendsArgs()
	if iq != nil && st.DB.arrays != nil && iq.unnests(b) && st.DB.arrayTableOK(iq.parts.Table) {
		if lend {
			ab = argsPool.Get().(*argsBuf)
			b.Args = ab.s[:0]
		}
		if text, ok := iq.appendUnnest(b, st.DB); ok {
			return text, b.Args, ab, nil
		}
		if ab != nil {
			ab.s = b.Args
			returnArgs(ab)
			ab = nil
		}
	}
	if iq != nil && lend {
		if t, ok := iq.cachedText(b, st.DB.texts); ok {
			if flat, ok := iq.flatArgs(); ok {
				return t, flat, nil, nil
			}
		}
	}
	if lend {
		ab = argsPool.Get().(*argsBuf)
		b.Args = ab.s[:0]
	}
	if iq != nil {
		if text, ok := iq.appendCached(b, st.DB.texts); ok {
			return text, b.Args, ab, nil
		}
	}
	plain := iq != nil && iq.plain(b)
	if err := st.Query.AppendSQL(b); err != nil {
		return "", nil, ab, err
	}
	text = st.DB.texts.intern(b.Buf)
	if plain {
		st.DB.texts.keepInsert(iq.parts.Table, iq.parts.Columns, iq.rowCount(), text)
	}
	return text, b.Args, ab, nil
}

// returns reports whether a write statement has a RETURNING clause.
func returns(q dialect.Appender) bool {
	r, ok := q.(Returner)
	return ok && r.HasReturning()
}

// The optional interfaces below are what the last handler asks of a
// Statement's Query besides rendering it. plasma's builders implement
// them; a middleware that replaces Query with an Appender of its own
// implements the ones that apply, or the statement runs without them
// (no kinds: values scan as the driver returns them; no hint; no
// RETURNING: a write runs as Exec and returns no rows).

// ResultKinder is implemented by a Query that knows the declared kind of
// each result column (zero where it does not), so that scanning decodes
// JSON and booleans the same way on every engine.
type ResultKinder interface {
	ResultKinds() []tabledef.Kind
}

// RowsHinter is implemented by a Query that can say how many rows to make
// room for when collecting its result (a modest LIMIT), or 0.
type RowsHinter interface {
	RowsHint() int
}

// Returner is implemented by a write Query that may have a RETURNING
// clause: HasReturning reports whether it does, and so whether the write
// is run as a query whose rows come back.
type Returner interface {
	HasReturning() bool
}

// run sends st through db's middleware chain.
func (db *DB) run(ctx context.Context, st *Statement) (*Result, error) {
	st.DB = db
	return db.chain(ctx, st)
}

var _ Rows = (*sql.Rows)(nil)
