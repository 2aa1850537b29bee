package live_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/realtime"
)

func listQuery(db *orm.DB, list string) *orm.SelectQuery {
	return db.Select().From(Todos).Where(expr.Eq(Todos.Col("list_id"), list)).OrderBy(expr.Asc(Todos.Col("id")))
}

// A consumer that does not read never blocks writers; when it reads, the
// deltas it missed arrive coalesced into few, and add up to the result.
func TestSlowConsumerCoalesces(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		sub, err := live.Subscribe[Todo](sys, e.db, listQuery(e.db, "L"))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		<-sub.Ready()
		const n = 40
		start := time.Now()
		for i := range n {
			insert(t, e.db, todo(string(rune('a'+i%26))+string(rune('a'+i/26)), "L", "t", false))
		}
		t.Logf("%d commits in %v with a consumer that does not read", n, time.Since(start))
		waitFor(t, "the snapshot", func() bool { return len(sub.Snapshot()) == n })
		seen, deltas := map[string]bool{}, 0
		for len(seen) < n {
			d := <-sub.Deltas()
			deltas++
			for k := range d.Added {
				seen[k] = true
			}
		}
		if deltas >= n {
			t.Fatalf("%d deltas for %d commits: nothing coalesced", deltas, n)
		}
		t.Logf("%d commits reached the consumer in %d deltas", n, deltas)
	})
}

// Close while a delta waits for the consumer closes Deltas at once.
func TestCloseDuringDelivery(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		sub, err := live.Subscribe[Todo](sys, e.db, listQuery(e.db, "L"))
		if err != nil {
			t.Fatal(err)
		}
		<-sub.Ready()
		insert(t, e.db, todo("a", "L", "t", false))
		waitFor(t, "the row", func() bool { return len(sub.Snapshot()) == 1 })
		done := make(chan struct{})
		go func() { sub.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Close blocked on an undelivered delta")
		}
		for range sub.Deltas() { // drains and ends: the channel is closed
		}
		if !errors.Is(sub.Err(), live.ErrClosed) {
			t.Fatalf("Err %v", sub.Err())
		}
		sub.Close() // twice is fine
		insert(t, e.db, todo("b", "L", "t", false))
	})
}

// The subscription ends with its context.
func TestContextCancel(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		ctx, cancel := context.WithCancel(sys)
		sub, err := live.Subscribe[Todo](ctx, e.db, listQuery(e.db, "L"))
		if err != nil {
			t.Fatal(err)
		}
		<-sub.Ready()
		cancel()
		select {
		case _, ok := <-sub.Deltas():
			if ok {
				t.Fatal("a delta after cancel")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Deltas not closed after the context ended")
		}
		if !errors.Is(sub.Err(), live.ErrClosed) {
			t.Fatalf("Err %v", sub.Err())
		}
	})
}

// countSelects counts the SELECTs a DB runs.
func countSelects(n *atomic.Int64) orm.Middleware {
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if st.Op == orm.OpSelect {
				n.Add(1)
			}
			return next(ctx, st)
		}
	}
}

// A None query is re-run when a table it reads changes, and only then.
func TestNoneQuery(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		var selects atomic.Int64
		db := e.db.Use(countSelects(&selects))
		// A subquery in WHERE: None.
		inner := orm.Select(Todos.Col("list_id")).From(Todos).Where(expr.Eq(Todos.Col("title"), "pin"))
		q := db.Select().From(Todos).Where(expr.InArray(Todos.Col("list_id"), expr.Sub(inner))).OrderBy(expr.Asc(Todos.Col("id")))
		if c := live.Classify(q); c != live.None {
			t.Fatalf("class %v", c)
		}
		sub, err := live.Subscribe[Todo](sys, db, q)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		<-sub.Ready()
		insert(t, e.db, todo("a", "L", "x", false), todo("b", "M", "y", false))
		insert(t, e.db, todo("p", "L", "pin", false))
		waitFor(t, "the re-run", func() bool { return len(sub.Snapshot()) == 2 })
		got := sub.Snapshot()
		if got[0].ID != "a" || got[1].ID != "p" {
			t.Fatalf("snapshot %+v", got)
		}
		// A change to a table the query does not read runs nothing, and
		// neither does a Select-class subscription's maintenance.
		if err := orm.EnsureSchema(sys, authSchema, e.db); err != nil {
			t.Fatal(err)
		}
		other, err := live.Subscribe[Todo](sys, db, listQuery(db, "M"))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		<-other.Ready()
		before := selects.Load()
		if _, err := e.db.Insert(Members).Values(orm.Row{"id": "m", "list_id": "L", "user_id": "u"}).Exec(sys); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := selects.Load() - before; n != 0 {
			t.Fatalf("%d queries for a change to a table no query reads", n)
		}
		insert(t, e.db, todo("m2", "M", "z", false))
		waitFor(t, "the maintained row", func() bool { return len(other.Snapshot()) == 2 })
		time.Sleep(100 * time.Millisecond)
		if n := selects.Load() - before; n != 1 {
			t.Fatalf("%d queries for a todo: want 1, the None query's re-run, and none for the maintained query", n)
		}
	})
}

