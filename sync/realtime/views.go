package realtime

import (
	"context"

	"github.com/plasma-go/plasma/sync/internal/store"
)

// viewsHolding returns the connections, not in skip already, whose
// client group's latest view (its last pull) holds a changed row: a
// row deleted, or one an update may have taken out of the group's view,
// must reach it as a del. A group told (see tell) since its latest
// record is left out: its pending pull brings the dels. ok is false
// when the view records could not be read: then every connection is
// poked.
func (h *Hub) viewsHolding(ctx context.Context, cs *changeSet, skip map[*conn]struct{}) (conns map[*conn]struct{}, ok bool) {
	if len(cs.keys) == 0 {
		return nil, true
	}
	var groups, told []string
	h.mu.Lock()
	for g, members := range h.groups {
		for c := range members {
			if _, done := skip[c]; !done {
				groups = append(groups, g)
				if _, ok := h.told[g]; ok {
					told = append(told, g)
				}
				break
			}
		}
	}
	h.mu.Unlock()
	if len(groups) == 0 {
		return nil, true
	}
	// The told groups' latest records, read before what they hold (see
	// tell).
	var ords map[string]int64
	if len(told) > 0 {
		var err error
		if ords, err = store.LatestViews(ctx, h.db, told); err != nil {
			ords = nil // poke them
		}
	}
	held, err := store.ViewsHolding(ctx, h.db, groups, cs.keys)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("plasma: realtime: reading the client view records; poking every connection", "err", err)
		}
		return nil, false
	}
	hit := map[string]struct{}{}
	h.mu.Lock()
	for g, yes := range held {
		if !yes {
			continue
		}
		if o, ok := h.told[g]; ok {
			if o == ords[g] {
				continue // poked since its last pull, which it did not make
			}
			delete(h.told, g)
		}
		hit[g] = struct{}{}
	}
	h.mu.Unlock()
	return h.groupConns(hit), true
}

// tell records, for each client group of an identity that lost rows of
// its binds (a member removed from a list), whose latest view record
// holds one of those deleted rows, that it has been poked since that
// record: its next pull is bound to store a new record (it brings that
// row's del), and until then viewsHolding does not poke it again for
// rows it can no longer read. Any other reason to poke the identity
// (it may read a changed row, a bind gained a row) forgets this
// (found's untell).
func (h *Hub) tell(ctx context.Context, losses map[*identity][]string) {
	var groups, keys []string
	h.mu.Lock()
	for ide, lost := range losses {
		for c := range ide.conns {
			groups = append(groups, c.group)
		}
		keys = append(keys, lost...)
	}
	h.mu.Unlock()
	if len(groups) == 0 || len(keys) == 0 {
		return
	}
	// The orders first: a record stored in between is newer than the
	// one remembered, which only costs a poke.
	ords, err := store.LatestViews(ctx, h.db, groups)
	if err != nil {
		return
	}
	held, err := store.ViewsHolding(ctx, h.db, groups, keys)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for g, yes := range held {
		if _, open := h.groups[g]; yes && open && ords[g] > 0 {
			h.told[g] = ords[g]
		}
	}
}
