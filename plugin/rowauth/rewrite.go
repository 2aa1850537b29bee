package rowauth

import (
	"fmt"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// mapper rebuilds an expression tree bottom-up, sharing every node that
// does not change. column may replace a column reference (nil: keep it);
// query may replace a subquery's statement.
type mapper struct {
	column func(*expr.Column) expr.Expr
	query  func(expr.Query) (q expr.Query, changed bool, err error)
	raw    func(*expr.Raw) // if set, sees every raw SQL node
}

// expr maps e. It is one case per expression node type, kept in one
// switch (a little over 80 lines) so that the list of node types it
// knows is read in one place: an unknown node is an error, never passed
// through unmapped.
func (m *mapper) expr(e expr.Expr) (expr.Expr, error) {
	switch n := e.(type) {
	case nil, *expr.Param:
		return e, nil
	case *expr.Column:
		if m.column != nil {
			if r := m.column(n); r != nil {
				return r, nil
			}
		}
		return e, nil
	case *expr.Compare:
		l, err := m.expr(n.Left)
		if err != nil {
			return nil, err
		}
		r, err := m.expr(n.Right)
		if err != nil {
			return nil, err
		}
		if l == n.Left && r == n.Right {
			return e, nil
		}
		return &expr.Compare{Op: n.Op, Left: l, Right: r}, nil
	case *expr.Match:
		x, err := m.expr(n.X)
		if err != nil {
			return nil, err
		}
		p, err := m.expr(n.Pattern)
		if err != nil {
			return nil, err
		}
		if x == n.X && p == n.Pattern {
			return e, nil
		}
		return &expr.Match{X: x, Pattern: p}, nil
	case *expr.Logic:
		args, changed, err := m.list(n.Args)
		if err != nil || !changed {
			return e, err
		}
		return &expr.Logic{Op: n.Op, Args: args}, nil
	case *expr.Negation:
		x, err := m.expr(n.X)
		if err != nil || x == n.X {
			return e, err
		}
		return &expr.Negation{X: x}, nil
	case *expr.In:
		return m.in(n)
	case *expr.NullCheck:
		x, err := m.expr(n.X)
		if err != nil || x == n.X {
			return e, err
		}
		return &expr.NullCheck{X: x, Negated: n.Negated}, nil
	case *expr.Aggregate:
		if n.X == nil {
			return e, nil
		}
		x, err := m.expr(n.X)
		if err != nil || x == n.X {
			return e, err
		}
		return &expr.Aggregate{Func: n.Func, X: x}, nil
	case *expr.Alias:
		x, err := m.expr(n.X)
		if err != nil || x == n.X {
			return e, err
		}
		return &expr.Alias{X: x, Name: n.Name}, nil
	case *expr.Raw:
		return m.rawSQL(n)
	case *expr.Subquery:
		q, changed, err := m.query(n.Query)
		if err != nil || !changed {
			return e, err
		}
		return &expr.Subquery{Query: q}, nil
	}
	return nil, fmt.Errorf("plasma: rowauth: unknown expression node %T", e)
}

// in maps an IN's operand, list and subquery.
func (m *mapper) in(n *expr.In) (expr.Expr, error) {
	x, err := m.expr(n.X)
	if err != nil {
		return nil, err
	}
	list, changed, err := m.list(n.List)
	if err != nil {
		return nil, err
	}
	sub := n.Sub
	if sub != nil {
		q, subChanged, err := m.query(sub.Query)
		if err != nil {
			return nil, err
		}
		if subChanged {
			sub = &expr.Subquery{Query: q}
		}
	}
	if x == n.X && !changed && sub == n.Sub {
		return n, nil
	}
	return &expr.In{X: x, List: list, Sub: sub}, nil
}

// rawSQL shows n to the raw hook and maps the expressions and queries
// among its arguments; other arguments are kept in their places.
func (m *mapper) rawSQL(n *expr.Raw) (expr.Expr, error) {
	if m.raw != nil {
		m.raw(n)
	}
	var args []any // nil until an argument changes
	for i, a := range n.Args {
		r, changed, err := m.rawArg(a)
		if err != nil {
			return nil, err
		}
		if args == nil && changed {
			args = append(make([]any, 0, len(n.Args)), n.Args[:i]...)
		}
		if args != nil {
			args = append(args, r)
		}
	}
	if args == nil {
		return n, nil
	}
	return &expr.Raw{SQL: n.SQL, Args: args}, nil
}

// rawArg maps one argument of raw SQL, an expression or a query, and
// reports whether it changed; any other value is kept as it is (and not
// compared: it may be a slice).
func (m *mapper) rawArg(a any) (any, bool, error) {
	switch v := a.(type) {
	case expr.Expr:
		x, err := m.expr(v)
		if err != nil || x == v {
			return a, false, err
		}
		return x, true, nil
	case expr.Query:
		q, changed, err := m.query(v)
		if err != nil || !changed {
			return a, false, err
		}
		return q, true, nil
	}
	return a, false, nil
}

// list maps each expression of list; changed reports whether any did.
func (m *mapper) list(list []expr.Expr) ([]expr.Expr, bool, error) {
	var out []expr.Expr
	for i, e := range list {
		x, err := m.expr(e)
		if err != nil {
			return nil, false, err
		}
		if out == nil && x != e {
			out = append(make([]expr.Expr, 0, len(list)), list[:i]...)
		}
		if out != nil {
			out = append(out, x)
		}
	}
	if out == nil {
		return list, false, nil
	}
	return out, true, nil
}

// selectParts maps every expression of a SELECT's clauses in place; the
// caller passes a clone. FROM subqueries are left to the caller.
func (m *mapper) selectParts(p *orm.SelectParts) error {
	for _, list := range [...][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
		for i, e := range list {
			x, err := m.expr(e)
			if err != nil {
				return err
			}
			list[i] = x
		}
	}
	for i := range p.OrderBy {
		x, err := m.expr(p.OrderBy[i].X)
		if err != nil {
			return err
		}
		p.OrderBy[i].X = x
	}
	for i := range p.Joins {
		x, err := m.expr(p.Joins[i].On)
		if err != nil {
			return err
		}
		p.Joins[i].On = x
	}
	return nil
}

// requalify moves predicate e, written against table name, onto the
// instance of that table called alias: qualified references to name, and
// unqualified references outside subqueries, become alias.col. Inside a
// subquery that has its own source called name, references are left to
// that source.
func requalify(e expr.Expr, name, alias string) (expr.Expr, error) {
	inner := &mapper{}
	inner.column = func(c *expr.Column) expr.Expr {
		if c.Table == name && name != alias {
			return &expr.Column{Table: alias, Name: c.Name}
		}
		return nil
	}
	inner.query = func(q expr.Query) (expr.Query, bool, error) {
		if name == alias {
			// Only the top level's unqualified columns change: leave
			// subqueries as they are rather than copy them unchanged.
			return q, false, nil
		}
		return requalifySelect(q, name, inner)
	}
	top := &mapper{query: inner.query}
	top.column = func(c *expr.Column) expr.Expr {
		if c.Table == "" || (c.Table == name && name != alias) {
			return &expr.Column{Table: alias, Name: c.Name}
		}
		return nil
	}
	return top.expr(e)
}

func requalifySelect(q expr.Query, name string, m *mapper) (expr.Query, bool, error) {
	s, ok := q.(*orm.SelectQuery)
	if !ok || name == "" {
		return q, false, nil
	}
	p := s.Parts()
	if (p.From != nil && p.From.Alias() == name) || (p.FromSub != nil && p.FromAlias == name) {
		return q, false, nil
	}
	for _, j := range p.Joins {
		if j.Table != nil && j.Table.Alias() == name {
			return q, false, nil
		}
	}
	if !partsMention(&p, name) {
		return q, false, nil // nothing to map: no copy
	}
	c, cp := s.Rewrite()
	if cp.FromSub != nil {
		sub, _, err := requalifySelect(cp.FromSub, name, m)
		if err != nil {
			return nil, false, err
		}
		cp.FromSub = sub.(*orm.SelectQuery)
	}
	if err := m.selectParts(cp); err != nil {
		return nil, false, err
	}
	return c, true, nil
}

// references reports whether predicate e, on table name, may depend on
// one of cols: it refers to name.col or to an unqualified col anywhere,
// subqueries included. Raw SQL text and subqueries that are not plasma
// statements cannot be read, so they may depend on anything.
func references(e expr.Expr, name string, cols map[string]bool) bool {
	found := false
	visit(e, func(x expr.Expr) {
		switch n := x.(type) {
		case *expr.Column:
			if (n.Table == name || n.Table == "") && cols[n.Name] {
				found = true
			}
		case *expr.Raw:
			found = true
		}
	}, func(expr.Query) { found = true })
	return found
}

// visit calls fn for every node of e, descending into plasma SELECTs used
// as subqueries; opaque is called for any other subquery.
func visit(e expr.Expr, fn func(expr.Expr), opaque func(expr.Query)) {
	if e == nil {
		return
	}
	fn(e)
	query := func(q expr.Query) {
		if s, ok := q.(*orm.SelectQuery); ok {
			visitSelect(s, fn, opaque)
		} else {
			opaque(q)
		}
	}
	switch n := e.(type) {
	case *expr.Compare:
		visit(n.Left, fn, opaque)
		visit(n.Right, fn, opaque)
	case *expr.Match:
		visit(n.X, fn, opaque)
		visit(n.Pattern, fn, opaque)
	case *expr.Logic:
		for _, a := range n.Args {
			visit(a, fn, opaque)
		}
	case *expr.Negation:
		visit(n.X, fn, opaque)
	case *expr.In:
		visit(n.X, fn, opaque)
		for _, a := range n.List {
			visit(a, fn, opaque)
		}
		if n.Sub != nil {
			query(n.Sub.Query)
		}
	case *expr.NullCheck:
		visit(n.X, fn, opaque)
	case *expr.Aggregate:
		visit(n.X, fn, opaque)
	case *expr.Alias:
		visit(n.X, fn, opaque)
	case *expr.Raw:
		for _, a := range n.Args {
			switch v := a.(type) {
			case expr.Expr:
				visit(v, fn, opaque)
			case expr.Query:
				query(v)
			}
		}
	case *expr.Subquery:
		query(n.Query)
	}
}

func visitSelect(s *orm.SelectQuery, fn func(expr.Expr), opaque func(expr.Query)) {
	p := s.Parts()
	for _, list := range [...][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
		for _, e := range list {
			visit(e, fn, opaque)
		}
	}
	for _, o := range p.OrderBy {
		visit(o.X, fn, opaque)
	}
	for _, j := range p.Joins {
		visit(j.On, fn, opaque)
	}
	if p.FromSub != nil {
		visitSelect(p.FromSub, fn, opaque)
	}
}

// partsMention reports whether a mapper might change anything in a
// SELECT's clauses: a column qualified by name, raw SQL, or a nested
// query (each conservatively true, so that the mapper's hooks see them).
// It only reads, so a query shared between goroutines stays untouched.
func partsMention(p *orm.SelectParts, name string) bool {
	if p.FromSub != nil {
		return true
	}
	for _, list := range [...][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
		for _, e := range list {
			if mentions(e, name) {
				return true
			}
		}
	}
	for _, o := range p.OrderBy {
		if mentions(o.X, name) {
			return true
		}
	}
	for _, j := range p.Joins {
		if mentions(j.On, name) {
			return true
		}
	}
	return false
}

// mentions is partsMention for one expression.
func mentions(e expr.Expr, name string) bool {
	found := false
	expr.Inspect(e, func(n expr.Expr) bool {
		switch n := n.(type) {
		case *expr.Column:
			found = found || n.Table == name
		case *expr.Param, *expr.Slot, *expr.Compare, *expr.Match, *expr.Logic, *expr.Negation,
			*expr.In, *expr.NullCheck, *expr.Aggregate, *expr.Alias:
		default: // raw SQL, a subquery, or a node this does not know
			found = true
		}
		return !found
	})
	return found
}
