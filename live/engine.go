package live

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/internal/sqleval"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// ChannelChanges is the PostgreSQL notification channel on which the
// change log's trigger announces commits: the trigger sync/realtime's
// Ensure installs. The engine LISTENs on it with Options.Listener.
const ChannelChanges = "plasma_changes"

// Options configure the live engine of a database (see Configure).
type Options struct {
	// Regions are the change-log regions the engine reads. Empty: the
	// default region.
	Regions []string
	// Listener is, on PostgreSQL, the connection string the engine
	// LISTENs on for commits made by other processes (the channel
	// ChannelChanges, which needs the trigger of realtime.Ensure). Empty:
	// other processes' commits are seen every PollInterval.
	Listener string
	// NewListener opens that connection. Nil asks the database's
	// dialect (dialect.ListenerOpener: lib/pq for dialect/postgres), as
	// sync/realtime does; an application on pgx passes pgx.NewListener.
	NewListener func(dsn string, opts dialect.ListenerOptions) (dialect.Listener, error)
	// PollInterval is how often the engine reads the change log when
	// nothing announced a commit: it catches writes this process cannot
	// see (other processes without Listener, transactions committed
	// outside plasma). Default 250 ms.
	PollInterval time.Duration
	// Debounce is how long a re-run subscription waits after a change to
	// a table it reads, so that a burst of commits gives one re-run.
	// Default 20 ms.
	Debounce time.Duration

	// Changes, when set, replaces the change log as the engine's source
	// of changes, for a database that has none: the Go client's replica
	// (sync/client wires its Watch hook here when it opens). The engine
	// calls Changes when it starts, with announce, and the returned stop
	// when it stops. The source calls announce after each commit (never
	// before: a subscription re-runs at once and must not read a state
	// the commit has not finished) with the names of the tables the
	// commit may have changed; nil means any table. announce does not
	// block. Without row images nothing is maintained incrementally:
	// every subscription is re-run, debounced, when a table it reads is
	// announced (its Class is None), with ties in ORDER BY broken by the
	// primary key for Select-class queries. Listener and PollInterval are
	// not used.
	Changes func(announce func(tables []string)) (stop func())
	// NoRowAuth says the database does not run row auth (a client's
	// replica holds only what its user may read): subscriptions need no
	// identity and the tables' read rules are not applied in Go either.
	NoRowAuth bool
}

// ErrConfigured is returned by Configure once the database's engine runs.
var ErrConfigured = errors.New("plasma: live: the database's live engine is already configured")

// engine maintains the subscriptions of one database (one orm Memo).
type engine struct {
	db   *orm.DB
	opts Options

	life    sync.Mutex // held while the loop starts or stops
	mu      sync.Mutex
	subs    map[*core]struct{}
	started bool // a subscription was made: the options are fixed
	running bool
	stop    chan struct{}
	done    chan struct{}
	wake    chan struct{}

	joining, leaving []*core // under mu: for the loop to (un)index
	// announced and announcedAll (under mu): the tables an outside
	// source (Options.Changes) announced since the last round.
	announced    map[string]struct{}
	announcedAll bool
	// shapes (under mu) are recent plans by query shape, whose
	// shape-only parts later plans of that shape share (see share).
	shapes map[shapeKey]*plan

	// The loop's own: the index, every live core, and the cores that
	// need a look next round (not loaded, a re-run due, a hold).
	ix     *index
	live   map[*core]struct{}
	active map[*core]struct{}

	cursors     map[string]int64
	pgByteOrder bool
	factsKnown  bool
	factsOnce   sync.Once
	factsErr    error
	reads       int64 // change-log reads, for tests and benchmarks
}

var engineKey = orm.NewMemoKey[*engine]("live.engine")

func engineFor(db *orm.DB) *engine {
	return orm.MemoLoad(db.Memo(), engineKey, func() *engine {
		return &engine{db: db, subs: map[*core]struct{}{}, wake: make(chan struct{}, 1)}
	})
}

// Configure sets the options of db's live engine, shared by every
// subscription on db and on the DBs that share its Memo (its
// transactions, the DBs made from it with Use). Call it before the first
// Subscribe; afterwards it returns ErrConfigured.
func Configure(db *orm.DB, opts Options) error {
	e := engineFor(db)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return ErrConfigured
	}
	e.opts = opts
	return nil
}

// options returns the engine's options.
func (e *engine) options() Options {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.opts
}

