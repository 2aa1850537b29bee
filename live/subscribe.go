package live

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/sqleval"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/tabledef"
)

// Delta is what changed in a subscription's result, keyed by primary key
// (by group for an aggregate; by the row's values for a re-run query
// whose result has no primary key column). A row that moved within the
// order without changing is in none of the maps: read the order from
// Snapshot.
type Delta[T any] struct {
	Added   map[string]T
	Changed map[string]T
	Removed []string
}

// Empty reports whether d changes nothing.
func (d Delta[T]) Empty() bool {
	return len(d.Added) == 0 && len(d.Changed) == 0 && len(d.Removed) == 0
}

// ErrClosed is Err's answer once a subscription was closed by Close or
// its context.
var ErrClosed = errors.New("plasma: live: subscription closed")

// Subscription is a live query: its snapshot, the deltas that follow it,
// and the signal that the first snapshot is there.
//
// An idle subscription is kept small (it is made once per screen, list
// or client, and servers hold many): its maps and channels are made when
// first needed — the result's maps with its first row, Ready's channel
// by a Ready before the first result, the delta channel by Deltas or the
// first delivery, the delivery goroutine's wake-up with that goroutine.
type Subscription[T any] struct {
	core  *core
	class Class

	mu    sync.Mutex
	order []string         // the latest result's keys, in order
	vals  map[string][]any // the latest result's values by key
	rows  map[string]T     // ... and rows
	sent  map[string][]any // what the consumer has been told
	// pending are the keys that may differ between vals and sent;
	// pendingAll: any key may.
	pending    map[string]bool
	pendingAll bool
	published  bool // the first result is there
	isReady    bool // ready is (or would be) closed
	ended      bool // Close began: no delivery starts
	delivering bool // a delivery goroutine runs
	err        error

	notify    chan struct{} // wakes the delivery goroutine; made with it
	deltas    chan Delta[T] // nil until Deltas or a delivery needs it
	ready     chan struct{} // nil until Ready is called before the first result
	fn        func(Delta[T])
	wg        sync.WaitGroup // the delivery goroutine
	stopCtx   func() bool
	closeOnce sync.Once
}

// Subscribe starts a live query of q on db under ctx's identity: row
// auth applies to it as to orm.All[T](ctx, q). It returns at once;
// Ready is closed when the first snapshot is there. The subscription
// ends with Close, or when ctx ends.
//
// Results are in q's order with ties broken by the primary key (the
// key is appended to ORDER BY for Select-class queries and their
// re-run fallbacks), so a LIMIT window is well defined.
//
// Deltas never block writers or the engine: a consumer that does not
// keep up receives one delta from what it was last told to the latest
// result (deltas coalesce). Changes are applied only after their commit,
// in commit order, so every snapshot is a state some transaction left.
func Subscribe[T any](ctx context.Context, db *orm.DB, q *orm.SelectQuery) (*Subscription[T], error) {
	return subscribe[T](ctx, db, q, nil)
}

// SubscribeFunc is Subscribe with a callback: fn receives each
// coalesced delta on the subscription's own goroutine, one at a time. A
// call running when Close is called may finish after Close returns.
func SubscribeFunc[T any](ctx context.Context, db *orm.DB, q *orm.SelectQuery, fn func(Delta[T])) (*Subscription[T], error) {
	if fn == nil {
		return nil, errors.New("plasma: live: SubscribeFunc: nil callback")
	}
	return subscribe[T](ctx, db, q, fn)
}

func subscribe[T any](ctx context.Context, db *orm.DB, q *orm.SelectQuery, fn func(Delta[T])) (*Subscription[T], error) {
	if db == nil || q == nil {
		return nil, errors.New("plasma: live: Subscribe: nil database or query")
	}
	sql, _, err := q.Render(db.Dialect())
	if err != nil {
		return nil, fmt.Errorf("plasma: live: Subscribe: %w", err)
	}
	e := engineFor(db)
	if err := e.facts(ctx); err != nil {
		return nil, err
	}
	opts := e.options()
	c := &core{e: e, db: db, ctx: ctx, q: q}
	c.p = compilePlan(q, optionsFor(db.Dialect(), e.pgByteOrder))
	c.mode = c.p.class
	e.share(sql, c.p)
	if !opts.NoRowAuth {
		if err := c.withReadRule(); err != nil {
			return nil, err
		}
	}
	if opts.Changes != nil {
		c.announced()
	}
	switch c.mode {
	case Select:
		c.sel = newSelState(c.p)
	case None:
		c.anyTable = c.anyTable || c.p.any
	}
	s := &Subscription[T]{core: c, class: c.mode, fn: fn}
	c.out = s
	// No goroutine waits on an idle subscription: the context's end
	// calls Close, and a delivery goroutine runs only while there is
	// something to deliver. A context that never ends needs no hook.
	if ctx.Done() != nil {
		s.stopCtx = context.AfterFunc(ctx, s.Close)
	}
	e.add(c)
	return s, nil
}

