package realtime_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

// quiet is how long a test waits to see that a poke does not come,
// after a poke of the same round reached another connection.
const quiet = 150 * time.Millisecond

func TestConnectAuth(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		// A client group bound to bob.
		if _, err := tg.DB.Exec(context.Background(), `INSERT INTO "`+server.GroupsTable+`" ("id", "user_id", "created_at") VALUES (?, ?, ?)`, "g-bob", "bob", 1); err != nil {
			t.Fatal(err)
		}

		// Accepted: from the header, and from the auth parameter.
		e.connect(params{user: "alice", group: "g1", client: "c1"})
		e.connect(params{user: "alice", group: "g1", client: "c2", viaQuery: true})
		e.connect(params{user: "bob", group: "g-bob", client: "c3"})
		e.connect(params{user: "alice", group: "g1", client: "c4", room: "doc-1"})
		e.connect(params{user: "alice", group: "g1", client: "c5", userInfo: `{"name": "Ann", "color": [1,2]}`})
		waitFor(t, "five connections", 2*time.Second, func() bool { return e.hub.Connections() == 5 })

		for _, tc := range []struct {
			name string
			p    params
			want int
		}{
			{"no credentials", params{group: "g1", client: "x"}, http.StatusUnauthorized},
			{"bad credentials", params{user: "bad", group: "g1", client: "x"}, http.StatusUnauthorized},
			{"bad credentials in the query", params{user: "bad", group: "g1", client: "x", viaQuery: true}, http.StatusUnauthorized},
			{"someone else's group", params{user: "alice", group: "g-bob", client: "x"}, http.StatusForbidden},
			{"someone else's group, via query", params{user: "alice", group: "g-bob", client: "x", viaQuery: true}, http.StatusForbidden},
			{"a refused room", params{user: "alice", group: "g1", client: "x", room: "secret-1"}, http.StatusForbidden},
			{"no clientID", params{user: "alice", group: "g1"}, http.StatusBadRequest},
			{"no clientGroupID", params{user: "alice", client: "x"}, http.StatusBadRequest},
			{"userInfo not JSON", params{user: "alice", group: "g1", client: "x", userInfo: `{name: Ann}`}, http.StatusBadRequest},
			{"userInfo too large", params{user: "alice", group: "g1", client: "x", userInfo: `"` + strings.Repeat("a", 1100) + `"`}, http.StatusBadRequest},
			{"clientID of another user in the room", params{user: "bob", group: "g-bob2", client: "c4", room: "doc-1"}, http.StatusConflict},
		} {
			c, status, err := e.dial(tc.p)
			if err == nil {
				c.close()
				t.Errorf("%s: connected; want %d", tc.name, tc.want)
				continue
			}
			if status != tc.want {
				t.Errorf("%s: status %d (%v); want %d", tc.name, status, err, tc.want)
			}
		}
		// The refusals came before the upgrade: nothing was registered.
		if n := e.hub.Connections(); n != 5 {
			t.Errorf("%d connections; want 5", n)
		}
	})
}

func TestRoomsNeedAuthorizeRoom(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.AuthorizeRoom = nil })
	// Its own group's room, named or not, is fine; any other room is not.
	e.connect(params{user: "alice", group: "g1", client: "c1"})
	e.connect(params{user: "alice", group: "g1", client: "c2", room: "g1"})
	if _, status, err := e.dial(params{user: "alice", group: "g1", client: "c3", room: "doc-1"}); status != http.StatusForbidden {
		t.Fatalf("room without AuthorizeRoom: %d %v; want 403", status, err)
	}
}

