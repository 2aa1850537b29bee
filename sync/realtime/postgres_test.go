package realtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

// Two processes on one PostgreSQL database: a write through process A
// pokes the sockets process B holds, through LISTEN/NOTIFY.
// Both drivers' listeners are run.
func TestAcrossProcesses(t *testing.T) { eachListener(t, testAcrossProcesses) }

// eachListener runs body with the hub listening through lib/pq (the
// default) and through pgx.
func eachListener(t *testing.T, body func(t *testing.T, listen func(*realtime.Options))) {
	for _, l := range []struct {
		name string
		open func(string, postgres.ListenerOptions) (postgres.Listener, error)
	}{{"pq", nil}, {"pgx", pgx.NewListener}} {
		t.Run(l.name, func(t *testing.T) {
			body(t, func(o *realtime.Options) { o.NewListener = l.open })
		})
	}
}

func testAcrossProcesses(t *testing.T, listen func(*realtime.Options)) {
	tg := ormtest.Postgres(t)
	a := newEnv(t, tg, tg.DB, listen)
	b := newEnv(t, tg, orm.New(tg.Open(t), tg.Dialect), listen)

	aliceB := b.connect(params{user: "alice", group: "ga", client: "a1"})
	bobB := b.connect(params{user: "bob", group: "gb", client: "b1"})
	aliceA := a.connect(params{user: "alice", group: "ga2", client: "a2"})

	// A ServerDB write in A, outside any push: B's alice is poked, B's
	// bob (who may not read alice's notes) is not.
	a.insert(as("alice"), tNotes, orm.Row{"id": "n1", "owner_id": "alice", "body": "from A"})
	aliceB.expectPoke("a write in process A", 3*time.Second)
	aliceA.expectPoke("a write in process A, same process", 3*time.Second)
	bobB.expectNoPoke("alice's note", quiet)

	// A push handled by A, whose only effect is the group's
	// lastMutationID: B's connection of that group is poked.
	type appCtx struct{}
	h, err := server.NewHandler(server.Options[appCtx]{
		Schema: testSchema, DB: tg.DB, Notifier: a.hub, Mutators: mutatorsForTest[appCtx](),
		Auth: func(r *http.Request) (rowauth.Identity, appCtx, error) {
			id, err := testAuth(r)
			return id, appCtx{}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	req := httptest.NewRequest(http.MethodPost, "/sync/push", strings.NewReader(pushBody("gb", "b1", 1, "fail", `{}`)))
	req.Header.Set("Authorization", "Bearer bob")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("push: %d %s", w.Code, w.Body.String())
	}
	bobB.expectPoke("bob's push handled by process A", 3*time.Second)
	aliceB.expectNoPoke("bob's push", quiet)

	// Poke in A reaches B.
	a.hub.Poke("ga")
	aliceB.expectPoke("Poke in process A", 3*time.Second)
	bobB.expectNoPoke("Poke(ga)", quiet)
}

// When the listener loses its connection, the hub reconnects, pokes
// everyone once (notifications may have been lost), and later
// notifications arrive again.
func TestListenerReconnects(t *testing.T) { eachListener(t, testListenerReconnects) }

func testListenerReconnects(t *testing.T, listen func(*realtime.Options)) {
	tg := ormtest.Postgres(t)
	a := newEnv(t, tg, tg.DB, listen)
	app := randomName("plasma_rt_")
	b := newEnv(t, tg, orm.New(tg.Open(t), tg.Dialect), func(o *realtime.Options) {
		listen(o)
		o.Listener = listenerDSN(t, app)
		o.ListenerMinBackoff = 50 * time.Millisecond
		o.ListenerMaxBackoff = 200 * time.Millisecond
	})
	alice := b.connect(params{user: "alice", group: "ga", client: "a1"})
	bob := b.connect(params{user: "bob", group: "gb", client: "b1"})

	var n int
	rows, err := tg.DB.Query(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?`, app)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if n != 1 {
		t.Fatalf("terminated %d listener connections; want 1", n)
	}
	alice.expectPoke("the listener reconnected", 5*time.Second)
	bob.expectPoke("the listener reconnected", 5*time.Second)
	alice.expectNoPoke("only one poke for the reconnect", quiet)

	// Wait until the listener is back (a new backend under its name),
	// then a write in A reaches B again.
	waitFor(t, "the listener's new connection", 5*time.Second, func() bool {
		var k int
		rows, err := tg.DB.Query(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = ?`, app)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			_ = rows.Scan(&k)
		}
		return k == 1
	})
	a.insert(as("bob"), tNotes, orm.Row{"id": "n1", "owner_id": "bob", "body": "after the reconnect"})
	bob.expectPoke("a write after the reconnect", 3*time.Second)
	alice.expectNoPoke("bob's note", quiet)
}

// A hub on PostgreSQL without a listener polls: it still sees another
// process's writes.
func TestPollingWithoutListener(t *testing.T) {
	tg := ormtest.Postgres(t)
	a := newEnv(t, tg, tg.DB, nil)
	b := newEnv(t, tg, orm.New(tg.Open(t), tg.Dialect), func(o *realtime.Options) { o.Listener = "" })
	alice := b.connect(params{user: "alice", group: "ga", client: "a1"})
	a.insert(as("alice"), tNotes, orm.Row{"id": "n1", "owner_id": "alice", "body": "x"})
	alice.expectPoke("a write in another process, polled", 3*time.Second)
}

// A push served by process A that proves a group bob's closes alice's
// connection to it in process B (the group was collected and claimed
// again while she was connected).
func TestSquatterClosedAcrossProcesses(t *testing.T) {
	tg := ormtest.Postgres(t)
	a := newEnv(t, tg, tg.DB, nil)
	b := newEnv(t, tg, orm.New(tg.Open(t), tg.Dialect), nil)
	aliceB := b.connect(params{user: "alice", group: "g1", client: "a1"})
	if _, err := tg.DB.Exec(context.Background(), `DELETE FROM "`+server.GroupsTable+`" WHERE "id" = ?`, "g1"); err != nil {
		t.Fatal(err)
	}
	if code, out := push(a.pushHandler(), "bob", pushBody("g1", "b1", 1, "note", `{"id":"n1","body":"x"}`)); code != http.StatusOK {
		t.Fatalf("bob's push: %d %s", code, out)
	}
	select {
	case <-aliceB.closed:
	case <-time.After(3 * time.Second):
		t.Fatal("alice's connection in process B to a group now bob's is still open")
	}
}

// Apps in two schemas of one database share the poke channel: a poke in
// one app never reaches the other's connection of the same group id.
func TestPokesStayInTheirSchema(t *testing.T) {
	tg1, tg2 := ormtest.Postgres(t), ormtest.Postgres(t)
	a := newEnv(t, tg1, tg1.DB, nil)
	b := newEnv(t, tg2, tg2.DB, nil)
	mine := a.connect(params{user: "alice", group: "ga", client: "a1"})
	other := b.connect(params{user: "alice", group: "ga", client: "a1"})
	// Both hubs listen; a third process of app A's schema proves the
	// notice still crosses processes within the schema.
	c := newEnv(t, tg1, orm.New(tg1.Open(t), tg1.Dialect), nil)
	sibling := c.connect(params{user: "alice", group: "ga", client: "a2"})

	a.hub.Poke("ga")
	mine.expectPoke("Poke in the same hub", 3*time.Second)
	sibling.expectPoke("Poke in another process of the same schema", 3*time.Second)
	other.expectNoPoke("a poke in another schema", quiet)
}
