package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/plasma-go/plasma/dialect"
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
	load    bool                // load the binds of new identities
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
	// rescan: some identity's binds may be unloaded (a load failed, or
	// they were dropped); loadBinds looks at every identity.
	rescan bool
}

// Notify pokes after a push: the pushing client group's connections
// (its lastMutationIDs moved even if no row did) and every connection
// that may read a row the push changed. It implements the sync server's
// Notifier; it only signals, and never blocks the push.
func (h *Hub) Notify(ctx context.Context, info server.PushInfo) {
	if info.ClientGroupID != "" && info.UserID != "" {
		// The push proved the group is info.UserID's.
		h.mu.Lock()
		squatters := h.othersInGroup(info.ClientGroupID, info.UserID)
		h.mu.Unlock()
		closeSquatters(squatters)
	}
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
	started := time.Now()
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
	h.loadBinds(ctx)
	work := p.all || len(p.groups) > 0 || (cs != nil && (cs.all || len(cs.tables) > 0))
	if p.all || (cs != nil && cs.all) {
		h.pokeConns(h.allConns())
		if cs != nil && (cs.all || len(cs.tables) > 0) {
			// Changes the binds did not see (skipped, or not applied):
			// read them again.
			h.reloadBinds(ctx)
		}
	} else {
		h.pokeChanges(ctx, p, cs)
	}
	if work {
		h.stats.rounds.Add(1)
		h.stats.started.Store(started.UnixNano())
		h.stats.decided.Store(time.Now().UnixNano())
	}
	if len(p.remote) > 0 && h.listener != nil {
		h.announce(ctx, p.remote)
	}
}

// pokeChanges pokes, once each and as soon as it is known to need it,
// the pushing groups' connections, then those of the identities a
// change may concern (whoMayRead), then those whose views hold a
// changed row (viewsHolding).
func (h *Hub) pokeChanges(ctx context.Context, p pending, cs *changeSet) {
	h.checkOwners(ctx, p)
	targets := h.groupConns(p.groups)
	h.pokeConns(targets)
	if cs == nil || len(cs.tables) == 0 {
		return
	}
	losses := h.whoMayRead(ctx, cs, func(ides []*identity, untell bool) {
		var fresh []*conn
		h.mu.Lock()
		for _, ide := range ides {
			for c := range ide.conns {
				if untell {
					delete(h.told, c.group)
				}
				if _, done := targets[c]; !done {
					targets[c] = struct{}{}
					fresh = append(fresh, c)
				}
			}
		}
		h.mu.Unlock()
		for _, c := range fresh {
			c.sendPoke(h.pokeMsg)
		}
	})
	h.tell(ctx, losses)
	holders, ok := h.viewsHolding(ctx, cs, targets)
	if !ok {
		holders = h.allConns()
	}
	for c := range holders {
		if _, done := targets[c]; !done {
			c.sendPoke(h.pokeMsg)
		}
	}
}

