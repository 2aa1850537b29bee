//go:build linux

package realtime

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// A connection whose send queue fills up is closed at once, and the
// others keep getting their messages.
//
// It is one long function on purpose: one hub, set up by hand, then the
// overflow sequence on it.
func TestFullQueueCloses(t *testing.T) {
	tg := ormtest.SQLite(t)
	schema := orm.MustDefineSchema("1", orm.NewTable("items", orm.ID()))
	h, err := New(Options{
		DB: tg.DB, Schema: schema, SendQueue: 4,
		Auth: func(r *http.Request) (rowauth.Identity, error) {
			u := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if u == "" {
				return rowauth.Identity{}, errors.New("no user")
			}
			return rowauth.Identity{UserID: u}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		_ = h.Close(context.Background())
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// The slow client's socket has a tiny receive buffer, and it never
	// reads, so the server's writes soon block.
	small := &websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}).DialContext}
	slow, _, err := small.Dial(url+"?clientGroupID=gs&clientID=s", http.Header{"Authorization": {"Bearer slow"}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, _, err := websocket.DefaultDialer.Dial(url+"?clientGroupID=gf&clientID=f", http.Header{"Authorization": {"Bearer fast"}})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	msgs := make(chan string, 100)
	go func() {
		for {
			_, m, err := fast.ReadMessage()
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(m)
		}
	}()

	var sc *conn
	waitUntil(t, "two connections", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for c := range h.conns {
			if c.group == "gs" {
				sc = c
			}
		}
		return len(h.conns) == 2 && sc != nil
	})
	if tc, ok := sc.netConn.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	big := []byte(`{"type":"presence","entries":[],"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	start := time.Now()
	for range 40 {
		sc.write(big)
	}
	waitUntil(t, "the slow connection closed", func() bool { return h.Connections() == 1 })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closing the full connection took %v", d)
	}

	// The fast client got its messages meanwhile and still gets pokes.
	h.Poke("gf")
	pokes := 0
	deadline := time.After(2 * time.Second)
	for pokes < 2 { // the one on connecting, and Poke's
		select {
		case m := <-msgs:
			if m == `{"type":"poke"}` {
				pokes++
			}
		case <-deadline:
			t.Fatalf("the fast client got %d pokes; want 2", pokes)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 3s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
