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
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

var (
	qPosts  = orm.NewTable("qposts", orm.ID(), orm.CRDTCounter("likes"), orm.CRDTPNCounter("score"), orm.CRDTORSet("tags"))
	qSchema = orm.MustDefineSchema("1", qPosts)
)

// user is a context acting for user from client, as a sync push does.
func user(u, client string) context.Context {
	return changelog.WithOrigin(rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: u}), client, 1)
}

func openQuota(t *testing.T, tg *ormtest.Target) *orm.DB {
	t.Helper()
	sys := rowauth.AsSystem(context.Background())
	db, err := serverdb.New(sys, qSchema, tg.DB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Insert(qPosts).Values(orm.Row{"id": "p1", "likes": crdt.Empty(crdt.KindCounter),
		"score": crdt.Empty(crdt.KindPNCounter), "tags": crdt.Empty(crdt.KindORSet)}).Exec(sys); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestOneUserCannotFillARow: one user incrementing a counter from 5,000
// fresh client IDs cannot fill the row's per-client map, so another
// user's increment still succeeds; every increment counts.
func TestOneUserCannotFillARow(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := openQuota(t, tg)
		const fresh = 5000
		failed := 0
		var firstErr error
		err := db.Tx(context.Background(), func(tx *orm.Tx) error {
			for i := range fresh {
				err := crdtcol.Increment(user("mallory", fmt.Sprintf("c%d", i)), tx.DB, qPosts, "p1", "likes", 1)
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					failed++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := crdtcol.Increment(user("bob", "bob-1"), db, qPosts, "p1", "likes", 1); err != nil {
			t.Fatalf("bob's increment after mallory's %d clients: %v", fresh, err)
		}
		if failed > 0 {
			t.Fatalf("%d of mallory's increments failed, the first with %v", failed, firstErr)
		}
		s, err := crdtcol.Load(rowauth.AsSystem(context.Background()), db, qPosts, "p1", "likes")
		if err != nil {
			t.Fatal(err)
		}
		c := s.(*crdt.GCounter)
		if c.Read() != fresh+1 {
			t.Fatalf("counter %d, want %d", c.Read(), fresh+1)
		}
		mine := 0
		for _, id := range c.Clients() {
			if strings.HasPrefix(id, crdtcol.ClientKey("mallory", "")) {
				mine++
			}
		}
		if mine > crdtcol.DefaultClientsPerUser+1 {
			t.Fatalf("mallory holds %d entries, quota %d", mine, crdtcol.DefaultClientsPerUser)
		}
		if c.Count(crdtcol.ClientKey("bob", "bob-1")) != 1 || c.Count(crdtcol.ClientKey("mallory", "c0")) != 1 {
			t.Fatalf("per-client entries within the quota are kept: %s", c.Encode())
		}
	})
}

// TestClientQuotaOtherKinds: the quota folds a PN-counter's decrements
// and an OR-set's adds the same way, and refuses a full state that adds
// entries outside the writer's own.
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
		}
		sys := rowauth.AsSystem(context.Background())
		s, err := crdtcol.Load(sys, db, qPosts, "p1", "score")
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