// Members, Notes: notes readable by the members of their list.
var (
	Members = orm.NewTable("members", orm.ID(), orm.Text("list_id"), orm.Text("user_id"))
	Notes   = orm.NewTable("notes", orm.ID(), orm.Text("list_id"), orm.Text("owner_id"), orm.Text("body")).
		With(orm.TableOptions{Auth: orm.TableAuth{Read: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			return expr.InArray(expr.ColRef("notes", "list_id"),
				expr.Sub(orm.Select(Members.Col("list_id")).From(Members).Where(expr.Eq(Members.Col("user_id"), id.UserID)))), nil
		}).Rule()}})
	Mine = orm.NewTable("mine", orm.ID(), orm.Text("owner_id"), orm.Text("body")).
		With(orm.TableOptions{Auth: orm.TableAuth{Read: rowauth.Owner(expr.ColRef("mine", "owner_id")).Rule()}})
	authSchema = mustSchema(orm.DefineSchema("1", Members, Notes, Mine))
)

type note struct {
	ID   string `db:"id"`
	Body string `db:"body"`
}

// A subscription sees what its identity may read, also when the rule's
// own inputs change: a member removed loses the list's rows.
func TestIdentityLosesAccess(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		if err := orm.EnsureSchema(sys, authSchema, e.db); err != nil {
			t.Fatal(err)
		}
		ann := rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: "ann"})
		w := func(db *orm.DB, tb *orm.Table, rows ...orm.Row) {
			if _, err := db.Insert(tb).Values(rows...).Exec(sys); err != nil {
				t.Fatal(err)
			}
		}
		w(e.db, Members, orm.Row{"id": "m1", "list_id": "L", "user_id": "ann"})
		w(e.db, Notes, orm.Row{"id": "n1", "list_id": "L", "owner_id": "bob", "body": "hi"},
			orm.Row{"id": "n2", "list_id": "M", "owner_id": "bob", "body": "secret"})
		sub, err := live.Subscribe[note](ann, e.db, e.db.Select(Notes.Col("id"), Notes.Col("body")).From(Notes).OrderBy(expr.Asc(Notes.Col("id"))))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if sub.Class() != live.None {
			t.Fatalf("a rule with a subquery: class %v, want None (re-run)", sub.Class())
		}
		<-sub.Ready()
		if got := sub.Snapshot(); len(got) != 1 || got[0].ID != "n1" {
			t.Fatalf("snapshot %+v", got)
		}
		if _, err := e.db.Delete(Members).Where(expr.Eq(Members.Col("id"), "m1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		d := <-sub.Deltas()
		if len(d.Removed) != 1 || d.Removed[0] != "n1" || len(sub.Snapshot()) != 0 {
			t.Fatalf("delta %+v, snapshot %+v", d, sub.Snapshot())
		}

		// A rule Go evaluates keeps the query maintained.
		w(e.db, Mine, orm.Row{"id": "a", "owner_id": "ann", "body": "a"}, orm.Row{"id": "b", "owner_id": "bob", "body": "b"})
		mine, err := live.Subscribe[note](ann, e.db, e.db.Select(Mine.Col("id"), Mine.Col("body")).From(Mine))
		if err != nil {
			t.Fatal(err)
		}
		defer mine.Close()
		if mine.Class() != live.Select {
			t.Fatalf("an owner rule: class %v", mine.Class())
		}
		<-mine.Ready()
		w(e.db, Mine, orm.Row{"id": "c", "owner_id": "bob", "body": "c"}, orm.Row{"id": "d", "owner_id": "ann", "body": "d"})
		waitFor(t, "ann's new row", func() bool { return len(mine.Snapshot()) == 2 })
		if got := mine.Snapshot(); got[0].ID != "a" || got[1].ID != "d" {
			t.Fatalf("snapshot %+v", got)
		}
		// Without an identity the subscription is refused, as the query.
		if _, err := live.Subscribe[note](context.Background(), e.db, e.db.Select().From(Mine)); !errors.Is(err, rowauth.ErrNoIdentity) {
			t.Fatalf("no identity: %v", err)
		}
	})
}

func TestServerSelect(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		ctx, cancel := context.WithCancel(sys)
		counts := make(chan int, 16)
		errc := make(chan error, 1)
		go func() {
			errc <- live.ServerSelect(ctx, e.db, live.ServerSelectOptions[int]{
				Tables: []string{"todos"},
				Fetch: func(ctx context.Context) (int, error) {
					return orm.Scalar[int](ctx, e.db.Select(expr.CountAll()).From(Todos))
				},
				OnChange: func(n int) { counts <- n },
			})
		}()
		if n := <-counts; n != 0 {
			t.Fatalf("first result %d", n)
		}
		insert(t, e.db, todo("a", "L", "t", false))
		select {
		case n := <-counts:
			if n != 1 {
				t.Fatalf("after an insert: %d", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no run after a commit")
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("ServerSelect returned %v", err)
		}
	})
}

