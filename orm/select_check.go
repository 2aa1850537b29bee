package orm

import (
	"reflect"
	"slices"
	"strconv"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
)

// scope returns the sources q's expressions resolve against, in a scope
// the caller releases (see newScope).
func (q *SelectQuery) scope(outer *scope) (*scope, error) {
	s := newScope(q, outer)
	if err := q.initScope(s); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// initScope adds q's sources to s, fresh from newScope.
func (q *SelectQuery) initScope(s *scope) error {
	p := &q.parts
	switch {
	case p.From != nil:
		if err := checkTableAlias(s, p.From); err != nil {
			return err
		}
		if len(p.Joins) == 0 {
			s.sources = p.From.self[:] // the common one-table SELECT: nothing to copy
			return nil
		}
		s.sources = append(s.sources, p.From.self[0])
	case p.FromSub != nil:
		// The subquery itself is checked as it renders (appendFrom).
		if err := checkIdent(s.name(), "subquery alias", p.FromAlias); err != nil {
			return err
		}
		cols, kinds := p.FromSub.outputs()
		s.sources = append(s.sources, source{alias: p.FromAlias, cols: cols, kinds: kinds})
	}
	for _, j := range p.Joins {
		if j.Table == nil {
			return &QueryError{Statement: s.name(), Err: ErrNoTable, Detail: "JOIN of a nil table"}
		}
		if err := checkTableAlias(s, j.Table); err != nil {
			return err
		}
		for _, src := range s.sources {
			if src.alias == j.Table.Alias() {
				return &QueryError{Statement: s.name(), Err: ErrDuplicateAlias, Detail: strconv.Quote(src.alias)}
			}
		}
		s.sources = append(s.sources, j.Table.self[0])
	}
	return nil
}

// checkTableAlias refuses a table alias (Table.As) no engine can store:
// NUL would cut the statement short on SQLite.
func checkTableAlias(s *scope, t *Table) error {
	if t.alias == "" {
		return nil
	}
	return checkIdent(s.name(), "table alias", t.alias)
}

// validate checks q inside an enclosing scope, without keeping its SQL:
// a SELECT is checked as it renders, so it renders into a scratch Builder.
// Write statements check their subqueries with it before rendering.
func (q *SelectQuery) validate(outer *scope) error {
	b := dialect.GetBuilder(dialect.Placeholders)
	defer dialect.PutBuilder(b)
	b.Check = withOuter(outer)
	return q.AppendSQL(b)
}

// checkGrouping refuses a projected column that is neither in GROUP BY nor
// inside an aggregate, when the query groups or aggregates. SQLite would
// return an arbitrary row's value; PostgreSQL refuses. plasma refuses on both.
func (q *SelectQuery) checkGrouping(s *scope) error {
	p := &q.parts
	if !q.aggregates() {
		return nil
	}
	if len(q.columns()) == 0 {
		return &QueryError{Statement: s.name(), Err: ErrUngrouped, Detail: "a grouped query must name its columns"}
	}
	g := grouping{s: s, groups: p.GroupBy}
	for _, list := range [...][]expr.Expr{q.columns(), p.Having} {
		for _, e := range list {
			if col := g.ungrouped(e); col != nil {
				return &QueryError{Statement: s.name(), Column: qualified(col), Err: ErrUngrouped}
			}
		}
	}
	for _, o := range q.orderBy() {
		if col := g.ungrouped(o.X); col != nil {
			return &QueryError{Statement: s.name(), Column: qualified(col), Err: ErrUngrouped, Detail: "in ORDER BY"}
		}
	}
	return nil
}

// aggregates reports whether q groups or calls an aggregate in its
// projection or ordering, which makes it a grouped query.
func (q *SelectQuery) aggregates() bool {
	p := &q.parts
	if len(p.GroupBy) > 0 || len(p.Having) > 0 {
		return true
	}
	for _, c := range q.columns() {
		if _, isCol := c.(*expr.Column); !isCol && hasAggregate(c) {
			return true
		}
	}
	for _, o := range q.orderBy() {
		if _, isCol := o.X.(*expr.Column); !isCol && hasAggregate(o.X) {
			return true
		}
	}
	return false
}

// grouping finds columns used outside GROUP BY in a grouped query.
type grouping struct {
	s      *scope
	groups []expr.Expr
}

// ungrouped returns a column of e that is outside any aggregate, not
// grouped, and not of a table whose whole primary key is grouped (such a
// column is functionally dependent on the key: both engines accept it).
// An expression that is itself a GROUP BY term is grouped.
func (g grouping) ungrouped(e expr.Expr) *expr.Column {
	if _, isCol := e.(*expr.Column); !isCol {
		for _, x := range g.groups {
			if x == e || reflect.DeepEqual(x, e) {
				return nil
			}
		}
	}
	switch n := e.(type) {
	case *expr.Column:
		for _, x := range g.groups {
			if gc, ok := x.(*expr.Column); ok && sameColumn(gc, n) {
				return nil
			}
		}
		if g.keyGrouped(n) {
			return nil
		}
		return n
	case *expr.Alias:
		return g.ungrouped(n.X)
	case *expr.Compare:
		return firstCol(g.ungrouped(n.Left), n.Right, g)
	case *expr.Match:
		return firstCol(g.ungrouped(n.X), n.Pattern, g)
	case *expr.Negation:
		return g.ungrouped(n.X)
	case *expr.NullCheck:
		return g.ungrouped(n.X)
	case *expr.Logic:
		for _, a := range n.Args {
			if c := g.ungrouped(a); c != nil {
				return c
			}
		}
	case *expr.In:
		if c := g.ungrouped(n.X); c != nil {
			return c
		}
		for _, a := range n.List {
			if c := g.ungrouped(a); c != nil {
				return c
			}
		}
	case *expr.Raw:
		for _, a := range n.Args {
			if x, ok := a.(expr.Expr); ok {
				if c := g.ungrouped(x); c != nil {
					return c
				}
			}
		}
	}
	// Aggregates, parameters and subqueries group nothing.
	return nil
}

func firstCol(c *expr.Column, next expr.Expr, g grouping) *expr.Column {
	if c != nil {
		return c
	}
	return g.ungrouped(next)
}

// keyGrouped reports whether c belongs to a table of the query whose
// primary key columns are all grouped.
func (g grouping) keyGrouped(c *expr.Column) bool {
	for i := range g.s.sources {
		src := &g.s.sources[i]
		if src.table == nil || (c.Table != "" && c.Table != src.alias) {
			continue
		}
		if _, ok := src.table.Column(c.Name); !ok {
			continue
		}
		pk := src.table.PrimaryKey()
		if len(pk) == 0 {
			return false
		}
		for _, k := range pk {
			if !slices.ContainsFunc(g.groups, func(x expr.Expr) bool {
				gc, ok := x.(*expr.Column)
				return ok && gc.Name == k && (gc.Table == src.alias || gc.Table == "")
			}) {
				return false
			}
		}
		return true
	}
	return false
}

func sameColumn(a, b *expr.Column) bool {
	return a.Name == b.Name && (a.Table == b.Table || a.Table == "" || b.Table == "")
}

// hasAggregate reports whether e calls an aggregate outside a subquery,
// which makes the query an aggregate query.
func hasAggregate(e expr.Expr) bool {
	switch n := e.(type) {
	case *expr.Aggregate:
		return true
	case *expr.Alias:
		return hasAggregate(n.X)
	case *expr.Compare:
		return hasAggregate(n.Left) || hasAggregate(n.Right)
	case *expr.Match:
		return hasAggregate(n.X) || hasAggregate(n.Pattern)
	case *expr.Negation:
		return hasAggregate(n.X)
	case *expr.NullCheck:
		return hasAggregate(n.X)
	case *expr.Logic:
		return slices.ContainsFunc(n.Args, hasAggregate)
	case *expr.In:
		return hasAggregate(n.X) || slices.ContainsFunc(n.List, hasAggregate)
	case *expr.Raw:
		for _, a := range n.Args {
			if x, ok := a.(expr.Expr); ok && hasAggregate(x) {
				return true
			}
		}
	}
	return false
}
