package live

// The engine's index of subscriptions: a Select or Aggregate
// subscription whose WHERE requires column = constant is looked at only
// for changes whose new image has that value, or to rows it holds (the
// change log carries no old image, so each such subscription tells the
// index which rows it holds). Others are looked at for every change to a
// table they read. The index belongs to the engine's loop.

type tableIndex struct {
	eq   map[int]map[any]map[*core]struct{} // column slot → value → subscriptions
	held map[string]map[*core]struct{}      // row → indexed subscriptions holding it
	plan *plan                              // any indexed plan of the table, to decode images
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
		ti = &tableIndex{eq: map[int]map[any]map[*core]struct{}{}, held: map[string]map[*core]struct{}{}}
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
		byVal = map[any]map[*core]struct{}{}
		ti.eq[c.p.eqSlot] = byVal
	}
	set := byVal[c.p.eqVal]
	if set == nil {
		set = map[*core]struct{}{}
		byVal[c.p.eqVal] = set
	}
	set[c] = struct{}{}
	hold := func(pk string, in bool) {
		hs := ti.held[pk]
		if in {
			if hs == nil {
				hs = map[*core]struct{}{}
				ti.held[pk] = hs
			}
			hs[c] = struct{}{}
			return
		}
		delete(hs, c)
		if len(hs) == 0 {
			delete(ti.held, pk)
		}
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
		delete(byVal[c.p.eqVal], c)
		if len(byVal[c.p.eqVal]) == 0 {
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
		delete(ti.held[pk], c)
		if len(ti.held[pk]) == 0 {
			delete(ti.held, pk)
		}
	}
	c.holds = nil
}

// candidates returns the indexed subscriptions a row change may concern.
func (ti *tableIndex) candidates(r rowChange, into map[*core]struct{}) {
	clear(into)
	for c := range ti.held[r.pk] {
		into[c] = struct{}{}
	}
	if r.vals == nil {
		return
	}
	for slot, byVal := range ti.eq {
		if v := r.vals[slot]; v != nil {
			for c := range byVal[v] {
				into[c] = struct{}{}
			}
		}
	}
}
