package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

// dialBody dials like dial and returns the refused handshake's status
// and body.
func (e *env) dialBody(p params, hdr http.Header) (int, string) {
	e.t.Helper()
	q := map[string][]string{"clientGroupID": {p.group}, "clientID": {p.client}}
	if p.room != "" {
		q["room"] = []string{p.room}
	}
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Authorization", "Bearer "+p.user)
	ws, resp, err := websocket.DefaultDialer.Dial(e.wsURL(q), hdr)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		e.t.Fatalf("dial %+v: %v", p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pushHandler is a sync handler on e's database that notifies e's hub.
func (e *env) pushHandler() *server.Handler[struct{}] {
	e.t.Helper()
	h, err := server.NewHandler(server.Options[struct{}]{
		Schema: testSchema, DB: e.tg.DB, Mutators: mutatorsForTest[struct{}](), Notifier: e.hub,
		Auth: func(r *http.Request) (rowauth.Identity, struct{}, error) {
			id, err := testAuth(r)
			return id, struct{}{}, err
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// push sends body to h as user and returns the status.
func push(h http.Handler, user, body string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "/sync/push", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+user)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// The first WebSocket connection to a client group binds it: another
// user can neither connect to it (so neither join its presence room nor
// receive its pokes) nor push to it.
func TestConnectBindsGroup(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		alice := e.connect(params{user: "alice", group: "g1", client: "a1", userInfo: `{"name":"Ann"}`})
		alice.expectPresence(`a1={"name":"Ann"}`, 2*time.Second)
		owner, known, err := store.GroupOwner(context.Background(), tg.DB, "g1")
		if err != nil || !known || owner != "alice" {
			t.Fatalf("after alice's connection, g1 is %q (known %v, %v); want alice's", owner, known, err)
		}

		// bob: 403 before the upgrade, with the body a group bound by a
		// push gets too.
		status, body := e.dialBody(params{user: "bob", group: "g1", client: "b1"}, nil)
		if status != http.StatusForbidden {
			t.Fatalf("bob on alice's group: %d %s; want 403", status, body)
		}
		h := e.pushHandler()
		if code, out := push(h, "alice", pushBody("g2", "a2", 1, "note", `{"id":"n0","body":"x"}`)); code != http.StatusOK {
			t.Fatalf("alice's push to g2: %d %s", code, out)
		}
		status2, body2 := e.dialBody(params{user: "bob", group: "g2", client: "b1"}, nil)
		if status2 != http.StatusForbidden || strings.ReplaceAll(body2, "g2", "g1") != body {
			t.Errorf("bob on a group bound by a push: %d %s; want 403 %s", status2, body2, body)
		}
		// bob's push to the group alice connected to first: 403 too.
		if code, out := push(h, "bob", pushBody("g1", "b1", 1, "note", `{"id":"n1","body":"x"}`)); code != http.StatusForbidden {
			t.Errorf("bob's push to alice's group: %d %s; want 403", code, out)
		}
		// bob never joined: alice's room still has her alone, and a poke
		// of g1 reaches her only.
		if n := e.hub.Connections(); n != 1 {
			t.Errorf("%d connections; want 1", n)
		}
		e.hub.Poke("g1")
		alice.expectPoke("Poke(g1)", 2*time.Second)
		select {
		case p := <-alice.presence:
			t.Errorf("presence changed: %v", p)
		case <-time.After(quiet):
		}
	})
}

// A connection to a group that a push then proves to be another user's
// (the group was collected and claimed again meanwhile) is closed.
func TestSquatterClosed(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		h := e.pushHandler()
		alice := e.connect(params{user: "alice", group: "g1", client: "a1"})
		// The group is forgotten (collected) while alice is connected,
		// and bob claims it with a push.
		if _, err := tg.DB.Exec(context.Background(), `DELETE FROM "`+server.GroupsTable+`" WHERE "id" = ?`, "g1"); err != nil {
			t.Fatal(err)
		}
		if code, out := push(h, "bob", pushBody("g1", "b1", 1, "note", `{"id":"n1","body":"x"}`)); code != http.StatusOK {
			t.Fatalf("bob's push: %d %s", code, out)
		}
		select {
		case <-alice.closed:
		case <-time.After(3 * time.Second):
			t.Fatal("alice's connection to a group now bob's is still open")
		}
		var ce *websocket.CloseError
		_, _, err := alice.ws.ReadMessage()
		if errors.As(err, &ce) && ce.Code != websocket.ClosePolicyViolation {
			t.Errorf("close code %d (%s); want 1008", ce.Code, ce.Text)
		}
		waitFor(t, "alice's connection gone", 2*time.Second, func() bool { return e.hub.Connections() == 0 })
		// bob may connect now; alice may not.
		e.connect(params{user: "bob", group: "g1", client: "b1"})
		if status, body := e.dialBody(params{user: "alice", group: "g1", client: "a1"}, nil); status != http.StatusForbidden {
			t.Errorf("alice on bob's group: %d %s; want 403", status, body)
		}
	})
}

// The caps: connections per user, connections per room, and the length
// of the ids. Over a cap the answer is a 4xx before the upgrade and
// nothing is stored.
func TestConnectionCaps(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.MaxConnsPerUser = 2; o.MaxRoomMembers = 3 })
		a1 := e.connect(params{user: "alice", group: "ga", client: "a1"})
		e.connect(params{user: "alice", group: "ga", client: "a2"})
		status, body := e.dialBody(params{user: "alice", group: "ga", client: "a3"}, nil)
		if status != http.StatusTooManyRequests || !strings.Contains(body, "limit") {
			t.Errorf("a third connection of alice: %d %s; want 429", status, body)
		}
		a1.close()
		waitFor(t, "a1 gone", 2*time.Second, func() bool { return e.hub.Connections() == 1 })
		e.connect(params{user: "alice", group: "ga", client: "a3"})

		// A room of three: a fourth is refused, a reconnect is not.
		for _, u := range []string{"bob", "carol", "dave"} {
			e.connect(params{user: u, group: "g-" + u, client: u, room: "doc"})
		}
		status, body = e.dialBody(params{user: "erin", group: "g-erin", client: "erin", room: "doc"}, nil)
		if status != http.StatusTooManyRequests || !strings.Contains(body, "room is full") {
			t.Errorf("a fourth member of a room of three: %d %s; want 429", status, body)
		}
		e.connect(params{user: "bob", group: "g-bob", client: "bob", room: "doc"})
		// Refused before binding: erin's group is nobody's.
		if _, known, _ := store.GroupOwner(context.Background(), tg.DB, "g-erin"); known {
			t.Error("a refused connection bound its client group")
		}

		// Ids: 128 bytes pass, 129 do not.
		long := strings.Repeat("x", realtime.DefaultMaxIDBytes)
		e.connect(params{user: "frank", group: long, client: long})
		for _, p := range []params{
			{user: "gina", group: long + "y", client: "c"},
			{user: "gina", group: "gg", client: long + "y"},
			{user: "gina", group: "gg", client: "c", room: long + "y"},
		} {
			if status, body := e.dialBody(p, nil); status != http.StatusBadRequest || !strings.Contains(body, "over the limit of 128") {
				t.Errorf("an id of 129 bytes: %d %s; want 400", status, body)
			}
		}
	})
}