func TestPokeWhoMayRead(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		alice := e.connect(params{user: "alice", group: "ga", client: "a1"})
		alice2 := e.connect(params{user: "alice", group: "ga2", client: "a2"})
		bob := e.connect(params{user: "bob", group: "gb", client: "b1"})

		// A note of alice's, written by backend code outside a push:
		// alice's connections are poked, bob (who cannot read notes of
		// others) is not.
		e.insert(rowauth.AsSystem(context.Background()), tNotes, orm.Row{"id": "n1", "owner_id": "alice", "body": "hi"})
		alice.expectPoke("alice's note", 3*time.Second)
		alice2.expectPoke("alice's note, her other group", 3*time.Second)
		bob.expectNoPoke("alice's note", quiet)

		// bob's note: only bob.
		e.insert(as("bob"), tNotes, orm.Row{"id": "n2", "owner_id": "bob", "body": "yo"})
		bob.expectPoke("bob's note", 3*time.Second)
		alice.expectNoPoke("bob's note", quiet)

		// An update of alice's note that leaves it hers: only alice.
		if _, err := e.db.Update(tNotes).Set(orm.Row{"body": "hello"}).Where(expr.Eq(tNotes.Col("id"), "n1")).Exec(as("alice")); err != nil {
			t.Fatal(err)
		}
		alice.expectPoke("alice's note updated", 3*time.Second)
		bob.expectNoPoke("alice's note updated", quiet)
		alice2.drain()

		// A public row: everyone.
		e.insert(as("bob"), tPublic, orm.Row{"id": "p1", "body": "news"})
		for _, c := range []*client{alice, alice2, bob} {
			c.expectPoke("a public row", 3*time.Second)
		}

		// The note moves to bob: bob may read it now, and alice, whose
		// last pull got it, must learn that she no longer may.
		e.pull("alice", "ga")
		e.pull("bob", "gb")
		if _, err := e.db.Update(tNotes).Set(orm.Row{"owner_id": "bob"}).Where(expr.Eq(tNotes.Col("id"), "n1")).Exec(rowauth.AsSystem(context.Background())); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("the note moved to bob", 3*time.Second)
		alice.expectPoke("the note left alice's view", 3*time.Second)
		// ga2 never pulled: it has nothing to drop.
		alice2.expectNoPoke("the note moved to bob, a group that never pulled", quiet)

		// A delete pokes the groups whose views hold the row: bob's, not
		// alice's (she never had n2).
		if _, err := e.db.Delete(tNotes).Where(expr.Eq(tNotes.Col("id"), "n2")).Exec(as("bob")); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("a delete of a row bob's view holds", 3*time.Second)
		alice.expectNoPoke("a delete of a row alice never had", quiet)
		alice2.expectNoPoke("a delete of a row alice never had", quiet)
	})
}

