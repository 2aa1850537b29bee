package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

// PullStats tells how pulls were answered: the first pull of a group is
// a reset (a rescan); a pull after a push reads only what changed; one
// with nothing new is answered from the heads.
func ExampleHandler_PullStats() {
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	h, err := server.NewHandler(server.Options[User]{
		Schema: exSchema, DB: db, Mutators: exMutators,
		Auth: func(r *http.Request) (rowauth.Identity, User, error) {
			uid, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || uid == "" {
				return rowauth.Identity{}, User{}, errors.New("not signed in")
			}
			return rowauth.Identity{UserID: uid}, User{ID: uid}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	defer h.Close(context.Background())
	post := func(path, body string) string {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer ann")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Body.String()
	}
	cookie := "null"
	pull := func() {
		body := post("/sync/pull", `{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":`+cookie+`}`)
		var resp protocol.PullResponse
		if err := json.Unmarshal([]byte(body), &resp); err == nil {
			cookie = string(resp.Cookie)
		}
	}
	pull()
	post("/sync/push", `{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1",
		"mutations":[{"clientID":"c1","id":1,"name":"addNote","args":{"id":"n1","text":"hello"},"timestamp":1}]}`)
	pull()
	pull()
	s := h.PullStats()
	fmt.Println("unchanged", s.Unchanged, "incremental", s.Incremental, "resets", s.Fallbacks["reset"])
	// Output:
	// unchanged 1 incremental 1 resets 1
}