// checkOwners closes this hub's connections to the groups other hubs
// were asked to poke (a push they served) that belong to another user
// than the group's owner: Notify does the same for this hub's pushes.
func (h *Hub) checkOwners(ctx context.Context, p pending) {
	for g := range p.groups {
		if _, local := p.remote[g]; local {
			continue
		}
		h.mu.Lock()
		_, open := h.groups[g]
		h.mu.Unlock()
		if !open {
			continue
		}
		owner, known, err := server.GroupOwner(ctx, h.db, g)
		if err != nil || !known {
			continue
		}
		h.mu.Lock()
		squatters := h.othersInGroup(g, owner)
		h.mu.Unlock()
		closeSquatters(squatters)
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
	dels map[string]struct{}        // row ids deleted (and not put again)
	imgs map[string]map[string]json.RawMessage
	cols map[string]map[string]struct{} // see colValues
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
		if ords, err = server.LatestViews(ctx, h.db, told); err != nil {
			ords = nil // poke them
		}
	}
	held, err := server.ViewsHolding(ctx, h.db, groups, cs.keys)
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

// Batching of the read-access checks.
const (
	// checkBatch is how many identities one read-access statement
	// checks at most: one result column each (SQLite allows 2,000
	// columns, PostgreSQL 1,664) or, in the fallback form, one term of
	// a compound SELECT each (SQLite allows 500). 200 measured best on
	// BenchmarkFanout (100 and 400 were slower).
	checkBatch = 200
	// maxCheckArgs bounds the bound values of one such statement, well
	// under SQLite's 32,766 and PostgreSQL's 65,535.
	maxCheckArgs = 20000
)

// whoMayRead finds the identities with connections that may read a
// changed row now, or whose read rules may select other rows because of
// the changes (affected), and hands them to found as soon as they are
// known (found is called by one goroutine at a time), so that their
// connections can be poked while the other identities are still being
// checked. untell is false only for identities whose sole reason is
// that rows their binds matched were deleted: those are returned, with
// the keys of those rows, for tell.
func (h *Hub) whoMayRead(ctx context.Context, cs *changeSet, found func(ides []*identity, untell bool)) map[*identity][]string {
	h.mu.Lock()
	// An identity still waiting for its binds to load was published
	// after this round's loadBinds, and so after the round read its
	// changes: the poke its connection got on connecting comes after
	// them and covers them, and its unloaded binds would only make it a
	// fallback.
	waiting := make(map[*identity]bool, len(h.toLoad))
	for _, ide := range h.toLoad {
		waiting[ide] = true
	}
	idents := make([]*identity, 0, len(h.idents))
	for _, ide := range h.idents {
		if !waiting[ide] {
			idents = append(idents, ide)
		}
	}
	h.mu.Unlock()

	// The tables that need a query: those with rows put. A table with
	// rows put and no read rule is readable by everyone.
	var check []*tableChanges
	open := false
	for _, name := range slices.Sorted(maps.Keys(cs.tables)) {
		tc := cs.tables[name]
		if len(tc.puts) == 0 {
			continue
		}
		if tc.t.Options().Auth.Read == nil {
			open = true
			break
		}
		check = append(check, tc)
	}
	var now, lossOnly, todo []*identity
	losses := map[*identity][]string{}
	idx := bindIndex{}
	for _, ide := range idents {
		v := h.affected(ide, cs, idx)
		if v.fallback {
			h.stats.fallbacks.Add(1)
		}
		switch {
		case open || v.gained || v.fallback:
			now = append(now, ide)
		case v.poke:
			lossOnly = append(lossOnly, ide)
			losses[ide] = v.lost
		case len(check) > 0:
			if yes, decided := h.readsInGo(ide, check); !decided {
				todo = append(todo, ide)
			} else if yes {
				now = append(now, ide)
			}
		}
	}
	var mu sync.Mutex
	report := func(ides []*identity) {
		if len(ides) == 0 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		found(ides, true)
	}
	report(now)
	if len(lossOnly) > 0 {
		found(lossOnly, false)
	}

	if len(todo) == 0 {
		return losses
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, h.opts.CheckConcurrency)
	for len(todo) > 0 {
		n := min(len(todo), checkBatch)
		batch := todo[:n:n]
		todo = todo[n:]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			h.checkBatch(ctx, batch, check, report)
		}()
	}
	wg.Wait()
	return losses
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
	ords, err := server.LatestViews(ctx, h.db, groups)
	if err != nil {
		return
	}
	held, err := server.ViewsHolding(ctx, h.db, groups, keys)
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

// checkBatch reports the identities of batch that may read one of the
// rows put in tables, with one statement for the whole batch per table
// (and per idChunk ids), reporting each statement's finds at once.
func (h *Hub) checkBatch(ctx context.Context, batch []*identity, tables []*tableChanges, report func([]*identity)) {
	left := batch
	for _, tc := range tables {
		col, _ := tc.t.Column("id")
		ids := slices.Sorted(maps.Keys(tc.puts))
		for len(ids) > 0 && len(left) > 0 {
			n := min(len(ids), idChunk)
			vals, ok := idValues(col.Kind(), ids[:n])
			ids = ids[n:]
			if !ok {
				report(left)
				return
			}
			// As many identities per statement as the argument budget
			// allows (the ids, plus a few for each rule).
			per := max(1, min(checkBatch, maxCheckArgs/(n+8)))
			yes := map[*identity]bool{}
			for i := 0; i < len(left); i += per {
				part := left[i:min(i+per, len(left))]
				got, ok := h.mayReadRows(ctx, part, tc.t, vals)
				if !ok {
					got = h.mayRead(ctx, part, tc.t, vals)
				}
				for _, ide := range got {
					yes[ide] = true
				}
				report(got)
			}
			if len(yes) > 0 {
				left = slices.DeleteFunc(slices.Clone(left), func(ide *identity) bool { return yes[ide] })
			}
		}
	}
}

// mayReadRows returns the identities of part that may read one of the
// rows of t whose ids are vals, with one statement that reads those rows
// once and evaluates each identity's read rule on them, one result
// column per identity:
//
//	SELECT <rule of part[0]>, <rule of part[1]>, … FROM t WHERE id IN (…)
//
// The rules are the predicates the row-auth middleware adds for each
// identity. ok is false when that cannot be done (a rewritten query of
// an unexpected shape, or a failed statement): then use mayRead.
func (h *Hub) mayReadRows(ctx context.Context, part []*identity, t *orm.Table, vals []any) (yes []*identity, ok bool) {
	idCol := t.Col("id")
	var rewritten *orm.SelectQuery
	rewrite := rowauth.Middleware()(func(_ context.Context, st *orm.Statement) (*orm.Result, error) {
		rewritten, _ = st.Query.(*orm.SelectQuery)
		return &orm.Result{}, nil
	})
	var asked []*identity
	cols := make([]expr.Expr, 0, len(part))
	for _, ide := range part {
		rewritten = nil
		q := orm.Select(idCol).From(t).Where(expr.InArray(idCol, vals))
		_, err := rewrite(rowauth.WithIdentity(ctx, ide.id), &orm.Statement{Op: orm.OpSelect, Table: t, Query: q, DB: h.db})
		if err != nil {
			// The rule failed: in doubt, yes (as a failed query).
			h.log.Debug("plasma: realtime: read-access check failed; poking", "table", t.Name(), "user", ide.id.UserID, "err", err)
			yes = append(yes, ide)
			continue
		}
		p := rewritten.Parts
		if p.From != t || p.FromSub != nil || len(p.Joins) > 0 || len(p.Where) < 2 {
			return nil, false
		}
		pred := expr.Expr(&expr.Logic{Op: expr.OpAnd, Args: p.Where[1:]})
		if len(p.Where) == 2 {
			pred = p.Where[1]
		}
		cols = append(cols, correlateIn(pred))
		asked = append(asked, ide)
	}
	if len(asked) == 0 {
		return yes, true
	}
	res, err := h.db.Select(cols...).From(t).Where(expr.InArray(idCol, vals)).Rows(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Debug("plasma: realtime: batched read-access check failed; checking one term per identity", "table", t.Name(), "err", err)
		}
		return nil, false
	}
	defer res.Rows.Close()
	hit := make([]bool, len(asked))
	dest := make([]any, len(asked))
	ptrs := make([]any, len(asked))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for res.Rows.Next() {
		if err := res.Rows.Scan(ptrs...); err != nil {
			return nil, false
		}
		for i, v := range dest {
			hit[i] = hit[i] || truthy(v)
		}
	}
	if res.Rows.Err() != nil {
		return nil, false
	}
	for i, ide := range asked {
		if hit[i] {
			yes = append(yes, ide)
		}
	}
	return yes, true
}