// By default a browser may connect from the server's own origin and
// from the origins in CORSOrigins, and from no other.
func TestCheckOriginDefault(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		for _, listed := range []bool{false, true} {
			e := newEnv(t, tg, tg.DB, func(o *realtime.Options) {
				if listed {
					o.CORSOrigins = []string{"https://app.example/"}
				}
			})
			p := params{user: "alice", group: fmt.Sprint("g-", listed), client: "c1"}
			status, body := e.dialBody(p, http.Header{"Origin": {"https://evil.example"}})
			if status != http.StatusForbidden {
				t.Errorf("listed=%v: another origin: %d %s; want 403", listed, status, body)
			}
			status, body = e.dialBody(p, http.Header{"Origin": {"https://app.example"}})
			if want := map[bool]int{false: http.StatusForbidden, true: http.StatusSwitchingProtocols}[listed]; status != want {
				t.Errorf("listed=%v: https://app.example: %d %s; want %d", listed, status, body, want)
			}
			if status, body := e.dialBody(p, http.Header{"Origin": {e.srv.URL}}); status != http.StatusSwitchingProtocols {
				t.Errorf("listed=%v: the same origin: %d %s; want a connection", listed, status, body)
			}
			if status, body := e.dialBody(p, nil); status != http.StatusSwitchingProtocols {
				t.Errorf("listed=%v: no origin: %d %s; want a connection", listed, status, body)
			}
		}
	})
}

