package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/protocol"
)

func devCmd(name string) []byte {
	b, _ := json.Marshal(protocol.DevtoolsCommand{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeCommand, Command: name})
	return b
}

// TestClientDevtools: the Go client answers the devtools protocol: its
// snapshot lists the pending mutations, and flush, pull,
// reset-local-state and ping do what they say; every answer carries the
// plasma-devtools discriminant.
func TestClientDevtools(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		s := newServer(t, engine)
		ann := newClient(s, "ann")
		if err := ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "groceries"}); err != nil {
			t.Fatal(err)
		}
		snapshot := func() protocol.DevtoolsClientSnapshot {
			t.Helper()
			out := ann.Devtools(ctx, devCmd("snapshot"))
			var snap protocol.DevtoolsClientSnapshot
			if err := json.Unmarshal(out, &snap); err != nil || snap.Source != protocol.DevtoolsSource || snap.Type != protocol.DevtoolsTypeSnapshot {
				t.Fatalf("snapshot: %s %v", out, err)
			}
			return snap
		}
		snap := snapshot()
		if len(snap.Pending) != 1 || snap.Pending[0].Name != todo.MutCreateList || snap.Pending[0].Sent || snap.LastMutationID != 0 ||
			snap.ClientID != ann.ClientID() || string(snap.Cookie) != "null" {
			t.Fatalf("before flush: %+v", snap)
		}
		result := func(name string) protocol.DevtoolsResult {
			t.Helper()
			out := ann.Devtools(ctx, devCmd(name))
			var r protocol.DevtoolsResult
			if err := json.Unmarshal(out, &r); err != nil || r.Source != protocol.DevtoolsSource || r.Type != protocol.DevtoolsTypeResult || r.Command != name {
				t.Fatalf("%s: %s %v", name, out, err)
			}
			return r
		}
		result("flush")
		if snap := snapshot(); len(snap.Pending) != 0 || snap.LastMutationID != 1 || string(snap.Cookie) == "null" {
			t.Fatalf("after flush: %+v", snap)
		}
		if r := result("pull"); r.Changed {
			t.Errorf("a pull with nothing new changed the replica: %+v", r)
		}
		result("ping")
		oldGroup := ann.ClientGroupID()
		if r := result("reset-local-state"); r.ClientGroupID == oldGroup || r.ClientGroupID != ann.ClientGroupID() {
			t.Errorf("reset-local-state: %+v (old group %s)", r, oldGroup)
		}
		if r := result("pull"); !r.Changed {
			t.Errorf("the first pull after a reset changed nothing: %+v", r)
		}
		if got := todos(t, ann.DB()); len(got) != 0 {
			t.Errorf("todos %+v", got)
		}
	})
}

// TestClientDevtoolsHostile: whatever it is sent, Devtools answers a
// devtools error message and changes nothing.
func TestClientDevtoolsHostile(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, "sqlite")
	ann := newClient(s, "ann")
	if err := ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "groceries"}); err != nil {
		t.Fatal(err)
	}
	group := ann.ClientGroupID()
	for _, msg := range []string{
		``, `{`, `null`, `[]`, `"flush"`, `{}`,
		`{"source":"replicache","type":"command","command":"flush"}`,
		`{"source":"plasma-devtools","type":"result","command":"flush"}`,
		`{"source":"plasma-devtools","type":"command","command":"drop-everything"}`,
		`{"source":"plasma-devtools","type":"command","command":"reset-local-state","clientGroupID":"g"}`,
		`{"source":"plasma-devtools","type":"command","command":"reset-local-state","x":1}`,
		`{"source":"plasma-devtools","type":"command","command":"reset-local-state"}}`,
		`{"source":"plasma-devtools","type":"command","command":"reset-local-state"} {}`,
		"{\"source\":\"plasma-devtools\",\"type\":\"command\",\"command\":\"reset-local-state\xff\"}",
		`{"source":"plasma-devtools","type":"command","command":"` + strings.Repeat("x", 5000) + `"}`,
		strings.Repeat("[", 2000),
	} {
		out := ann.Devtools(ctx, []byte(msg))
		var e protocol.DevtoolsError
		if err := json.Unmarshal(out, &e); err != nil || e.Source != protocol.DevtoolsSource || e.Type != protocol.DevtoolsTypeError || e.Error != "BadRequest" {
			t.Errorf("%.80q: %s %v", msg, out, err)
		}
	}
	if ann.ClientGroupID() != group {
		t.Fatal("a hostile message reset the client")
	}
	if p, err := ann.Pending(ctx); err != nil || len(p) != 1 {
		t.Fatalf("pending %v %v", p, err)
	}
}

// FuzzClientDevtools: any message gets a devtools answer, never a panic.
func FuzzClientDevtools(f *testing.F) {
	for _, m := range []string{`{"source":"plasma-devtools","type":"command","command":"ping"}`, `{`, `{"source":"plasma-devtools"}`} {
		f.Add(m)
	}
	s := newServer(f, "sqlite")
	ann := newClient(s, "ann")
	f.Fuzz(func(t *testing.T, msg string) {
		out := ann.Devtools(context.Background(), []byte(msg))
		if !protocol.IsDevtoolsMessage(out) {
			t.Fatalf("%q: %s", msg, out)
		}
	})
}
