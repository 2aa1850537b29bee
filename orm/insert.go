package orm

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

// OnConflict is an upsert's ON CONFLICT clause.
type OnConflict struct {
	Target    []string // the unique or primary-key columns that conflict
	DoNothing bool
	Update    []string // columns set from the proposed row (excluded.col)
}

// InsertParts are the clauses of an INSERT, as InsertQuery.Parts copies
// them and InsertQuery.Rewrite hands them to a middleware to edit.
type InsertParts struct {
	Table      *Table
	Columns    []string // in the table's declaration order
	Rows       [][]any  // one bound value per column, per row
	OnConflict *OnConflict
	Returning  Returning
}

// InsertQuery is an INSERT statement: one row, several rows, or an
// upsert. Values are checked against their columns' kinds as they are
// added; any problem is reported when the statement runs or renders.
type InsertQuery struct {
	db    *DB
	parts InsertParts
	err   error
	row1  [1][]any // backs parts.Rows for a one-row insert
	// flat is the array the rows were carved from, in order, when one
	// call to Values or Model added them all: the statement's arguments
	// as they are, which execute hands to database/sql without copying
	// them while the rows are still the runs of it they were made as
	// (flatArgs).
	flat []any
	lazy *lazyRows // rows Model added and has not made yet (see rows)
}

// Insert starts an INSERT into t that is not bound to a database.
func Insert(t *Table) *InsertQuery { return &InsertQuery{parts: InsertParts{Table: t}} }

// Insert starts an INSERT into t on db.
func (db *DB) Insert(t *Table) *InsertQuery {
	q := Insert(t)
	q.db = db
	return q
}

func (q *InsertQuery) name() string { return "INSERT INTO " + tableName(q.parts.Table) }

// Values adds rows. Every row must name the same columns; a column left
// out takes its default. Model adds rows from structs.
func (q *InsertQuery) Values(rows ...Row) *InsertQuery {
	if q.err != nil {
		return q
	}
	if q.parts.Table == nil {
		q.err = &QueryError{Statement: q.name(), Err: ErrNoTable}
		return q
	}
	q.unlazy()
	var slab []any // the added rows' values share one allocation
	fresh := len(q.parts.Rows) == 0
	if q.parts.Rows == nil && len(rows) == 1 {
		q.parts.Rows = q.row1[:0:1]
	}
	q.parts.Rows = slices.Grow(q.parts.Rows, len(rows))
	for i, r := range rows {
		if q.err = q.addRow(r, &slab, len(rows)-i); q.err != nil {
			return q
		}
	}
	q.flat = nil
	if fresh {
		q.flat = slab // the first carve made room for every row
	}
	return q
}

// carve takes n values from *slab, refilling it with room for left rows
// of n when it runs out.
func carve(slab *[]any, n, left int) []any {
	if cap(*slab)-len(*slab) < n {
		*slab = make([]any, 0, n*left)
	}
	s := *slab
	l := len(s)
	*slab = s[:l+n]
	return s[l : l+n : l+n]
}

func (q *InsertQuery) addRow(r Row, slab *[]any, left int) error {
	p := &q.parts
	if len(r) == 0 {
		return &QueryError{Statement: q.name(), Err: ErrNoValues, Detail: "an empty row"}
	}
	if p.Columns == nil {
		cols, err := rowColumns("", p.Table, r)
		if err != nil {
			return inStatement(err, q.name())
		}
		p.Columns = cols
	} else if len(r) != len(p.Columns) {
		return &QueryError{Statement: q.name(), Err: ErrRaggedRows,
			Detail: fmt.Sprintf("row %d has %d columns, the first has %d", len(p.Rows)+1, len(r), len(p.Columns))}
	}
	vals := carve(slab, len(p.Columns), left)
	decl := p.Table.columns
	next := 0 // p.Columns is in declaration order: find each after the last
	for i, name := range p.Columns {
		v, ok := r[name]
		if !ok {
			return &QueryError{Statement: q.name(), Column: p.Table.name + "." + name, Err: ErrRaggedRows,
				Detail: fmt.Sprintf("row %d leaves it out", len(p.Rows)+1)}
		}
		for next < len(decl) && decl[next].def.Name != name {
			next++
		}
		var bound any
		var err error
		if next < len(decl) {
			bound, err = bindDef("", p.Table, &decl[next], v)
		} else {
			bound, err = bindColumn("", p.Table, name, v) // out of order: look it up
			next = 0
		}
		if err != nil {
			return inStatement(err, q.name()) // named only on error: no allocation per value
		}
		vals[i] = bound
	}
	p.Rows = append(p.Rows, vals)
	return nil
}