// withReadRule folds the FROM table's read rule into the Go predicate,
// as row auth folds it into the SQL. A rule Go cannot evaluate (one that
// reads other tables, whose own inputs may change) makes the
// subscription re-run on every change to any table, so that it sees
// exactly what its identity may read, also when a membership goes.
func (c *core) withReadRule() error {
	if c.p.t == nil {
		return nil
	}
	if c.p.join != nil {
		return c.joinReadRules()
	}
	f := c.p.t.Options().Auth.Read
	if f == nil || rowauth.IsSystem(c.ctx) {
		return nil
	}
	if _, ok := rowauth.IdentityFrom(c.ctx); !ok {
		return &rowauth.AuthorizationError{Table: c.p.t.Name(), Op: orm.OpSelect, Err: rowauth.ErrNoIdentity}
	}
	rule, err := f(c.ctx)
	if err != nil {
		return &rowauth.AuthorizationError{Table: c.p.t.Name(), Op: orm.OpSelect, Err: err}
	}
	if c.mode == None {
		c.anyTable = true
		return nil
	}
	pred, err := sqleval.Compile(rule, c.p.column, c.p.opt)
	if err != nil {
		c.mode, c.anyTable = None, true
		return nil
	}
	where := c.p.pred
	c.p.pred = func(r []any) sqleval.Tri {
		if pred(r) != sqleval.True {
			return sqleval.False
		}
		return where(r)
	}
	return nil
}

// announced turns c into a re-run subscription, for a database whose
// changes are announced by table (Options.Changes) without row images.
// A Select-class query keeps its tie-break: the primary key appended to
// its ORDER BY, as the maintained form has it.
func (c *core) announced() {
	if c.mode == Select && c.p.join != nil {
		c.announcedJoin()
		return
	}
	if c.mode == Select {
		q, parts := c.q.Rewrite()
		parts.OrderBy = append(parts.OrderBy, expr.Asc(c.p.t.Col(c.p.t.PrimaryKey()[0])))
		c.q = q
	}
	c.mode = None
}

// Class reports how the subscription is maintained: its query's class,
// or None when it is re-run (a read rule Go cannot evaluate, or a
// database whose changes come from Options.Changes).
func (s *Subscription[T]) Class() Class { return s.class }

// closedReady is Ready's answer once the first snapshot is there, when
// nobody asked before: no channel per subscription.
var closedReady = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Ready is closed once the first snapshot is there (or the subscription
// failed: see Err).
func (s *Subscription[T]) Ready() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == nil {
		if s.isReady {
			return closedReady
		}
		s.ready = make(chan struct{})
	}
	return s.ready
}

// markReady closes Ready's channel; s.mu is held.
func (s *Subscription[T]) markReady() {
	if !s.isReady {
		s.isReady = true
		if s.ready != nil {
			close(s.ready)
		}
	}
}

// Deltas returns the channel of deltas after the first snapshot; it is
// closed when the subscription ends. Nil for SubscribeFunc.
func (s *Subscription[T]) Deltas() <-chan Delta[T] {
	if s.fn != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deltaChan()
}

// deltaChan returns the delta channel, made on first use; s.mu is held.
func (s *Subscription[T]) deltaChan() chan Delta[T] {
	if s.deltas == nil {
		s.deltas = make(chan Delta[T])
	}
	return s.deltas
}

// Err returns why the subscription ended: nil while it runs, ErrClosed
// after Close, or the error that stopped it.
func (s *Subscription[T]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Snapshot returns the latest result, in the query's order.
func (s *Subscription[T]) Snapshot() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]T, len(s.order))
	for i, k := range s.order {
		out[i] = s.rows[k]
	}
	return out
}

// Close ends the subscription and closes Deltas. It is safe to call more
// than once and from any goroutine.
func (s *Subscription[T]) Close() {
	s.end(ErrClosed)
}

func (s *Subscription[T]) end(err error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.ended = true
		s.markReady()
		notify := s.notify
		s.mu.Unlock()
		s.core.close()
		// A delivery blocked on the consumer wakes up and sees ended.
		poke(notify)
		s.core.e.remove(s.core)
		if s.stopCtx != nil {
			s.stopCtx()
		}
		if s.fn == nil {
			s.wg.Wait()
			s.mu.Lock()
			close(s.deltaChan())
			s.mu.Unlock()
		}
	})
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// publish takes a new result from the engine; it never blocks. Rows
// are converted to T once, when their values change.
func (s *Subscription[T]) publish(names []string, kinds []tabledef.Kind, rows []outRow, changed map[string][]any) {
	s.mu.Lock()
	first := !s.published
	s.published = true
	fresh, freshKeys, order := s.take(rows, changed)
	ts, err := collect[T](names, kinds, fresh)
	if err != nil {
		s.mu.Unlock()
		s.fail(fmt.Errorf("plasma: live: scanning a row: %w", err))
		return
	}
	for i, k := range freshKeys {
		s.rows[k] = ts[i]
	}
	s.order = order
	if first {
		// The first result is the snapshot; deltas follow it.
		s.sent = maps.Clone(s.vals)
		s.pending, s.pendingAll = nil, false
		s.markReady()
	}
	start := !first && !s.delivering && !s.ended
	if start {
		s.delivering = true
		s.wg.Add(1)
		if s.notify == nil {
			s.notify = make(chan struct{}, 1)
		}
	}
	notify := s.notify
	s.mu.Unlock()
	if start {
		go s.deliver(notify)
		return
	}
	poke(notify)
}

