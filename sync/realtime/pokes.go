package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// Limits of one round.
const (
	// maxRoundChanges is how many changes a round reads in detail; past
	// it the round pokes every connection and skips to the head.
	maxRoundChanges = 20000
	// pageSize is the limit of one ChangesSince call.
	pageSize = 1000
	// idChunk is how many row ids one read-access query tests.
	idChunk = 500
	// maxRetry bounds the wait before a failed change-log read is tried
	// again.
	maxRetry = 5 * time.Second
)

// pending is the work signalled since the last round.
type pending struct {
	scan    bool                // read the change log
	all     bool                // poke every connection
	groups  map[string]struct{} // poke these client groups' connections
	remote  map[string]struct{} // and tell the other hubs to (PostgreSQL)
	regions map[string]struct{} // regions named by notifications
}

// pumpState is the state of the pump goroutine.
type pumpState struct {
	// cursors hold, per watched region, the version up to which the
	// region's changes have been handled. On SQLite, whose versions are
	// shared by all regions, head is that version for every region.
	cursors map[string]int64
	head    int64
	retry   time.Duration
	// pollFailing: the last poll failed (and was reported).
	pollFailing bool
}

// Notify pokes after a push: the pushing client group's connections
// (its lastMutationIDs moved even if no row did) and every connection
// that may read a row the push changed. It implements the sync server's
// Notifier; it only signals, and never blocks the push.
func (h *Hub) Notify(ctx context.Context, info server.PushInfo) {
	if !info.Committed() {
		return
	}
	h.signal(func(p *pending) {
		p.scan = true
		if info.ClientGroupID != "" {
			p.addGroup(info.ClientGroupID, true)
		}
	})
}

// Poke pokes the connections of client group groupID, in this process
// and, on PostgreSQL with Options.Listener, in every other process
// whose hub listens on the database. Backend jobs call it when something
// a pull would show changed outside the change log. Writes made through
// a ServerDB need no Poke: the hub finds them in the change log.
func (h *Hub) Poke(groupID string) {
	if groupID == "" {
		return
	}
	h.signal(func(p *pending) { p.addGroup(groupID, true) })
}

func (p *pending) addGroup(g string, remote bool) {
	if p.groups == nil {
		p.groups = map[string]struct{}{}
	}
	p.groups[g] = struct{}{}
	if remote {
		if p.remote == nil {
			p.remote = map[string]struct{}{}
		}
		p.remote[g] = struct{}{}
	}
}

