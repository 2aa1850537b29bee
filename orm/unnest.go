package orm

import (
	"context"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// UnnestMinRows is the fewest rows a multi-row INSERT must have to be
// sent as INSERT INTO t (cols) SELECT unnest($1::type[]), unnest($2...),
// one array parameter per column, where the dialect and driver can bind
// arrays (dialect.ArrayInserter): PostgreSQL on lib/pq or pgx.
//
// The server then binds one array per column instead of one parameter
// per value, and the statement's text, and so the plan the connection
// keeps prepared for it, is the same whatever the number of rows. The
// unnests stand in the select list, where PostgreSQL runs them in step
// (arrays of one length give one row per element, in order) by a
// ProjectSet node; in FROM (SELECT * FROM unnest($1, $2, ...)) a
// function scan first copies every row into a tuplestore, which measured
// 5-10% slower at 100 rows.
// Measured side by side against the VALUES form on its prepared
// statement (BenchmarkPostgresPaired, BenchmarkPostgresInsertForms in
// bench/), see bench/testdata/postgres_insertmulti.txt.
const UnnestMinRows = 10

// unnestShape is the row count textCache files an unnest INSERT's text
// under: its text does not depend on the number of rows.
const unnestShape = -1

// unnests reports whether q may run as an unnest INSERT, rendered on its
// own into b (which must be empty): a valid INSERT of UnnestMinRows rows
// or more without RETURNING. RETURNING is left to VALUES, whose rows the
// callers (the change log, row auth) read back in the order given.
func (q *InsertQuery) unnests(b *dialect.Builder) bool {
	return q.unnestShaped() && len(b.Buf) == 0 && len(b.Args) == 0 && q.check() == nil
}

// unnestShaped reports whether q has the shape of an unnest INSERT:
// UnnestMinRows rows or more, no RETURNING.
func (q *InsertQuery) unnestShaped() bool {
	return q.rowCount() >= UnnestMinRows && !q.HasReturning()
}

// appendUnnest binds q's values as one array per column with db's array
// binder and renders the unnest INSERT into b, returning its text. It
// returns false, leaving b's arguments empty, when a column's kind or a
// value is not one the binder encodes exactly (the insert then runs as
// VALUES).
func (q *InsertQuery) appendUnnest(b *dialect.Builder, db *DB) (string, bool) {
	p := &q.parts
	n, ncols := q.rowCount(), len(p.Columns)
	// The values, row after row: the rows' own array when they are still
	// runs of it, else copied into b.Args, which the arrays then replace.
	vals, ok := q.flatArgs()
	if !ok {
		if q.lazy != nil {
			b.Args = q.lazy.appendTo(b.Args)
		} else {
			for _, row := range p.Rows {
				if len(row) != ncols {
					return "", false
				}
				b.Args = append(b.Args, row...)
			}
		}
		vals = b.Args
	}
	var arrays [16]any // most tables have fewer columns: no allocation
	args := arrays[:0]
	for i, name := range p.Columns {
		c, ok := p.Table.Column(name)
		if ok {
			var a any
			if a, ok = db.arrays.BindArray(&c.def, vals, i, ncols, n); ok {
				args = append(args, a)
			}
		}
		if !ok {
			clear(b.Args)
			b.Args = b.Args[:0]
			return "", false
		}
	}
	clear(b.Args)
	b.Args = append(b.Args[:0], args...)
	if p.OnConflict == nil {
		if text, ok := db.texts.insertText(p.Table, p.Columns, unnestShape); ok {
			return text, true
		}
	}
	b.Args = b.Args[:0]
	q.appendHead(b)
	b.WriteString(" SELECT ")
	for i, name := range p.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		c, _ := p.Table.Column(name)
		typ, ok := db.arrays.ArrayType(&c.def)
		if !ok {
			clear(b.Args)
			b.Args, b.Buf = b.Args[:0], b.Buf[:0]
			return "", false
		}
		b.WriteString("unnest(")
		b.Bind(args[i])
		b.WriteString("::")
		b.WriteString(typ)
		b.WriteString(")")
	}
	q.appendConflict(b)
	text := db.texts.intern(b.Buf)
	if p.OnConflict == nil {
		db.texts.keepInsert(p.Table, p.Columns, unnestShape, text)
	}
	return text, true
}

// checkArrayTable asks the database, once per table for db and the DBs
// made from it, whether t's columns have the types the array binder
// casts to (dialect.ArrayBinder.ColumnsMatch): a table plasma did not
// create may hold a uuid or a timestamp where plasma declares text. Until
// the answer is known, or when the question fails, t's inserts run as
// VALUES. A table not found yet (its inserts fail) is asked about again.
func (db *DB) checkArrayTable(ctx context.Context, t *Table) {
	if t == nil {
		return
	}
	if _, done := db.arrayTables.Load(t); done {
		return
	}
	cols := make([]*tabledef.Column, len(t.columns))
	for i := range t.columns {
		cols[i] = &t.columns[i].def
	}
	ok, err := db.arrays.ColumnsMatch(ctx, db.exec, t.name, cols)
	if err == nil {
		db.arrayTables.Store(t, ok)
	}
}

// arrayTableOK reports whether checkArrayTable found t's columns of the
// binder's types.
func (db *DB) arrayTableOK(t *Table) bool {
	v, _ := db.arrayTables.Load(t)
	ok, _ := v.(bool)
	return ok
}
