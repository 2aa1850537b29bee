package todo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/server"
)

func ExampleNewServer() {
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

	post := func(path, user, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+user)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}

	w := post("/sync/push", "ann", `{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","mutations":[
		{"clientID":"c1","id":1,"name":"createList","args":{"id":"L1","name":"groceries"},"timestamp":1},
		{"clientID":"c1","id":2,"name":"createTodo","args":{"id":"t1","listID":"L1","title":"milk"},"timestamp":2}]}`)
	fmt.Println("push:", w.Code, w.Body.String())

	w = post("/sync/pull", "ann", `{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":null}`)
	var resp struct {
		LMIDs map[string]int64 `json:"lastMutationIDChanges"`
		Patch []struct{ Op, Key string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		panic(err)
	}
	fmt.Println("pull:", w.Code, resp.LMIDs)
	for _, op := range resp.Patch {
		fmt.Println(strings.TrimSpace("  " + op.Op + " " + op.Key))
	}

	w = post("/sync/pull", "", `{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":null}`)
	fmt.Println("without Authorization:", w.Code)
	// Output:
	// push: 200 {}
	// pull: 200 map[c1:2]
	// clear
	// put lists/L1
	// put members/m-16eefa0f2363864c9b73bfd2
	// put todos/t1
	// without Authorization: 401
}
