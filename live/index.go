package live

// The engine's index of subscriptions: a Select or Aggregate
// subscription whose WHERE requires column = constant is looked at only
// for changes whose new image has that value, or to rows it holds (the
// change log carries no old image, so each such subscription tells the
// index which rows it holds). Others are looked at for every change to a
// table they read. The index belongs to the engine's loop.

// Sets of subscriptions are slices: most hold one or a few, and a slice
// costs a fraction of a map per idle subscription.
type tableIndex struct {
	eq   map[int]map[any][]*core // column slot → value → subscriptions
	held map[string][]*core      // row → indexed subscriptions holding it
	plan *plan                   // any indexed plan of the table, to decode images
}

func without(list []*core, c *core) []*core {
	for i, x := range list {
		if x == c {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

type index struct {
	tables map[string]*tableIndex
	plain  map[*core]struct{} // subscriptions not indexed
}

func newIndex() *index {
	return &index{tables: map[string]*tableIndex{}, plain: map[*core]struct{}{}}
}

func (ix *index) table(name string) *tableIndex {
	ti := ix.tables[name]
	if ti == nil {
		ti = &tableIndex{eq: map[int]map[any][]*core{}, held: map[string][]*core{}}
		ix.tables[name] = ti
	}
	return ti
}

// indexable: maintained, with an equality to index by.
func indexable(c *core) bool {
	return c.mode != None && c.p.eqSlot >= 0 && c.watch == nil
}

// add indexes c and has its state report the rows it holds.
func (ix *index) add(c *core) {
	if !indexable(c) {
		ix.plain[c] = struct{}{}
		return
	}
	c.indexed = true
	ti := ix.table(c.p.t.Name())
	ti.plan = c.p
	byVal := ti.eq[c.p.eqSlot]
	if byVal == nil {
		byVal = map[any][]*core{}
		ti.eq[c.p.eqSlot] = byVal
	}
	byVal[c.p.eqVal] = append(byVal[c.p.eqVal], c)
	hold := func(pk string, in bool) {
		if in {
			ti.held[pk] = append(ti.held[pk], c)
			return
		}
		ti.release(pk, c)
	}
	c.holds = hold
	if c.sel != nil {
		c.sel.hold = hold
	}
}

// remove drops c from the index, with the rows it holds.
func (ix *index) remove(c *core) {
	if !c.indexed {
		delete(ix.plain, c)
		return
	}
	c.indexed = false
	ti := ix.tables[c.p.t.Name()]
	if ti == nil {
		return
	}
	if byVal := ti.eq[c.p.eqSlot]; byVal != nil {
		if l := without(byVal[c.p.eqVal], c); len(l) > 0 {
			byVal[c.p.eqVal] = l
		} else {
			delete(byVal, c.p.eqVal)
		}
	}
	var pks []string
	if c.sel != nil {
		for pk := range c.sel.byPK {
			pks = append(pks, pk)
		}
		c.sel.hold = nil
	}
	if c.agg != nil {
		for pk := range c.agg.members {
			pks = append(pks, pk)
		}
		c.agg.hold = nil
	}
	for _, pk := range pks {
		ti.release(pk, c)
	}
	c.holds = nil
}

// release records that c no longer holds row pk.
func (ti *tableIndex) release(pk string, c *core) {
	if l := without(ti.held[pk], c); len(l) > 0 {
		ti.held[pk] = l
	} else {
		delete(ti.held, pk)
	}
}

// candidates returns the indexed subscriptions a row change may concern.
func (ti *tableIndex) candidates(r rowChange, into map[*core]struct{}) {
	clear(into)
	for _, c := range ti.held[r.pk] {
		into[c] = struct{}{}
	}
	if r.vals == nil {
		return
	}
	for slot, byVal := range ti.eq {
		if v := r.vals[slot]; v != nil {
			for _, c := range byVal[v] {
				into[c] = struct{}{}
			}
		}
	}
}
