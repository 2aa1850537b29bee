package orm

import (
	"context"
	"slices"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

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
