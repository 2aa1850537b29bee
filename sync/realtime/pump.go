package realtime

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/sync/internal/store"
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
	scan     bool                // read the change log
	load     bool                // load the binds of new identities
	all      bool                // poke every connection
	groups   map[string]struct{} // poke these client groups' connections
	announce map[string]struct{} // and tell the other hubs to (PostgreSQL)
	regions  map[string]struct{} // regions named by notifications
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

// addGroup asks the round to poke group g's connections and, with
// announce, the other hubs to poke theirs.
func (p *pending) addGroup(g string, announce bool) {
	if p.groups == nil {
		p.groups = map[string]struct{}{}
	}
	p.groups[g] = struct{}{}
	if announce {
		if p.announce == nil {
			p.announce = map[string]struct{}{}
		}
		p.announce[g] = struct{}{}
	}
}

// signal records work for the next round and wakes the pump.
func (h *Hub) signal(fn func(p *pending)) {
	h.pendingMu.Lock()
	fn(&h.pending)
	h.pendingMu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Hub) takePending() pending {
	select {
	case <-h.wake:
	default:
	}
	h.pendingMu.Lock()
	p := h.pending
	h.pending = pending{}
	h.pendingMu.Unlock()
	return p
}

// initCursors starts the cursors at the heads.
func (h *Hub) initCursors(ctx context.Context) error {
	h.pump.cursors = map[string]int64{}
	if !h.perRegion {
		v, err := changelog.Head(ctx, h.db, "")
		if err != nil {
			return err
		}
		h.pump.head = v
		for _, r := range h.opts.Regions {
			h.pump.cursors[r] = v
		}
		return nil
	}
	for _, r := range h.opts.Regions {
		v, err := changelog.Head(ctx, h.db, r)
		if err != nil {
			return err
		}
		h.pump.cursors[r] = v
	}
	return nil
}

// run is the pump: it waits for a signal (or, when polling, for the
// heads to move), waits CoalesceWindow for the rest of the burst, then
// runs a round.
func (h *Hub) run() {
	defer h.bg.Done()
	var tick <-chan time.Time
	if !h.perRegion || h.listener == nil {
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
		case <-h.wake:
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
		if h.ctx.Err() == nil && !h.pump.pollFailing {
			h.log.Warn("plasma: realtime: reading the change-log heads (reported once until it works again)", "err", err)
		}
		h.pump.pollFailing = true
		return false
	}
	h.pump.pollFailing = false
	if h.Connections() == 0 {
		h.jump(heads)
		return false
	}
	if !h.perRegion {
		return heads[""] > h.pump.head
	}
	for r, v := range heads {
		if v > h.pump.cursors[r] {
			return true
		}
	}
	return false
}

// readHeads reads the heads of the watched regions; on SQLite the one
// head, under "".
func (h *Hub) readHeads(ctx context.Context) (map[string]int64, error) {
	if !h.perRegion {
		v, err := changelog.Head(ctx, h.db, "")
		return map[string]int64{"": v}, err
	}
	out := make(map[string]int64, len(h.pump.cursors))
	for r := range h.pump.cursors {
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
	if !h.perRegion {
		h.pump.head = max(h.pump.head, heads[""])
		for r := range h.pump.cursors {
			h.pump.cursors[r] = h.pump.head
		}
	} else {
		for r, v := range heads {
			h.pump.cursors[r] = max(h.pump.cursors[r], v)
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
			h.pump.retry = min(max(2*h.pump.retry, 50*time.Millisecond), maxRetry)
			h.log.Warn("plasma: realtime: reading the change log", "err", err, "retry", h.pump.retry)
			time.AfterFunc(h.pump.retry, func() { h.signal(func(p *pending) { p.scan = true }) })
		} else {
			h.pump.retry = 0
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
	if len(p.announce) > 0 && h.listener != nil {
		h.announce(ctx, p.announce)
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
		if _, local := p.announce[g]; local {
			continue
		}
		h.mu.Lock()
		_, open := h.groups[g]
		h.mu.Unlock()
		if !open {
			continue
		}
		owner, known, err := store.GroupOwner(ctx, h.db, g)
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

// announce tells the other hubs to poke groups (PostgreSQL).
func (h *Hub) announce(ctx context.Context, groups map[string]struct{}) {
	list := slices.Sorted(maps.Keys(groups))
	for len(list) > 0 {
		msg := pokeNotice{Hub: h.id, Scope: h.scope}
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
		if err := h.notify(ctx, ChannelPokes, string(mustJSON(msg))); err != nil && ctx.Err() == nil {
			h.log.Warn("plasma: realtime: announcing pokes to other processes", "err", err)
		}
	}
}

// pokeNotice is the payload of a notification on ChannelPokes.
// Scope is the sending hub's schema: apps in other schemas of the same
// database listen on the same channel, and their group ids are not ours.
type pokeNotice struct {
	Hub    string   `json:"hub"`
	Scope  string   `json:"scope"`
	Groups []string `json:"groups"`
}

// notify sends payload to the other processes listening on channel, in
// the spelling of the hub's dialect (which has NotifyListen when the hub
// announces pokes). The statement is rendered with '?' placeholders,
// which Exec numbers for the dialect.
func (h *Hub) notify(ctx context.Context, channel, payload string) error {
	n, ok := h.db.Dialect().(dialect.Notifier)
	if !ok {
		return fmt.Errorf("plasma: realtime: dialect %q cannot notify", h.db.Dialect().Name())
	}
	b := dialect.GetBuilder(dialect.Placeholders)
	defer dialect.PutBuilder(b)
	n.AppendNotify(b, channel, payload)
	_, err := h.db.Exec(ctx, string(b.Buf), b.Args...)
	return err
}