// An update that takes a row out of a user's view pokes the groups
// whose last pull holds it, though the user cannot read the row any
// more.
func TestPokeMovedOutOfView(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		sys := rowauth.AsSystem(context.Background())
		e.insert(sys, tLists, orm.Row{"id": "l1", "name": "alice's", "owner_id": "alice"})
		e.insert(sys, tMembers, orm.Row{"id": "m1", "list_id": "l1", "user_id": "alice"})
		e.insert(sys, tLists, orm.Row{"id": "l2", "name": "bob's", "owner_id": "bob"})
		e.insert(sys, tMembers, orm.Row{"id": "m2", "list_id": "l2", "user_id": "bob"})
		e.insert(sys, tTodos, orm.Row{"id": "t1", "list_id": "l1", "title": "milk"})
		e.insert(sys, tTodos, orm.Row{"id": "t2", "list_id": "l1", "title": "eggs"})

		alice := e.connect(params{user: "alice", group: "ga", client: "a1"})
		alice2 := e.connect(params{user: "alice", group: "ga2", client: "a2"})
		bob := e.connect(params{user: "bob", group: "gb", client: "b1"})
		carol := e.connect(params{user: "carol", group: "gc", client: "c1"})
		e.pull("alice", "ga")
		e.pull("bob", "gb")
		e.pull("carol", "gc")
		time.Sleep(400 * time.Millisecond) // let the setup's changes pass
		for _, c := range []*client{alice, alice2, bob, carol} {
			c.drain()
		}

		// t1 moves to bob's list: bob may read it now; alice may not,
		// but her view holds it and needs the del. Her other group,
		// which never pulled, and carol are left alone.
		if _, err := e.db.Update(tTodos).Set(orm.Row{"list_id": "l2"}).Where(expr.Eq(tTodos.Col("id"), "t1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("a todo moved into bob's list", 3*time.Second)
		alice.expectPoke("a todo moved out of alice's view", 3*time.Second)
		alice2.expectNoPoke("a todo moved, a group that never pulled", quiet)
		carol.expectNoPoke("a todo moved, carol", quiet)

		// Nobody pulled since: alice's view still holds t1, and is poked
		// again when it changes, though she cannot read it.
		if _, err := e.db.Update(tTodos).Set(orm.Row{"title": "oat milk"}).Where(expr.Eq(tTodos.Col("id"), "t1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("bob's todo updated", 3*time.Second)
		alice.expectPoke("a todo her stale view holds", 3*time.Second)

		// After alice pulls, her view no longer holds t1: no poke.
		e.pull("alice", "ga")
		if _, err := e.db.Update(tTodos).Set(orm.Row{"title": "soy milk"}).Where(expr.Eq(tTodos.Col("id"), "t1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("bob's todo updated again", 3*time.Second)
		alice.expectNoPoke("a todo she no longer has", quiet)
		carol.expectNoPoke("bob's todo, carol", quiet)
	})
}

// A delete pokes only the groups whose views hold the row, or whose read
// rules consult the table.
func TestDeletePokesHolders(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		sys := rowauth.AsSystem(context.Background())
		e.insert(sys, tNotes, orm.Row{"id": "n1", "owner_id": "alice", "body": "hi"})
		e.insert(sys, tNotes, orm.Row{"id": "n2", "owner_id": "alice", "body": "yo"})
		e.insert(sys, tPublic, orm.Row{"id": "p1", "body": "news"})

		alice := e.connect(params{user: "alice", group: "ga", client: "a1"})
		bob := e.connect(params{user: "bob", group: "gb", client: "b1"})
		dave := e.connect(params{user: "dave", group: "gd", client: "d1"})
		e.pull("alice", "ga")
		e.pull("bob", "gb")
		time.Sleep(400 * time.Millisecond) // let the setup's changes pass
		for _, c := range []*client{alice, bob, dave} {
			c.drain()
		}

		// alice's note: her view holds it; bob pulled but cannot read
		// it, dave never pulled.
		if _, err := e.db.Delete(tNotes).Where(expr.Eq(tNotes.Col("id"), "n1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		alice.expectPoke("a delete of her note", 3*time.Second)
		bob.expectNoPoke("a delete of alice's note", quiet)
		dave.expectNoPoke("a delete of alice's note", quiet)

		// A public row: the views of alice and bob hold it, dave's does
		// not exist.
		if _, err := e.db.Delete(tPublic).Where(expr.Eq(tPublic.Col("id"), "p1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		alice.expectPoke("a delete of a public row", 3*time.Second)
		bob.expectPoke("a delete of a public row", 3*time.Second)
		dave.expectNoPoke("a delete of a public row dave never pulled", quiet)

		// Her other note, which only her view holds.
		if _, err := e.db.Delete(tNotes).Where(expr.Eq(tNotes.Col("id"), "n2")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		alice.expectPoke("a delete of her other note", 3*time.Second)
		bob.expectNoPoke("a delete of alice's other note", quiet)
		dave.expectNoPoke("a delete of alice's other note", quiet)
	})
}

func TestPokeThroughMembership(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		sys := rowauth.AsSystem(context.Background())
		e.insert(sys, tLists, orm.Row{"id": "l1", "name": "groceries", "owner_id": "alice"})
		e.insert(sys, tMembers, orm.Row{"id": "m1", "list_id": "l1", "user_id": "alice"})
		e.insert(sys, tTodos, orm.Row{"id": "t1", "list_id": "l1", "title": "milk"})

		alice := e.connect(params{user: "alice", group: "ga", client: "a1"})
		bob := e.connect(params{user: "bob", group: "gb", client: "b1"})
		// The setup's changes may reach the hub after the connections
		// (a poll, a notification): let them pass.
		time.Sleep(400 * time.Millisecond)
		alice.drain()
		bob.drain()

		// A todo of alice's list: alice, not bob.
		e.insert(sys, tTodos, orm.Row{"id": "t2", "list_id": "l1", "title": "eggs"})
		alice.expectPoke("a todo of her list", 3*time.Second)
		bob.expectNoPoke("a todo of alice's list", quiet)

		// bob joins the list: the list and its todos enter his view
		// without a change of their own.
		e.insert(sys, tMembers, orm.Row{"id": "m2", "list_id": "l1", "user_id": "bob"})
		bob.expectPoke("bob joins the list", 3*time.Second)

		// Now bob is poked for the list's todos.
		alice.drain()
		e.insert(sys, tTodos, orm.Row{"id": "t3", "list_id": "l1", "title": "bread"})
		bob.expectPoke("a todo of a list bob is in", 3*time.Second)
		alice.expectPoke("a todo of a list alice is in", 3*time.Second)

		// bob is removed by an update of his membership row, which he
		// cannot read afterwards: still poked, since his rules consult
		// members.
		if _, err := e.db.Update(tMembers).Set(orm.Row{"user_id": "carol"}).Where(expr.Eq(tMembers.Col("id"), "m2")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		bob.expectPoke("bob leaves the list", 3*time.Second)
	})
}

// A push through the sync handler pokes the pushing group (even when no
// row changed) and whoever may read what it wrote; OnPushed still fires.
func TestPushNotifies(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		// Polling off (a long interval), so that the pokes come from
		// Notify.
		e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.Listener = ""; o.PollInterval = time.Hour })
		type appCtx struct{ user string }
		var mu sync.Mutex
		var pushed []server.PushInfo
		h, err := server.NewHandler(server.Options[appCtx]{
			Schema: testSchema, DB: tg.DB, Notifier: e.hub,
			Auth: func(r *http.Request) (rowauth.Identity, appCtx, error) {
				id, err := testAuth(r)
				return id, appCtx{id.UserID}, err
			},
			OnPushed: func(_ context.Context, info server.PushInfo) {
				mu.Lock()
				pushed = append(pushed, info)
				mu.Unlock()
			},
			Mutators: mutatorsForTest[appCtx](),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })

		alice := e.connect(params{user: "alice", group: "ga", client: "a1"})
		aliceOther := e.connect(params{user: "alice", group: "ga2", client: "a2"})
		bob := e.connect(params{user: "bob", group: "gb", client: "b1"})

		push := func(user, group, body string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPost, "/sync/push", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+user)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				t.Fatalf("push: %d %s", w.Code, w.Body.String())
			}
		}
		push("alice", "ga", pushBody("ga", "a1", 1, "note", `{"id":"n1","body":"hi"}`))
		alice.expectPoke("alice's push", 3*time.Second)
		aliceOther.expectPoke("alice's push, her other group", 3*time.Second)
		bob.expectNoPoke("alice's note", quiet)

		// A mutation that fails permanently changes no row, but moves the
		// group's lastMutationID: the group is poked.
		push("bob", "gb", pushBody("gb", "b1", 1, "fail", `{}`))
		bob.expectPoke("bob's failed mutation", 3*time.Second)
		alice.expectNoPoke("bob's failed mutation", quiet)

		mu.Lock()
		defer mu.Unlock()
		if len(pushed) != 2 {
			t.Errorf("OnPushed ran %d times; want 2", len(pushed))
		}
	})
}

