package orm

import (
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

// outputs names the columns the query returns, with their kinds where a
// column is projected as it is.
func (q *SelectQuery) outputs() ([]string, []tabledef.Kind) {
	p := &q.parts
	if len(q.columns()) == 0 {
		if p.From != nil {
			return tableOutputs(p.From)
		}
		if p.FromSub != nil {
			return p.FromSub.outputs()
		}
		return nil, nil
	}
	names := make([]string, len(q.columns()))
	kinds := make([]tabledef.Kind, len(q.columns()))
	s, err := q.scope(nil)
	if err != nil {
		s = &scope{}
	}
	for i, c := range q.columns() {
		names[i], kinds[i] = output(s, c)
	}
	s.release()
	return names, kinds
}

// output names a projected expression and gives its kind where it is a
// column, or MAX/MIN of one.
func output(s *scope, c expr.Expr) (string, tabledef.Kind) {
	switch n := c.(type) {
	case *expr.Column:
		r, _, _ := s.local(n)
		return n.Name, r.kind
	case *expr.Alias:
		_, k := output(s, n.X)
		return n.Name, k
	case *expr.Aggregate:
		switch n.Func {
		case expr.AggMax, expr.AggMin:
			_, k := output(s, n.X)
			return "", k
		case expr.AggCount:
			return "", tabledef.KindBigInt
		case expr.AggSum:
			// PostgreSQL sums a bigint as numeric (text to the driver),
			// SQLite as an integer: the kind makes both read as int64.
			if _, k := output(s, n.X); k == tabledef.KindInt || k == tabledef.KindBigInt {
				return "", tabledef.KindBigInt
			}
		case expr.AggAvg:
			// PostgreSQL averages integers as numeric, SQLite as REAL.
			return "", kindFloat
		}
	}
	return "", 0
}

// kindFloat is the kind of a result column that is a floating-point
// number, such as AVG: no column is declared with it, but it tells the
// scanner to read PostgreSQL's numeric text as a float64, as SQLite's REAL.
const kindFloat tabledef.Kind = 255

func tableOutputs(t *Table) ([]string, []tabledef.Kind) {
	names := make([]string, len(t.columns))
	kinds := make([]tabledef.Kind, len(t.columns))
	for i, c := range t.columns {
		names[i], kinds[i] = c.def.Name, storedKind(&c.def)
	}
	return names, kinds
}

// RowsHint is how many rows to make room for when collecting the
// result: the LIMIT, when there is a modest one (RowsHinter).
func (q *SelectQuery) RowsHint() int {
	if p := &q.parts; p.HasLimit && p.Limit > 0 && p.Limit <= maxRowsHint {
		return int(p.Limit)
	}
	return 0
}

// maxRowsHint bounds the room made for rows ahead of reading them.
const maxRowsHint = 1024

// ResultKinds gives the scanner each output column's kind, zero where
// an output is not a column projected as it is (ResultKinder).
func (q *SelectQuery) ResultKinds() []tabledef.Kind {
	if p := &q.parts; len(q.columns()) == 0 && p.From != nil && len(p.From.kinds) == len(p.From.columns) {
		return p.From.kinds // the table's own, made once
	}
	_, kinds := q.outputs()
	return kinds
}