// rowColumns lists r's keys in t's declaration order, refusing any key t
// does not have.
func rowColumns(stmt string, t *Table, r Row) ([]string, error) {
	cols := make([]string, 0, len(r))
	for _, c := range t.columns {
		if _, ok := r[c.def.Name]; ok {
			cols = append(cols, c.def.Name)
		}
	}
	if len(cols) != len(r) {
		var unknown []string
		for k := range r {
			if _, ok := t.Column(k); !ok {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		return nil, &QueryError{Statement: stmt, Column: t.name + "." + unknown[0], Err: ErrUnknownColumn}
	}
	return cols, nil
}

// bindColumn checks v against column name of t and returns what to bind.
func bindColumn(stmt string, t *Table, name string, v any) (any, error) {
	c, ok := t.Column(name)
	if !ok {
		return nil, &QueryError{Statement: stmt, Column: t.name + "." + name, Err: ErrUnknownColumn}
	}
	return bindDef(stmt, t, &c, v)
}

// bindDef checks v against c, a column of t, and returns what to bind.
func bindDef(stmt string, t *Table, c *Column, v any) (any, error) {
	name := c.def.Name
	bound, err := bindValue(c.def.Kind, c.def.Encrypted, v)
	if err != nil {
		return nil, &QueryError{Statement: stmt, Column: t.name + "." + name, Err: ErrValueKind, Detail: err.Error()}
	}
	if bound == nil && !c.def.Nullable {
		return nil, &QueryError{Statement: stmt, Column: t.name + "." + name, Err: ErrNotNullViolation}
	}
	return bound, nil
}

// OnConflictDoNothing makes the insert skip rows that conflict on target
// (any unique constraint when target is empty).
func (q *InsertQuery) OnConflictDoNothing(target ...string) *InsertQuery {
	q.parts.OnConflict = &OnConflict{Target: target, DoNothing: true}
	return q
}

// OnConflictDoUpdate makes the insert an upsert: a row that conflicts on
// target updates the existing row's columns cols from the proposed row.
// With no cols, every inserted column outside target is updated.
func (q *InsertQuery) OnConflictDoUpdate(target []string, cols ...string) *InsertQuery {
	q.parts.OnConflict = &OnConflict{Target: target, Update: cols}
	return q
}

// Returning makes the insert return the given expressions of each
// inserted row; with none, every column.
func (q *InsertQuery) Returning(cols ...expr.Expr) *InsertQuery {
	q.parts.Returning = Returning{Columns: cols, All: len(cols) == 0}
	return q
}

// HasReturning reports whether the insert has a RETURNING clause (Returner).
func (q *InsertQuery) HasReturning() bool {
	return q.parts.Returning.All || len(q.parts.Returning.Columns) > 0
}

// ResultKinds gives the kind of each RETURNING column (ResultKinder).
func (q *InsertQuery) ResultKinds() []tabledef.Kind {
	return returningKinds(q.parts.Table, q.parts.Returning)
}

// Exec runs the insert and returns the number of rows written.
func (q *InsertQuery) Exec(ctx context.Context) (int64, error) {
	return execWrite(ctx, q.db, OpInsert, q.parts.Table, q)
}

// Rows runs the insert and returns its RETURNING rows.
func (q *InsertQuery) Rows(ctx context.Context) (*Result, error) {
	if q.db == nil {
		return nil, errNoDB(q.name())
	}
	return q.db.run(ctx, &Statement{Op: OpInsert, Table: q.parts.Table, Query: q})
}

// ToSql renders the insert with '?' placeholders (squirrel.Sqlizer).
func (q *InsertQuery) ToSql() (string, []any, error) { return toSQL(q) }

// Render renders the insert for a dialect.
func (q *InsertQuery) Render(d dialect.Dialect) (string, []any, error) { return render(d, q) }

// Clone returns an independent copy of q.
func (q *InsertQuery) Clone() *InsertQuery {
	c := *q
	c.parts.Columns = slices.Clone(q.parts.Columns)
	c.parts.Rows = slices.Clone(q.parts.Rows)
	if q.parts.OnConflict != nil {
		oc := *q.parts.OnConflict
		c.parts.OnConflict = &oc
	}
	c.parts.Returning.Columns = slices.Clone(q.parts.Returning.Columns)
	return &c
}

func (q *InsertQuery) check() error {
	p := &q.parts
	if q.err != nil {
		return q.err
	}
	if p.Table == nil {
		return &QueryError{Statement: q.name(), Err: ErrNoTable}
	}
	if q.rowCount() == 0 {
		return &QueryError{Statement: q.name(), Err: ErrNoValues}
	}
	if oc := p.OnConflict; oc != nil {
		for _, n := range append(slices.Clone(oc.Target), oc.Update...) {
			if _, ok := p.Table.Column(n); !ok {
				return &QueryError{Statement: q.name(), Column: p.Table.name + "." + n, Err: ErrUnknownColumn, Detail: "in ON CONFLICT"}
			}
		}
		if !oc.DoNothing && len(oc.Target) == 0 {
			return &QueryError{Statement: q.name(), Err: ErrNoValues, Detail: "an upsert needs its conflict target"}
		}
	}
	if err := checkReturning("", p.Table, p.Returning); err != nil {
		return inStatement(err, q.name())
	}
	return nil
}

// AppendSQL validates and renders the insert (dialect.Appender).
func (q *InsertQuery) AppendSQL(b *dialect.Builder) error {
	if err := q.check(); err != nil {
		return err
	}
	p := &q.parts
	rows := q.rows()
	b.Args = slices.Grow(b.Args, len(rows)*len(p.Columns)) // one allocation for the arguments, at most
	q.appendHead(b)
	b.WriteString(" VALUES ")
	var tmpl []byte // the first row's "(?, ?, ...)", when every row's reads the same
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		if tmpl != nil && len(row) == len(rows[0]) {
			b.Write(tmpl)
			b.Args = append(b.Args, row...)
			continue
		}
		start := len(b.Buf)
		b.WriteString("(")
		for j, v := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			b.Bind(v)
		}
		b.WriteString(")")
		if i == 0 && len(rows) > 1 && b.PlaceholdersRepeat() {
			// Buf may move as it grows; the bytes stay valid where they are.
			tmpl = b.Buf[start:len(b.Buf):len(b.Buf)]
		}
	}
	q.appendConflict(b)
	return appendReturning(b, p.Table, p.Returning)
}