// Poke pokes one client group's connections.
func TestPokeGroup(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, nil)
	a := e.connect(params{user: "alice", group: "ga", client: "a1"})
	a2 := e.connect(params{user: "alice", group: "ga", client: "a2"})
	b := e.connect(params{user: "alice", group: "gb", client: "b1"})
	e.hub.Poke("ga")
	a.expectPoke("Poke(ga)", 2*time.Second)
	a2.expectPoke("Poke(ga)", 2*time.Second)
	b.expectNoPoke("Poke(ga)", quiet)
}

// Fifty commits in a burst give each connection one or two pokes: the
// commits within one coalescing window give one round. (SQLite commits
// one at a time, a few milliseconds each, so the window is sized to the
// burst.)
func TestCoalescing(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.CoalesceWindow = 300 * time.Millisecond })
		alice := e.connect(params{user: "alice", group: "ga", client: "a1"})
		bob := e.connect(params{user: "bob", group: "gb", client: "b1"})

		start := time.Now()
		for i := range 50 {
			e.insert(as("alice"), tPublic, orm.Row{"id": rowID("p", i), "body": "x"})
			e.hub.Notify(context.Background(), server.PushInfo{UserID: "alice", Mutations: []server.MutationResult{{Status: server.StatusApplied}}})
		}
		burst := time.Since(start)
		alice.expectPoke("the burst", 3*time.Second)
		bob.expectPoke("the burst", 3*time.Second)
		time.Sleep(300 * time.Millisecond)
		na, nb := 1+alice.drain(), 1+bob.drain()
		t.Logf("50 commits in %v: %d and %d pokes", burst, na, nb)
		if na > 2 || nb > 2 {
			t.Errorf("50 commits in %v gave %d and %d pokes; want 1 or 2 each", burst, na, nb)
		}
	})
}