// The todo-shaped rules (every read rule consults members) no longer
// poke everyone: a new list pokes only its creator, joining a list
// pokes the new member and those who see the list, and no poke is a
// fallback.
func TestExactPokesMemberOf(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		sys := rowauth.AsSystem(context.Background())
		users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
		clients := map[string]*client{}
		for _, u := range users {
			e.insert(sys, tLists, orm.Row{"id": "L-" + u, "name": u, "owner_id": u})
			e.insert(sys, tMembers, orm.Row{"id": "m-" + u, "list_id": "L-" + u, "user_id": u})
		}
		for _, u := range users {
			clients[u] = e.connect(params{user: u, group: "g-" + u, client: "c-" + u})
			e.pull(u, "g-"+u)
		}
		time.Sleep(400 * time.Millisecond) // let the setup's changes pass
		for _, c := range clients {
			c.drain()
		}

		// u0 creates a list: u0 only.
		e.insert(as("u0"), tLists, orm.Row{"id": "L-new", "name": "new", "owner_id": "u0"})
		e.insert(as("u0"), tMembers, orm.Row{"id": "m-new", "list_id": "L-new", "user_id": "u0"})
		clients["u0"].expectPoke("u0's new list", 3*time.Second)
		for _, u := range users[1:] {
			clients[u].expectNoPoke("u0's new list", quiet)
		}

		// u1 joins u0's list: u1 (who may read it now) and u0 (who may
		// read the new member row); nobody else.
		e.insert(sys, tMembers, orm.Row{"id": "m-new-u1", "list_id": "L-new", "user_id": "u1"})
		clients["u1"].expectPoke("u1 joins", 3*time.Second)
		clients["u0"].expectPoke("u1 joins u0's list", 3*time.Second)
		for _, u := range users[2:] {
			clients[u].expectNoPoke("u1 joins u0's list", quiet)
		}
		// A todo of that list: both members.
		e.insert(sys, tTodos, orm.Row{"id": "t1", "list_id": "L-new", "title": "x"})
		clients["u0"].expectPoke("a todo of u0's list", 3*time.Second)
		clients["u1"].expectPoke("a todo of u1's list", 3*time.Second)
		for _, u := range users[2:] {
			clients[u].expectNoPoke("a todo of another list", quiet)
		}
		if n := e.hub.Stats().FallbackPokes; n != 0 {
			t.Errorf("%d fallback pokes; want 0", n)
		}
	})
}