// shapeKey is a query's shape: its table, SQL text with placeholders
// and evaluation options. Subscriptions to one query with other
// parameters (one per list, per user) have the same shape.
type shapeKey struct {
	t   *orm.Table
	sql string
	opt sqleval.Options
}

// maxShapes bounds the shapes an engine remembers; past it, it starts
// over (sharing is an optimisation).
const maxShapes = 256

// share makes p use the shape-only parts (columns, kinds, projection,
// order, tables) of an earlier plan of the same shape, when they are
// equal, so that many subscriptions of one shape keep one copy.
func (e *engine) share(sql string, p *plan) {
	if p.t == nil {
		return
	}
	k := shapeKey{t: p.t, sql: sql, opt: p.opt}
	e.mu.Lock()
	defer e.mu.Unlock()
	if o := e.shapes[k]; o != nil {
		if o.class == p.class && slices.Equal(o.kinds, p.kinds) && slices.Equal(o.names, p.names) &&
			slices.Equal(o.okind, p.okind) && slices.Equal(o.proj, p.proj) &&
			slices.Equal(o.order, p.order) && slices.Equal(o.tables, p.tables) {
			p.kinds, p.names, p.okind, p.proj, p.order, p.tables = o.kinds, o.names, o.okind, o.proj, o.order, o.tables
		}
		return
	}
	if e.shapes == nil || len(e.shapes) >= maxShapes {
		e.shapes = map[shapeKey]*plan{}
	}
	e.shapes[k] = p
}

// announce records the tables an outside source says a commit changed
// and wakes the loop (Options.Changes). It never blocks.
func (e *engine) announce(tables []string) {
	e.mu.Lock()
	if tables == nil {
		e.announcedAll = true
	} else {
		if e.announced == nil {
			e.announced = map[string]struct{}{}
		}
		for _, t := range tables {
			e.announced[t] = struct{}{}
		}
	}
	e.mu.Unlock()
	e.kick()
}

func (e *engine) regions() []string {
	if len(e.opts.Regions) == 0 {
		return []string{changelog.DefaultRegion}
	}
	return e.opts.Regions
}

// facts learns, once, whether PostgreSQL orders text byte by byte.
func (e *engine) facts(ctx context.Context) error {
	e.factsOnce.Do(func() {
		if e.db.Dialect().Name() != "postgres" {
			return
		}
		// Not the subscriber's cancellation: the answer is kept for the
		// database.
		rows, err := e.db.Query(rowauth.AsSystem(context.WithoutCancel(ctx)), `SELECT datcollate FROM pg_database WHERE datname = current_database()`)
		if err != nil {
			e.factsErr = fmt.Errorf("plasma: live: reading the collation: %w", err)
			return
		}
		defer rows.Close()
		var coll string
		if rows.Next() {
			_ = rows.Scan(&coll)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		switch coll {
		case "C", "POSIX", "C.UTF-8", "C.utf8":
			e.pgByteOrder = true
		}
		e.factsKnown = true
	})
	return e.factsErr
}

// knownByteOrder: a subscription has learned that PostgreSQL orders
// text byte by byte.
func (e *engine) knownByteOrder() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.factsKnown && e.pgByteOrder
}