// A client that never reads is closed (no pongs) and never delays the
// pokes of others.
func TestStalledClient(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *realtime.Options) {
			o.PingInterval = 100 * time.Millisecond
			o.PongTimeout = 400 * time.Millisecond
		})
		fast := e.connect(params{user: "alice", group: "ga", client: "a1"})
		// The stalled client: a connection nobody reads from.
		stalled := e.dialRaw(params{user: "carol", group: "gc", client: "c1"})
		waitFor(t, "two connections", 2*time.Second, func() bool { return e.hub.Connections() == 2 })

		var worst time.Duration
		for i := range 10 {
			start := time.Now()
			e.insert(as("alice"), tPublic, orm.Row{"id": rowID("s", i), "body": strings.Repeat("x", 100)})
			e.hub.Notify(context.Background(), server.PushInfo{UserID: "alice", Mutations: []server.MutationResult{{Status: server.StatusApplied}}})
			fast.expectPoke("a public row", 2*time.Second)
			worst = max(worst, time.Since(start))
		}
		t.Logf("worst poke latency with a stalled client: %v", worst)
		if worst > time.Second {
			t.Errorf("a poke took %v with a stalled client around", worst)
		}
		// The stalled one answered no ping: it is closed.
		waitFor(t, "the stalled client closed", 3*time.Second, func() bool { return e.hub.Connections() == 1 })
		stalled.Close()
	})
}