// plain reports whether q renders to a text that depends only on its
// table, columns and number of rows (see textCache.insertText): a valid
// INSERT without ON CONFLICT or RETURNING whose rows each have a value
// per column, rendered on its own into b (placeholders numbered from 1).
func (q *InsertQuery) plain(b *dialect.Builder) bool {
	p := &q.parts
	if q.err != nil || p.Table == nil || q.rowCount() == 0 || p.OnConflict != nil || q.HasReturning() ||
		len(b.Buf) != 0 || len(b.Args) != 0 {
		return false
	}
	if q.lazy != nil {
		return true // a value per column, the plan's
	}
	for _, row := range p.Rows {
		if len(row) != len(p.Columns) {
			return false
		}
	}
	return true
}

// appendCached appends q's arguments to b and returns its text when c has
// the text of an INSERT of q's shape (textCache.insertText); else it
// leaves b as it was and returns false, for AppendSQL to render it.
func (q *InsertQuery) appendCached(b *dialect.Builder, c *textCache) (string, bool) {
	p := &q.parts
	text, ok := q.cachedText(b, c)
	if !ok {
		return "", false
	}
	if q.lazy != nil {
		b.Args = q.lazy.appendTo(b.Args)
		return text, true
	}
	b.Args = slices.Grow(b.Args, len(p.Rows)*len(p.Columns))
	for _, row := range p.Rows {
		b.Args = append(b.Args, row...)
	}
	return text, true
}

// cachedText returns q's text when q is plain (rendered into b, which
// must be empty) and c has the text of an INSERT of its shape.
func (q *InsertQuery) cachedText(b *dialect.Builder, c *textCache) (string, bool) {
	p := &q.parts
	if !q.plain(b) {
		return "", false
	}
	return c.insertText(p.Table, p.Columns, q.rowCount())
}

// flatArgs returns q's arguments without copying them when its rows are
// still the consecutive runs of q.flat that Values or Model made them
// (a middleware that replaced a row, or a second call adding rows, makes
// the caller copy them).
func (q *InsertQuery) flatArgs() ([]any, bool) {
	p := &q.parts
	n := len(p.Columns)
	if q.lazy != nil || n == 0 || len(q.flat) != n*len(p.Rows) {
		return nil, false
	}
	for i, row := range p.Rows {
		if len(row) != n || &row[0] != &q.flat[i*n] {
			return nil, false
		}
	}
	return q.flat, true
}

func (q *InsertQuery) appendConflict(b *dialect.Builder) {
	oc := q.parts.OnConflict
	if oc == nil {
		return
	}
	b.WriteString(" ON CONFLICT")
	if len(oc.Target) > 0 {
		b.WriteString(" (")
		for i, c := range oc.Target {
			if i > 0 {
				b.WriteString(", ")
			}
			b.Ident(c)
		}
		b.WriteString(")")
	}
	update := oc.Update
	if !oc.DoNothing && len(update) == 0 {
		for _, c := range q.parts.Columns {
			if !slices.Contains(oc.Target, c) {
				update = append(update, c)
			}
		}
	}
	if oc.DoNothing || len(update) == 0 {
		b.WriteString(" DO NOTHING")
		return
	}
	b.WriteString(" DO UPDATE SET ")
	for i, c := range update {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Ident(c)
		b.WriteString(" = excluded.")
		b.Ident(c)
	}
}

// appendHead writes "INSERT INTO t (columns)", which the VALUES and the
// unnest forms share.
func (q *InsertQuery) appendHead(b *dialect.Builder) {
	b.WriteString("INSERT INTO ")
	b.Ident(q.parts.Table.name)
	b.WriteString(" (")
	for i, c := range q.parts.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Ident(c)
	}
	b.WriteString(")")
}
