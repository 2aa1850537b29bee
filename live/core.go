package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/tabledef"
)

// sink receives a subscription's results; it never blocks.
type sink interface {
	// publish hands over the result; changed, when not nil, holds the
	// only keys whose rows may differ from the last result (nil value:
	// gone), else any row may have.
	publish(names []string, kinds []tabledef.Kind, rows []outRow, changed map[string][]any)
	fail(err error)
}

// core is the engine's side of a subscription. The engine's loop owns
// every field but the closed flag. Its fields are ordered (pointers,
// then the flags together) to keep it small: a server holds many.
type core struct {
	e    *engine
	db   *orm.DB
	ctx  context.Context // the subscriber's: its identity reads
	q    *orm.SelectQuery
	p    *plan
	sel  *selState
	agg  *aggState
	hold map[string]int64 // publish once the cursors reach it
	// dirtyAt: when a read table changed (re-run).
	dirtyAt time.Time
	rerun   *rerunResult // re-run: the latest result

	out sink
	// watch, for ServerSelect, hears that a read table changed; the
	// engine runs no query for it.
	watch chan struct{}
	// joined is closed by the first round that sees the core: changes
	// committed after it are applied to it.
	joined chan struct{}
	// holds tells the engine's index the rows the core's state holds.
	holds func(pk string, in bool)

	mu   sync.Mutex
	mode Class // None: re-run
	// anyTable: a re-run subscription depends on every table (a read
	// rule with a subquery, raw SQL).
	anyTable bool
	loaded   bool
	changed  bool
	full     bool // the next publication may change any row
	queried  bool // loaded this round: hold at the heads after
	dirty    bool // re-run: a read table changed
	// indexed: the engine's index holds the core.
	indexed      bool
	joinedClosed bool // joined is closed
	isClosed     bool // under mu
}

// rerunResult is a re-run subscription's latest result.
type rerunResult struct {
	names []string
	kinds []tabledef.Kind
	rows  []outRow
}

func (c *core) closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isClosed
}

func (c *core) close() {
	c.mu.Lock()
	c.isClosed = true
	c.mu.Unlock()
}

func (c *core) fail(err error) {
	if c.closed() {
		return
	}
	c.close()
	c.out.fail(err)
}

// reads says whether the subscription depends on table.
func (c *core) reads(table string) bool {
	if c.anyTable {
		return true
	}
	for _, t := range c.p.tables {
		if t == table {
			return true
		}
	}
	return false
}

// applyAll applies a round's changes.
func (c *core) applyAll(rd *roundData) {
	if !c.loaded {
		return
	}
	if c.mode == None {
		if rd.all || c.readsAny(rd.changes) {
			c.touch()
		}
		return
	}
	if c.p.join != nil {
		c.applyJoin(rd)
		return
	}
	rows, err := rd.decoded(c.p)
	if err != nil {
		c.fail(err)
		return
	}
	c.applyRows(rows)
}

// readsAny says whether the subscription reads one of the changed tables.
func (c *core) readsAny(changes map[string][]changelog.Change) bool {
	for t := range changes {
		if c.reads(t) {
			return true
		}
	}
	return false
}

// touch tells a re-run subscription that a table it reads changed.
func (c *core) touch() {
	if c.watch != nil {
		select {
		case c.watch <- struct{}{}:
		default:
		}
		return
	}
	if !c.dirty {
		c.dirty, c.dirtyAt = true, time.Now()
	}
}

// applyRows applies decoded changes to a maintained subscription.
func (c *core) applyRows(rows []rowChange) {
	if !c.loaded {
		return // the load to come reads what these changes left
	}
	for _, r := range rows {
		var ch bool
		if c.mode == Select {
			ch = c.sel.apply(r.pk, r.vals)
		} else {
			ch = c.agg.apply(r.pk, r.vals)
		}
		c.changed = c.changed || ch
	}
	if c.mode == Aggregate && c.agg.overflow {
		// A sum left int64: from now on the engine's own arithmetic
		// (an error on SQLite, numeric on PostgreSQL) decides.
		c.mode, c.dirty, c.dirtyAt = None, true, time.Time{}
	}
}

// catchUp runs the queries the subscription needs now; queried reports
// a load or refill, whose snapshot the engine must catch up with before
// publishing.
func (c *core) catchUp(now time.Time, debounce time.Duration) (bool, error) {
	switch {
	case !c.loaded && c.mode != None, c.mode == Select && c.sel.short():
		if err := c.load(); err != nil {
			return false, err
		}
		c.loaded, c.changed, c.queried = true, true, true
		return true, nil
	case c.mode == None && (!c.loaded || (c.dirty && now.Sub(c.dirtyAt) >= debounce)):
		if err := c.runAgain(); err != nil {
			return false, err
		}
		c.loaded, c.changed, c.dirty = true, true, false
	}
	return c.queried, nil // a join's lookups read past the cursors
}

// waiting: a re-run is due later.
func (c *core) waiting() bool { return c.mode == None && c.dirty }

