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

// BenchmarkIncrementQuota: one Increment on SQLite of a counter whose
// row already holds 1,000 other entries. trusted writes the bare client
// ID (no quota); user picks its entry under the per-user quota, from a
// fresh client each time (so past the quota, the overflow entry).
func BenchmarkIncrementQuota(b *testing.B) {
	sys := rowauth.AsSystem(context.Background())
	var seed crdt.GCounter
	for i := range 1000 {
		if err := seed.Increment(crdtcol.ClientKey(fmt.Sprint("other-", i), "c"), 1); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		ctx  func(i int) context.Context
	}{
		{"trusted", func(int) context.Context { return changelog.WithOrigin(sys, "c1", 1) }},
		{"user", func(i int) context.Context { return user("mallory", fmt.Sprint("c", i)) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			tg := ormtest.SQLite(b)
			db, err := serverdb.New(sys, qSchema, tg.DB)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := db.Insert(qPosts).Values(orm.Row{"id": "p1", "likes": string(seed.Encode()),
				"score": crdt.Empty(crdt.KindPNCounter), "tags": crdt.Empty(crdt.KindORSet)}).Exec(sys); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := crdtcol.Increment(c.ctx(i), db, qPosts, "p1", "likes", 1); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
