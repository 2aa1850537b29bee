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
)

// A database without a change log (here plain SQLite; in practice the Go
// client's replica, which sync/client wires up itself): the application
// announces, after each commit, the tables it changed, and subscriptions
// reading them re-run.
func ExampleOptions_changes() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "live-example")
	defer os.RemoveAll(dir)
	db, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "local.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := orm.EnsureSchema(ctx, todoSchema, db); err != nil {
		panic(err)
	}

	var announce func(tables []string)
	err = live.Configure(db, live.Options{
		NoRowAuth: true, // a local store: no identity, no read rules
		Changes: func(a func(tables []string)) (stop func()) {
			announce = a
			return func() { announce = nil }
		},
	})
	if err != nil {
		panic(err)
	}

	q := db.Select(Todos.Col("id"), Todos.Col("title")).From(Todos).
		Where(expr.Eq(Todos.Col("list_id"), "L")).OrderBy(expr.Asc(Todos.Col("title")))
	sub, err := live.Subscribe[struct {
		ID    string `db:"id"`
		Title string `db:"title"`
	}](ctx, db, q)
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	<-sub.Ready()

	if _, err := db.Insert(Todos).Values(orm.Row{"id": "1", "list_id": "L", "title": "milk"}).Exec(ctx); err != nil {
		panic(err)
	}
	announce([]string{"todos"}) // after the commit
	d := <-sub.Deltas()
	fmt.Println("added:", d.Added["1"].Title, "class:", sub.Class())
	// Output:
	// added: milk class: None
}