// signal records work for the next round and wakes the pump.
func (h *Hub) signal(fn func(p *pending)) {
	h.pmu.Lock()
	fn(&h.pend)
	h.pmu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func (h *Hub) takePending() pending {
	select {
	case <-h.kick:
	default:
	}
	h.pmu.Lock()
	p := h.pend
	h.pend = pending{}
	h.pmu.Unlock()
	return p
}

// initCursors starts the cursors at the heads.
func (h *Hub) initCursors(ctx context.Context) error {
	h.ps.cursors = map[string]int64{}
	if !h.postgres {
		v, err := changelog.Head(ctx, h.db, "")
		if err != nil {
			return err
		}
		h.ps.head = v
		for _, r := range h.opts.Regions {
			h.ps.cursors[r] = v
		}
		return nil
	}
	for _, r := range h.opts.Regions {
		v, err := changelog.Head(ctx, h.db, r)
		if err != nil {
			return err
		}
		h.ps.cursors[r] = v
	}
	return nil
}

// run is the pump: it waits for a signal (or, when polling, for the
// heads to move), waits CoalesceWindow for the rest of the burst, then
// runs a round.
func (h *Hub) run() {
	defer h.bg.Done()
	var tick <-chan time.Time
	if !h.postgres || h.listener == nil {
		t := time.NewTicker(h.opts.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-h.done:
			return
		case <-tick:
			if !h.headsMoved() {
				continue
			}
			h.signal(func(p *pending) { p.scan = true })
		case <-h.kick:
		}
		t := time.NewTimer(h.opts.CoalesceWindow)
		select {
		case <-h.done:
			t.Stop()
			return
		case <-t.C:
		}
		h.round(h.takePending())
	}
}

// headsMoved reports whether a watched region's head is past its
// cursor. With no connection it moves the cursors to the heads instead:
// a connection registered later is poked when it connects, so it needs
// nothing older.
func (h *Hub) headsMoved() bool {
	heads, err := h.readHeads(h.ctx)
	if err != nil {
		if h.ctx.Err() == nil && !h.ps.pollFailing {
			h.log.Warn("plasma: realtime: reading the change-log heads (reported once until it works again)", "err", err)
		}
		h.ps.pollFailing = true
		return false
	}
	h.ps.pollFailing = false
	if h.Connections() == 0 {
		h.jump(heads)
		return false
	}
	if !h.postgres {
		return heads[""] > h.ps.head
	}
	for r, v := range heads {
		if v > h.ps.cursors[r] {
			return true
		}
	}
	return false
}

// readHeads reads the heads of the watched regions; on SQLite the one
// head, under "".
func (h *Hub) readHeads(ctx context.Context) (map[string]int64, error) {
	if !h.postgres {
		v, err := changelog.Head(ctx, h.db, "")
		return map[string]int64{"": v}, err
	}
	out := make(map[string]int64, len(h.ps.cursors))
	for r := range h.ps.cursors {
		v, err := changelog.Head(ctx, h.db, r)
		if err != nil {
			return nil, err
		}
		out[r] = v
	}
	return out, nil
}

// jump moves the cursors to heads read earlier: the changes in between
// are not looked at.
func (h *Hub) jump(heads map[string]int64) {
	if !h.postgres {
		h.ps.head = max(h.ps.head, heads[""])
		for r := range h.ps.cursors {
			h.ps.cursors[r] = h.ps.head
		}
	} else {
		for r, v := range heads {
			h.ps.cursors[r] = max(h.ps.cursors[r], v)
		}
	}
}

// round reads what the pending work asks for and pokes.
func (h *Hub) round(p pending) {
	ctx := h.ctx
	if ctx.Err() != nil {
		return
	}
	var cs *changeSet
	if p.scan || len(p.regions) > 0 {
		var err error
		cs, err = h.readChanges(ctx, p.regions)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The cursors did not move: the changes are read again on
			// the retry, and pulls fail meanwhile anyway.
			h.ps.retry = min(max(2*h.ps.retry, 50*time.Millisecond), maxRetry)
			h.log.Warn("plasma: realtime: reading the change log", "err", err, "retry", h.ps.retry)
			time.AfterFunc(h.ps.retry, func() { h.signal(func(p *pending) { p.scan = true }) })
		} else {
			h.ps.retry = 0
		}
	}
	if p.all || (cs != nil && cs.all) {
		h.pokeConns(h.allConns())
	} else {
		targets := h.groupConns(p.groups)
		if cs != nil && len(cs.tables) > 0 {
			for _, ide := range h.whoMayRead(ctx, cs) {
				h.mu.Lock()
				for c := range ide.conns {
					targets[c] = struct{}{}
				}
				h.mu.Unlock()
			}
			holders, ok := h.viewsHolding(ctx, cs, targets)
			if !ok {
				targets = h.allConns()
			}
			maps.Copy(targets, holders)
		}
		h.pokeConns(targets)
	}
	if len(p.remote) > 0 && h.listener != nil {
		h.announce(ctx, p.remote)
	}
}

func (h *Hub) allConns() map[*conn]struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.conns)
}

func (h *Hub) groupConns(groups map[string]struct{}) map[*conn]struct{} {
	out := map[*conn]struct{}{}
	h.mu.Lock()
	defer h.mu.Unlock()
	for g := range groups {
		for c := range h.groups[g] {
			out[c] = struct{}{}
		}
	}
	return out
}

func (h *Hub) pokeConns(conns map[*conn]struct{}) {
	for c := range conns {
		c.sendPoke(h.pokeMsg)
	}
}

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
}

// readChanges reads the changes since the cursors and moves them.
func (h *Hub) readChanges(ctx context.Context, named map[string]struct{}) (*changeSet, error) {
	cs := &changeSet{tables: map[string]*tableChanges{}}
	var changes []changelog.Change
	if !h.postgres {
		head, err := changelog.Head(ctx, h.db, "")
		if err != nil {
			return nil, err
		}
		if h.Connections() == 0 {
			h.jump(map[string]int64{"": head})
			return cs, nil
		}
		if head <= h.ps.head {
			return cs, nil
		}
		// Versions are shared by the regions and follow commit order:
		// every change up to head has committed, so each region is read
		// up to head, and no later.
		regions, err := h.regionsSince(ctx, h.ps.head, head)
		if err != nil {
			return nil, err
		}
		for _, r := range regions {
			cur := h.ps.head
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
		h.ps.head = head
		for r := range h.ps.cursors {
			h.ps.cursors[r] = head
		}
	} else {
		for r := range named {
			if _, ok := h.ps.cursors[r]; ok {
				continue
			}
			// A region this hub did not know: what it wrote before now
			// is not looked at, so everyone is poked once.
			v, err := changelog.Head(ctx, h.db, r)
			if err != nil {
				return nil, err
			}
			h.ps.cursors[r] = v
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
				return cs, nil
			}
		}
		for _, r := range slices.Sorted(maps.Keys(h.ps.cursors)) {
			cur := h.ps.cursors[r]
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
			h.ps.cursors[r] = cur
			if len(changes) > maxRoundChanges {
				break
			}
		}
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
			tc = &tableChanges{t: t, puts: map[string]json.RawMessage{}}
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
			continue
		}
		tc.puts[c.RowID] = c.Row
	}
}

