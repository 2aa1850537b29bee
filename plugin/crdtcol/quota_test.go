package crdtcol_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// TestClientQuotaOtherKinds: past its quota a user's further clients
// share one entry, in a G-counter, a PN-counter's decrements and an
// OR-set's version vector; a full state that adds entries outside the
// writer's own, or past its quota, is refused.
//
// It is one long function on purpose: the kinds' cases fill and then
// overrun one row's quota in order.
func TestClientQuotaOtherKinds(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := openQuota(t, tg)
		const fresh = 40
		for i := range fresh {
			ctx := user("mallory", fmt.Sprintf("c%d", i))
			if err := crdtcol.Decrement(ctx, db, qPosts, "p1", "score", 1); err != nil {
				t.Fatal(err)
			}
			if err := crdtcol.AddToSet(ctx, db, qPosts, "p1", "tags", i); err != nil {
				t.Fatal(err)
			}
			if err := crdtcol.Increment(ctx, db, qPosts, "p1", "likes", 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := crdtcol.Increment(user("bob", "bob-1"), db, qPosts, "p1", "likes", 1); err != nil {
			t.Fatal(err)
		}
		sys := rowauth.AsSystem(context.Background())
		s, err := crdtcol.Load(sys, db, qPosts, "p1", "likes")
		if err != nil {
			t.Fatal(err)
		}
		c := s.(*crdt.GCounter)
		mine := 0
		for _, id := range c.Clients() {
			if strings.HasPrefix(id, crdtcol.ClientKey("mallory", "")) {
				mine++
			}
		}
		if c.Read() != fresh+1 || mine != crdtcol.DefaultClientsPerUser+1 || len(c.Clients()) != mine+1 {
			t.Fatalf("G-counter: mallory holds %d entries: %s", mine, c.Encode())
		}
		// Entries within the quota are the clients' own, past it shared.
		if c.Count(crdtcol.ClientKey("bob", "bob-1")) != 1 || c.Count(crdtcol.ClientKey("mallory", "c0")) != 1 ||
			c.Count(crdtcol.ClientKey("mallory", "*")) != fresh-crdtcol.DefaultClientsPerUser {
			t.Fatalf("G-counter entries: %s", c.Encode())
		}
		s, err = crdtcol.Load(sys, db, qPosts, "p1", "score")
		if err != nil {
			t.Fatal(err)
		}
		pn := s.(*crdt.PNCounter)
		if _, dec := pn.Clients(); pn.Read() != -fresh || len(dec) > crdtcol.DefaultClientsPerUser+1 {
			t.Fatalf("PN-counter: %s", pn.Encode())
		}
		s, err = crdtcol.Load(sys, db, qPosts, "p1", "tags")
		if err != nil {
			t.Fatal(err)
		}
		set := s.(*crdt.ORSet)
		if set.Len() != fresh || len(set.Clients()) > crdtcol.DefaultClientsPerUser+1 {
			t.Fatalf("OR-set: %s", set.Encode())
		}

		// A full state may raise entries already there and add the
		// writer's own, not anyone else's.
		var g crdt.GCounter
		for i := range 3 {
			if err := g.Increment(fmt.Sprintf("raw-%d", i), 1); err != nil {
				t.Fatal(err)
			}
		}
		_, err = db.Update(qPosts).Set(orm.Row{"likes": string(g.Encode())}).Where(byQID("p1")).Exec(user("mallory", "c0"))
		if !errors.Is(err, crdtcol.ErrClientQuota) {
			t.Fatalf("foreign entries: want ErrClientQuota, got %v", err)
		}
		var own crdt.GCounter
		for i := range crdtcol.DefaultClientsPerUser + 1 {
			if err := own.Increment(crdtcol.ClientKey("mallory", fmt.Sprintf("c%d", i)), 1); err != nil {
				t.Fatal(err)
			}
		}
		_, err = db.Update(qPosts).Set(orm.Row{"likes": string(own.Encode())}).Where(byQID("p1")).Exec(user("mallory", "c0"))
		if !errors.Is(err, crdtcol.ErrClientQuota) {
			t.Fatalf("own entries over the quota: want ErrClientQuota, got %v", err)
		}
		var ok crdt.GCounter
		if err := ok.Increment(crdtcol.ClientKey("bob", "b1"), 2); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Update(qPosts).Set(orm.Row{"likes": string(ok.Encode())}).Where(byQID("p1")).Exec(user("bob", "b1")); err != nil {
			t.Fatal(err)
		}
		// Trusted code writes what it likes.
		if _, err := db.Update(qPosts).Set(orm.Row{"likes": string(g.Encode())}).Where(byQID("p1")).Exec(sys); err != nil {
			t.Fatal(err)
		}
	})
}

func byQID(id string) expr.Expr { return expr.Eq(qPosts.Col("id"), id) }

// TestClientQuotaFullMap: when the row's map has no room left, every
// user's Ops still count, in the one shared entry the map keeps free.
func TestClientQuotaFullMap(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		sys := rowauth.AsSystem(context.Background())
		if err := orm.EnsureSchema(sys, qSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		const maxClients = 6
		db := tg.DB.Use(rowauth.Middleware(), crdtcol.Middleware(crdtcol.Options{
			Limits: crdt.Limits{MaxClients: maxClients}, ClientsPerUser: 2}))
		if _, err := db.Insert(qPosts).Values(orm.Row{"id": "p1", "likes": crdt.Empty(crdt.KindCounter),
			"score": crdt.Empty(crdt.KindPNCounter), "tags": crdt.Empty(crdt.KindORSet)}).Exec(sys); err != nil {
			t.Fatal(err)
		}
		const users, clients = 10, 3
		for u := range users {
			for c := range clients {
				if err := crdtcol.Increment(user(fmt.Sprint("u", u), fmt.Sprintf("u%d-c%d", u, c)), db, qPosts, "p1", "likes", 1); err != nil {
					t.Fatalf("u%d c%d: %v", u, c, err)
				}
			}
		}
		s, err := crdtcol.Load(sys, db, qPosts, "p1", "likes")
		if err != nil {
			t.Fatal(err)
		}
		c := s.(*crdt.GCounter)
		if c.Read() != users*clients || len(c.Clients()) > maxClients || c.Count("*") == 0 {
			t.Fatalf("full map: %s", c.Encode())
		}
	})
}
