package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// The binds' schema: acl rows readable by their user, docs readable
// through them. For most users the
// rule's subquery is bound to them (a.user_id = the user); for "wide"
// it reads acl rows by a condition on no value of the user's, which the
// hub cannot narrow down: a fallback.
var (
	bdDocs   = orm.NewTable("bd_docs", orm.ID(), orm.Text("grp"))
	bdAcl    = orm.NewTable("bd_acl", orm.ID(), orm.Text("grp"), orm.Text("user_id"))
	bdSchema = orm.MustDefineSchema("1", bdDocs, bdAcl)
)

func init() {
	own := rowauth.Owner(bdAcl.Col("user_id")).Rule()
	bdAcl.With(orm.TableOptions{Auth: orm.TableAuth{Read: own}})
	bdDocs.With(orm.TableOptions{Auth: orm.TableAuth{Read: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		a := bdAcl.As("a")
		cond := expr.Eq(a.Col("user_id"), id.UserID)
		if id.UserID == "wide" {
			cond = expr.Ne(a.Col("grp"), "")
		}
		return expr.InArray(bdDocs.Col("grp"), orm.Select(a.Col("grp")).From(a).Where(cond)), nil
	}).Rule()}})
}

// Changes to a table a rule reads through a bound subquery concern only
// the identities whose rows changed; an unbound one is a fallback, and
// counted.
//
// It is one long function on purpose: its cases run in order on one
// seeded database and one hub's counters.
func TestBindsAndFallbacks(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, bdSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.DB.Insert(bdAcl).Values(orm.Row{"id": "a1", "grp": "g1", "user_id": "ann"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		h, err := New(Options{
			DB: tg.DB, Schema: bdSchema,
			Auth:   func(*http.Request) (rowauth.Identity, error) { return rowauth.Identity{}, errors.New("no") },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close(context.Background()) })
		for _, u := range []string{"ann", "bob", "cid", "wide"} {
			ide := &identity{key: u, id: rowauth.Identity{UserID: u}, conns: map[*conn]struct{}{}}
			h.deps(ide)
			h.mu.Lock()
			h.idents[ide.key] = ide
			h.toLoad = append(h.toLoad, ide)
			h.mu.Unlock()
		}
		h.loadBinds(ctx)

		round := func(puts map[string]string, dels ...string) (map[string]bool, map[string][]string) {
			tc := &tableChanges{t: bdAcl, puts: map[string]json.RawMessage{}, dels: map[string]struct{}{}}
			cs := &changeSet{tables: map[string]*tableChanges{"bd_acl": tc}}
			for id, img := range puts {
				tc.puts[id] = json.RawMessage(img)
				cs.keys = append(cs.keys, "bd_acl/"+id)
			}
			for _, id := range dels {
				tc.dels[id] = struct{}{}
				cs.keys = append(cs.keys, "bd_acl/"+id)
			}
			got := map[string]bool{}
			losses := h.whoMayRead(ctx, cs, func(ides []*identity, _ bool) {
				for _, ide := range ides {
					got[ide.id.UserID] = true
				}
			})
			lost := map[string][]string{}
			for ide, keys := range losses {
				lost[ide.id.UserID] = keys
			}
			return got, lost
		}
		want := func(what string, got map[string]bool, users ...string) {
			t.Helper()
			w := map[string]bool{}
			for _, u := range users {
				w[u] = true
			}
			if len(got) != len(w) {
				t.Errorf("%s: poked %v; want %v", what, got, users)
				return
			}
			for u := range w {
				if !got[u] {
					t.Errorf("%s: poked %v; want %v", what, got, users)
				}
			}
		}

		// bob gets an acl row: bob, and wide (a fallback).
		got, _ := round(map[string]string{"a2": `{"id":"a2","grp":"g2","user_id":"bob"}`})
		want("bob's new acl row", got, "bob", "wide")
		if n := h.Stats().FallbackPokes; n != 1 {
			t.Errorf("%d fallback pokes; want 1", n)
		}
		// bob's row moves to cid: both (bob may have lost, cid gained).
		got, _ = round(map[string]string{"a2": `{"id":"a2","grp":"g2","user_id":"cid"}`})
		want("bob's acl row given to cid", got, "bob", "cid", "wide")
		// ann's row, loaded from the database, is deleted: ann, a loss.
		got, lost := round(nil, "a1")
		want("ann's acl row deleted", got, "ann", "wide")
		if len(lost["ann"]) != 1 || lost["ann"][0] != "bd_acl/a1" {
			t.Errorf("losses %v; want ann's bd_acl/a1", lost)
		}
		// A row of nobody connected: only the fallback.
		got, _ = round(map[string]string{"a9": `{"id":"a9","grp":"g9","user_id":"zed"}`})
		want("zed's acl row", got, "wide")
		if n := h.Stats().FallbackPokes; n != 4 {
			t.Errorf("%d fallback pokes; want 4", n)
		}

		// A doc of g2, whose acl row is cid's now: the simple rules
		// ("grp IN (bound subquery)") decide from the binds' rows, with
		// no query; wide's rule is checked in the database, whose acl
		// (never written by these rounds) names only g1.
		if _, err := tg.DB.Insert(bdDocs).Values(orm.Row{"id": "d1", "grp": "g2"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		tc := &tableChanges{t: bdDocs, puts: map[string]json.RawMessage{"d1": json.RawMessage(`{"id":"d1","grp":"g2"}`)}}
		cs := &changeSet{tables: map[string]*tableChanges{"bd_docs": tc}, keys: []string{"bd_docs/d1"}}
		got = map[string]bool{}
		h.whoMayRead(ctx, cs, func(ides []*identity, _ bool) {
			for _, ide := range ides {
				got[ide.id.UserID] = true
			}
		})
		want("a doc of g2", got, "cid")
	})
}

// An identity published after a round loaded the binds (it connected
// meanwhile) is not poked by that round's changes, and not as a
// fallback: its connection's own poke, sent after it was published and
// so after the round read the changes, covers them. The next round
// loads its binds and decides exactly. (TestExactPokesMemberOf used to
// count such a fallback now and then, when a setup change was read in
// the round a user connected during.)
func TestIdentityPublishedMidRound(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, bdSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		h, err := New(Options{
			DB: tg.DB, Schema: bdSchema,
			Auth:   func(*http.Request) (rowauth.Identity, error) { return rowauth.Identity{}, errors.New("no") },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close(context.Background()) })
		publish := func(u string) {
			ide := &identity{key: u, id: rowauth.Identity{UserID: u}, conns: map[*conn]struct{}{}}
			h.deps(ide)
			h.mu.Lock()
			h.idents[ide.key] = ide
			h.toLoad = append(h.toLoad, ide)
			h.mu.Unlock()
		}
		round := func(user string) map[string]bool {
			tc := &tableChanges{t: bdAcl, puts: map[string]json.RawMessage{
				"r-" + user: json.RawMessage(`{"id":"r-` + user + `","grp":"g-` + user + `","user_id":"` + user + `"}`),
			}, dels: map[string]struct{}{}}
			cs := &changeSet{tables: map[string]*tableChanges{"bd_acl": tc}, keys: []string{"bd_acl/r-" + user}}
			got := map[string]bool{}
			h.whoMayRead(ctx, cs, func(ides []*identity, _ bool) {
				for _, ide := range ides {
					got[ide.id.UserID] = true
				}
			})
			return got
		}
		publish("ann")
		h.loadBinds(ctx)
		publish("bob") // after the round's loadBinds
		if got := round("ann"); len(got) != 1 || !got["ann"] {
			t.Errorf("ann's row, bob published mid-round: poked %v; want ann alone", got)
		}
		if n := h.Stats().FallbackPokes; n != 0 {
			t.Errorf("%d fallback pokes; want 0", n)
		}
		h.loadBinds(ctx) // the next round
		if got := round("bob"); len(got) != 1 || !got["bob"] {
			t.Errorf("bob's row, next round: poked %v; want bob alone", got)
		}
		if n := h.Stats().FallbackPokes; n != 0 {
			t.Errorf("%d fallback pokes; want 0", n)
		}
	})
}
