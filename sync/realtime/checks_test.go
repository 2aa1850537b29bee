package realtime_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/realtime"
)

// failChecks is a middleware for Options.DB that fails the hub's
// read-access checks of notes: the batched statement, the compound
// fallback and, with all, the per-identity statements too.
func failChecks(all bool, failed *atomic.Int32) orm.Middleware {
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			fail := false
			switch {
			case st.Op == orm.OpSelect && st.Table != nil && st.Table.Name() == "notes":
				fail = true // the batched statement
			case st.Op == orm.OpRaw && strings.Contains(st.SQL, `"notes"`):
				fail = all || strings.Contains(st.SQL, " UNION ALL ")
			}
			if fail {
				failed.Add(1)
				return nil, errors.New("injected failure")
			}
			return next(ctx, st)
		}
	}
}

// Through the hub: with the batched and compound checks failing, the
// per-identity fallback still pokes exactly the readers; with every
// check failing, everyone is poked. No poke is missed.
func TestCheckFallbackPokes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		for _, all := range []bool{false, true} {
			var failed atomic.Int32
			e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.DB = tg.DB.Use(failChecks(all, &failed)) })
			prefix := map[bool]string{false: "x", true: "y"}[all]
			alice := e.connect(params{user: "alice", group: prefix + "ga", client: prefix + "a1"})
			bob := e.connect(params{user: "bob", group: prefix + "gb", client: prefix + "b1"})
			carol := e.connect(params{user: "carol", group: prefix + "gc", client: prefix + "c1"})

			e.insert(as("alice"), tNotes, orm.Row{"id": prefix + "n1", "owner_id": "alice", "body": "hi"})
			alice.expectPoke("alice's note, checks failing", 3*time.Second)
			if all {
				bob.expectPoke("every check failed: everyone", 3*time.Second)
				carol.expectPoke("every check failed: everyone", 3*time.Second)
			} else {
				bob.expectNoPoke("alice's note, per-identity fallback", quiet)
				carol.expectNoPoke("alice's note, per-identity fallback", quiet)
			}
			if failed.Load() < 2 {
				t.Errorf("all=%v: %d checks failed; the fallbacks were not exercised", all, failed.Load())
			}
			for _, c := range []*client{alice, bob, carol} {
				c.close()
			}
		}
	})
}

// originCheck refuses evil.example, accepts app.example, and accepts
// cookie.example only with the cookie ok=1, which only the full request
// carries.
func originCheck(calls *atomic.Int32) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		calls.Add(1)
		switch r.Header.Get("Origin") {
		case "", "https://app.example":
			return true
		case "https://cookie.example":
			c, err := r.Cookie("ok")
			return err == nil && c.Value == "1"
		}
		return false
	}
}

func TestCheckOrigin(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		var calls atomic.Int32
		e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.CheckOrigin = originCheck(&calls) })
		q := url.Values{"clientGroupID": {"g1"}, "clientID": {"c1"}}
		dial := func(hdr http.Header) (*websocket.Conn, int, error) {
			hdr.Set("Authorization", "Bearer alice")
			ws, resp, err := websocket.DefaultDialer.Dial(e.wsURL(q), hdr)
			status := 0
			if resp != nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			return ws, status, err
		}

		// Refused origins: 403 before the upgrade, nothing registered.
		for _, hdr := range []http.Header{
			{"Origin": {"https://evil.example"}},
			{"Origin": {"https://cookie.example"}},
			{"Origin": {"https://cookie.example"}, "Cookie": {"ok=0"}},
		} {
			ws, status, err := dial(hdr)
			if err == nil {
				ws.Close()
				t.Fatalf("origin %v: connected; want 403", hdr)
			}
			if status != http.StatusForbidden {
				t.Errorf("origin %v: status %d (%v); want 403", hdr, status, err)
			}
		}
		if n := e.hub.Connections(); n != 0 {
			t.Fatalf("%d connections after refused origins; want 0", n)
		}

		// Accepted: an allowed origin, one allowed only on the full
		// request (its cookie), and no origin. Each is a working
		// connection: poked on connecting and on a write it may read.
		var clients []*client
		for i, hdr := range []http.Header{
			{"Origin": {"https://app.example"}},
			{"Origin": {"https://cookie.example"}, "Cookie": {"ok=1"}},
			{},
		} {
			q.Set("clientID", "ok"+string(rune('0'+i)))
			ws, status, err := dial(hdr)
			if err != nil {
				t.Fatalf("origin %v: %d %v; want a connection", hdr, status, err)
			}
			c := e.start(ws)
			c.expectPoke("the poke on connecting", 5*time.Second)
			clients = append(clients, c)
		}
		waitFor(t, "three connections", 2*time.Second, func() bool { return e.hub.Connections() == 3 })
		e.insert(as("alice"), tNotes, orm.Row{"id": "n1", "owner_id": "alice", "body": "hi"})
		for _, c := range clients {
			c.expectPoke("alice's note", 3*time.Second)
		}
		if calls.Load() == 0 {
			t.Error("CheckOrigin was never called")
		}

		// A plain GET, not a handshake: the upgrader's 400, no upgrade.
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/sync/ws?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain GET: %d; want 400", resp.StatusCode)
		}
		if n := e.hub.Connections(); n != 3 {
			t.Errorf("%d connections; want 3", n)
		}
	})
}

// A handshake the upgrader refuses (here an unsupported
// Sec-WebSocket-Version) is answered by the upgrader itself, on the
// real request, with the hub's JSON body and the version it speaks.
func TestUpgraderRefusal(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, nil)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/sync/ws?clientGroupID=g1&clientID=c1", nil)
	req.Header.Set("Authorization", "Bearer alice")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "8")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Sec-WebSocket-Version") != "13" ||
		resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"error":"websocket: unsupported version`) {
		t.Errorf("version 8: %d %v %s; want 400, Sec-WebSocket-Version: 13 and a JSON error", resp.StatusCode, resp.Header, body)
	}
	if n := e.hub.Connections(); n != 0 {
		t.Errorf("%d connections; want 0", n)
	}
	// The refused request left nothing behind: the same client connects.
	e.connect(params{user: "alice", group: "g1", client: "c1"})
}

// A client that sends bytes before the handshake is answered is
// dropped, as the upgrader would, without an upgrade.
func TestEarlyBytesRefused(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, nil)
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET /sync/ws?clientGroupID=g1&clientID=c1 HTTP/1.1\r\n" +
		"Host: " + strings.TrimPrefix(e.srv.URL, "http://") + "\r\n" +
		"Authorization: Bearer alice\r\n" +
		"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" +
		"\x81\x85\x00\x00\x00\x00hello" // a frame, sent too early
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err == nil && strings.Contains(line, "101") {
		t.Fatalf("upgraded after early bytes: %q", line)
	}
	if err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("reading the answer: %v; want the connection closed", err)
	}
	if n := e.hub.Connections(); n != 0 {
		t.Errorf("%d connections; want 0", n)
	}
	// A normal connection still works.
	e.connect(params{user: "alice", group: "g1", client: "c2"})
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}
