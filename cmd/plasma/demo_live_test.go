package main

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

// The demo page's live query: open todos per list, under the user's
// identity, pushed as server-sent events on every change.
func TestDemoOpenCounts(t *testing.T) {
	ctx := context.Background()
	plain, err := orm.Open(sqlite.Dialect, filepath.Join(t.TempDir(), "plasma.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	db, err := serverdb.New(ctx, todo.Schema, plain)
	if err != nil {
		t.Fatal(err)
	}
	sys := rowauth.AsSystem(ctx)
	put := func(tb *orm.Table, r orm.Row) {
		t.Helper()
		if _, err := db.Insert(tb).Values(r).Exec(sys); err != nil {
			t.Fatal(err)
		}
	}
	put(todo.Lists, orm.Row{"id": "L1", "name": "groceries", "owner_id": "ann"})
	put(todo.Lists, orm.Row{"id": "L2", "name": "bob's", "owner_id": "bob"})
	put(todo.Members, orm.Row{"id": "m1", "list_id": "L1", "user_id": "ann"})
	put(todo.Members, orm.Row{"id": "m2", "list_id": "L2", "user_id": "bob"})
	put(todo.Todos, orm.Row{"id": "t1", "list_id": "L1", "title": "milk", "created_by": "ann"})
	put(todo.Todos, orm.Row{"id": "t2", "list_id": "L2", "title": "hidden", "created_by": "bob"})

	srv := httptest.NewServer(demoOpenCounts(db))
	defer srv.Close()
	if r, err := http.Get(srv.URL); err != nil || r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without auth: %v %v", r, err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.URL+"?auth="+url.QueryEscape("Bearer ann"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewScanner(resp.Body)
	next := func() string {
		for events.Scan() {
			if line, ok := strings.CutPrefix(events.Text(), "data: "); ok {
				return line
			}
		}
		t.Fatalf("stream ended: %v", events.Err())
		return ""
	}
	if got := next(); got != `[{"list_id":"L1","n":1}]` {
		t.Fatalf("first event %s (bob's list must not show)", got)
	}
	put(todo.Todos, orm.Row{"id": "t3", "list_id": "L1", "title": "eggs", "created_by": "ann"})
	if got := next(); got != `[{"list_id":"L1","n":2}]` {
		t.Fatalf("after a new todo: %s", got)
	}
}

// TestDemoOpenCountsBounded: one user cannot hold more than
// maxStreamsPerUser live streams (each is a subscription every write
// re-runs); another user still can, and a closed stream frees its slot.
func TestDemoOpenCountsBounded(t *testing.T) {
	ctx := context.Background()
	plain, err := orm.Open(sqlite.Dialect, filepath.Join(t.TempDir(), "plasma.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	db, err := serverdb.New(ctx, todo.Schema, plain)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(demoOpenCounts(db))
	defer srv.Close()
	open := func(user string) (*http.Response, context.CancelFunc) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.URL+"?auth="+url.QueryEscape("Bearer "+user), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		return resp, cancel
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for range maxStreamsPerUser {
		resp, cancel := open("mallory")
		cancels = append(cancels, cancel)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream within the cap: %d", resp.StatusCode)
		}
		defer resp.Body.Close()
	}
	resp, cancel := open("mallory")
	cancel()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("stream over the cap: %d, want 429", resp.StatusCode)
	}
	resp, cancel = open("ann")
	cancels = append(cancels, cancel)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another user's stream: %d", resp.StatusCode)
	}
	defer resp.Body.Close()
	cancels[0]() // mallory closes one stream: its slot comes back
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, cancel := open("mallory")
		cancels = append(cancels, cancel)
		if resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream's slot never came back: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
