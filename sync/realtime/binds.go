package realtime

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plasma-go/plasma/expr"
)

// Stats are a hub's counters since New. They are meant for metrics and
// tests; read them with Hub.Stats.
type Stats struct {
	// Pokes is how many poke messages were written to connections,
	// including the one each connection gets when it connects.
	Pokes uint64
	// Rounds is how many times the hub read the change log (or was
	// asked to poke client groups) and decided whom to poke.
	Rounds uint64
	// FallbackPokes counts identities poked, once per round, only
	// because a change touched a table that one of their read rules
	// reads in a way the hub cannot narrow down to the identity's rows:
	// raw SQL, a join, a subquery without an equality between a column
	// and a value of the identity's, a rule that failed, or a bind whose
	// rows could not be loaded. Every identity poked this way may be a
	// spurious poke; with rules of the memberOf shape it stays 0.
	FallbackPokes uint64
	// LastRoundStarted and LastRoundDecided are when the latest round
	// that read changes began (after the coalescing window) and when it
	// had decided, and queued, every poke it sends.
	LastRoundStarted, LastRoundDecided time.Time
}

// hubStats holds the counters of Stats.
type hubStats struct {
	pokes, rounds, fallbacks atomic.Uint64
	started, decided         atomic.Int64 // Unix ns
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	s := Stats{
		Pokes:         h.stats.pokes.Load(),
		Rounds:        h.stats.rounds.Load(),
		FallbackPokes: h.stats.fallbacks.Load(),
	}
	if ns := h.stats.started.Load(); ns != 0 {
		s.LastRoundStarted = time.Unix(0, ns)
	}
	if ns := h.stats.decided.Load(); ns != 0 {
		s.LastRoundDecided = time.Unix(0, ns)
	}
	return s
}

// PokesSent returns how many poke messages the hub wrote to
// connections (Stats().Pokes), for metrics (package sync/otelsync reads
// it).
func (h *Hub) PokesSent() uint64 { return h.stats.pokes.Load() }

// bindChunk is how many bind values one loading query names.
const bindChunk = 500

// loadBinds loads the binds not loaded yet of the identities published
// since its last run (or, after a failure or reloadBinds, of every
// identity): the rows that match each, with one query per table, set of
// columns and bindChunk values. Run by the pump only, at the start of
// each round, before the round applies changes to the binds: the rows
// read are at least as new as the cursors, and the changes above the
// cursors are applied to them again, which changes nothing or pokes once
// more. A bind that fails to load stays unloaded: changes to its table
// poke its identity (a fallback) until a later round loads it.
func (h *Hub) loadBinds(ctx context.Context) {
	h.mu.Lock()
	idents := h.toLoad
	h.toLoad = nil
	if h.pump.rescan {
		idents = slices.Collect(maps.Values(h.idents))
		h.pump.rescan = false
	}
	h.mu.Unlock()
	bySig := map[string][]*bindState{}
	for _, ide := range idents {
		for _, list := range h.deps(ide).binds {
			for _, bs := range list {
				if !bs.loaded {
					bySig[bs.sig] = append(bySig[bs.sig], bs)
				}
			}
		}
	}
	for _, sig := range slices.Sorted(maps.Keys(bySig)) {
		list := bySig[sig]
		for len(list) > 0 {
			n := min(len(list), bindChunk)
			if err := h.loadChunk(ctx, list[:n]); err != nil {
				h.pump.rescan = true
				if ctx.Err() == nil {
					h.log.Warn("plasma: realtime: loading the rows read rules depend on; poking their users on any change to the table", "table", list[0].table, "err", err)
				}
			}
			list = list[n:]
		}
	}
}

// reloadBinds forgets what every bind has loaded and loads it again,
// after a round that did not apply its changes to them. Run by the pump
// only.
func (h *Hub) reloadBinds(ctx context.Context) {
	h.mu.Lock()
	idents := slices.Collect(maps.Values(h.idents))
	h.mu.Unlock()
	for _, ide := range idents {
		for _, list := range h.deps(ide).binds {
			for _, bs := range list {
				bs.loaded = false
			}
		}
	}
	h.pump.rescan = true
	h.loadBinds(ctx)
}

// loadChunk loads binds of one sig: SELECT id, <cols> FROM t WHERE
// <cols[0]> IN (their values), matched to each bind in Go.
func (h *Hub) loadChunk(ctx context.Context, binds []*bindState) error {
	b0 := binds[0]
	t := h.opts.Schema.Table(b0.table)
	cols := []expr.Expr{t.Col("id")}
	for _, c := range b0.cols {
		cols = append(cols, t.Col(c))
	}
	if b0.sel != "" {
		cols = append(cols, t.Col(b0.sel))
	}
	var vals []any
	seen := map[string]bool{}
	for _, bs := range binds {
		k, _ := canonValue(bs.vals[0])
		if !seen[k] {
			seen[k] = true
			vals = append(vals, bs.vals[0])
		}
	}
	res, err := h.db.Select(cols...).From(t).Where(expr.InArray(t.Col(b0.cols[0]), vals)).Rows(ctx)
	if err != nil {
		return err
	}
	defer res.Rows.Close()
	type row struct{ id, sel string }
	byKey := map[string][]row{}
	dest := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	keys := make([]string, len(b0.cols))
	for res.Rows.Next() {
		if err := res.Rows.Scan(ptrs...); err != nil {
			return err
		}
		ok := true
		for i := range keys {
			if keys[i], ok = canonValue(dest[i+1]); !ok {
				break
			}
		}
		if ok {
			k := strings.Join(keys, "\x00")
			r := row{id: idText(dest[0])}
			if b0.sel != "" {
				r.sel, _ = canonValue(dest[len(dest)-1]) // "": equals nothing
			}
			byKey[k] = append(byKey[k], r)
		}
	}
	if err := res.Rows.Err(); err != nil {
		return err
	}
	for _, bs := range binds {
		clear(bs.rows)
		clear(bs.sels)
		for _, r := range byKey[bs.key] {
			bs.rows[r.id] = struct{}{}
			if bs.sel != "" {
				bs.sels[r.id] = r.sel
			}
		}
		bs.loaded = true
	}
	return nil
}

