package orm

import (
	"slices"

	"github.com/plasma-go/plasma/expr"
)

// CorrelateIn rewrites the IN (subquery) tests of predicate e that stand
// in a positive context — reached from the root through AND and OR only —
// as correlated EXISTS tests, and returns e itself when there is nothing
// to rewrite (e is never changed):
//
//	x IN (SELECT c FROM … WHERE w)  →  EXISTS (SELECT 1 FROM … WHERE w AND x = c)
//
// SQLite runs an uncorrelated IN (subquery) by filling an ephemeral table
// with all its rows, which the pure-Go build allocates afresh for each
// statement; EXISTS probes the subquery's index for the one row instead.
// Where the two differ — a NULL x, or no match in a list holding NULL,
// give NULL for IN and false for EXISTS — a positive context does not
// tell NULL from false. Row auth's SQLite precheck and the realtime
// hub's read checks both use it.
//
// Only plain subqueries are rewritten: one plain column, no GROUP BY,
// HAVING, LIMIT or OFFSET; and x a bound value or a qualified column of a
// table the subquery does not name itself, so that it keeps referring to
// the outer row.
func CorrelateIn(e expr.Expr) expr.Expr {
	switch n := e.(type) {
	case *expr.Logic:
		var args []expr.Expr
		for i, a := range n.Args {
			if x := CorrelateIn(a); x != a {
				if args == nil {
					args = slices.Clone(n.Args)
				}
				args[i] = x
			}
		}
		if args == nil {
			return e
		}
		return &expr.Logic{Op: n.Op, Args: args}
	case *expr.In:
		if s, col, ok := correlatable(n); ok {
			c, cp := s.Rewrite()
			cp.Columns = []expr.Expr{expr.SQL("1")}
			cp.Where = append(slices.Clip(cp.Where), &expr.Compare{Op: expr.OpEq, Left: n.X, Right: col})
			cp.OrderBy = nil
			return expr.SQL("EXISTS ?", expr.Sub(c))
		}
	}
	return e
}

// correlatable returns the subquery of n and its column when CorrelateIn
// may rewrite n.
func correlatable(n *expr.In) (*SelectQuery, *expr.Column, bool) {
	if n.Sub == nil || len(n.List) > 0 {
		return nil, nil, false
	}
	s, ok := n.Sub.Query.(*SelectQuery)
	if !ok || s == nil {
		return nil, nil, false
	}
	p := s.Parts()
	if len(p.Columns) != 1 || len(p.GroupBy) > 0 || len(p.Having) > 0 || p.HasLimit || p.Offset != 0 {
		return nil, nil, false
	}
	col, ok := p.Columns[0].(*expr.Column)
	if a, isAlias := p.Columns[0].(*expr.Alias); isAlias {
		col, ok = a.X.(*expr.Column)
	}
	if !ok {
		return nil, nil, false
	}
	switch x := n.X.(type) {
	case *expr.Param:
	case *expr.Column:
		// x must name the outer row, not a table of the subquery.
		if x.Table == "" || (p.From != nil && p.From.Alias() == x.Table) || (p.FromSub != nil && p.FromAlias == x.Table) {
			return nil, nil, false
		}
		for _, j := range p.Joins {
			if j.Table == nil || j.Table.Alias() == x.Table {
				return nil, nil, false
			}
		}
	default:
		return nil, nil, false
	}
	return s, col, true
}
