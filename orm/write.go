package orm

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/plasma-go/plasma/tabledef"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
)

// Returning is the RETURNING clause of a write.
type Returning struct {
	Columns []expr.Expr // the returned expressions; with All, ignored
	All     bool        // every column of the table
}

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

func tableName(t *Table) string {
	if t == nil {
		return "(no table)"
	}
	return t.name
}

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
	var slab []any // the added rows' values share one allocation
	if q.parts.Rows == nil && len(rows) == 1 {
		q.parts.Rows = q.row1[:0:1]
	}
	q.parts.Rows = slices.Grow(q.parts.Rows, len(rows))
	for i, r := range rows {
		if q.err = q.addRow(r, &slab, len(rows)-i); q.err != nil {
			return q
		}
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
	if len(p.Rows) == 0 {
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
	b.Args = slices.Grow(b.Args, len(p.Rows)*len(p.Columns)) // one allocation for the arguments, at most
	b.WriteString("INSERT INTO ")
	b.Ident(p.Table.name)
	b.WriteString(" (")
	for i, c := range p.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Ident(c)
	}
	b.WriteString(") VALUES ")
	var tmpl []byte // the first row's "(?, ?, ...)", when every row's reads the same
	for i, row := range p.Rows {
		if i > 0 {
			b.WriteString(", ")
		}
		if tmpl != nil && len(row) == len(p.Rows[0]) {
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
		if i == 0 && len(p.Rows) > 1 && b.PlaceholdersRepeat() {
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
	if q.err != nil || p.Table == nil || len(p.Rows) == 0 || p.OnConflict != nil || q.HasReturning() ||
		len(b.Buf) != 0 || len(b.Args) != 0 {
		return false
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
	if !q.plain(b) {
		return "", false
	}
	text, ok := c.insertText(p.Table, p.Columns, len(p.Rows))
	if !ok {
		return "", false
	}
	b.Args = slices.Grow(b.Args, len(p.Rows)*len(p.Columns))
	for _, row := range p.Rows {
		b.Args = append(b.Args, row...)
	}
	return text, true
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

// UpdateParts are the clauses of an UPDATE, as UpdateQuery.Parts copies
// them and UpdateQuery.Rewrite hands them to a middleware to edit.
type UpdateParts struct {
	Table     *Table
	Set       []Assignment
	Where     []expr.Expr
	AllRows   bool
	Returning Returning
}

// Assignment is one SET column = value; Value is a bound value or an
// expr.Expr rendered in place (such as expr.SQL("? + 1", col)).
type Assignment struct {
	Column string
	Value  any
}

// UpdateQuery is an UPDATE statement. Without Where it is refused unless
// AllRows says every row is meant.
type UpdateQuery struct {
	db    *DB
	parts UpdateParts
	err   error
	// setBuf and whereBuf back parts.Set and parts.Where while they are
	// small, so that a typical update allocates neither.
	setBuf   [4]Assignment
	whereBuf [1]expr.Expr
}

// Update starts an UPDATE of t that is not bound to a database.
func Update(t *Table) *UpdateQuery { return &UpdateQuery{parts: UpdateParts{Table: t}} }

// Update starts an UPDATE of t on db.
func (db *DB) Update(t *Table) *UpdateQuery {
	q := Update(t)
	q.db = db
	return q
}

func (q *UpdateQuery) name() string { return "UPDATE " + tableName(q.parts.Table) }

// Set assigns columns; values are checked against the columns' kinds. A
// value that is an expr.Expr is rendered as SQL (a column, expr.SQL ...).
//
// v is a Row, or a struct (or pointer to one) whose fields map to columns
// as InsertQuery.Model says: every mapped field except the primary key's
// is assigned, in the table's declaration order, just as a Row holding
// each field's value would be (the primary key identifies the row, which
// Where picks; a Row may still assign it). A field that matches no
// column, a nil pointer or a value of another type is an error, and
// nothing is written.
func (q *UpdateQuery) Set(v any) *UpdateQuery {
	if q.err != nil {
		return q
	}
	if q.parts.Table == nil {
		q.err = &QueryError{Statement: q.name(), Err: ErrNoTable}
		return q
	}
	r, ok := v.(Row)
	if !ok {
		if m, isMap := v.(map[string]any); isMap {
			r = m
		} else {
			q.err = q.setModel(v)
			return q
		}
	}
	t := q.parts.Table
	if q.parts.Set == nil {
		q.parts.Set = q.setBuf[:0:len(q.setBuf)]
	}
	found := 0
	for i := range t.columns { // in declaration order
		c := &t.columns[i]
		v, ok := r[c.def.Name]
		if !ok {
			continue
		}
		found++
		if _, isExpr := v.(expr.Expr); !isExpr {
			var err error
			if v, err = bindDef("", t, c, v); err != nil {
				q.err = inStatement(err, q.name()) // named only on error
				return q
			}
		}
		q.parts.Set = append(q.parts.Set, Assignment{Column: c.def.Name, Value: v})
	}
	if found != len(r) {
		_, err := rowColumns(q.name(), t, r) // names the unknown column
		q.err = err
	}
	return q
}

// Where adds predicates, ANDed.
func (q *UpdateQuery) Where(preds ...expr.Expr) *UpdateQuery {
	if q.parts.Where == nil {
		q.parts.Where = q.whereBuf[:0:len(q.whereBuf)]
	}
	q.parts.Where = append(q.parts.Where, preds...)
	return q
}

// AllRows says the update is meant for every row of the table.
func (q *UpdateQuery) AllRows() *UpdateQuery { q.parts.AllRows = true; return q }

// Returning makes the update return the given expressions of each changed
// row; with none, every column.
func (q *UpdateQuery) Returning(cols ...expr.Expr) *UpdateQuery {
	q.parts.Returning = Returning{Columns: cols, All: len(cols) == 0}
	return q
}

// HasReturning reports whether the update has a RETURNING clause (Returner).
func (q *UpdateQuery) HasReturning() bool {
	return q.parts.Returning.All || len(q.parts.Returning.Columns) > 0
}

// ResultKinds gives the kind of each RETURNING column (ResultKinder).
func (q *UpdateQuery) ResultKinds() []tabledef.Kind {
	return returningKinds(q.parts.Table, q.parts.Returning)
}

// Exec runs the update and returns the number of rows changed.
func (q *UpdateQuery) Exec(ctx context.Context) (int64, error) {
	return execWrite(ctx, q.db, OpUpdate, q.parts.Table, q)
}

// Rows runs the update and returns its RETURNING rows.
func (q *UpdateQuery) Rows(ctx context.Context) (*Result, error) {
	if q.db == nil {
		return nil, errNoDB(q.name())
	}
	return q.db.run(ctx, &Statement{Op: OpUpdate, Table: q.parts.Table, Query: q})
}

// ToSql renders the update with '?' placeholders (squirrel.Sqlizer).
func (q *UpdateQuery) ToSql() (string, []any, error) { return toSQL(q) }

// Render renders the update for a dialect.
func (q *UpdateQuery) Render(d dialect.Dialect) (string, []any, error) { return render(d, q) }

// Clone returns an independent copy of q.
func (q *UpdateQuery) Clone() *UpdateQuery {
	c := *q
	c.parts.Set = slices.Clone(q.parts.Set)
	c.parts.Where = slices.Clone(q.parts.Where)
	c.parts.Returning.Columns = slices.Clone(q.parts.Returning.Columns)
	return &c
}

// AppendSQL validates and renders the update (dialect.Appender).
func (q *UpdateQuery) AppendSQL(b *dialect.Builder) error {
	p := &q.parts
	s, err := writeScope("UPDATE ", p.Table, q.err, p.Where, p.AllRows, b)
	if err != nil {
		return err
	}
	defer s.releaseWrite()
	if len(p.Set) == 0 {
		return &QueryError{Statement: q.name(), Err: ErrNoValues, Detail: "no SET"}
	}
	for _, a := range p.Set {
		if e, ok := a.Value.(expr.Expr); ok {
			if err := s.walk(e); err != nil {
				return err
			}
		}
	}
	if err := checkReturning("", p.Table, p.Returning); err != nil {
		return inStatement(err, q.name())
	}
	saved := b.Check
	b.Check = withOuter(s) // for a correlated subquery; s checked the rest
	defer func() { b.Check = saved }()
	b.WriteString("UPDATE ")
	b.Ident(p.Table.name)
	b.WriteString(" SET ")
	for i, a := range p.Set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Ident(a.Column)
		b.WriteString(" = ")
		if e, ok := a.Value.(expr.Expr); ok {
			if err := b.Expr(e); err != nil {
				return err
			}
		} else {
			b.Bind(a.Value)
		}
	}
	if err := appendWhere(b, " WHERE ", p.Where); err != nil {
		return err
	}
	return appendReturning(b, p.Table, p.Returning)
}

// DeleteParts are the clauses of a DELETE, as DeleteQuery.Parts copies
// them and DeleteQuery.Rewrite hands them to a middleware to edit.
type DeleteParts struct {
	Table     *Table
	Where     []expr.Expr
	AllRows   bool
	Returning Returning
}

// DeleteQuery is a DELETE statement. Without Where it is refused unless
// AllRows says every row is meant.
type DeleteQuery struct {
	db    *DB
	parts DeleteParts
}

// Delete starts a DELETE from t that is not bound to a database.
func Delete(t *Table) *DeleteQuery { return &DeleteQuery{parts: DeleteParts{Table: t}} }

// Delete starts a DELETE from t on db.
func (db *DB) Delete(t *Table) *DeleteQuery {
	q := Delete(t)
	q.db = db
	return q
}

func (q *DeleteQuery) name() string { return "DELETE FROM " + tableName(q.parts.Table) }

// Where adds predicates, ANDed.
func (q *DeleteQuery) Where(preds ...expr.Expr) *DeleteQuery {
	q.parts.Where = append(q.parts.Where, preds...)
	return q
}

// AllRows says the delete is meant for every row of the table.
func (q *DeleteQuery) AllRows() *DeleteQuery { q.parts.AllRows = true; return q }

// Returning makes the delete return the given expressions of each deleted
// row; with none, every column.
func (q *DeleteQuery) Returning(cols ...expr.Expr) *DeleteQuery {
	q.parts.Returning = Returning{Columns: cols, All: len(cols) == 0}
	return q
}

// HasReturning reports whether the delete has a RETURNING clause (Returner).
func (q *DeleteQuery) HasReturning() bool {
	return q.parts.Returning.All || len(q.parts.Returning.Columns) > 0
}

// ResultKinds gives the kind of each RETURNING column (ResultKinder).
func (q *DeleteQuery) ResultKinds() []tabledef.Kind {
	return returningKinds(q.parts.Table, q.parts.Returning)
}

// Exec runs the delete and returns the number of rows removed.
func (q *DeleteQuery) Exec(ctx context.Context) (int64, error) {
	return execWrite(ctx, q.db, OpDelete, q.parts.Table, q)
}

// Rows runs the delete and returns its RETURNING rows.
func (q *DeleteQuery) Rows(ctx context.Context) (*Result, error) {
	if q.db == nil {
		return nil, errNoDB(q.name())
	}
	return q.db.run(ctx, &Statement{Op: OpDelete, Table: q.parts.Table, Query: q})
}

// ToSql renders the delete with '?' placeholders (squirrel.Sqlizer).
func (q *DeleteQuery) ToSql() (string, []any, error) { return toSQL(q) }

// Render renders the delete for a dialect.
func (q *DeleteQuery) Render(d dialect.Dialect) (string, []any, error) { return render(d, q) }

// Clone returns an independent copy of q.
func (q *DeleteQuery) Clone() *DeleteQuery {
	c := *q
	c.parts.Where = slices.Clone(q.parts.Where)
	c.parts.Returning.Columns = slices.Clone(q.parts.Returning.Columns)
	return &c
}

// AppendSQL validates and renders the delete (dialect.Appender).
func (q *DeleteQuery) AppendSQL(b *dialect.Builder) error {
	p := &q.parts
	s, err := writeScope("DELETE FROM ", p.Table, nil, p.Where, p.AllRows, b)
	if err != nil {
		return err
	}
	defer s.releaseWrite()
	if err := checkReturning("", p.Table, p.Returning); err != nil {
		return inStatement(err, q.name())
	}
	saved := b.Check
	b.Check = withOuter(s) // for a correlated subquery; s checked the rest
	defer func() { b.Check = saved }()
	b.WriteString("DELETE FROM ")
	b.Ident(p.Table.name)
	if err := appendWhere(b, " WHERE ", p.Where); err != nil {
		return err
	}
	return appendReturning(b, p.Table, p.Returning)
}

// writeScope validates what UPDATE and DELETE share: a table, a WHERE
// (or AllRows) whose columns resolve, and no earlier builder error.
//
// op is "UPDATE " or "DELETE FROM ": the statement's name, op and the
// table's, is built only for an error. The scope comes from a pool; the
// caller releases it (releaseWrite) once rendering ends.
func writeScope(op string, t *Table, err error, where []expr.Expr, all bool, b *dialect.Builder) (*scope, error) {
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, &QueryError{Statement: op + tableName(t), Err: ErrNoTable}
	}
	if t.alias != "" {
		return nil, &QueryError{Statement: op + t.name, Err: ErrDuplicateAlias, Detail: "writes take the table itself, not an alias"}
	}
	if len(where) == 0 && !all {
		return nil, &QueryError{Statement: op + t.name, Err: ErrUnsafeWrite}
	}
	s := writeScopeFor(op, t, enclosing(b))
	for _, w := range where {
		if err := s.walk(w); err != nil {
			s.releaseWrite()
			return nil, err
		}
	}
	return s, nil
}

func checkReturning(stmt string, t *Table, r Returning) error {
	if r.All || len(r.Columns) == 0 {
		return nil
	}
	s := &scope{stmt: stmt, sources: []source{{alias: t.name, table: t}}}
	for _, e := range r.Columns {
		if err := s.walk(e); err != nil {
			return err
		}
	}
	return nil
}

func appendReturning(b *dialect.Builder, t *Table, r Returning) error {
	switch {
	case r.All:
		b.WriteString(" RETURNING ")
		appendTableColumns(b, t.name, t.columns)
	case len(r.Columns) > 0:
		b.WriteString(" RETURNING ")
		return appendList(b, r.Columns)
	}
	return nil
}

func returningKinds(t *Table, r Returning) []tabledef.Kind {
	if t == nil {
		return nil
	}
	if r.All {
		_, kinds := tableOutputs(t)
		return kinds
	}
	s := &scope{sources: []source{{alias: t.name, table: t}}}
	kinds := make([]tabledef.Kind, len(r.Columns))
	for i, c := range r.Columns {
		_, kinds[i] = output(s, c)
	}
	return kinds
}

// execWrite runs a write through db's chain and returns the rows affected.
// writeQuery is an INSERT, UPDATE or DELETE; name names it in errors.
type writeQuery interface {
	dialect.Appender
	name() string
}

func execWrite(ctx context.Context, db *DB, op Op, t *Table, q writeQuery) (int64, error) {
	if db == nil {
		return 0, errNoDB(q.name())
	}
	res, err := db.run(ctx, &Statement{Op: op, Table: t, Query: q})
	if err != nil {
		return 0, err
	}
	if res.Rows == nil {
		return res.RowsAffected, nil
	}
	// A write with RETURNING run through Exec: count and drop the rows.
	defer res.Rows.Close()
	var n int64
	for res.Rows.Next() {
		n++
	}
	return n, res.Rows.Err()
}
