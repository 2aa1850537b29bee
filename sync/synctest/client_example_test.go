package synctest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// A Client pushes and pulls against a real handler served by httptest,
// checking every pull response as the replicache client would.
func ExampleClient() {
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

	c := synctest.NewClient(srv.Client(), srv.URL+"/sync", "Bearer ann", "g1")
	status, body, err := c.Push(synctest.Mutation{ClientID: "c1", ID: 1, Name: "createList", Args: `{"id":"L1","name":"groceries"}`})
	fmt.Println("push:", status, body, err)
	r, err := c.Pull()
	if err != nil {
		panic(err) // a broken protocol rule
	}
	fmt.Println("changed:", r.Changed, "lastMutationID:", c.LastMutationIDs["c1"], "list:", c.Row("lists/L1")["name"])
	r, err = c.Pull()
	fmt.Println("again, changed:", r.Changed, err)

	// A response whose cookie goes back is refused and changes nothing.
	_, err = c.Apply(`{"cookie":null,"lastMutationIDChanges":{},"patch":[]}`)
	fmt.Println(err != nil)
	// Output:
	// push: 200 {} <nil>
	// changed: true lastMutationID: 1 list: groceries
	// again, changed: false <nil>
	// true
}
