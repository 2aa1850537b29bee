package live

// Maintained joins. A query of the Select class may join one other
// table, inner on key equality or left on the joined table's primary key:
//
//	SELECT todos.id, todos.title FROM todos
//	JOIN lists ON todos.list_id = lists.id
//	WHERE lists.owner_id = ? AND todos.done = false
//	ORDER BY todos.title LIMIT 50
//
// A row of the maintained state is the joined image: the FROM table's
// columns, then the joined table's. A change to one side drops the kept
// rows holding that side's row and joins its new image with the other
// side's rows whose key matches (read from the kept rows when the key is
// the joined table's primary key and a kept row holds it, else by an
// indexed query as the system); the whole predicate (ON, WHERE and both
// tables' read rules) is then evaluated in Go on each joined image, as
// for one table. For a left join ON is evaluated when a FROM row is
// joined (no match: NULLs), and a change to the joined table joins again
// every FROM row naming its key. A lookup reads the other side as it is
// now, which may be past the change being applied: the subscription then
// publishes only once the engine has applied every commit up to what
// that lookup read, and the later changes, applied in turn, correct the
// rows they concern (each change replaces every kept row holding its row
// with rows built from its image and the other side as read after it).

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/sqleval"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/tabledef"
)

// JoinKey is the key of a joined row in a maintained join's result
// (Delta's maps, the order of Snapshot's ties) when the join does not
// equate the joined table's primary key: the FROM table's primary key
// and the joined table's, as text, the first prefixed by its length in
// bytes and a colon and followed by a slash: JoinKey("t1", "L1") is
// "2:t1/L1". When ON equates the joined table's primary key (todos.list_id
// = lists.id), a FROM row joins at most one row and the result is keyed
// by the FROM table's primary key alone, as a one-table query is.
func JoinKey(from, joined string) string {
	return strconv.Itoa(len(from)) + ":" + from + "/" + joined
}

// joinSide is one table of a maintained join.
type joinSide struct {
	p   *plan // the table alone: t, kinds, pk (to decode its images)
	off int   // its first slot in a joined row
}

// joinPlan is what a maintained join adds to a plan.
type joinPlan struct {
	sides [2]joinSide // the FROM table, the joined table
	key   [2]int      // joined-row slots of the ON equality, per side
	// unique: ON equates the joined table's primary key, so the FROM
	// table's primary key keys the result.
	unique bool
	// left: a LEFT JOIN (unique only); on is then its ON (with the
	// joined table's read rule), and the plan's pred WHERE.
	left bool
	on   sqleval.Pred
}

// rowKey is the key of a state row: its primary key, or for a join the
// FROM row's key or JoinKey of both.
func (p *plan) rowKey(r []any) string {
	j := p.join
	if j == nil {
		return pkString(r[p.pk])
	}
	from := pkString(r[j.sides[0].p.pk])
	if j.unique {
		return from
	}
	return JoinKey(from, pkString(r[j.sides[1].off+j.sides[1].p.pk]))
}

// sideOf resolves a column against one table: unqualified, or
// qualified by the name the query gives the table.
func sideOf(s joinSide, c *expr.Column) (int, sqleval.Type, bool) {
	if c.Table != "" && c.Table != s.p.t.Alias() {
		return 0, 0, false
	}
	for i, col := range s.p.t.Columns() {
		if col.Name() == c.Name {
			t, ok := basicType(s.p.kinds[i])
			return s.off + i, t, ok
		}
	}
	return 0, 0, false
}

// column resolves a column of either table. An unqualified name must
// belong to one table only (SQL would call it ambiguous).
func (j *joinPlan) column(e expr.Expr) (int, sqleval.Type, bool) {
	c, ok := e.(*expr.Column)
	if !ok {
		return 0, 0, false
	}
	found := 0
	var slot int
	var typ sqleval.Type
	var good bool
	for _, s := range j.sides {
		if (c.Table == "" || c.Table == s.p.t.Alias()) && hasColumn(s.p.t, c.Name) {
			found++
			slot, typ, good = sideOf(s, c)
		}
	}
	return slot, typ, found == 1 && good
}

