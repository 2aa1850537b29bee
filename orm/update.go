package orm

import (
	"context"
	"slices"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

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