// A member removed from a list is poked once, to pull the removal, and
// then no more for the list's rows, though it never pulls again and its
// last view record still holds them.
func TestRemovedMemberNotPoked(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		sys := rowauth.AsSystem(context.Background())
		e.insert(sys, tLists, orm.Row{"id": "l1", "name": "groceries", "owner_id": "alice"})
		e.insert(sys, tMembers, orm.Row{"id": "ma", "list_id": "l1", "user_id": "alice"})
		e.insert(sys, tMembers, orm.Row{"id": "mb", "list_id": "l1", "user_id": "bob"})
		e.insert(sys, tTodos, orm.Row{"id": "t1", "list_id": "l1", "title": "milk"})
		e.insert(sys, tTodos, orm.Row{"id": "t2", "list_id": "l1", "title": "eggs"})
		alice := e.connect(params{user: "alice", group: "ga", client: "a1"})
		bob := e.connect(params{user: "bob", group: "gb", client: "b1"})
		e.pull("alice", "ga")
		e.pull("bob", "gb")
		time.Sleep(400 * time.Millisecond)
		alice.drain()
		bob.drain()

		// bob is removed: he is poked (to pull the removal), and so is
		// alice (her view holds his member row).
		if _, err := e.db.Delete(tMembers).Where(expr.Eq(tMembers.Col("id"), "mb")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("bob removed", 3*time.Second)
		alice.expectPoke("bob removed from alice's list", 3*time.Second)

		// bob never pulls. Changes to the list's rows his view still
		// holds poke alice only.
		if _, err := e.db.Update(tTodos).Set(orm.Row{"title": "oat milk"}).Where(expr.Eq(tTodos.Col("id"), "t1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		alice.expectPoke("a todo updated", 3*time.Second)
		bob.expectNoPoke("a todo of a list bob left", quiet)
		if _, err := e.db.Delete(tTodos).Where(expr.Eq(tTodos.Col("id"), "t2")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		alice.expectPoke("a todo deleted", 3*time.Second)
		bob.expectNoPoke("a todo of a list bob left, deleted", quiet)
		if _, err := e.db.Update(tLists).Set(orm.Row{"name": "food"}).Where(expr.Eq(tLists.Col("id"), "l1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		alice.expectPoke("the list renamed", 3*time.Second)
		bob.expectNoPoke("a list bob left, renamed", quiet)

		// What bob may read still pokes him.
		e.insert(sys, tNotes, orm.Row{"id": "n1", "owner_id": "bob", "body": "hi"})
		bob.expectPoke("bob's note", 3*time.Second)
		// Back in the list: poked again, and for its rows.
		e.insert(sys, tMembers, orm.Row{"id": "mb2", "list_id": "l1", "user_id": "bob"})
		bob.expectPoke("bob back in the list", 3*time.Second)
		if _, err := e.db.Update(tTodos).Set(orm.Row{"title": "soy milk"}).Where(expr.Eq(tTodos.Col("id"), "t1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("a todo of bob's list again", 3*time.Second)
	})
}

// Connections racing into a room never take it past MaxRoomMembers:
// each extra one is refused (429) or, if it passed the check before the
// upgrade together with another, closed with the reason "room is full".
func TestRoomCapRace(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.MaxRoomMembers = 2 })
	const rounds, racers = 5, 8
	for r := range rounds {
		room := fmt.Sprint("race-", r)
		type result struct {
			c      *client
			status int
		}
		results := make(chan result, racers)
		for i := range racers {
			go func() {
				u := fmt.Sprintf("u%d-%d", r, i)
				c, status, _ := e.dial(params{user: u, group: "g-" + u, client: u, room: room})
				results <- result{c, status}
			}()
		}
		open := 0
		for range racers {
			res := <-results
			switch {
			case res.c == nil && res.status != http.StatusTooManyRequests:
				t.Errorf("room %s: refused with %d; want 429", room, res.status)
			case res.c != nil:
				select {
				case <-res.c.pokes:
					open++ // registered: poked on connecting
				case <-res.c.closed:
					var ce *websocket.CloseError
					if _, _, err := res.c.ws.ReadMessage(); errors.As(err, &ce) && ce.Text != "room is full" {
						t.Errorf("room %s: closed with %q; want \"room is full\"", room, ce.Text)
					}
				case <-time.After(3 * time.Second):
					t.Fatalf("room %s: a connection neither poked nor closed", room)
				}
			}
		}
		if open > 2 {
			t.Errorf("room %s: %d members; the cap is 2", room, open)
		}
	}
}
