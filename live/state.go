package live

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/sqleval"
)

// outRow is one row of a result: its key (the primary key, or the group)
// and its output values.
type outRow struct {
	key  string
	vals []any
}

// cmpOrder compares two rows by terms. NULL sorts after every value and
// first when descending, as orm renders ORDER BY on both engines.
func cmpOrder(terms []orderTerm, a, b []any) int {
	for _, t := range terms {
		va, vb := a[t.slot], b[t.slot]
		d := 0
		switch {
		case va == nil && vb == nil:
		case va == nil:
			d = 1
		case vb == nil:
			d = -1
		default:
			d = sqleval.Cmp(va, vb)
		}
		if t.desc {
			d = -d
		}
		if d != 0 {
			return d
		}
	}
	return 0
}

// keyOf encodes values as a map key that tells types and NULL apart.
func keyOf(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b.WriteString("N;")
		case int64:
			b.WriteString("i" + strconv.FormatInt(x, 10) + ";")
		case bool:
			b.WriteString("b" + strconv.FormatBool(x) + ";")
		case string:
			b.WriteString("s" + strconv.Itoa(len(x)) + ":" + x)
		}
	}
	return b.String()
}

// pkString is the key of a row: its primary key as text.
func pkString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// selState maintains a Select-class result: the first n rows (OFFSET
// plus LIMIT) of the rows that match, in order, or all of them.
type selState struct {
	p        *plan
	rows     [][]any // table rows, sorted by p.order
	byPK     map[string][]any
	n        int64                    // the window; -1 without LIMIT
	complete bool                     // rows holds every matching row
	hold     func(pk string, in bool) // told of each row kept or let go
}

func (s *selState) held(pk string, in bool) {
	if s.hold != nil {
		s.hold(pk, in)
	}
}

func newSelState(p *plan) *selState {
	s := &selState{p: p, n: -1, byPK: map[string][]any{}}
	if p.hasLimit {
		s.n = p.offset + p.limit
	}
	return s
}

// reset replaces the rows with a fresh read of the first n.
func (s *selState) reset(rows [][]any) {
	s.rows = rows
	for pk := range s.byPK {
		s.held(pk, false)
	}
	clear(s.byPK)
	for _, r := range rows {
		pk := pkString(r[s.p.pk])
		s.byPK[pk] = r
		s.held(pk, true)
	}
	s.complete = s.n < 0 || int64(len(rows)) < s.n
}

func (s *selState) find(r []any) (int, bool) {
	return sort.Find(len(s.rows), func(i int) int { return cmpOrder(s.p.order, r, s.rows[i]) })
}

// apply applies one row's change (vals nil: deleted) and reports whether
// the kept rows changed.
func (s *selState) apply(pk string, vals []any) bool {
	changed := false
	if old := s.byPK[pk]; old != nil {
		if i, ok := s.find(old); ok {
			s.rows = slices.Delete(s.rows, i, i+1)
		}
		delete(s.byPK, pk)
		s.held(pk, false)
		changed = true
	}
	if vals == nil || s.p.pred(vals) != sqleval.True {
		return changed
	}
	full := s.n >= 0 && int64(len(s.rows)) >= s.n
	i, _ := s.find(vals)
	switch {
	case s.n < 0 || (!full && s.complete) || i < len(s.rows):
		// Inside the known rows: every row not kept sorts after them.
		s.rows = slices.Insert(s.rows, i, vals)
		s.byPK[pk] = vals
		s.held(pk, true)
		changed = true
		if s.n >= 0 && int64(len(s.rows)) > s.n {
			last := s.rows[len(s.rows)-1]
			delete(s.byPK, pkString(last[s.p.pk]))
			s.held(pkString(last[s.p.pk]), false)
			s.rows = s.rows[:len(s.rows)-1]
			s.complete = false
		}
	default:
		// After the last kept row: beyond a full window, or where rows
		// not kept may come first (the window is then refilled).
		s.complete = false
	}
	return changed
}

// short: a row left a window whose further rows are not known.
func (s *selState) short() bool {
	return s.n >= 0 && int64(len(s.rows)) < s.n && !s.complete
}

