package realtime

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/internal/readrule"
)

// ruleInfo is what one identity's read rule of one table looks at.
type ruleInfo struct {
	// deps are the tables its subqueries read in a way the hub cannot
	// narrow down to rows (no equality with the identity's values, a
	// join); anyDep: it may read any table (raw SQL, a subquery plasma
	// cannot see into, a rule that failed).
	deps   map[string]bool
	anyDep bool
	// binds are its subqueries bound to the identity: each reads only
	// the rows of a table whose columns equal values of the identity's
	// (SELECT m.list_id FROM members m WHERE m.user_id = <the user>).
	binds []bind
	// simple is set when the whole rule is "col IN (a bound subquery
	// selecting one column of its table)": then whether the identity may
	// read a row follows from the row's col and the bind's rows, with no
	// query.
	simple *simpleRule
}

// simpleRule is a rule "col IN (SELECT sel FROM t WHERE <bind>)".
type simpleRule struct {
	col string // the rule's table's column
	id  string // the bind's sig and key
}

// bind is a subquery bound to an identity: it reads the rows of table
// whose cols hold vals (and maybe fewer, if it has other conditions).
// A change to a row of table matters to the identity only if the row
// matches, before or after the change.
type bind struct {
	table string
	cols  []string // sorted
	vals  []any    // the identity's values, in cols order
	key   string   // canonical vals (canonValue), joined
	sel   string   // the column the subquery selects, if a plain one of table
	sig   string   // table, cols and sel: binds with one sig are loaded together
}

// bindState is an identity's bind with the ids of the rows that match
// it now, as far as the hub has seen (loaded from the database once,
// then kept up to date from the change log by the pump).
type bindState struct {
	bind
	rows   map[string]struct{}
	sels   map[string]string // row id → canonical value of sel (when sel is set)
	loaded bool
}

// depInfo is the union of an identity's rules' dependencies.
type depInfo struct {
	tables map[string]bool // read without a bind: any change may matter
	any    bool
	binds  map[string][]*bindState // per table, one per distinct bind
	simple map[string]*simpleState // per rule's table, the simple rules
}

// simpleState is a simple rule with its identity's bind.
type simpleState struct {
	col string
	bs  *bindState
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
			h.analyze(e, ri)
			ri.simple = h.simpleOf(t, e)
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
	d := &depInfo{binds: map[string][]*bindState{}, simple: map[string]*simpleState{}}
	seen := map[string]*bindState{}
	for _, t := range h.opts.Schema.Tables() {
		if !t.Synced() || t.Options().Auth.Read == nil {
			continue
		}
		ri := h.rule(ide, t)
		d.any = d.any || ri.anyDep
		for n := range ri.deps {
			if d.tables == nil {
				d.tables = map[string]bool{}
			}
			d.tables[n] = true
		}
		for _, b := range ri.binds {
			if id := b.sig + "\x00" + b.key; seen[id] == nil {
				bs := &bindState{bind: b, rows: map[string]struct{}{}, sels: map[string]string{}}
				seen[id] = bs
				d.binds[b.table] = append(d.binds[b.table], bs)
			}
		}
		if ri.simple != nil && seen[ri.simple.id] != nil {
			d.simple[t.Name()] = &simpleState{col: ri.simple.col, bs: seen[ri.simple.id]}
		}
	}
	ide.deps = d
	ide.rules = nil // only deps reads them, and it is cached now
	return d
}

