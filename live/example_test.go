package live_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

// exampleDB opens a fresh SQLite database with the todos table and
// plasma's plugins (row auth, the change log).
func exampleDB() (*orm.DB, func()) {
	dir, _ := os.MkdirTemp("", "live-example")
	plain, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	db, err := serverdb.New(context.Background(), todoSchema, plain)
	if err != nil {
		panic(err)
	}
	return db, func() { plain.Close(); os.RemoveAll(dir) }
}

func ExampleSubscribe() {
	db, done := exampleDB()
	defer done()
	ctx := rowauth.AsSystem(context.Background()) // a backend: no row auth
	_, _ = db.Insert(Todos).Values(orm.Row{"id": "1", "list_id": "L", "title": "milk"}).Exec(ctx)

	q := db.Select(Todos.Col("id"), Todos.Col("title")).From(Todos).
		Where(expr.Eq(Todos.Col("list_id"), "L"), expr.Eq(Todos.Col("done"), false)).
		OrderBy(expr.Asc(Todos.Col("title"))).Limit(50)
	sub, err := live.Subscribe[titleRow](ctx, db, q)
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	<-sub.Ready()
	fmt.Println(sub.Class(), len(sub.Snapshot()))

	_, _ = db.Insert(Todos).Values(orm.Row{"id": "2", "list_id": "L", "title": "bread"}).Exec(ctx)
	d := <-sub.Deltas()
	fmt.Println(*d.Added["2"].Title, *sub.Snapshot()[0].Title)
	// Output:
	// Select 1
	// bread bread
}

func ExampleSubscribeFunc() {
	db, done := exampleDB()
	defer done()
	ctx := rowauth.AsSystem(context.Background())
	type openCount struct {
		ListID string `db:"list_id"`
		N      int64  `db:"n"`
	}
	q := db.Select(Todos.Col("list_id"), expr.As(expr.CountAll(), "n")).From(Todos).
		Where(expr.Eq(Todos.Col("done"), false)).GroupBy(Todos.Col("list_id"))
	got := make(chan live.Delta[openCount], 1)
	sub, err := live.SubscribeFunc(ctx, db, q, func(d live.Delta[openCount]) { got <- d })
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	<-sub.Ready()
	_, _ = db.Insert(Todos).Values(orm.Row{"id": "1", "list_id": "L", "title": "milk"}).Exec(ctx)
	for _, r := range (<-got).Added {
		fmt.Println(sub.Class(), r.ListID, r.N)
	}
	// Output: Aggregate L 1
}

func ExampleClassify() {
	db, done := exampleDB()
	defer done()
	byList := db.Select().From(Todos).Where(expr.Eq(Todos.Col("list_id"), "L"))
	counts := db.Select(Todos.Col("list_id"), expr.As(expr.CountAll(), "n")).From(Todos).GroupBy(Todos.Col("list_id"))
	raw := db.Select().From(Todos).Where(expr.SQL(`length("title") > 3`))
	fmt.Println(live.Classify(byList), live.Classify(counts), live.Classify(raw))
	// Output: Select Aggregate None
}

func ExampleServerSelect() {
	db, done := exampleDB()
	defer done()
	ctx, cancel := context.WithCancel(rowauth.AsSystem(context.Background()))
	counts := make(chan int, 4)
	go func() {
		_ = live.ServerSelect(ctx, db, live.ServerSelectOptions[int]{
			Tables: []string{"todos"},
			Fetch: func(ctx context.Context) (int, error) {
				return orm.Scalar[int](ctx, db.Select(expr.CountAll()).From(Todos))
			},
			OnChange: func(n int) { counts <- n },
		})
	}()
	fmt.Println(<-counts)
	_, _ = db.Insert(Todos).Values(orm.Row{"id": "1", "list_id": "L"}).Exec(ctx)
	fmt.Println(<-counts)
	cancel()
	// Output:
	// 0
	// 1
}

func ExampleConfigure() {
	db, done := exampleDB()
	defer done()
	// Before the first subscription: on PostgreSQL, Listener names the
	// connection to LISTEN on for other processes' commits.
	err := live.Configure(db, live.Options{Debounce: 50e6})
	fmt.Println(err)
	// Output: <nil>
}
