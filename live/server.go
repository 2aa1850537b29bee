package live

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// ServerSelectOptions configure ServerSelect.
type ServerSelectOptions[T any] struct {
	// Tables are the tables whose commits make Fetch run again. Empty:
	// any table in the change log.
	Tables []string
	// Fetch reads the result. It runs on ServerSelect's goroutine, never
	// two at once.
	Fetch func(ctx context.Context) (T, error)
	// OnChange receives the first result and every later one that
	// differs from the one before (reflect.DeepEqual).
	OnChange func(T)
	// OnError receives Fetch's errors; ServerSelect goes on. Nil drops
	// them.
	OnError func(error)
	// Poll, when positive, also runs Fetch that often, for data outside
	// the change log.
	Poll time.Duration
	// Debounce is how long ServerSelect waits after a change before
	// Fetch, so that a burst of commits gives one run. Default 20 ms.
	Debounce time.Duration
}

// ServerSelect is the live select of backend jobs: it runs Fetch now,
// again (debounced) after each commit to one of Tables, seen in this
// process or, with Options.Listener, in others, and every Poll; it
// hands results to OnChange. It returns ctx's error when ctx ends.
func ServerSelect[T any](ctx context.Context, db *orm.DB, o ServerSelectOptions[T]) error {
	if db == nil || o.Fetch == nil || o.OnChange == nil {
		return errors.New("plasma: live: ServerSelect: nil database, Fetch or OnChange")
	}
	debounce := o.Debounce
	if debounce <= 0 {
		debounce = 20 * time.Millisecond
	}
	w := &watcher{signal: make(chan struct{}, 1)}
	c := &core{e: engineFor(db), db: db, ctx: ctx, mode: None, loaded: true, out: w,
		p: &plan{tables: o.Tables}, anyTable: len(o.Tables) == 0, watch: w.signal, joined: make(chan struct{})}
	c.e.add(c)
	defer c.e.remove(c)
	defer c.close()
	// The first Fetch reads after the engine's cursor: no commit falls
	// between the two.
	select {
	case <-c.joined:
	case <-ctx.Done():
		return ctx.Err()
	}
	var poll <-chan time.Time
	if o.Poll > 0 {
		t := time.NewTicker(o.Poll)
		defer t.Stop()
		poll = t.C
	}
	var last T
	first := true
	run := func() {
		v, err := o.Fetch(ctx)
		if err != nil {
			if o.OnError != nil && ctx.Err() == nil {
				o.OnError(err)
			}
			return
		}
		if first || !reflect.DeepEqual(v, last) {
			first, last = false, v
			o.OnChange(v)
		}
	}
	run()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll:
		case <-w.signal:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(debounce):
			}
			select { // commits during the wait are in this run
			case <-w.signal:
			default:
			}
		}
		run()
	}
}

// watcher is ServerSelect's sink: it only hears that a table changed.
type watcher struct{ signal chan struct{} }

func (*watcher) publish([]string, []tabledef.Kind, []outRow, map[string][]any) {}
func (*watcher) fail(error)                                                    {}
