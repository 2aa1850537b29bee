package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

func refuseSchema(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/pull") || strings.HasSuffix(r.URL.Path, "/push") {
		return answer(409, `{"error":"VersionNotSupported","versionType":"schema"}`), nil
	}
	return nil, nil
}

func TestSchemaMismatchStay(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	var reported []error
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) {
			co.OnSchemaMismatch = client.SchemaStay
			co.OnError = func(err error) { reported = append(reported, err) }
		}
	})
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Flush(ctx))
	ann.Net.Fail = refuseSchema
	_, err := ann.PullOnce(ctx)
	var se *client.ServerError
	if !errors.Is(err, client.ErrSchemaMismatch) || !errors.As(err, &se) || se.Status != 409 {
		t.Fatalf("pull: %v", err)
	}
	ann.Net.Fail = nil // even a server that answers again is not synced with
	if _, err := ann.PullOnce(ctx); !errors.Is(err, client.ErrSchemaMismatch) {
		t.Fatalf("pull after: %v", err)
	}
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "local"}))
	if got := todos(t, ann.DB()); len(got) != 1 {
		t.Fatalf("local data: %+v", got)
	}
	if len(reported) < 2 {
		t.Fatalf("OnError got %v", reported)
	}
	// ResetLocalState is the way out.
	must(t, ann.ResetLocalState(ctx))
	mustConverge(t, ann)
}

func TestSchemaMismatchReset(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Flush(ctx))
	cid := ann.ClientID()
	ann.Net.Fail = refuseSchema
	if _, err := ann.PullOnce(ctx); !errors.Is(err, client.ErrSchemaMismatch) {
		t.Fatalf("pull: %v", err)
	}
	if ann.ClientID() == cid {
		t.Fatal("not reset")
	}
	if v, _ := ann.View(ctx); len(v) != 0 {
		t.Fatalf("view: %v", v)
	}
	ann.Net.Fail = nil
	mustConverge(t, ann)
}

// A replica written under another schema version is wiped on Open under
// SchemaReset, and kept (syncing stopped) under SchemaStay.
func TestReplicaOfAnotherSchemaVersion(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann", persistent)
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Close())
	v2, err := orm.DefineSchema("2", todo.Lists, todo.Members, todo.Todos)
	must(t, err)
	open := func(p client.SchemaPolicy) *client.Client[todo.AppCtx] {
		c, err := client.Open(ctx, client.Options[todo.AppCtx]{Server: s.URL, Schema: v2, Mutators: todo.Mutators,
			Replica: ann.Replica, OnSchemaMismatch: p, NoWebSocket: true, MinBackoff: time.Millisecond})
		must(t, err)
		return c
	}
	c := open(client.SchemaStay)
	if got := todos(t, c.DB()); len(got) != 0 {
		t.Fatalf("%+v", got)
	}
	if p, _ := c.Pending(ctx); len(p) != 1 {
		t.Fatalf("pending kept: %v", p)
	}
	if _, err := c.PullOnce(ctx); !errors.Is(err, client.ErrSchemaMismatch) {
		t.Fatalf("pull: %v", err)
	}
	must(t, c.Close())
	c = open(client.SchemaReset)
	defer c.Close()
	if p, _ := c.Pending(ctx); len(p) != 0 {
		t.Fatalf("pending after reset: %v", p)
	}
}

func TestPresence(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	bob := newClient(s, "bob")
	must(t, ann.JoinRoom("lobby", map[string]string{"name": "Ann"}))
	must(t, bob.JoinRoom("lobby", map[string]string{"name": "Bob"}))
	must(t, ann.Start(ctx))
	must(t, bob.Start(ctx))
	deadline := time.After(5 * time.Second)
	for {
		select {
		case p := <-ann.PresenceUpdates():
			if len(p.Entries) == 2 && p.Room == "lobby" {
				names := string(p.Entries[0].UserInfo) + string(p.Entries[1].UserInfo)
				if !strings.Contains(names, "Ann") || !strings.Contains(names, "Bob") {
					t.Fatalf("snapshot %+v", p)
				}
				return
			}
		case <-deadline:
			t.Fatal("no presence snapshot with both members")
		}
	}
}

// A server that keeps refusing the schema makes a SchemaReset client
// wipe once, not on every refusal.
func TestSchemaResetDoesNotSpin(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	var resets atomic.Int64
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) {
			co.OnChange = func(ch client.Change) {
				if ch.Kind == client.ChangeReset {
					resets.Add(1)
				}
			}
			co.PullInterval = 20 * time.Millisecond
			co.NoWebSocket = true // the interval drives the retries
		}
	})
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Flush(ctx))
	ann.Net.Fail = refuseSchema
	must(t, ann.Start(ctx))
	plasmatest.Eventually(t, 5*time.Second, "refusals", func() bool { return ann.Errors.Load() >= 5 })
	if n := resets.Load(); n != 1 {
		t.Fatalf("%d resets", n)
	}
	ann.Net.Fail = nil
	mustConverge(t, ann)
}
