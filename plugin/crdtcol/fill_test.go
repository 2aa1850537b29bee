package crdtcol_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

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
		if c := s.(*crdt.GCounter); c.Read() != fresh+1 {
			t.Fatalf("counter %d, want %d", c.Read(), fresh+1)
		}
	})
}

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