func TestPresence(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		c1 := e.connect(params{user: "alice", group: "ga", client: "c1", room: "doc", userInfo: `{"name":"Ann"}`})
		c1.expectPresence(`c1={"name":"Ann"}`, 2*time.Second)

		c2 := e.connect(params{user: "bob", group: "gb", client: "c2", room: "doc", userInfo: `{"name": "Bob"}`})
		both := `c1={"name":"Ann"},c2={"name":"Bob"}`
		c1.expectPresence(both, 2*time.Second)
		c2.expectPresence(both, 2*time.Second)

		// Another room, and the default rooms, are separate.
		other := e.connect(params{user: "carol", group: "gc", client: "c3", room: "other"})
		other.expectPresence(`c3=null`, 2*time.Second)
		mine := e.connect(params{user: "bob", group: "gb", client: "c4"})
		mine.expectPresence(`c4=null`, 2*time.Second)

		// Leave.
		c2.close()
		c1.expectPresence(`c1={"name":"Ann"}`, 2*time.Second)

		// Reconnect with new info.
		c2 = e.connect(params{user: "bob", group: "gb", client: "c2", room: "doc", userInfo: `{"name":"Bobby"}`})
		c1.expectPresence(`c1={"name":"Ann"},c2={"name":"Bobby"}`, 2*time.Second)

		// Reconnect before the old connection is gone: the new one
		// replaces it.
		c2b := e.connect(params{user: "bob", group: "gb", client: "c2", room: "doc", userInfo: `{"name":"B."}`})
		c1.expectPresence(`c1={"name":"Ann"},c2={"name":"B."}`, 2*time.Second)
		select {
		case <-c2.closed:
		case <-time.After(2 * time.Second):
			t.Fatal("the replaced connection is still open")
		}
		c2b.expectPresence(`c1={"name":"Ann"},c2={"name":"B."}`, 2*time.Second)
		if got := len(other.presence) + len(mine.presence); got != 0 {
			t.Errorf("%d snapshots leaked into other rooms", got)
		}
	})
}

func TestPresenceThrottle(t *testing.T) {
	tg := ormtest.SQLite(t)
	const throttle = 200 * time.Millisecond
	e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.PresenceThrottle = throttle })
	watcher := e.connect(params{user: "alice", group: "ga", client: "c00", room: "busy"})
	watcher.expectPresence(`c00=null`, 2*time.Second)

	// Twenty joins, one every 30 ms, each with its own info: without the
	// throttle, twenty snapshots.
	start := time.Now()
	var clients []*client
	want := []string{`c00=null`}
	for i := 1; i <= 20; i++ {
		id := fmt.Sprintf("c%02d", i)
		clients = append(clients, e.connect(params{user: "bob", group: "gb", client: id, room: "busy", userInfo: fmt.Sprint(i)}))
		want = append(want, fmt.Sprintf("%s=%d", id, i))
		time.Sleep(30 * time.Millisecond)
	}
	joins := time.Since(start)
	// The trailing snapshot has everyone.
	seen := watcher.expectPresence(strings.Join(want, ","), 2*time.Second)
	elapsed := time.Since(start)
	limit := int(elapsed/throttle) + 2
	t.Logf("20 joins in %v: %d snapshots in %v", joins, len(seen), elapsed)
	if len(seen) > limit {
		t.Errorf("%d snapshots in %v; the throttle allows %d", len(seen), elapsed, limit)
	}
	for _, c := range clients {
		c.expectPresence(strings.Join(want, ","), 2*time.Second)
	}
}

func TestPresenceTruncated(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, func(o *realtime.Options) { o.MaxPresenceMembers = 2; o.PresenceThrottle = 10 * time.Millisecond })
	a := e.connect(params{user: "alice", group: "ga", client: "a", room: "r"})
	e.connect(params{user: "alice", group: "ga", client: "b", room: "r"})
	a.expectPresence(`a=null,b=null`, 2*time.Second)
	c := e.connect(params{user: "alice", group: "ga", client: "c", room: "r"})
	for _, cl := range []*client{a, c} {
		select {
		case p := <-cl.presence:
			for !p.Truncated {
				p = <-cl.presence
			}
			if len(p.Entries) != 0 {
				t.Errorf("truncated snapshot with entries %v", p)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no truncated snapshot")
		}
	}
	c.close()
	a.expectPresence(`a=null,b=null`, 2*time.Second)
}

func TestClose(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, nil)
	c := e.connect(params{user: "alice", group: "ga", client: "a"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("connection still open after Close")
	}
	if _, status, _ := e.dial(params{user: "alice", group: "ga", client: "b"}); status != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %d; want 503", status)
	}
	e.hub.Poke("ga") // harmless
}