// idText is a row id as the change log writes it.
func idText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	k, _ := canonValue(v)
	return strings.TrimPrefix(k, "n:")
}

// verdict is what a round's changes to the tables ide's rules read
// mean for ide.
type verdict struct {
	poke     bool     // some of its rows may have entered or left its view
	fallback bool     // poke decided without looking at rows
	gained   bool     // a changed row matches one of its binds now
	lost     []string // keys of deleted rows that matched one of its binds
}

// bindIndex maps, per round, a bind sig to the keys of the rows put,
// each to their ids: which binds a put matches, found once per sig.
type bindIndex map[string]map[string][]string

// affected works out, from the changed rows' values, whether ide's
// read rules may select other rows now, and updates its binds' rows.
// Called by the pump only.
func (h *Hub) affected(ide *identity, cs *changeSet, idx bindIndex) verdict {
	var v verdict
	d := h.deps(ide)
	if d.any {
		return verdict{poke: len(cs.tables) > 0, fallback: len(cs.tables) > 0}
	}
	for name, tc := range cs.tables {
		if d.tables[name] {
			v.poke, v.fallback = true, true
		}
		for _, bs := range d.binds[name] {
			if !bs.loaded {
				v.poke, v.fallback = true, true
				continue
			}
			h.applyBind(bs, tc, idx, &v)
		}
	}
	return v
}

// applyBind applies one table's changes to bs.
func (h *Hub) applyBind(bs *bindState, tc *tableChanges, idx bindIndex, v *verdict) {
	keys := idx[bs.sig]
	if keys == nil {
		keys = map[string][]string{}
		for id := range tc.puts {
			if k, ok := imageKey(tc.image(id), bs.cols); ok {
				keys[k] = append(keys[k], id)
			}
		}
		idx[bs.sig] = keys
	}
	for _, id := range keys[bs.key] {
		bs.rows[id] = struct{}{}
		if bs.sel != "" {
			bs.sels[id], _ = canonJSON(tc.image(id)[bs.sel])
		}
		v.poke, v.gained = true, true
	}
	for id := range bs.rows {
		if _, put := tc.puts[id]; put {
			if k, ok := imageKey(tc.image(id), bs.cols); !ok || k != bs.key {
				// Updated out of the bind: like a gain, the identity may
				// still read the row, so nothing is assumed.
				delete(bs.rows, id)
				delete(bs.sels, id)
				v.poke, v.gained = true, true
			}
		} else if _, del := tc.dels[id]; del {
			delete(bs.rows, id)
			delete(bs.sels, id)
			v.poke = true
			v.lost = append(v.lost, tc.t.Name()+"/"+id)
		}
	}
}

// image returns the decoded image of the row put with id (cached).
func (tc *tableChanges) image(id string) map[string]json.RawMessage {
	if img, ok := tc.imgs[id]; ok {
		return img
	}
	var img map[string]json.RawMessage
	_ = json.Unmarshal(tc.puts[id], &img) // an unreadable image matches nothing
	if tc.imgs == nil {
		tc.imgs = map[string]map[string]json.RawMessage{}
	}
	tc.imgs[id] = img
	return img
}

// readsInGo decides, without a query, whether ide may read one of the
// rows put in tables: possible when each table's rule is simple
// (simpleRule) and its bind is loaded. The bind's rows hold at least the
// rows the subquery selects, as of the changes this round applied, so
// "no" is exact and "yes" may only be a spurious poke (a subquery with
// further conditions). decided is false when some table needs a query.
func (h *Hub) readsInGo(ide *identity, tables []*tableChanges) (yes, decided bool) {
	d := h.deps(ide)
	if d.any {
		return false, false
	}
	for _, tc := range tables {
		sr := d.simple[tc.t.Name()]
		if sr == nil || !sr.bs.loaded {
			return false, false
		}
	}
	for _, tc := range tables {
		sr := d.simple[tc.t.Name()]
		vals := tc.colValues(sr.col)
		for _, sel := range sr.bs.sels {
			if _, hit := vals[sel]; hit && sel != "" {
				return true, true
			}
		}
	}
	return false, true
}

// colValues returns the canonical values of col in the rows put
// (cached).
func (tc *tableChanges) colValues(col string) map[string]struct{} {
	if vals, ok := tc.cols[col]; ok {
		return vals
	}
	vals := map[string]struct{}{}
	for id := range tc.puts {
		if k, ok := canonJSON(tc.image(id)[col]); ok {
			vals[k] = struct{}{}
		}
	}
	if tc.cols == nil {
		tc.cols = map[string]map[string]struct{}{}
	}
	tc.cols[col] = vals
	return vals
}
