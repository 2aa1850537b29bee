package live

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

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
type Subscription[T any] struct {
	core  *core
	class Class

	mu    sync.Mutex
	names []string
	kinds []tabledef.Kind
	order []string         // the latest result's keys, in order
	vals  map[string][]any // the latest result's values by key
	rows  map[string]T     // ... and rows
	sent  map[string][]any // what the consumer has been told
	// pending are the keys that may differ between vals and sent;
	// pendingAll: any key may.
	pending    map[string]bool
	pendingAll bool
	err        error

	notify     chan struct{}
	deltas     chan Delta[T]
	fn         func(Delta[T])
	ready      chan struct{}
	readyOnce  sync.Once
	done       chan struct{}
	delivering bool           // a delivery goroutine runs
	wg         sync.WaitGroup // the delivery goroutine
	stopCtx    func() bool
	closeOnce  sync.Once
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
	if _, _, err := q.Render(db.Dialect()); err != nil {
		return nil, fmt.Errorf("plasma: live: Subscribe: %w", err)
	}
	e := engineFor(db)
	if err := e.facts(ctx); err != nil {
		return nil, err
	}
	c := &core{e: e, db: db, ctx: ctx, q: q}
	c.p = compilePlan(q, optionsFor(db.Dialect(), e.pgByteOrder))
	c.mode = c.p.class
	if err := c.withReadRule(); err != nil {
		return nil, err
	}
	switch c.mode {
	case Select:
		c.sel = newSelState(c.p)
	case None:
		c.anyTable = c.anyTable || c.p.any
	}
	s := &Subscription[T]{
		core: c, class: c.mode, fn: fn,
		notify: make(chan struct{}, 1), ready: make(chan struct{}),
		done: make(chan struct{}),
	}
	if fn == nil {
		s.deltas = make(chan Delta[T])
	}
	c.out = s
	// No goroutine waits on an idle subscription: the context's end
	// calls Close, and a delivery goroutine runs only while there is
	// something to deliver.
	s.stopCtx = context.AfterFunc(ctx, s.Close)
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

// Class reports how the subscription is maintained: its query's class,
// or None when it is re-run (a read rule Go cannot evaluate).
func (s *Subscription[T]) Class() Class { return s.class }

// Ready is closed once the first snapshot is there (or the subscription
// failed: see Err).
func (s *Subscription[T]) Ready() <-chan struct{} { return s.ready }

// Deltas returns the channel of deltas after the first snapshot; it is
// closed when the subscription ends. Nil for SubscribeFunc.
func (s *Subscription[T]) Deltas() <-chan Delta[T] { return s.deltas }

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
		s.mu.Unlock()
		s.core.close()
		close(s.done)
		s.readyOnce.Do(func() { close(s.ready) })
		s.core.e.remove(s.core)
		if s.stopCtx != nil {
			s.stopCtx()
		}
		if s.fn == nil {
			s.wg.Wait()
			close(s.deltas)
		}
	})
}

// publish takes a new result from the engine; it never blocks. Rows
// are converted to T once, when their values change.
func (s *Subscription[T]) publish(names []string, kinds []tabledef.Kind, rows []outRow, changed map[string][]any) {
	s.mu.Lock()
	first := s.vals == nil
	if first {
		s.vals, s.rows, s.pending = map[string][]any{}, map[string]T{}, map[string]bool{}
	}
	var fresh [][]any
	var freshKeys []string
	order := make([]string, len(rows))
	if changed == nil {
		keep := make(map[string]bool, len(rows))
		for i, r := range rows {
			order[i] = r.key
			keep[r.key] = true
			if old, ok := s.vals[r.key]; !ok || !sameVals(old, r.vals) {
				fresh, freshKeys = append(fresh, r.vals), append(freshKeys, r.key)
				s.vals[r.key] = r.vals
			}
		}
		for k := range s.vals {
			if !keep[k] {
				delete(s.vals, k)
				delete(s.rows, k)
			}
		}
		s.pendingAll = true
	} else {
		for i, r := range rows {
			order[i] = r.key
		}
		for k, v := range changed {
			s.pending[k] = true
			if v == nil {
				delete(s.vals, k)
				delete(s.rows, k)
			} else if old, ok := s.vals[k]; !ok || !sameVals(old, v) {
				fresh, freshKeys = append(fresh, v), append(freshKeys, k)
				s.vals[k] = v
			}
		}
	}
	ts, err := collect[T](names, kinds, fresh)
	if err != nil {
		s.mu.Unlock()
		s.fail(fmt.Errorf("plasma: live: scanning a row: %w", err))
		return
	}
	for i, k := range freshKeys {
		s.rows[k] = ts[i]
	}
	s.names, s.kinds, s.order = names, kinds, order
	if first {
		// The first result is the snapshot; deltas follow it.
		s.sent = maps.Clone(s.vals)
		clear(s.pending)
		s.pendingAll = false
	}
	start := !first && !s.delivering
	if start {
		select {
		case <-s.done:
			start = false
		default:
			s.delivering = true
			s.wg.Add(1)
		}
	}
	s.mu.Unlock()
	if first {
		s.readyOnce.Do(func() { close(s.ready) })
	}
	if start {
		go s.deliver()
		return
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
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
// consumer to (nil: gone). When there is nothing to deliver it ends the
// delivery goroutine's turn, under the same lock publish starts one
// with.
func (s *Subscription[T]) diff() (Delta[T], map[string][]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	s.pending, s.pendingAll = map[string]bool{}, false
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
		s.pending[k] = true
	}
	s.mu.Unlock()
}

// deliver hands deltas to the consumer until it has been told the
// latest result, coalescing what arrives while it is busy.
func (s *Subscription[T]) deliver() {
	defer s.wg.Done()
	for {
		d, to := s.diff()
		if d.Empty() {
			return
		}
		if s.fn != nil {
			select {
			case <-s.done:
				s.mu.Lock()
				s.delivering = false
				s.mu.Unlock()
				return
			default:
			}
			s.fn(d)
		} else {
			select {
			case s.deltas <- d:
			case <-s.notify:
				s.unsent(to)
				continue // coalesce with what came meanwhile
			case <-s.done:
				return
			}
		}
		s.mu.Lock()
		for k, v := range to {
			if v == nil {
				delete(s.sent, k)
			} else {
				s.sent[k] = v
			}
		}
		s.mu.Unlock()
	}
}
