package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// changeSet is what one round read from the change log.
type changeSet struct {
	tables map[string]*tableChanges
	// keys are the changed rows' keys, "<table>/<id>" as in a pull's
	// patch, puts and dels alike.
	keys []string
	// all: poke every connection (an unknown table, too many changes, a
	// new region).
	all bool
}

type tableChanges struct {
	t    *orm.Table
	puts map[string]json.RawMessage // row id → image
	dels map[string]struct{}        // row ids deleted (and not put again)
	imgs map[string]map[string]json.RawMessage
	cols map[string]map[string]struct{} // see colValues
}

// readChanges reads the changes since the cursors and moves them.
func (h *Hub) readChanges(ctx context.Context, named map[string]struct{}) (*changeSet, error) {
	cs := &changeSet{tables: map[string]*tableChanges{}}
	var changes []changelog.Change
	var err error
	if h.perRegion {
		changes, err = h.readRegions(ctx, cs, named)
	} else {
		changes, err = h.readShared(ctx)
	}
	if err != nil {
		return nil, err
	}
	if len(changes) > maxRoundChanges {
		// Too many to look at one by one: poke everyone and skip ahead.
		heads, err := h.readHeads(ctx)
		if err != nil {
			return nil, err
		}
		h.jump(heads)
		cs.all = true
		return cs, nil
	}
	h.classify(cs, changes)
	return cs, nil
}

// readShared reads the changes since the cursors on SQLite, whose
// versions the regions share, and moves the cursors to the head. It
// stops reading past maxRoundChanges.
func (h *Hub) readShared(ctx context.Context) ([]changelog.Change, error) {
	head, err := changelog.Head(ctx, h.db, "")
	if err != nil {
		return nil, err
	}
	if h.Connections() == 0 {
		h.jump(map[string]int64{"": head})
		return nil, nil
	}
	if head <= h.pump.head {
		return nil, nil
	}
	// Versions are shared by the regions and follow commit order:
	// every change up to head has committed, so each region is read
	// up to head, and no later.
	regions, err := h.regionsSince(ctx, h.pump.head, head)
	if err != nil {
		return nil, err
	}
	var changes []changelog.Change
	for _, r := range regions {
		cur := h.pump.head
		for {
			page, next, err := changelog.ChangesSince(ctx, h.db, r, cur, pageSize)
			if err != nil {
				return nil, err
			}
			for _, c := range page {
				if c.Version <= head {
					changes = append(changes, c)
				}
			}
			if len(page) < pageSize || next >= head || len(changes) > maxRoundChanges {
				break
			}
			cur = next
		}
		if len(changes) > maxRoundChanges {
			break
		}
	}
	h.pump.head = head
	for r := range h.pump.cursors {
		h.pump.cursors[r] = head
	}
	return changes, nil
}

// readRegions reads the changes since each region's cursor on
// PostgreSQL and moves the cursors. A region named in a notification
// that the hub did not watch is watched from its head on, and sets
// cs.all. It stops reading past maxRoundChanges.
func (h *Hub) readRegions(ctx context.Context, cs *changeSet, named map[string]struct{}) ([]changelog.Change, error) {
	for r := range named {
		if _, ok := h.pump.cursors[r]; ok {
			continue
		}
		// A region this hub did not know: what it wrote before now
		// is not looked at, so everyone is poked once.
		v, err := changelog.Head(ctx, h.db, r)
		if err != nil {
			return nil, err
		}
		h.pump.cursors[r] = v
		cs.all = true
		h.log.Info("plasma: realtime: watching a new change-log region", "region", r)
	}
	if h.Connections() == 0 {
		heads, err := h.readHeads(ctx)
		if err != nil {
			return nil, err
		}
		if h.Connections() == 0 {
			h.jump(heads)
			return nil, nil
		}
	}
	var changes []changelog.Change
	for _, r := range slices.Sorted(maps.Keys(h.pump.cursors)) {
		cur := h.pump.cursors[r]
		for {
			page, next, err := changelog.ChangesSince(ctx, h.db, r, cur, pageSize)
			if err != nil {
				return nil, err
			}
			changes = append(changes, page...)
			cur = next
			if len(page) < pageSize || len(changes) > maxRoundChanges {
				break
			}
		}
		h.pump.cursors[r] = cur
		if len(changes) > maxRoundChanges {
			break
		}
	}
	return changes, nil
}

// regionsSince lists the regions with a change in (from, to] (SQLite).
func (h *Hub) regionsSince(ctx context.Context, from, to int64) ([]string, error) {
	rows, err := h.db.Query(ctx, `SELECT DISTINCT "region" FROM "`+changelog.LogTable+`" WHERE "version" > ? AND "version" <= ?`, from, to)
	if err != nil {
		return nil, fmt.Errorf("plasma: realtime: listing regions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// classify sorts the changes by table and applies the rules that poke
// everyone.
func (h *Hub) classify(cs *changeSet, changes []changelog.Change) {
	seen := map[string]bool{}
	for _, c := range changes {
		t := h.opts.Schema.Table(c.Table)
		if t == nil || !t.Synced() {
			cs.all = true // a table this schema does not know: in doubt
			continue
		}
		tc := cs.tables[c.Table]
		if tc == nil {
			tc = &tableChanges{t: t, puts: map[string]json.RawMessage{}, dels: map[string]struct{}{}}
			cs.tables[c.Table] = tc
		}
		if key := c.Table + "/" + c.RowID; !seen[key] {
			seen[key] = true
			cs.keys = append(cs.keys, key)
		}
		if c.Op != changelog.OpPut {
			// The row is gone: the groups whose views hold it are poked
			// (viewsHolding).
			delete(tc.puts, c.RowID)
			tc.dels[c.RowID] = struct{}{}
			continue
		}
		delete(tc.dels, c.RowID)
		tc.puts[c.RowID] = c.Row
	}
}