// truthy reports whether a predicate's value, as the driver returns it,
// is true: a bool on PostgreSQL, 1 on SQLite; NULL is not.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case int:
		return x != 0
	case float64:
		return x != 0
	case []byte:
		s := string(x)
		return s == "1" || s == "t" || s == "true"
	case string:
		return x == "1" || x == "t" || x == "true"
	}
	return false
}

// mayRead is mayReadRows's fallback: it returns the identities of part
// that may read one of the rows of t whose ids are vals, with one
// statement made of the whole query row auth makes for each identity:
//
//	SELECT 0 WHERE EXISTS (SELECT id FROM t WHERE id IN (…) AND <rule of part[0]> LIMIT 1)
//	UNION ALL SELECT 1 WHERE EXISTS (…) …
//
// Each term is the query the row-auth middleware makes for that
// identity. A rule that fails counts as yes; so does a failed statement
// of one identity (one of several is retried one identity at a time).
func (h *Hub) mayRead(ctx context.Context, part []*identity, t *orm.Table, vals []any) []*identity {
	idCol := t.Col("id")
	var rewritten *orm.SelectQuery
	rewrite := rowauth.Middleware()(func(_ context.Context, st *orm.Statement) (*orm.Result, error) {
		rewritten, _ = st.Query.(*orm.SelectQuery)
		return &orm.Result{}, nil
	})
	var yes []*identity
	var asked []*identity
	b := &dialect.Builder{D: h.db.Dialect()}
	for _, ide := range part {
		rewritten = nil
		q := orm.Select(idCol).From(t).Where(expr.InArray(idCol, vals)).Limit(1)
		_, err := rewrite(rowauth.WithIdentity(ctx, ide.id), &orm.Statement{Op: orm.OpSelect, Table: t, Query: q, DB: h.db})
		if err == nil && rewritten == nil {
			err = errors.New("the row-auth middleware returned no query")
		}
		if err == nil {
			rewritten = correlated(rewritten)
			nb, na := len(b.Buf), len(b.Args)
			if len(asked) > 0 {
				b.WriteString(" UNION ALL ")
			}
			b.WriteString("SELECT ")
			b.WriteInt(int64(len(asked)))
			b.WriteString(" WHERE EXISTS (")
			if err = rewritten.AppendSQL(b); err == nil {
				_ = b.WriteByte(')')
			} else {
				b.Buf, b.Args = b.Buf[:nb], b.Args[:na]
			}
		}
		if err != nil {
			h.log.Debug("plasma: realtime: read-access check failed; poking", "table", t.Name(), "user", ide.id.UserID, "err", err)
			yes = append(yes, ide)
			continue
		}
		asked = append(asked, ide)
	}
	if len(asked) == 0 {
		return yes
	}
	res, err := h.db.Run(ctx, &orm.Statement{Op: orm.OpRaw, SQL: string(b.Buf), Args: b.Args, ReturnsRows: true})
	var hits []*identity
	if err == nil {
		rows := res.Rows
		for rows.Next() {
			var i int64
			if err = rows.Scan(&i); err != nil {
				break
			}
			if i < 0 || i >= int64(len(asked)) {
				err = fmt.Errorf("read-access check returned term %d of %d", i, len(asked))
				break
			}
			hits = append(hits, asked[i])
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	if err != nil {
		if len(asked) > 1 && ctx.Err() == nil {
			// One identity's term may be the trouble: ask one at a time.
			for _, ide := range asked {
				yes = append(yes, h.mayRead(ctx, []*identity{ide}, t, vals)...)
			}
			return yes
		}
		if ctx.Err() == nil {
			h.log.Debug("plasma: realtime: read-access check failed; poking", "table", t.Name(), "user", asked[0].id.UserID, "err", err)
		}
		return append(yes, asked...)
	}
	return append(yes, hits...)
}

// correlated returns q with each "x IN (SELECT c FROM … WHERE p)" in a
// positive position of its WHERE (under AND and OR only) turned into
// "(SELECT c FROM … WHERE p AND c = x LIMIT 1) IS NOT NULL": the same
// truth value there (true exactly when some row has p and c = x; only
// NULL and false, both "no", may trade places), but SQLite, which runs
// an uncorrelated IN subquery by reading all its rows into a temporary
// table (every member of every list, say, for each identity), can then
// look the one row up in an index, with no temporary table. It returns
// q itself when there is nothing to change.
func correlated(q *orm.SelectQuery) *orm.SelectQuery {
	var where []expr.Expr
	for i, e := range q.Parts.Where {
		if x := correlateIn(e); x != e {
			if where == nil {
				where = slices.Clone(q.Parts.Where)
			}
			where[i] = x
		}
	}
	if where == nil {
		return q
	}
	c := q.Clone()
	c.Parts.Where = where
	return c
}

// correlateIn rewrites e for correlated, without changing e.
func correlateIn(e expr.Expr) expr.Expr {
	switch n := e.(type) {
	case *expr.Logic:
		var args []expr.Expr
		for i, a := range n.Args {
			if x := correlateIn(a); x != a {
				if args == nil {
					args = slices.Clone(n.Args)
				}
				args[i] = x
			}
		}
		if args == nil {
			return e
		}
		return &expr.Logic{Op: n.Op, Args: args}
	case *expr.In:
		x, ok := n.X.(*expr.Column)
		if !ok || x.Table == "" || n.Sub == nil || len(n.List) > 0 {
			return e
		}
		s, ok := n.Sub.Query.(*orm.SelectQuery)
		if !ok || s == nil {
			return e
		}
		p := &s.Parts
		if len(p.Columns) != 1 || p.From == nil || p.FromSub != nil || len(p.GroupBy) > 0 || len(p.Having) > 0 || p.HasLimit || p.Offset > 0 {
			return e
		}
		// x must name the outer row, not a table of the subquery.
		if p.From.Alias() == x.Table {
			return e
		}
		for _, j := range p.Joins {
			if j.Table == nil || j.Table.Alias() == x.Table {
				return e
			}
		}
		sub := s.Clone()
		sub.Parts.Where = append(slices.Clone(p.Where), expr.Eq(p.Columns[0], x))
		sub.Limit(1)
		return &expr.NullCheck{X: &expr.Subquery{Query: sub}, Negated: true}
	}
	return e
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