// result returns the visible rows.
func (s *selState) result() []outRow {
	rows := s.rows
	if int64(len(rows)) <= s.p.offset {
		return []outRow{}
	}
	rows = rows[s.p.offset:]
	out := make([]outRow, len(rows))
	for i, r := range rows {
		vals := make([]any, len(s.p.proj))
		for j, c := range s.p.proj {
			vals[j] = r[c]
		}
		out[i] = outRow{key: pkString(r[s.p.pk]), vals: vals}
	}
	return out
}

// acc is one aggregate of one group.
type acc struct {
	n     int64 // non-NULL inputs
	sum   int64
	ext   any // MIN or MAX
	stale bool
}

type group struct {
	key     string
	keyVals []any
	count   int64
	accs    []acc
	members map[string][]any // pk → aggregate inputs, with MIN or MAX
	out     []any            // the output row, as of the last result
	keep    bool             // HAVING kept it
	gone    bool             // deleted since the last result
}

// aggState maintains an Aggregate-class result.
type aggState struct {
	p        *plan
	groups   map[string]*group
	sorted   []*group // every group, in output order
	dirty    map[*group]bool
	members  map[string]member
	minmax   bool
	overflow bool                     // a sum left int64: the subscription is re-run
	hold     func(pk string, in bool) // told of each row counted or let go
}

type member struct {
	g    *group
	args []any
}

func newAggState(p *plan) *aggState {
	s := &aggState{p: p, groups: map[string]*group{}, members: map[string]member{}, dirty: map[*group]bool{}}
	for _, a := range p.aggs {
		if a.fn == expr.AggMin || a.fn == expr.AggMax {
			s.minmax = true
		}
	}
	if len(p.group) == 0 {
		s.group(nil) // no GROUP BY: one row, even over no rows
	}
	return s
}

func (s *aggState) group(keyVals []any) *group {
	k := keyOf(keyVals)
	g := s.groups[k]
	if g == nil {
		g = &group{key: k, keyVals: keyVals, accs: make([]acc, len(s.p.aggs))}
		if s.minmax {
			g.members = map[string][]any{}
		}
		s.groups[k] = g
		i, _ := slices.BinarySearchFunc(s.sorted, g, s.cmpGroups)
		s.sorted = slices.Insert(s.sorted, i, g)
	}
	s.dirty[g] = true
	return g
}

func (s *aggState) cmpGroups(a, b *group) int {
	if d := cmpOrder(s.p.gorder, a.keyVals, b.keyVals); d != 0 {
		return d
	}
	return strings.Compare(a.key, b.key)
}

// apply applies one row's change (vals nil: deleted); it always reports a
// change when the row counted before or counts now.
func (s *aggState) apply(pk string, vals []any) bool {
	changed := false
	if m, ok := s.members[pk]; ok {
		s.remove(pk, m)
		changed = true
	}
	if vals != nil && s.p.pred(vals) == sqleval.True {
		s.add(pk, vals)
		changed = true
	}
	return changed
}

func (s *aggState) add(pk string, vals []any) {
	kv := make([]any, len(s.p.group))
	for i, c := range s.p.group {
		kv[i] = vals[c]
	}
	g := s.group(kv)
	g.count++
	args := make([]any, len(s.p.aggs))
	for i, a := range s.p.aggs {
		if a.slot < 0 {
			continue
		}
		v := vals[a.slot]
		args[i] = v
		if v == nil {
			continue
		}
		ac := &g.accs[i]
		ac.n++
		switch a.fn {
		case expr.AggSum, expr.AggAvg:
			sum, carry := addOverflow(ac.sum, v.(int64))
			ac.sum, s.overflow = sum, s.overflow || carry
		case expr.AggMin, expr.AggMax:
			if ac.n == 1 {
				ac.ext, ac.stale = v, false
			} else if !ac.stale && better(a.fn, v, ac.ext) {
				ac.ext = v
			}
		}
	}
	if g.members != nil {
		g.members[pk] = args
	}
	s.members[pk] = member{g: g, args: args}
	if s.hold != nil {
		s.hold(pk, true)
	}
}