// viewsHolding returns the connections, not in skip already, whose
// client group's latest view (its last pull) holds a changed row: a
// row deleted, or one an update may have taken out of the group's view,
// must reach it as a del. ok is false when the view records could not
// be read: then every connection is poked.
func (h *Hub) viewsHolding(ctx context.Context, cs *changeSet, skip map[*conn]struct{}) (conns map[*conn]struct{}, ok bool) {
	if len(cs.keys) == 0 {
		return nil, true
	}
	var groups []string
	h.mu.Lock()
	for g, members := range h.groups {
		for c := range members {
			if _, done := skip[c]; !done {
				groups = append(groups, g)
				break
			}
		}
	}
	h.mu.Unlock()
	if len(groups) == 0 {
		return nil, true
	}
	held, err := server.ViewsHolding(ctx, h.db, groups, cs.keys)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("plasma: realtime: reading the client view records; poking every connection", "err", err)
		}
		return nil, false
	}
	hit := map[string]struct{}{}
	for g, yes := range held {
		if yes {
			hit[g] = struct{}{}
		}
	}
	return h.groupConns(hit), true
}

// whoMayRead returns the identities with connections that may read a
// changed row now, or whose read rules consult a changed table.
func (h *Hub) whoMayRead(ctx context.Context, cs *changeSet) []*identity {
	h.mu.Lock()
	idents := slices.Collect(maps.Values(h.idents))
	h.mu.Unlock()

	var (
		mu  sync.Mutex
		out []*identity
		wg  sync.WaitGroup
		sem = make(chan struct{}, h.opts.CheckConcurrency)
	)
	tables := slices.Sorted(maps.Keys(cs.tables))
	for _, ide := range idents {
		if h.dependsOnChange(ide, cs) {
			out = append(out, ide)
			continue
		}
		// Tables without a read rule first: no query needed.
		var check []*tableChanges
		hit := false
		for _, name := range tables {
			tc := cs.tables[name]
			if len(tc.puts) == 0 {
				continue
			}
			if tc.t.Options().Auth.Read == nil {
				hit = true
				break
			}
			check = append(check, tc)
		}
		if hit {
			out = append(out, ide)
			continue
		}
		if len(check) == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if h.mayReadAny(ctx, ide, check) {
				mu.Lock()
				out = append(out, ide)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// mayReadAny reports whether ide may read one of the rows put in
// tables, with one query per table (per idChunk ids). A failed query
// counts as yes.
func (h *Hub) mayReadAny(ctx context.Context, ide *identity, tables []*tableChanges) bool {
	actx := rowauth.WithIdentity(ctx, ide.id)
	for _, tc := range tables {
		idCol := tc.t.Col("id")
		col, _ := tc.t.Column("id")
		ids := slices.Sorted(maps.Keys(tc.puts))
		for len(ids) > 0 {
			n := min(len(ids), idChunk)
			vals, ok := idValues(col.Kind(), ids[:n])
			ids = ids[n:]
			if !ok {
				return true
			}
			res, err := h.authDB.Select(idCol).From(tc.t).Where(expr.InArray(idCol, vals)).Limit(1).Rows(actx)
			if err != nil {
				if ctx.Err() == nil {
					h.log.Debug("plasma: realtime: read-access check failed; poking", "table", tc.t.Name(), "user", ide.id.UserID, "err", err)
				}
				return true
			}
			found := res.Rows.Next()
			err = res.Rows.Err()
			res.Rows.Close()
			if found || err != nil {
				return true
			}
		}
	}
	return false
}

// idValues converts change-log row ids to values of the id column's
// kind.
func idValues(k orm.Kind, ids []string) ([]any, bool) {
	out := make([]any, len(ids))
	for i, id := range ids {
		switch k {
		case orm.KindInt, orm.KindBigInt:
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return nil, false
			}
			out[i] = n
		default:
			out[i] = id
		}
	}
	return out, true
}

// announce tells the other hubs to poke groups (PostgreSQL).
func (h *Hub) announce(ctx context.Context, groups map[string]struct{}) {
	list := slices.Sorted(maps.Keys(groups))
	for len(list) > 0 {
		msg := pokeNotice{Hub: h.id}
		size := 0
		for len(list) > 0 && size+len(list[0]) < 7000 {
			msg.Groups = append(msg.Groups, list[0])
			size += len(list[0]) + 3
			list = list[1:]
		}
		if len(msg.Groups) == 0 { // one absurdly long id
			list = list[1:]
			continue
		}
		if _, err := h.db.Exec(ctx, `SELECT pg_notify(?, ?)`, ChannelPokes, string(mustJSON(msg))); err != nil && ctx.Err() == nil {
			h.log.Warn("plasma: realtime: announcing pokes to other processes", "err", err)
		}
	}
}

// pokeNotice is the payload of a notification on ChannelPokes.
type pokeNotice struct {
	Hub    string   `json:"hub"`
	Groups []string `json:"groups"`
}
