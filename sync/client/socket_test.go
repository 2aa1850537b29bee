package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

// A hostile socket (garbage, unknown types, malformed presence, an
// oversized frame) neither crashes the client nor stops it: pokes still
// make it pull, and it reconnects after the oversized frame.
func TestHostileSocket(t *testing.T) {
	var pulls, dials atomic.Int64
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/sync/pull", func(w http.ResponseWriter, r *http.Request) {
		pulls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"cookie":null,"lastMutationIDChanges":{},"patch":[]}`))
	})
	mux.HandleFunc("/sync/ws", func(w http.ResponseWriter, r *http.Request) {
		n := dials.Add(1)
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for _, m := range []string{`garbage`, `{"type":"nope"}`, `{"type":"presence","entries":"x"}`,
			`{"type":"presence","entries":[{"clientID":1}]}`, `[]`, `null`, `{"type":"poke"}`} {
			_ = conn.WriteMessage(websocket.TextMessage, []byte(m))
		}
		if n == 1 {
			_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"poke","pad":"`+strings.Repeat("x", 2<<20)+`"}`))
		}
		time.Sleep(2 * time.Second)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := client.Open(context.Background(), client.Options[todo.AppCtx]{Server: srv.URL + "/sync", Schema: todo.Schema,
		Mutators: todo.Mutators, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	must(t, err)
	defer c.Close()
	must(t, c.Start(context.Background()))
	plasmatest.Eventually(t, 5*time.Second, "a reconnect after the oversized frame", func() bool { return dials.Load() >= 2 })
	plasmatest.Eventually(t, 5*time.Second, "pulls on pokes", func() bool { return pulls.Load() >= 3 })
	if err := c.JoinRoom("r", func() {}); err == nil {
		t.Fatal("unencodable userInfo accepted")
	}
}