func (s *aggState) remove(pk string, m member) {
	g := m.g
	s.dirty[g] = true
	g.count--
	for i, a := range s.p.aggs {
		v := m.args[i]
		if a.slot < 0 || v == nil {
			continue
		}
		ac := &g.accs[i]
		ac.n--
		switch a.fn {
		case expr.AggSum, expr.AggAvg:
			sum, carry := addOverflow(ac.sum, -v.(int64))
			ac.sum, s.overflow = sum, s.overflow || carry || v.(int64) == -1<<63
		case expr.AggMin, expr.AggMax:
			if ac.n == 0 {
				ac.ext, ac.stale = nil, false
			} else if ac.ext != nil && sqleval.Cmp(v, ac.ext) == 0 {
				ac.stale = true
			}
		}
	}
	if g.members != nil {
		delete(g.members, pk)
	}
	delete(s.members, pk)
	if s.hold != nil {
		s.hold(pk, false)
	}
	if g.count == 0 && len(s.p.group) > 0 {
		delete(s.groups, g.key)
		if i, ok := slices.BinarySearchFunc(s.sorted, g, s.cmpGroups); ok {
			s.sorted = slices.Delete(s.sorted, i, i+1)
		}
		g.gone = true
	}
}

func better(fn expr.AggFunc, v, cur any) bool {
	d := sqleval.Cmp(v, cur)
	if fn == expr.AggMin {
		return d < 0
	}
	return d > 0
}

func addOverflow(a, b int64) (int64, bool) {
	s := a + b
	return s, (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
}

// refresh recomputes the extremes that left their groups, from the
// group's members in memory.
func (s *aggState) refresh() {
	if !s.minmax {
		return
	}
	for g := range s.dirty {
		for i, a := range s.p.aggs {
			ac := &g.accs[i]
			if !ac.stale {
				continue
			}
			ac.ext, ac.stale = nil, false
			for _, args := range g.members {
				if v := args[i]; v != nil && (ac.ext == nil || better(a.fn, v, ac.ext)) {
					ac.ext = v
				}
			}
		}
	}
}

// value is aggregate i of g as the engine returns it.
func (s *aggState) value(g *group, i int) any {
	ac := &g.accs[i]
	a := s.p.aggs[i]
	switch a.fn {
	case expr.AggCount:
		if a.slot < 0 {
			return g.count
		}
		return ac.n
	case expr.AggSum:
		if ac.n == 0 {
			return nil
		}
		return ac.sum
	case expr.AggAvg:
		if ac.n == 0 {
			return nil
		}
		return float64(ac.sum) / float64(ac.n)
	}
	return ac.ext
}

// result returns the groups HAVING keeps, ordered, and the output rows
// of the groups changed since the last result (nil: gone). Only changed
// groups are evaluated again: O(changed groups) plus a copy of the order.
func (s *aggState) result() ([]outRow, map[string][]any) {
	s.refresh()
	changed := make(map[string][]any, len(s.dirty))
	slot := make([]any, len(s.p.group)+len(s.p.aggs))
	for g := range s.dirty {
		wasKept := g.keep
		if g.gone {
			g.keep = false
		} else {
			copy(slot, g.keyVals)
			for i := range s.p.aggs {
				slot[len(s.p.group)+i] = s.value(g, i)
			}
			g.keep = s.p.having(slot) == sqleval.True
			if g.keep {
				g.out = make([]any, len(s.p.outs))
				for i, o := range s.p.outs {
					if o.group >= 0 {
						g.out[i] = g.keyVals[o.group]
					} else {
						g.out[i] = slot[len(s.p.group)+o.agg]
					}
				}
			}
		}
		if g.keep {
			changed[g.key] = g.out
		} else if _, set := changed[g.key]; wasKept && !set {
			// A group gone and made again in one round is one key:
			// the kept one wins, whichever comes first.
			changed[g.key] = nil
		}
	}
	clear(s.dirty)
	out := make([]outRow, 0, len(s.sorted))
	for _, g := range s.sorted {
		if g.keep {
			out = append(out, outRow{key: g.key, vals: g.out})
		}
	}
	return out, changed
}