// analyze records what predicate e, a table's read rule, looks at: the
// tables its subqueries read, bound to the identity or not.
func (h *Hub) analyze(e expr.Expr, ri *ruleInfo) {
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
		p := s.Parts()
		if p.From != nil {
			if b, ok := h.bindOf(&p); ok {
				ri.binds = append(ri.binds, b)
			} else {
				ri.deps[p.From.Name()] = true
			}
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

// simpleOf returns e as a simple rule of t, or nil.
func (h *Hub) simpleOf(t *orm.Table, e expr.Expr) *simpleRule {
	in, ok := e.(*expr.In)
	if !ok || in.Sub == nil || len(in.List) > 0 {
		return nil
	}
	x, ok := in.X.(*expr.Column)
	if !ok || (x.Table != t.Alias() && x.Table != "") {
		return nil
	}
	if _, ok := t.Column(x.Name); !ok {
		return nil
	}
	s, ok := in.Sub.Query.(*orm.SelectQuery)
	if !ok || s == nil {
		return nil
	}
	p := s.Parts()
	b, ok := h.bindOf(&p)
	if !ok || b.sel == "" {
		return nil
	}
	return &simpleRule{col: x.Name, id: b.sig + "\x00" + b.key}
}

// bindOf returns the bind of a subquery's own table, p.From: the
// equalities between its columns and values (strings or integers) among
// the conditions its WHERE ANDs together. A subquery with joins, or
// without such an equality, has none. Its other conditions (and nested
// subqueries, analysed on their own) only narrow the rows it reads, so
// the bind's rows are a superset of them: a change outside the bind
// cannot change what the subquery returns.
func (h *Hub) bindOf(p *orm.SelectParts) (bind, bool) {
	if p.From == nil || p.FromSub != nil || len(p.Joins) > 0 {
		return bind{}, false
	}
	t := h.opts.Schema.Table(p.From.Name())
	if t == nil {
		return bind{}, false
	}
	if _, ok := t.Column("id"); !ok {
		return bind{}, false
	}
	alias := p.From.Alias()
	eqs := map[string]any{}
	var conj func(e expr.Expr)
	conj = func(e expr.Expr) {
		switch n := e.(type) {
		case *expr.Logic:
			if n.Op == expr.OpAnd {
				for _, a := range n.Args {
					conj(a)
				}
			}
		case *expr.Compare:
			if n.Op != expr.OpEq {
				return
			}
			col, val, ok := colParam(n.Left, n.Right)
			if !ok {
				col, val, ok = colParam(n.Right, n.Left)
			}
			if !ok || (col.Table != alias && col.Table != "") {
				return
			}
			if _, known := t.Column(col.Name); !known {
				return
			}
			if _, ok := canonValue(val); ok {
				eqs[col.Name] = val
			}
		}
	}
	for _, w := range p.Where {
		conj(w)
	}
	if len(eqs) == 0 {
		return bind{}, false
	}
	b := bind{table: t.Name()}
	for _, c := range slices.Sorted(func(yield func(string) bool) {
		for c := range eqs {
			if !yield(c) {
				return
			}
		}
	}) {
		b.cols = append(b.cols, c)
		b.vals = append(b.vals, eqs[c])
	}
	keys := make([]string, len(b.vals))
	for i, v := range b.vals {
		keys[i], _ = canonValue(v)
	}
	b.key = strings.Join(keys, "\x00")
	if len(p.Columns) == 1 && len(p.GroupBy) == 0 && len(p.Having) == 0 && !p.HasLimit && p.Offset == 0 {
		if c, ok := p.Columns[0].(*expr.Column); ok && (c.Table == alias || c.Table == "") {
			if _, known := t.Column(c.Name); known {
				b.sel = c.Name
			}
		}
	}
	b.sig = b.table + "\x00" + strings.Join(b.cols, "\x00") + "\x01" + b.sel
	return b, true
}

// colParam reports whether a is a column and b a bound value.
func colParam(a, b expr.Expr) (*expr.Column, any, bool) {
	col, ok := a.(*expr.Column)
	if !ok {
		return nil, nil, false
	}
	p, ok := b.(*expr.Param)
	if !ok {
		return nil, nil, false
	}
	return col, p.Value, true
}

// canonValue and canonJSON canonicalise values as incremental pulls do
// (readrule.Canon), so that both read one rule's inputs alike.
func canonValue(v any) (string, bool) { return readrule.Canon(v) }

func canonJSON(raw json.RawMessage) (string, bool) { return readrule.CanonJSON(raw) }

// imageKey is the canonical key of an image's values of cols, as
// bind.key; ok is false when a value equals no bind value.
func imageKey(img map[string]json.RawMessage, cols []string) (string, bool) {
	keys := make([]string, len(cols))
	for i, c := range cols {
		k, ok := canonJSON(img[c])
		if !ok {
			return "", false
		}
		keys[i] = k
	}
	return strings.Join(keys, "\x00"), true
}
