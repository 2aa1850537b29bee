package realtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/realtime"
)

// Hubs of one process listening on one database share one LISTEN
// connection (the server sees one backend for them, running LISTEN),
// and each still pokes its own sockets: a write through the first pokes
// the second's connection; closing the first leaves the second
// listening; closing both ends the connection. Both drivers' listeners
// are run.
func TestHubsShareTheListener(t *testing.T) { eachListener(t, testHubsShareTheListener) }

func testHubsShareTheListener(t *testing.T, listen func(*realtime.Options)) {
	tg := ormtest.Postgres(t)
	app := randomName("plasma_rt_share_")
	dsn := listenerDSN(t, app)
	same := func(o *realtime.Options) {
		listen(o)
		o.Listener = dsn
	}
	a := newEnv(t, tg, tg.DB, same)
	b := newEnv(t, tg, orm.New(tg.Open(t), tg.Dialect), same)
	backends := func(where string) int {
		t.Helper()
		rows, err := tg.DB.Query(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = ?`+where, app)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var n int
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	if n, listening := backends(""), backends(` AND query ILIKE 'LISTEN%'`); n != 1 || listening != 1 {
		t.Fatalf("two hubs: %d listener backends, %d running LISTEN; want 1 and 1", n, listening)
	}

	aliceB := b.connect(params{user: "alice", group: "ga", client: "a1"})
	aliceA := a.connect(params{user: "alice", group: "ga2", client: "a2"})
	a.insert(as("alice"), tNotes, orm.Row{"id": "n1", "owner_id": "alice", "body": "from A"})
	aliceB.expectPoke("a write through hub A, on hub B", 3*time.Second)
	aliceA.expectPoke("a write through hub A, on hub A", 3*time.Second)

	// Hub A closes; B still hears writes from A's pool.
	if err := a.hub.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.insert(as("alice"), tNotes, orm.Row{"id": "n2", "owner_id": "alice", "body": "after A closed"})
	aliceB.expectPoke("a write after hub A closed", 3*time.Second)
	if n := backends(""); n != 1 {
		t.Fatalf("%d listener backends after one hub closed, want 1", n)
	}
	if err := b.hub.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shared connection to close with the last hub", 10*time.Second, func() bool { return backends("") == 0 })
}