func hasColumn(t *orm.Table, name string) bool {
	for _, c := range t.Columns() {
		if c.Name() == name {
			return true
		}
	}
	return false
}

// side is the table a joined-row slot belongs to.
func (j *joinPlan) side(slot int) int {
	if slot >= j.sides[1].off {
		return 1
	}
	return 0
}

// newSide prepares one table of a join; ok false when its primary key
// is not one column of an evaluated kind.
func newSide(t *orm.Table, off int) (joinSide, bool) {
	p := &plan{t: t, pk: -1, eqSlot: -1}
	for _, c := range t.Columns() {
		p.kinds = append(p.kinds, c.Kind())
	}
	pk := t.PrimaryKey()
	if len(pk) != 1 {
		return joinSide{}, false
	}
	s := joinSide{p: p, off: off}
	slot, _, ok := sideOf(joinSide{p: p}, t.Col(pk[0]))
	p.pk = slot
	return s, ok
}

// joinNone gives up on a join: it is re-run, its rows keyed by value
// (neither table's key is that of a joined row).
func joinNone(p *plan, why string) *plan {
	p.t, p.join = nil, nil
	return none(p, why)
}

// compileJoin classifies a query with joins: one inner join on key
// equality is Select; anything else None.
func compileJoin(p *plan, parts *orm.SelectParts) *plan {
	switch {
	case len(parts.Joins) != 1:
		return joinNone(p, "more than one join")
	case parts.Joins[0].Kind != orm.InnerJoin && parts.Joins[0].Kind != orm.LeftJoin:
		return joinNone(p, "a join that is neither inner nor left")
	case parts.Joins[0].Table == nil || parts.Joins[0].On == nil:
		return joinNone(p, "a join without a table or a condition")
	case parts.Joins[0].Table.Name() == parts.From.Name() || parts.Joins[0].Table.Alias() == parts.From.Alias():
		return joinNone(p, "a table joined with itself")
	case p.opt.Engine == 0:
		return joinNone(p, "no engine to match")
	case len(parts.GroupBy) > 0 || hasAggregate(parts.Columns) || len(parts.Having) > 0:
		return joinNone(p, "an aggregate over a join")
	case len(parts.Columns) == 0:
		return joinNone(p, "a join without a projection")
	}
	a, okA := newSide(parts.From, 0)
	b, okB := newSide(parts.Joins[0].Table, len(parts.From.Columns()))
	if !okA || !okB {
		return joinNone(p, "a joined table without a single-column primary key of an evaluated kind")
	}
	j := &joinPlan{sides: [2]joinSide{a, b}}
	p.t, p.join, p.pk = parts.From, j, a.p.pk
	p.kinds = append(append([]tabledef.Kind(nil), a.p.kinds...), b.p.kinds...)
	on := conjuncts(parts.Joins[0].On)
	if !j.findKey(on) {
		return joinNone(p, "a join whose condition has no column = column across the tables")
	}
	j.left = parts.Joins[0].Kind == orm.LeftJoin
	if j.left && !j.unique {
		// A change to the joined table would need its old key, which the
		// change log does not carry, to find the rows it leaves.
		return joinNone(p, "a left join not on the joined table's primary key")
	}
	where := append(on, parts.Where...)
	if j.left {
		where = parts.Where
		var err error
		if j.on, err = sqleval.And(on, j.column, p.opt); err != nil {
			return joinNone(p, err.Error())
		}
	}
	pred, err := sqleval.And(where, j.column, p.opt)
	if err != nil {
		return joinNone(p, err.Error())
	}
	p.pred, p.where = pred, parts.Where
	if why := j.compileOutput(p, parts); why != "" {
		return joinNone(p, why)
	}
	p.class = Select
	return p
}

