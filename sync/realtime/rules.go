package realtime

import (
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// ruleInfo is what one identity's read rule of one table looks at.
type ruleInfo struct {
	// deps are the tables its subqueries read; anyDep: it may read any
	// table (raw SQL, a subquery plasma cannot see into, a rule that
	// failed).
	deps   map[string]bool
	anyDep bool
}

// depInfo is the union of an identity's rules' dependencies.
type depInfo struct {
	tables map[string]bool
	any    bool
}

// rule analyses t's read rule for ide (cached). Called through deps
// only: by the pump goroutine, or before ide is published in h.idents.
func (h *Hub) rule(ide *identity, t *orm.Table) *ruleInfo {
	if ri, ok := ide.rules[t.Name()]; ok {
		return ri
	}
	ri := &ruleInfo{deps: map[string]bool{}}
	if f := t.Options().Auth.Read; f != nil {
		e, err := f(rowauth.WithIdentity(h.ctx, ide.id))
		if err != nil || e == nil {
			ri.anyDep = true
		} else {
			analyze(e, ri)
		}
	}
	if ide.rules == nil {
		ide.rules = map[string]*ruleInfo{}
	}
	ide.rules[t.Name()] = ri
	return ri
}

// deps returns the tables ide's read rules consult (cached). Called by
// the pump goroutine, or before ide is published in h.idents (after
// which it only reads the cache).
func (h *Hub) deps(ide *identity) *depInfo {
	if ide.deps != nil {
		return ide.deps
	}
	d := &depInfo{tables: map[string]bool{}}
	for _, t := range h.opts.Schema.Tables() {
		if !t.Synced() || t.Options().Auth.Read == nil {
			continue
		}
		ri := h.rule(ide, t)
		d.any = d.any || ri.anyDep
		for n := range ri.deps {
			d.tables[n] = true
		}
	}
	ide.deps = d
	return d
}

// dependsOnChange reports whether one of ide's read rules consults a
// table that changed: then a row of another table may have entered or
// left its view without a change of its own.
func (h *Hub) dependsOnChange(ide *identity, cs *changeSet) bool {
	d := h.deps(ide)
	if d.any {
		return len(cs.tables) > 0
	}
	for name := range cs.tables {
		if d.tables[name] {
			return true
		}
	}
	return false
}

// analyze records what predicate e, a table's read rule, looks at: the
// tables its subqueries read.
func analyze(e expr.Expr, ri *ruleInfo) {
	opaque := func() { ri.anyDep = true }
	var walk func(e expr.Expr)
	var walkSelect func(s *orm.SelectQuery)
	walkQuery := func(q expr.Query) {
		if s, ok := q.(*orm.SelectQuery); ok && s != nil {
			walkSelect(s)
		} else {
			opaque()
		}
	}
	walkSelect = func(s *orm.SelectQuery) {
		p := &s.Parts
		if p.From != nil {
			ri.deps[p.From.Name()] = true
		}
		if p.FromSub != nil {
			walkSelect(p.FromSub)
		}
		for _, j := range p.Joins {
			if j.Table != nil {
				ri.deps[j.Table.Name()] = true
			}
			walk(j.On)
		}
		for _, list := range [...][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
			for _, x := range list {
				walk(x)
			}
		}
		for _, o := range p.OrderBy {
			walk(o.X)
		}
	}
	walk = func(e expr.Expr) {
		switch n := e.(type) {
		case nil, *expr.Param, *expr.Slot, *expr.Column:
		case *expr.Compare:
			walk(n.Left)
			walk(n.Right)
		case *expr.Match:
			walk(n.X)
			walk(n.Pattern)
		case *expr.Logic:
			for _, a := range n.Args {
				walk(a)
			}
		case *expr.Negation:
			walk(n.X)
		case *expr.In:
			walk(n.X)
			for _, a := range n.List {
				walk(a)
			}
			if n.Sub != nil {
				walkQuery(n.Sub.Query)
			}
		case *expr.NullCheck:
			walk(n.X)
		case *expr.Aggregate:
			walk(n.X)
		case *expr.Alias:
			walk(n.X)
		case *expr.Subquery:
			walkQuery(n.Query)
		default: // *expr.Raw: SQL text may read anything
			opaque()
		}
	}
	walk(e)
}
