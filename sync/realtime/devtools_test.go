package realtime_test

import (
	"testing"
	"time"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/protocol"
)

// TestDevtoolsInspectAndDisconnect: over real WebSockets, the hub lists
// its connections and rooms for the devtools, and DisconnectGroup
// closes exactly the group's connections.
func TestDevtoolsInspectAndDisconnect(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the hub needs a database, not a transaction", ormtest.ExecTx)
		e := newEnv(t, tg, tg.DB, nil)
		a1 := e.connect(params{user: "ann", group: "gA", client: "a1"})
		a2 := e.connect(params{user: "ann", group: "gA", client: "a2", room: "lobby"})
		b := e.connect(params{user: "bob", group: "gB", client: "b1", room: "lobby"})

		rt := e.hub.DevtoolsRealtime(10)
		want := []protocol.DevtoolsConn{
			{UserID: "ann", ClientGroupID: "gA", ClientID: "a1", Room: "group:gA"},
			{UserID: "ann", ClientGroupID: "gA", ClientID: "a2", Room: "room:lobby"},
			{UserID: "bob", ClientGroupID: "gB", ClientID: "b1", Room: "room:lobby"},
		}
		if len(rt.Connections) != len(want) || rt.ConnectionsTruncated {
			t.Fatalf("connections %+v", rt)
		}
		for i := range want {
			if rt.Connections[i] != want[i] {
				t.Errorf("connection %d: %+v, want %+v", i, rt.Connections[i], want[i])
			}
		}
		if len(rt.Rooms) != 2 || rt.Rooms[0] != (protocol.DevtoolsRoom{Name: "group:gA", Members: 1}) ||
			rt.Rooms[1] != (protocol.DevtoolsRoom{Name: "room:lobby", Members: 2}) {
			t.Errorf("rooms %+v", rt.Rooms)
		}
		if rt := e.hub.DevtoolsRealtime(2); len(rt.Connections) != 2 || !rt.ConnectionsTruncated {
			t.Errorf("capped listing %+v", rt)
		}

		if n := e.hub.DisconnectGroup("gA"); n != 2 {
			t.Fatalf("DisconnectGroup closed %d", n)
		}
		for _, c := range []*client{a1, a2} {
			select {
			case <-c.closed:
			case <-time.After(5 * time.Second):
				t.Fatal("a connection of gA is still open")
			}
		}
		waitFor(t, "the hub forgets gA's connections", 5*time.Second, func() bool { return e.hub.Connections() == 1 })
		select {
		case <-b.closed:
			t.Fatal("bob's connection was closed")
		default:
		}
		if n := e.hub.DisconnectGroup("nobody"); n != 0 {
			t.Errorf("DisconnectGroup of an unknown group: %d", n)
		}
	})
}