// conjuncts flattens an AND.
func conjuncts(e expr.Expr) []expr.Expr {
	if l, ok := e.(*expr.Logic); ok && l.Op == expr.OpAnd {
		var out []expr.Expr
		for _, a := range l.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []expr.Expr{e}
}

// findKey finds the ON conjunct "column = column" across the tables the
// lookups use, preferring one on the joined table's primary key.
func (j *joinPlan) findKey(on []expr.Expr) bool {
	found := false
	for _, w := range on {
		c, ok := w.(*expr.Compare)
		if !ok || c.Op != expr.OpEq {
			continue
		}
		l, t, okL := j.column(c.Left)
		r, _, okR := j.column(c.Right)
		if !okL || !okR || j.side(l) == j.side(r) || t == sqleval.TBool {
			continue
		}
		if j.side(l) == 1 {
			l, r = r, l
		}
		unique := r == j.sides[1].off+j.sides[1].p.pk
		if !found || (unique && !j.unique) {
			j.key, j.unique, found = [2]int{l, r}, unique, true
		}
	}
	return found
}

// compileOutput reads the projection, ORDER BY (with the keys appended
// to break ties), LIMIT and OFFSET; it returns why not, or "".
func (j *joinPlan) compileOutput(p *plan, parts *orm.SelectParts) string {
	seen := map[string]bool{}
	for _, c := range parts.Columns {
		name, x := "", c
		if a, ok := c.(*expr.Alias); ok {
			name, x = a.Name, a.X
		}
		slot, _, ok := j.column(x)
		if !ok {
			return "a projection that is not a plain column of a plain kind"
		}
		if name == "" {
			name = x.(*expr.Column).Name
		}
		if seen[name] {
			return "two output columns of one name"
		}
		seen[name] = true
		p.proj = append(p.proj, slot)
		p.names = append(p.names, name)
		p.okind = append(p.okind, p.kinds[slot])
	}
	for _, o := range parts.OrderBy {
		slot, t, ok := j.column(o.X)
		if !ok || !p.orderable(t) {
			return "an ORDER BY term that is not a plain column ordered as in Go"
		}
		p.order = append(p.order, orderTerm{slot: slot, desc: o.Desc})
	}
	for i, s := range j.sides {
		if i == 1 && j.unique {
			break
		}
		if _, t, _ := sideOf(s, s.p.t.Col(s.p.t.PrimaryKey()[0])); !p.orderable(t) {
			return "a text primary key under a collation that is not byte order"
		}
		p.order = append(p.order, orderTerm{slot: s.off + s.p.pk})
	}
	p.limit, p.hasLimit, p.offset = parts.Limit, parts.HasLimit, parts.Offset
	if p.limit < 0 || p.offset < 0 {
		return "a negative LIMIT or OFFSET"
	}
	return ""
}

// joinReadRules folds both tables' read rules into the Go predicates,
// as row auth folds them into SQL: the FROM table's into WHERE, the
// joined table's into ON (for an inner join the same as WHERE; for a
// left join, a row hidden from the identity leaves NULLs). A rule Go
// cannot evaluate makes the subscription a re-run one.
func (c *core) joinReadRules() error {
	if rowauth.IsSystem(c.ctx) {
		return nil
	}
	j := c.p.join
	var rules [2]sqleval.Pred
	for i, s := range j.sides {
		f := s.p.t.Options().Auth.Read
		if f == nil {
			continue
		}
		if _, ok := rowauth.IdentityFrom(c.ctx); !ok {
			return &rowauth.AuthorizationError{Table: s.p.t.Name(), Op: orm.OpSelect, Err: rowauth.ErrNoIdentity}
		}
		rule, err := f(c.ctx)
		if err != nil {
			return &rowauth.AuthorizationError{Table: s.p.t.Name(), Op: orm.OpSelect, Err: err}
		}
		side := s
		rules[i], err = sqleval.Compile(rule, func(e expr.Expr) (int, sqleval.Type, bool) {
			col, ok := e.(*expr.Column)
			if !ok {
				return 0, 0, false
			}
			return sideOf(side, col)
		}, c.p.opt)
		if err != nil {
			c.mode, c.anyTable = None, true
			c.p.t, c.p.join = nil, nil
			return nil
		}
	}
	c.p.pred = both(rules[0], c.p.pred)
	if j.left {
		j.on = both(rules[1], j.on)
	} else {
		c.p.pred = both(rules[1], c.p.pred)
	}
	return nil
}

// both is rule AND p where a row the rule does not allow is false.
func both(rule, p sqleval.Pred) sqleval.Pred {
	if rule == nil {
		return p
	}
	return func(r []any) sqleval.Tri {
		if rule(r) != sqleval.True {
			return sqleval.False
		}
		return p(r)
	}
}

// loadJoin reads the first OFFSET+LIMIT joined rows, every column of
// both tables, under the subscriber's identity.
func (c *core) loadJoin() error {
	q, parts := c.q.Rewrite()
	j := c.p.join
	parts.Columns = parts.Columns[:0:0]
	for _, s := range j.sides {
		for _, col := range s.p.t.Columns() {
			parts.Columns = append(parts.Columns, s.p.t.Col(col.Name()))
		}
	}
	for i, s := range j.sides {
		if i == 1 && j.unique {
			break
		}
		parts.OrderBy = append(parts.OrderBy, expr.Asc(s.p.t.Col(s.p.t.PrimaryKey()[0])))
	}
	parts.Offset = 0
	if parts.HasLimit {
		parts.Limit = c.sel.n
	}
	rows, _, _, err := c.run(q, parts.From)
	if err != nil {
		return err
	}
	if err := canonRows(rows, c.p.kinds); err != nil {
		return err
	}
	c.sel.reset(rows)
	return nil
}

func canonRows(rows [][]any, kinds []tabledef.Kind) error {
	for _, r := range rows {
		for i, k := range kinds {
			var err error
			if r[i], err = canon(k, r[i]); err != nil {
				return fmt.Errorf("plasma: live: a joined row's column %d: %w", i, err)
			}
		}
	}
	return nil
}

// applyJoin applies a round's changes to a maintained join: the FROM
// table's first, then the joined table's, each in commit order.
func (c *core) applyJoin(rd *roundData) {
	looked := false
	for i, s := range c.p.join.sides {
		if len(rd.changes[s.p.t.Name()]) == 0 {
			continue
		}
		rows, err := rd.decoded(s.p)
		if err != nil {
			c.fail(err)
			return
		}
		for _, r := range rows {
			l, err := c.joinChange(rd, i, r)
			if err != nil {
				c.fail(err)
				return
			}
			looked = looked || l
		}
	}
	if looked && c.changed {
		// What a lookup read may be newer than the changes applied: hold
		// the result until the engine has caught up with it.
		c.queried = true
	}
}

// joinChange applies one change to side i's table and reports whether
// it ran a lookup.
func (c *core) joinChange(rd *roundData, i int, r rowChange) (bool, error) {
	j := c.p.join
	c.dropHolding(i, r.pk)
	if j.left && i == 1 {
		return c.leftJoined(rd, r)
	}
	if r.vals == nil {
		return false, nil
	}
	s := j.sides[i]
	v := r.vals[j.key[i]-s.off]
	var other [][]any
	looked := false
	if v != nil { // NULL joins nothing
		var err error
		if other, looked, err = c.matches(rd, 1-i, v); err != nil {
			return looked, err
		}
	}
	if j.left {
		c.putLeft(r.vals, other)
		return looked, nil
	}
	for _, o := range other {
		row := make([]any, len(c.p.kinds))
		copy(row[s.off:], r.vals)
		copy(row[j.sides[1-i].off:], o)
		c.put(row)
	}
	return looked, nil
}

func (c *core) put(row []any) {
	c.changed = c.sel.apply(c.p.rowKey(row), row) || c.changed
}

// dropHolding drops the kept rows that hold row pk of side i.
func (c *core) dropHolding(i int, pk string) {
	j := c.p.join
	var drop []string
	if i == 0 && j.unique {
		drop = append(drop, pk) // the FROM row's key is the row's
	} else {
		slot := j.sides[i].off + j.sides[i].p.pk
		for k, row := range c.sel.byPK {
			if pkString(row[slot]) == pk {
				drop = append(drop, k)
			}
		}
	}
	for _, k := range drop {
		c.changed = c.sel.apply(k, nil) || c.changed
	}
}

// putLeft puts a FROM row of a left join: joined with the one row of the
// joined table its key names if ON holds, else with NULLs.
func (c *core) putLeft(from []any, joined [][]any) {
	j := c.p.join
	row := make([]any, len(c.p.kinds))
	copy(row, from)
	for _, o := range joined {
		copy(row[j.sides[1].off:], o)
		if j.on(row) == sqleval.True {
			c.put(row)
			return
		}
	}
	clear(row[j.sides[1].off:])
	c.put(row)
}

// leftJoined applies a change to the joined table of a left join (on its
// primary key): every FROM row naming it is joined again, with its new
// image or with NULLs.
func (c *core) leftJoined(rd *roundData, r rowChange) (bool, error) {
	j := c.p.join
	b := j.sides[1]
	key, err := canon(b.p.kinds[b.p.pk], r.pk)
	if err != nil {
		return false, fmt.Errorf("plasma: live: the key of a change to %s: %w", b.p.t.Name(), err)
	}
	from, _, err := c.matches(rd, 0, key)
	if err != nil {
		return true, err
	}
	var joined [][]any
	if r.vals != nil {
		joined = [][]any{r.vals}
	}
	for _, a := range from {
		c.dropHolding(0, pkString(a[j.sides[0].p.pk]))
		c.putLeft(a, joined)
	}
	return true, nil
}

// lookupKey names a lookup: the rows of a table whose column is val.
type lookupKey struct {
	table, col string
	val        any
}

// matches returns side i's rows whose join key is v: from a kept row
// when the key is side 1's primary key, else by a query, shared by the
// round's subscriptions (it reads past the round's changes for all of
// them alike, and runs as the system).
func (c *core) matches(rd *roundData, i int, v any) ([][]any, bool, error) {
	j := c.p.join
	s := j.sides[i]
	if i == 1 && j.unique {
		for _, row := range c.sel.byPK {
			// A row joined with NULLs (a left join) tells nothing.
			if b := row[j.key[1]]; b != nil && sqleval.Cmp(b, v) == 0 {
				return [][]any{row[s.off : s.off+len(s.p.kinds)]}, false, nil
			}
		}
	}
	kslot := j.key[i] - s.off
	if n, ok := v.(int64); ok && s.p.kinds[kslot] == tabledef.KindInt && (n < math.MinInt32 || n > math.MaxInt32) {
		// An int column holds int32 values (orm checks writes) and so
		// equals no value outside; orm (and PostgreSQL) would refuse the
		// lookup's statement instead.
		return nil, false, nil
	}
	col := s.p.t.Columns()[kslot].Name()
	lk := lookupKey{table: s.p.t.Name(), col: col, val: v}
	if rows, ok := rd.lookups[lk]; ok {
		return rows, true, nil
	}
	q := c.db.Select().From(s.p.t).Where(expr.Eq(s.p.t.Col(col), v))
	// The read rules are evaluated in Go on the joined image.
	rows, err := c.runAs(rowauth.AsSystem(context.WithoutCancel(c.ctx)), q, s.p.t)
	if err != nil {
		return nil, true, err
	}
	if err := canonRows(rows, s.p.kinds); err != nil {
		return nil, true, err
	}
	if rd.lookups == nil {
		rd.lookups = map[lookupKey][][]any{}
	}
	rd.lookups[lk] = rows
	return rows, true, nil
}

// runAs runs q, every column of from, under ctx and reads its rows as
// c.run does.
func (c *core) runAs(ctx context.Context, q *orm.SelectQuery, from *orm.Table) ([][]any, error) {
	res, err := c.db.Run(ctx, &orm.Statement{Op: orm.OpSelect, Table: from, Query: q})
	if err != nil {
		return nil, err
	}
	defer res.Rows.Close()
	n := len(from.Columns())
	var out [][]any
	for res.Rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := res.Rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	return out, res.Rows.Err()
}

// announcedJoin is announced for a join: the query keeps the keys that
// break its ties, and its re-run rows are keyed by their values (the
// FROM table's key need not be unique in a join's result).
func (c *core) announcedJoin() {
	q, parts := c.q.Rewrite()
	j := c.p.join
	for i, s := range j.sides {
		if i == 1 && j.unique {
			break
		}
		parts.OrderBy = append(parts.OrderBy, expr.Asc(s.p.t.Col(s.p.t.PrimaryKey()[0])))
	}
	c.q = q
	c.p.t, c.p.join = nil, nil
	c.mode = None
}
