package client_test

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/sync/client"
)

// A live query on the replica: live.Subscribe works on c.DB() and its
// result follows local mutations, rebases (pulls) and discards.
func Example_liveQuery() {
	ctx := context.Background()
	// No server is needed for local changes: the client does not sync
	// until Start, Flush, PushOnce or PullOnce.
	c, err := client.Open(ctx, client.Options[todo.AppCtx]{
		Server: "http://127.0.0.1:1/sync", Schema: todo.Schema, Mutators: todo.Mutators,
		Ctx: todo.AppCtx{UserID: "alice"},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "groceries"}); err != nil {
		panic(err)
	}

	type Todo struct {
		ID    string `db:"id"`
		Title string `db:"title"`
	}
	q := c.DB().Select(todo.Todos.Col("id"), todo.Todos.Col("title")).From(todo.Todos).
		Where(expr.Eq(todo.Todos.Col("list_id"), "L1")).OrderBy(expr.Asc(todo.Todos.Col("title")))
	sub, err := live.Subscribe[Todo](ctx, c.DB(), q) // no identity: the replica holds only alice's rows
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	<-sub.Ready()
	fmt.Println("snapshot:", sub.Snapshot())

	id, err := c.MutateID(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "milk"})
	if err != nil {
		panic(err)
	}
	d := <-sub.Deltas()
	fmt.Println("added:", d.Added["t1"])

	if err := c.DiscardMutation(ctx, id); err != nil {
		panic(err)
	}
	d = <-sub.Deltas()
	fmt.Println("removed:", d.Removed)
	// Output:
	// snapshot: []
	// added: {t1 milk}
	// removed: [t1]
}
