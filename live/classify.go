package live

import (
	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/sqleval"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// Class is how a query is kept up to date.
type Class uint8

// The classes.
const (
	// None: the query is re-run (debounced) when a table it reads
	// changes.
	None Class = iota
	// Select: one table (or two, joined inner on a column equality or
	// left on the joined table's primary key), a WHERE plasma evaluates
	// in Go, a projection of plain columns, ORDER BY plain columns, LIMIT
	// and OFFSET. Maintained from row images; a LIMIT window that loses a
	// row is refilled by a query.
	Select
	// Aggregate: COUNT, SUM, AVG, MIN and MAX over the Select class's
	// WHERE, with GROUP BY plain columns and HAVING. Maintained per group
	// in O(1) per change (MIN and MAX recompute their group in memory
	// when its extreme leaves).
	Aggregate
)

var classText = [...]string{None: "None", Select: "Select", Aggregate: "Aggregate"}

// String returns the class's name.
func (c Class) String() string {
	if int(c) < len(classText) {
		return classText[c]
	}
	return "?class"
}

// Classify tells how q would be maintained on the database it was built
// on (DB.Select), or on either engine for a query from orm.Select. It is
// exact about what it can maintain: anything whose Go evaluation could
// differ from the engine's is None. Classify does no I/O: until a
// subscription on the database has read PostgreSQL's collation, ordering
// by text there is None; Subscribe asks the database first.
func Classify(q *orm.SelectQuery) Class {
	if q == nil {
		return None
	}
	var d dialect.Dialect
	byteOrder := false
	if db := q.DB(); db != nil {
		d = db.Dialect()
		byteOrder = engineFor(db).knownByteOrder()
	}
	return compilePlan(q, optionsFor(d, byteOrder)).class
}

// optionsFor gives the evaluation rules of d's engine; a nil d gets the
// rules neither engine can contradict (none for LIKE).
func optionsFor(d dialect.Dialect, pgByteOrder bool) sqleval.Options {
	if d == nil {
		return sqleval.Options{}
	}
	if d.Name() == "postgres" {
		return sqleval.Options{Engine: sqleval.Postgres, ByteOrderText: pgByteOrder}
	}
	return sqleval.Options{Engine: sqleval.SQLite, ByteOrderText: true}
}

// orderTerm orders by one slot of a row.
type orderTerm struct {
	slot int
	desc bool
}

// aggSpec is one aggregate the plan maintains.
type aggSpec struct {
	fn   expr.AggFunc
	slot int // the table column it reads; -1 for COUNT(*)
	t    sqleval.Type
}

// outSpec is one output column of an aggregate: a group column (group
// >= 0) or an aggregate.
type outSpec struct {
	group int
	agg   int
}

// plan is what maintenance needs to know about a query.
type plan struct {
	class Class
	// The flags sit beside class: a smaller struct, one per subscription.
	hasLimit bool   // Select: the query has a LIMIT
	any      bool   // the query may read any table
	why      string // why the class is None
	q        *orm.SelectQuery
	t        *orm.Table
	kinds    []tabledef.Kind // the table's columns
	names    []string        // the output columns
	okind    []tabledef.Kind // the output columns' kinds
	pk       int
	where    []expr.Expr
	opt      sqleval.Options
	pred     sqleval.Pred

	proj   []int // Select: the table column of each output
	order  []orderTerm
	limit  int64
	offset int64

	group  []int // Aggregate: the grouped table columns
	aggs   []aggSpec
	outs   []outSpec
	having sqleval.Pred
	gorder []orderTerm // over the group slots

	tables []string // tables the query reads; nil with anyTable

	// eqSlot and eqVal: WHERE requires column eqSlot = eqVal (-1: no
	// such conjunct). The engine indexes subscriptions by it, so a
	// change is looked at only by the subscriptions it can concern.
	eqSlot int
	eqVal  any

	// join: a maintained inner join (join.go); t is then the FROM table,
	// kinds the joined row's, pk the FROM table's key slot.
	join *joinPlan
}

// basicType is the evaluation type of a column kind, ok false for kinds
// that are not evaluated (JSON, blobs, CRDT state, files).
func basicType(k tabledef.Kind) (sqleval.Type, bool) {
	switch k {
	case tabledef.KindText, tabledef.KindID:
		return sqleval.TText, true
	case tabledef.KindInt:
		return sqleval.TInt32, true
	case tabledef.KindBigInt:
		return sqleval.TInt, true
	case tabledef.KindBool:
		return sqleval.TBool, true
	}
	return 0, false
}

// column resolves a column reference against the plan's table.
func (p *plan) column(e expr.Expr) (int, sqleval.Type, bool) {
	c, ok := e.(*expr.Column)
	if !ok || (c.Table != "" && c.Table != p.t.Name() && c.Table != p.t.Alias()) {
		return 0, 0, false
	}
	for i, col := range p.t.Columns() {
		if col.Name() == c.Name {
			t, ok := basicType(p.kinds[i])
			return i, t, ok
		}
	}
	return 0, 0, false
}

func none(p *plan, why string) *plan {
	p.class, p.why = None, why
	return p
}

// compilePlan classifies q and prepares its maintenance.
func compilePlan(q *orm.SelectQuery, opt sqleval.Options) *plan {
	parts := q.Parts()
	p := &plan{q: q, opt: opt, pk: -1, eqSlot: -1}
	p.tables, p.any = readTables(q)
	switch {
	case parts.From == nil:
		return none(p, "no FROM table (a subquery or none)")
	case len(parts.Joins) > 0:
		return compileJoin(p, &parts)
	case opt.Engine == 0:
		return none(p, "no engine to match")
	}
	p.t = parts.From
	for _, c := range p.t.Columns() {
		p.kinds = append(p.kinds, c.Kind())
	}
	pk := p.t.PrimaryKey()
	if len(pk) != 1 {
		return none(p, "no single-column primary key")
	}
	var ok bool
	if p.pk, _, ok = p.column(p.t.Col(pk[0])); !ok {
		return none(p, "a primary key of a kind not evaluated")
	}
	p.where = parts.Where
	pred, err := sqleval.And(parts.Where, p.column, opt)
	if err != nil {
		return none(p, err.Error())
	}
	p.pred = pred
	p.eqSlot, p.eqVal = p.equality(parts.Where)
	if len(parts.GroupBy) > 0 || hasAggregate(parts.Columns) || len(parts.Having) > 0 {
		return compileAggregate(p, &parts)
	}
	return compileSelect(p, &parts)
}

// equality finds a conjunct "column = non-NULL constant" in WHERE,
// preferring one on a column that is not boolean (it splits the
// subscriptions finer).
func (p *plan) equality(where []expr.Expr) (int, any) {
	slot, val := -1, any(nil)
	for _, w := range where {
		s, v := -1, any(nil)
		if l, ok := w.(*expr.Logic); ok && l.Op == expr.OpAnd {
			s, v = p.equality(l.Args)
		} else {
			s, v = p.eqConjunct(w)
		}
		if s < 0 {
			continue
		}
		if _, isBool := v.(bool); !isBool {
			return s, v
		}
		if slot < 0 {
			slot, val = s, v
		}
	}
	return slot, val
}

// eqConjunct reads "column = constant" (either way round).
func (p *plan) eqConjunct(w expr.Expr) (int, any) {
	c, ok := w.(*expr.Compare)
	if !ok || c.Op != expr.OpEq {
		return -1, nil
	}
	col, param := c.Left, c.Right
	if _, isParam := col.(*expr.Param); isParam {
		col, param = param, col
	}
	pm, ok := param.(*expr.Param)
	if !ok {
		return -1, nil
	}
	slot, _, ok := p.column(col)
	if !ok {
		return -1, nil
	}
	if v, _, err := sqleval.Canonical(pm.Value); err == nil && v != nil {
		return slot, v
	}
	return -1, nil
}

func hasAggregate(cols []expr.Expr) bool {
	found := false
	for _, c := range cols {
		expr.Inspect(c, func(e expr.Expr) bool {
			if _, ok := e.(*expr.Aggregate); ok {
				found = true
			}
			return !found
		})
	}
	return found
}

// orderable checks an ORDER BY or grouping column's type.
func (p *plan) orderable(t sqleval.Type) bool {
	return t != sqleval.TText || p.opt.ByteOrderText
}

func compileSelect(p *plan, parts *orm.SelectParts) *plan {
	cols := parts.Columns
	if len(cols) == 0 {
		for _, c := range p.t.Columns() {
			cols = append(cols, p.t.Col(c.Name()))
		}
	}
	for _, c := range cols {
		name, x := "", c
		if a, ok := c.(*expr.Alias); ok {
			name, x = a.Name, a.X
		}
		slot, _, ok := p.column(x)
		if !ok {
			return none(p, "a projection that is not a plain column of a plain kind")
		}
		if name == "" {
			name = x.(*expr.Column).Name
		}
		p.proj = append(p.proj, slot)
		p.names = append(p.names, name)
		p.okind = append(p.okind, p.kinds[slot])
	}
	for _, o := range parts.OrderBy {
		slot, t, ok := p.column(o.X)
		if !ok || !p.orderable(t) {
			return none(p, "an ORDER BY term that is not a plain column ordered as in Go")
		}
		p.order = append(p.order, orderTerm{slot: slot, desc: o.Desc})
	}
	if _, t, _ := p.column(p.t.Col(p.t.PrimaryKey()[0])); !p.orderable(t) {
		return none(p, "a text primary key under a collation that is not byte order")
	}
	// Ties are broken by the primary key, so the order is total.
	p.order = append(p.order, orderTerm{slot: p.pk})
	p.limit, p.hasLimit, p.offset = parts.Limit, parts.HasLimit, parts.Offset
	if p.limit < 0 || p.offset < 0 {
		return none(p, "a negative LIMIT or OFFSET")
	}
	p.class = Select
	return p
}

func compileAggregate(p *plan, parts *orm.SelectParts) *plan {
	if parts.HasLimit || parts.Offset > 0 {
		return none(p, "LIMIT or OFFSET on an aggregate")
	}
	for _, g := range parts.GroupBy {
		slot, t, ok := p.column(g)
		if !ok || !p.orderable(t) {
			return none(p, "a GROUP BY term that is not a plain column")
		}
		p.group = append(p.group, slot)
	}
	for _, c := range parts.Columns {
		if !p.aggOutput(c) {
			return none(p, "an aggregate output that is not a grouped column or an aliased COUNT, SUM, AVG, MIN or MAX of a column")
		}
	}
	if len(parts.Columns) == 0 {
		return none(p, "an aggregate without a projection")
	}
	having, err := sqleval.And(parts.Having, p.havingSlot, p.opt)
	if err != nil {
		return none(p, err.Error())
	}
	p.having = having
	for _, o := range parts.OrderBy {
		g := p.groupIndex(o.X)
		if g < 0 {
			return none(p, "an aggregate ORDER BY term that is not a grouped column")
		}
		p.gorder = append(p.gorder, orderTerm{slot: g, desc: o.Desc})
	}
	for g := range p.group {
		p.gorder = append(p.gorder, orderTerm{slot: g})
	}
	p.class = Aggregate
	return p
}

// groupIndex is the position of a grouped column, or -1.
func (p *plan) groupIndex(e expr.Expr) int {
	slot, _, ok := p.column(e)
	if !ok {
		return -1
	}
	for i, g := range p.group {
		if g == slot {
			return i
		}
	}
	return -1
}

// aggOutput adds one output column of an aggregate query.
func (p *plan) aggOutput(c expr.Expr) bool {
	name, x := "", c
	if a, ok := c.(*expr.Alias); ok {
		name, x = a.Name, a.X
	}
	if g := p.groupIndex(x); g >= 0 {
		if name == "" {
			name = x.(*expr.Column).Name
		}
		p.names = append(p.names, name)
		p.okind = append(p.okind, p.kinds[p.group[g]])
		p.outs = append(p.outs, outSpec{group: g, agg: -1})
		return true
	}
	a, ok := x.(*expr.Aggregate)
	if !ok || name == "" {
		return false // an aggregate's own column name differs by engine
	}
	i, k, ok := p.addAgg(a)
	if !ok {
		return false
	}
	p.names = append(p.names, name)
	p.okind = append(p.okind, k)
	p.outs = append(p.outs, outSpec{group: -1, agg: i})
	return true
}

// kindFloat marks an AVG output for scanning; orm scans it as a float.
const kindFloat tabledef.Kind = 0

// addAgg finds or adds a maintained aggregate and returns its index and
// the kind of its result.
func (p *plan) addAgg(a *expr.Aggregate) (int, tabledef.Kind, bool) {
	spec := aggSpec{fn: a.Func, slot: -1, t: sqleval.TInt}
	if a.X != nil {
		slot, t, ok := p.column(a.X)
		if !ok {
			return 0, 0, false
		}
		spec.slot, spec.t = slot, t
	} else if a.Func != expr.AggCount {
		return 0, 0, false
	}
	kind := tabledef.KindBigInt
	switch a.Func {
	case expr.AggCount:
		spec.t = sqleval.TInt
	case expr.AggSum, expr.AggAvg:
		if spec.t != sqleval.TInt && spec.t != sqleval.TInt32 {
			return 0, 0, false
		}
		if a.Func == expr.AggAvg {
			kind = kindFloat
		}
		spec.t = sqleval.TInt
	case expr.AggMin, expr.AggMax:
		if spec.t == sqleval.TBool || !p.orderable(spec.t) {
			return 0, 0, false
		}
		kind = p.kinds[spec.slot]
	default:
		return 0, 0, false
	}
	for i, s := range p.aggs {
		if s.fn == spec.fn && s.slot == spec.slot {
			return i, kind, true
		}
	}
	p.aggs = append(p.aggs, spec)
	return len(p.aggs) - 1, kind, true
}

// havingSlot resolves HAVING's leaves over a group row: the grouped
// columns, then the aggregates. AVG is refused: PostgreSQL computes it
// in exact numeric, which a float cannot compare like.
func (p *plan) havingSlot(e expr.Expr) (int, sqleval.Type, bool) {
	if g := p.groupIndex(e); g >= 0 {
		_, t, _ := p.column(e)
		return g, t, true
	}
	a, ok := e.(*expr.Aggregate)
	if !ok || a.Func == expr.AggAvg {
		return 0, 0, false
	}
	i, _, ok := p.addAgg(a)
	if !ok {
		return 0, 0, false
	}
	return len(p.group) + i, p.aggs[i].t, true
}

// readTables lists the tables q reads, or says it may read any.
func readTables(q *orm.SelectQuery) ([]string, bool) {
	var out []string
	any := false
	var walk func(q *orm.SelectQuery)
	walkExpr := func(e expr.Expr) {
		expr.Inspect(e, func(n expr.Expr) bool {
			switch x := n.(type) {
			case *expr.Subquery:
				if s, ok := x.Query.(*orm.SelectQuery); ok {
					walk(s)
				} else {
					any = true
				}
			case *expr.Raw:
				any = true
			}
			return true
		})
	}
	walk = func(q *orm.SelectQuery) {
		p := q.Parts()
		if p.From != nil {
			out = append(out, p.From.Name())
		}
		if p.FromSub != nil {
			walk(p.FromSub)
		}
		for _, j := range p.Joins {
			out = append(out, j.Table.Name())
			walkExpr(j.On)
		}
		for _, l := range [][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
			for _, e := range l {
				walkExpr(e)
			}
		}
		for _, o := range p.OrderBy {
			walkExpr(o.X)
		}
	}
	walk(q)
	return out, any
}
