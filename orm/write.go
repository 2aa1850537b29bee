package orm

import (
	"context"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

// Returning is the RETURNING clause of a write.
type Returning struct {
	Columns []expr.Expr // the returned expressions; with All, ignored
	All     bool        // every column of the table
}

func tableName(t *Table) string {
	if t == nil {
		return "(no table)"
	}
	return t.name
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
