package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/server"
)

// A client applies a mutation to its replica at once; Flush sends it
// and pulls the server's confirmation.
func Example() {
	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	h, err := todo.NewServer(ctx, db, server.Options[todo.AppCtx]{})
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	mux := http.NewServeMux()
	mux.Handle("/sync/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := client.Open(ctx, client.Options[todo.AppCtx]{
		Server: srv.URL + "/sync", Schema: todo.Schema, Mutators: todo.Mutators,
		Auth: client.Bearer(func(context.Context) (string, error) { return "alice", nil }),
		Ctx:  todo.AppCtx{UserID: "alice"},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "groceries"}); err != nil {
		panic(err)
	}
	if err := c.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "milk"}); err != nil {
		panic(err)
	}
	type Todo struct {
		ID    string `db:"id"`
		Title string `db:"title"`
		Done  bool   `db:"done"`
	}
	rows, err := orm.All[Todo](ctx, c.DB().Select().From(todo.Todos))
	fmt.Println("local:", rows, err)
	p, _ := c.Pending(ctx)
	fmt.Println("pending:", len(p))

	if err := c.Flush(ctx); err != nil {
		panic(err)
	}
	p, _ = c.Pending(ctx)
	fmt.Println("after flush: pending", len(p), "lastMutationID", c.LastMutationID())
	// Output:
	// local: [{t1 milk false}] <nil>
	// pending: 2
	// after flush: pending 0 lastMutationID 2
}