// kick asks the loop for a round.
func (e *engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// add registers c and starts the loop if it is not running.
func (e *engine) add(c *core) {
	e.life.Lock()
	defer e.life.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.started = true
	e.subs[c] = struct{}{}
	e.joining = append(e.joining, c)
	if !e.running {
		e.running = true
		e.stop, e.done = make(chan struct{}), make(chan struct{})
		go e.loop(e.stop, e.done)
	}
	e.kick()
}

// remove unregisters c; the loop stops with the last subscription.
func (e *engine) remove(c *core) {
	e.life.Lock()
	defer e.life.Unlock()
	e.mu.Lock()
	delete(e.subs, c)
	e.leaving = append(e.leaving, c)
	var done chan struct{}
	if len(e.subs) == 0 && e.running {
		e.running = false
		close(e.stop)
		done = e.done
	}
	e.mu.Unlock()
	if done != nil {
		<-done
	}
}

func (e *engine) loop(stop, done chan struct{}) {
	defer close(done)
	// The next loop starts from the heads again: nobody was
	// subscribed in between.
	defer func() {
		e.cursors, e.ix, e.live, e.active = nil, nil, nil, nil
		e.mu.Lock()
		e.joining, e.leaving = nil, nil
		e.announced, e.announcedAll = nil, false
		e.shapes = nil
		e.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(rowauth.AsSystem(context.Background()))
	defer cancel()
	go func() { <-stop; cancel() }()
	wakeups, off := e.sources(ctx)
	defer off()
	for {
		select {
		case <-stop:
			return
		case <-e.wake:
		case <-wakeups.tick:
		case <-wakeups.notes:
		}
		e.round(ctx)
	}
}

// wakeups are the loop's timed and cross-process wake-ups.
type wakeups struct {
	tick  <-chan time.Time
	notes <-chan *dialect.Notification
}

// sources hooks the engine to what announces commits: an outside source
// (Options.Changes) alone, or the in-process change-log feed, the
// PostgreSQL listener and the poll ticker.
func (e *engine) sources(ctx context.Context) (wakeups, func()) {
	if e.opts.Changes != nil {
		// Announced before the first round, so that nothing committed
		// after a subscription's first query goes unseen.
		return wakeups{}, e.opts.Changes(e.announce)
	}
	off := changelog.OnCommit(e.db, func([]changelog.Change) { e.kick() })
	notes, closeL := e.listen(ctx)
	poll := e.opts.PollInterval
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := time.NewTicker(poll)
	return wakeups{tick: t.C, notes: notes}, func() {
		t.Stop()
		closeL()
		off()
	}
}

// listen starts the PostgreSQL listener, if configured. Without one
// (no Listener, no opener, a failure) the engine polls.
func (e *engine) listen(ctx context.Context) (<-chan *dialect.Notification, func()) {
	if e.opts.Listener == "" || e.db.Dialect().Name() != "postgres" {
		return nil, func() {}
	}
	open := e.opts.NewListener
	if open == nil {
		lo, ok := e.db.Dialect().(dialect.ListenerOpener)
		if !ok {
			return nil, func() {}
		}
		open = lo.OpenListener
	}
	l, err := open(e.opts.Listener, dialect.ListenerOptions{})
	if err != nil {
		return nil, func() {}
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := l.Listen(lctx, ChannelChanges); err != nil {
		_ = l.Close()
		return nil, func() {}
	}
	return l.Notify(), func() { _ = l.Close() }
}

// heads reads the change-log head of every region.
func (e *engine) heads(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	shared := e.db.Dialect().Name() != "postgres"
	for _, r := range e.regions() {
		if shared && len(out) > 0 {
			for _, v := range out {
				out[r] = v
				break
			}
			continue
		}
		h, err := changelog.Head(ctx, e.db, r)
		if err != nil {
			return nil, err
		}
		out[r] = h
	}
	return out, nil
}

// read reads the changes above the cursors up to heads, in version
// order per region, and moves the cursors.
func (e *engine) read(ctx context.Context, heads map[string]int64) ([]changelog.Change, error) {
	var out []changelog.Change
	for _, r := range e.regions() {
		cur, head := e.cursors[r], heads[r]
		for cur < head {
			page, next, err := changelog.ChangesSince(ctx, e.db, r, cur, changelog.DefaultLimit)
			if err != nil {
				return nil, err
			}
			e.reads++
			for _, c := range page {
				if c.Version <= head {
					out = append(out, c)
				}
			}
			if len(page) < changelog.DefaultLimit || next == cur {
				break
			}
			cur = next
		}
		e.cursors[r] = head
	}
	return out, nil
}

// caughtUp: the cursors have reached hold.
func (e *engine) caughtUp(hold map[string]int64) bool {
	for r, v := range hold {
		if e.cursors[r] < v {
			return false
		}
	}
	return true
}

// round reads what committed since the last round, applies it to the
// subscriptions it concerns, loads and refills what needs a query, and
// publishes.
func (e *engine) round(ctx context.Context) {
	e.sync()
	if e.opts.Changes != nil {
		e.roundAnnounced(ctx)
		return
	}
	if e.cursors == nil {
		h, err := e.heads(ctx)
		if err != nil {
			failAll(ctx, e.liveList(), err)
			return
		}
		e.cursors = h
	}
	heads, err := e.heads(ctx)
	if err != nil {
		failAll(ctx, e.liveList(), err)
		return
	}
	changes, err := e.read(ctx, heads)
	if err != nil {
		failAll(ctx, e.liveList(), err)
		return
	}
	rd := &roundData{changes: map[string][]changelog.Change{}, dec: map[string][]rowChange{}, errs: map[string]error{}}
	for _, c := range changes {
		rd.changes[c.Table] = append(rd.changes[c.Table], c)
	}
	touched := e.apply(rd)
	e.settle(ctx, touched)
}

// roundAnnounced is a round on a database without a change log: the
// subscriptions reading an announced table are due for a re-run.
func (e *engine) roundAnnounced(ctx context.Context) {
	e.mu.Lock()
	tables, all := e.announced, e.announcedAll
	e.announced, e.announcedAll = nil, false
	e.mu.Unlock()
	rd := &roundData{changes: make(map[string][]changelog.Change, len(tables)), all: all}
	for t := range tables {
		rd.changes[t] = nil
	}
	e.settle(ctx, e.apply(rd))
}

func (e *engine) liveList() []*core {
	out := make([]*core, 0, len(e.live))
	for c := range e.live {
		out = append(out, c)
	}
	return out
}

// sync takes the subscriptions added and removed since the last round.
func (e *engine) sync() {
	e.mu.Lock()
	join, leave := e.joining, e.leaving
	e.joining, e.leaving = nil, nil
	e.mu.Unlock()
	if e.ix == nil {
		e.ix, e.live, e.active = newIndex(), map[*core]struct{}{}, map[*core]struct{}{}
	}
	for _, c := range leave {
		e.ix.remove(c)
		delete(e.live, c)
		delete(e.active, c)
	}
	for _, c := range join {
		if c.closed() {
			continue
		}
		e.ix.add(c)
		e.live[c] = struct{}{}
		e.active[c] = struct{}{}
	}
}

// apply applies a round's changes and returns the cores to look at.
func (e *engine) apply(rd *roundData) map[*core]struct{} {
	touched := make(map[*core]struct{}, len(e.active))
	for c := range e.active {
		touched[c] = struct{}{}
	}
	for c := range e.ix.plain {
		if c.closed() {
			continue
		}
		if c.joined != nil && !c.joinedClosed {
			c.joinedClosed = true
			close(c.joined)
		}
		if len(rd.changes) == 0 && !rd.all {
			continue
		}
		c.applyAll(rd)
		if c.changed || c.dirty {
			touched[c] = struct{}{}
		}
	}
	cands := map[*core]struct{}{}
	for table := range rd.changes {
		ti := e.ix.tables[table]
		if ti == nil || ti.plan == nil {
			continue
		}
		rows, err := rd.decoded(ti.plan)
		if err != nil {
			for c := range e.live {
				if c.indexed && c.p.t.Name() == table {
					c.fail(err)
				}
			}
			continue
		}
		for _, r := range rows {
			ti.candidates(r, cands)
			for c := range cands {
				if !c.closed() {
					c.applyRows([]rowChange{r})
					touched[c] = struct{}{}
				}
			}
		}
	}
	for c := range touched {
		if c.indexed && c.mode == None { // an overflowing sum: re-run now
			e.ix.remove(c)
			e.ix.plain[c] = struct{}{}
		}
	}
	return touched
}

// settle runs the queries the touched cores need and publishes those
// that caught up; the rest stay active for the next round.
func (e *engine) settle(ctx context.Context, touched map[*core]struct{}) {
	queried := false
	now := time.Now()
	for c := range touched {
		if c.closed() {
			delete(e.active, c)
			delete(touched, c)
			continue
		}
		q, err := c.catchUp(now, e.debounce())
		if err != nil {
			c.fail(err)
			continue
		}
		queried = queried || q
	}
	var hold map[string]int64
	if queried {
		var err error
		if hold, err = e.heads(ctx); err != nil {
			list := make([]*core, 0, len(touched))
			for c := range touched {
				list = append(list, c)
			}
			failAll(ctx, list, err)
			return
		}
	}
	again := false
	for c := range touched {
		if c.closed() {
			delete(e.active, c)
			continue
		}
		if c.queried && hold != nil {
			c.hold, c.queried = hold, false
		}
		if !e.caughtUp(c.hold) {
			again = true
			e.active[c] = struct{}{}
			continue
		}
		c.publish()
		if c.waiting() {
			e.active[c] = struct{}{}
			time.AfterFunc(e.debounce(), e.kick)
		} else {
			delete(e.active, c)
		}
	}
	if again {
		e.kick()
	}
}

func (e *engine) debounce() time.Duration {
	if e.opts.Debounce > 0 {
		return e.opts.Debounce
	}
	return 20 * time.Millisecond
}

// failAll ends every subscription with err: the change log cannot be
// read, so none of them can be kept up to date. The engine stopping
// (ctx ended) fails nobody.
func failAll(ctx context.Context, subs []*core, err error) {
	if ctx.Err() != nil {
		return
	}
	for _, c := range subs {
		c.fail(err)
	}
}
