package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

// Mount the hub at {basePath}/ws next to the sync handler, and make it
// the handler's Notifier so that pushes poke.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "plasma-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	todos := orm.NewTable("todos", orm.ID(), orm.Text("owner_id"), orm.Text("title"))
	owner := rowauth.Owner(todos.Col("owner_id")).Rule()
	todos.With(orm.TableOptions{Auth: orm.TableAuth{Read: owner, Write: owner}})
	schema := orm.MustDefineSchema("1", todos)

	// The application's authentication, shared by push, pull and the
	// WebSocket.
	type appCtx struct{ userID string }
	auth := func(r *http.Request) (rowauth.Identity, appCtx, error) {
		user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || user == "" {
			return rowauth.Identity{}, appCtx{}, errors.New("not signed in")
		}
		return rowauth.Identity{UserID: user}, appCtx{user}, nil
	}

	hub, err := realtime.New(realtime.Options{
		DB: db, Schema: schema,
		Auth: func(r *http.Request) (rowauth.Identity, error) {
			id, _, err := auth(r)
			return id, err
		},
		// On PostgreSQL, to poke across server processes:
		// Listener: "postgres://app@db:5432/app?sslmode=disable",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close(ctx)
	syncHandler, err := server.NewHandler(server.Options[appCtx]{
		Schema: schema, DB: db, Auth: auth, Notifier: hub,
		Mutators: mutator.Set[appCtx]{},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer syncHandler.Close(ctx)

	mux := http.NewServeMux()
	mux.Handle("/sync/", syncHandler)
	mux.Handle("/sync/ws", hub)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A browser connects with new WebSocket(url), putting its
	// credentials in the auth parameter.
	url := "ws" + strings.TrimPrefix(srv.URL, "http") +
		"/sync/ws?clientGroupID=g1&clientID=c1&userInfo=%7B%22name%22%3A%22Ann%22%7D&auth=Bearer%20alice"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()
	for range 2 {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(msg))
	}
	// Output:
	// {"type":"presence","entries":[{"clientID":"c1","userInfo":{"name":"Ann"}}]}
	// {"type":"poke"}
}
