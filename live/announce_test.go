package live_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// announcer is an outside source of changes (Options.Changes), as the
// Go client's replica is.
type announcer struct {
	mu     sync.Mutex
	fn     func([]string)
	starts int
	stops  int
}

func (a *announcer) changes(announce func([]string)) func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.starts++
	a.fn = announce
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.stops++
		a.fn = nil
	}
}

func (a *announcer) say(tables []string) {
	a.mu.Lock()
	fn := a.fn
	a.mu.Unlock()
	if fn != nil {
		fn(tables)
	}
}

// A database without a change log whose commits an outside source
// announces: subscriptions re-run when a table they read is announced
// (or any table, nil), and only then; no identity is needed with
// NoRowAuth; the source is stopped with the last subscription.
func TestAnnouncedChanges(t *testing.T) {
	ctx := context.Background()
	tg := ormtest.SQLite(t)
	base := orm.New(tg.Open(t), tg.Dialect)
	if err := orm.EnsureSchema(ctx, todoSchema, base); err != nil {
		t.Fatal(err)
	}
	var src announcer
	if err := live.Configure(base, live.Options{Changes: src.changes, NoRowAuth: true, Debounce: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var selects atomic.Int64
	db := base.Use(countSelects(&selects))
	insert(t, db, todo("a", "L1", "b-title", false), todo("b", "L1", "a-title", false), todo("c", "L1", "a-title", false))

	sub, err := live.Subscribe[Todo](ctx, db, openTodos(db, "L1")) // no identity
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	<-sub.Ready()
	ids := func() []string {
		var out []string
		for _, r := range sub.Snapshot() {
			out = append(out, r.ID)
		}
		return out
	}
	// Ties in ORDER BY title are broken by the primary key.
	if got := ids(); !slices.Equal(got, []string{"b", "c", "a"}) || sub.Class() != live.None {
		t.Fatalf("snapshot %v, class %v", got, sub.Class())
	}

	insert(t, db, todo("d", "L1", "0-title", false))
	before := selects.Load()
	src.say([]string{"members"}) // not a table the query reads
	src.say([]string{"", "nope", strings.Repeat("x", 1<<16), "todos\x00"})
	src.say([]string{})
	time.Sleep(30 * time.Millisecond)
	if n := selects.Load() - before; n != 0 || len(ids()) != 3 {
		t.Fatalf("an unrelated table: %d selects, %v", n, ids())
	}
	src.say([]string{"todos"})
	d := <-sub.Deltas()
	if len(d.Added) != 1 || !slices.Equal(d.Removed, []string{"a"}) {
		t.Fatalf("delta %+v", d)
	}
	if _, err := db.Update(Todos).Set(orm.Row{"title": "z"}).Where(expr.Eq(Todos.Col("id"), "d")).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	src.say(nil) // any table
	d = <-sub.Deltas()
	if !slices.Equal(d.Removed, []string{"d"}) || len(d.Added) != 1 {
		t.Fatalf("delta %+v", d)
	}

	src.mu.Lock()
	stale := src.fn
	src.mu.Unlock()
	sub.Close()
	src.mu.Lock()
	if src.starts != 1 || src.stops != 1 || !errors.Is(sub.Err(), live.ErrClosed) {
		t.Fatalf("source started %d, stopped %d times; err %v", src.starts, src.stops, sub.Err())
	}
	src.mu.Unlock()
	// A source that announces after its stop changes nothing; the next
	// subscription starts the source again.
	stale([]string{"todos"})
	stale(nil)
	sub2, err := live.Subscribe[Todo](ctx, db, openTodos(db, "L1"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	<-sub2.Ready()
	if err := sub2.Err(); err != nil || len(sub2.Snapshot()) != 3 {
		t.Fatalf("second subscription: %v, %v", sub2.Snapshot(), err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.starts != 2 {
		t.Fatalf("source started %d times", src.starts)
	}
}