func (c *core) publish() {
	if !c.changed || c.closed() {
		return
	}
	c.changed = false
	switch c.mode {
	case Select:
		c.out.publish(c.p.names, c.p.okind, c.sel.result(), nil)
	case Aggregate:
		rows, changed := c.agg.result()
		if c.full {
			changed, c.full = nil, false
		}
		c.out.publish(c.p.names, c.p.okind, rows, changed)
	default:
		if c.rerun != nil {
			c.out.publish(c.rerun.names, c.rerun.kinds, c.rerun.rows, nil)
		}
	}
}

// load reads the rows maintenance starts from: the first OFFSET+LIMIT
// matching rows (Select) or every matching row's inputs (Aggregate),
// under the subscriber's identity.
func (c *core) load() error {
	if c.p.join != nil {
		return c.loadJoin()
	}
	q, parts := c.q.Rewrite()
	t := c.p.t
	parts.Columns = make([]expr.Expr, 0, len(t.Columns()))
	for _, col := range t.Columns() {
		parts.Columns = append(parts.Columns, t.Col(col.Name()))
	}
	if c.mode == Select {
		parts.OrderBy = append(parts.OrderBy, expr.Asc(t.Col(t.PrimaryKey()[0])))
		parts.Offset = 0
		if parts.HasLimit {
			parts.Limit = c.sel.n
		}
	} else {
		parts.GroupBy, parts.Having, parts.OrderBy = nil, nil, nil
	}
	rows, _, _, err := c.run(q, parts.From)
	if err != nil {
		return err
	}
	for _, r := range rows {
		for i, k := range c.p.kinds {
			if r[i], err = canon(k, r[i]); err != nil {
				return fmt.Errorf("plasma: live: column %q: %w", t.Columns()[i].Name(), err)
			}
		}
	}
	if c.mode == Select {
		c.sel.reset(rows)
		return nil
	}
	if c.agg != nil && c.agg.hold != nil {
		for pk := range c.agg.members {
			c.agg.hold(pk, false)
		}
	}
	c.agg, c.full = newAggState(c.p), true
	c.agg.hold = c.holds
	for _, r := range rows {
		c.agg.add(pkString(r[c.p.pk]), r)
	}
	if c.agg.overflow {
		c.mode, c.dirty, c.dirtyAt = None, true, time.Time{}
		return c.runAgain()
	}
	return nil
}

// runAgain re-runs the subscription's query as it is.
func (c *core) runAgain() error {
	rows, names, kinds, err := c.run(c.q, c.q.Parts().From)
	if err != nil {
		return err
	}
	key := -1
	if c.p.t != nil {
		pk := c.p.t.PrimaryKey()
		for i, n := range names {
			if len(pk) == 1 && n == pk[0] {
				key = i
			}
		}
	}
	out := make([]outRow, len(rows))
	seen := map[string]int{}
	for i, r := range rows {
		k := ""
		if key >= 0 {
			k = fmt.Sprint(r[key])
		} else {
			// No primary key in the result: a row is known by its
			// values (and how many times they occurred).
			k = keyOf(textValues(r))
			seen[k]++
			k = fmt.Sprintf("%s#%d", k, seen[k])
		}
		out[i] = outRow{key: k, vals: r}
	}
	c.rerun = &rerunResult{names: names, kinds: kinds, rows: out}
	return nil
}

// textValues turns driver values into comparable ones for keys.
func textValues(r []any) []any {
	out := make([]any, len(r))
	for i, v := range r {
		switch x := v.(type) {
		case int64, string, bool, nil:
			out[i] = x
		default:
			out[i] = fmt.Sprint(x)
		}
	}
	return out
}

// run runs q on the subscription's database under its context and reads
// every row's driver values ([]byte as string).
func (c *core) run(q *orm.SelectQuery, from *orm.Table) ([][]any, []string, []tabledef.Kind, error) {
	res, err := c.db.Run(c.ctx, &orm.Statement{Op: orm.OpSelect, Table: from, Query: q})
	if err != nil {
		return nil, nil, nil, err
	}
	defer res.Rows.Close()
	names, err := res.Rows.Columns()
	if err != nil {
		return nil, nil, nil, err
	}
	var out [][]any
	for res.Rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := res.Rows.Scan(ptrs...); err != nil {
			return nil, nil, nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	if err := res.Rows.Err(); err != nil {
		return nil, nil, nil, err
	}
	return out, names, res.Kinds, res.Rows.Close()
}

// rowChange is a change decoded for evaluation.
type rowChange struct {
	pk   string
	vals []any // nil for a del
}

// roundData holds one round's changes, decoded once per table.
type roundData struct {
	changes map[string][]changelog.Change
	dec     map[string][]rowChange
	errs    map[string]error
	all     bool                  // any table may have changed (Options.Changes)
	lookups map[lookupKey][][]any // joins' lookups this round (join.go)
}

func (rd *roundData) decoded(p *plan) ([]rowChange, error) {
	name := p.t.Name()
	if rows, ok := rd.dec[name]; ok {
		return rows, rd.errs[name]
	}
	var rows []rowChange
	var err error
	for _, ch := range rd.changes[name] {
		r := rowChange{pk: ch.RowID}
		if ch.Op == changelog.OpPut {
			if r.vals, err = decodeImage(p, ch.Row); err != nil {
				break
			}
		}
		rows = append(rows, r)
	}
	rd.dec[name], rd.errs[name] = rows, err
	return rows, err
}