// take records a new result (s.mu held) and returns the rows whose
// values changed, with their keys, and the result's order.
func (s *Subscription[T]) take(rows []outRow, changed map[string][]any) (fresh [][]any, freshKeys, order []string) {
	order = make([]string, len(rows))
	if changed == nil {
		var keep map[string]bool
		if len(s.vals) > 0 {
			keep = make(map[string]bool, len(rows))
		}
		for i, r := range rows {
			order[i] = r.key
			if keep != nil {
				keep[r.key] = true
			}
			if old, ok := s.vals[r.key]; !ok || !sameVals(old, r.vals) {
				fresh, freshKeys = append(fresh, r.vals), append(freshKeys, r.key)
				s.setVals(r.key, r.vals)
			}
		}
		for k := range s.vals {
			if keep != nil && !keep[k] {
				delete(s.vals, k)
				delete(s.rows, k)
			}
		}
		s.pendingAll = true
		return fresh, freshKeys, order
	}
	for i, r := range rows {
		order[i] = r.key
	}
	for k, v := range changed {
		s.markPending(k)
		if v == nil {
			delete(s.vals, k)
			delete(s.rows, k)
		} else if old, ok := s.vals[k]; !ok || !sameVals(old, v) {
			fresh, freshKeys = append(fresh, v), append(freshKeys, k)
			s.setVals(k, v)
		}
	}
	return fresh, freshKeys, order
}

// setVals stores a row's values, making the result's maps with its
// first row.
func (s *Subscription[T]) setVals(k string, v []any) {
	if s.vals == nil {
		s.vals, s.rows = map[string][]any{}, map[string]T{}
	}
	s.vals[k] = v
}

func (s *Subscription[T]) markPending(k string) {
	if s.pending == nil {
		s.pending = map[string]bool{}
	}
	s.pending[k] = true
}

func (s *Subscription[T]) fail(err error) {
	go s.end(err)
}

func sameVals(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diff takes the keys changed since the consumer was last told and
// returns the delta over them and, per key, the values it brings the
// consumer to (nil: gone). When there is nothing to deliver, or the
// subscription ended, it ends the delivery goroutine's turn, under the
// same lock publish starts one with.
func (s *Subscription[T]) diff() (Delta[T], map[string][]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		s.delivering = false
		return Delta[T]{}, nil
	}
	keys := s.pending
	if s.pendingAll {
		keys = make(map[string]bool, len(s.vals)+len(s.sent))
		for k := range s.vals {
			keys[k] = true
		}
		for k := range s.sent {
			keys[k] = true
		}
	}
	s.pending, s.pendingAll = nil, false
	var d Delta[T]
	to := make(map[string][]any, len(keys))
	for k := range keys {
		v, ok := s.vals[k]
		old, had := s.sent[k]
		switch {
		case ok && !had:
			if d.Added == nil {
				d.Added = map[string]T{}
			}
			d.Added[k] = s.rows[k]
		case !ok && had:
			d.Removed = append(d.Removed, k)
		case ok && !sameVals(old, v):
			if d.Changed == nil {
				d.Changed = map[string]T{}
			}
			d.Changed[k] = s.rows[k]
		default:
			continue
		}
		to[k] = v
	}
	if d.Empty() {
		s.delivering = false
	}
	slices.Sort(d.Removed)
	return d, to
}

// unsent puts back keys a delta that was not delivered covered.
func (s *Subscription[T]) unsent(to map[string][]any) {
	s.mu.Lock()
	for k := range to {
		s.markPending(k)
	}
	s.mu.Unlock()
}

// told records what the consumer now knows.
func (s *Subscription[T]) told(to map[string][]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range to {
		if v == nil {
			delete(s.sent, k)
			continue
		}
		if s.sent == nil {
			s.sent = map[string][]any{}
		}
		s.sent[k] = v
	}
}

// deliver hands deltas to the consumer until it has been told the
// latest result, coalescing what arrives while it is busy. Close pokes
// notify, so a delivery blocked on the consumer ends.
func (s *Subscription[T]) deliver(notify chan struct{}) {
	defer s.wg.Done()
	var deltas chan Delta[T]
	if s.fn == nil {
		s.mu.Lock()
		deltas = s.deltaChan()
		s.mu.Unlock()
	}
	for {
		d, to := s.diff()
		if d.Empty() {
			return
		}
		if s.fn != nil {
			s.fn(d)
		} else {
			select {
			case deltas <- d:
			case <-notify:
				s.unsent(to)
				continue // coalesce with what came meanwhile, or end
			}
		}
		s.told(to)
	}
}