func TestSubscribeFunc(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		insert(t, e.db, todo("a", "L", "t", false))
		got := make(chan live.Delta[Todo], 4)
		sub, err := live.SubscribeFunc(sys, e.db, listQuery(e.db, "L"), func(d live.Delta[Todo]) { got <- d })
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		select {
		case <-sub.Ready():
		case <-time.After(5 * time.Second):
			t.Fatal("not ready")
		}
		insert(t, e.db, todo("b", "L", "t", false))
		if d := <-got; len(d.Added) != 1 {
			t.Fatalf("delta %+v", d)
		}
	})
}

// On PostgreSQL a commit made by another process (another *orm.DB, its
// own pool and Memo) reaches the subscription through LISTEN/NOTIFY,
// without polling.
func TestCrossProcessNotify(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		if e.name != "postgres" {
			t.Skip("LISTEN/NOTIFY is PostgreSQL's")
		}
		if err := realtime.Ensure(sys, e.db); err != nil {
			t.Fatal(err)
		}
		if err := live.Configure(e.db, live.Options{Listener: e.dsn, PollInterval: time.Hour}); err != nil {
			t.Fatal(err)
		}
		sub, err := live.Subscribe[Todo](sys, e.db, listQuery(e.db, "L"))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		<-sub.Ready()
		if err := live.Configure(e.db, live.Options{}); !errors.Is(err, live.ErrConfigured) {
			t.Fatalf("Configure after Subscribe: %v", err)
		}
		insert(t, e.open(), todo("a", "L", "t", false))
		select {
		case d := <-sub.Deltas():
			if len(d.Added) != 1 {
				t.Fatalf("delta %+v", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("another process's commit did not arrive")
		}
	})
}

// A SUM that leaves int64 is not computed in Go: the subscription turns
// into a re-run one and reports what the engine does (SQLite: "integer
// overflow"; PostgreSQL: a numeric that int64 cannot hold).
func TestSumOverflow(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		type sum struct {
			S *int64 `db:"s"`
		}
		q := e.db.Select(expr.As(expr.Sum(Todos.Col("x")), "s")).From(Todos)
		sub, err := live.Subscribe[sum](sys, e.db, q)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if sub.Class() != live.Aggregate {
			t.Fatalf("class %v", sub.Class())
		}
		<-sub.Ready()
		if got := sub.Snapshot(); len(got) != 1 || got[0].S != nil {
			t.Fatalf("empty sum %+v", got)
		}
		insert(t, e.db, orm.Row{"id": "a", "list_id": "L", "x": int64(1) << 62})
		waitFor(t, "the sum", func() bool { s := sub.Snapshot(); return len(s) == 1 && s[0].S != nil })
		insert(t, e.db, orm.Row{"id": "b", "list_id": "L", "x": int64(1) << 62})
		waitFor(t, "the overflow error", func() bool { return sub.Err() != nil })
		_, want := orm.All[sum](sys, q)
		if want == nil {
			t.Fatal("re-running the query succeeded: the overflow should fail it")
		}
		t.Logf("subscription: %v; query: %v", sub.Err(), want)
	})
}

// Close from inside the callback does not deadlock.
func TestCloseInCallback(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		var sub *live.Subscription[Todo]
		closed := make(chan struct{})
		var err error
		sub, err = live.SubscribeFunc(sys, e.db, listQuery(e.db, "L"), func(live.Delta[Todo]) {
			sub.Close()
			close(closed)
		})
		if err != nil {
			t.Fatal(err)
		}
		<-sub.Ready()
		insert(t, e.db, todo("a", "L", "t", false))
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close inside the callback blocked")
		}
		insert(t, e.db, todo("b", "L", "t", false))
	})
}

// Subscriptions come and go (the engine stops with the last one and
// starts again) while writers write; run with -race.
func TestChurn(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		stop := make(chan struct{})
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.db.Insert(Todos).Values(todo(time.Now().Format("150405.000000")+string(rune('a'+i%26)), "L", "t", false)).Exec(sys); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for range 30 {
			sub, err := live.Subscribe[Todo](sys, e.db, listQuery(e.db, "L"))
			if err != nil {
				t.Fatal(err)
			}
			<-sub.Ready()
			if err := sub.Err(); err != nil {
				t.Fatal(err)
			}
			sub.Close()
		}
		close(stop)
		<-wrote
		// After the churn a new subscription still sees new commits.
		sub, err := live.Subscribe[Todo](sys, e.db, listQuery(e.db, "M"))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		<-sub.Ready()
		insert(t, e.db, todo("m", "M", "t", false))
		waitFor(t, "the row after churn", func() bool { return len(sub.Snapshot()) == 1 })
	})
}
