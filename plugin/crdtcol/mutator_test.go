package crdtcol_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
	"github.com/plasma-go/plasma/sync/mutator"
)

var (
	mPosts  = orm.NewTable("mposts", orm.ID(), orm.CRDTCounter("likes"), orm.CRDTORSet("tags"))
	mSchema = orm.MustDefineSchema("1", mPosts)
)

type likeArgs struct{ ID string }
type tagArgs struct{ ID, Tag string }

var mMutators = mutator.Set[struct{}]{
	"like": mutator.New(func(ctx context.Context, c mutator.Call[struct{}], a likeArgs) error {
		return crdtcol.Increment(ctx, c.DB, mPosts, a.ID, "likes", 1)
	}),
	"tag": mutator.New(func(ctx context.Context, c mutator.Call[struct{}], a tagArgs) error {
		return crdtcol.AddToSet(ctx, c.DB, mPosts, a.ID, "tags", a.Tag)
	}),
}

// Two sync mutators run by different clients on two connection pools (two
// server processes) at once, each incrementing the same counter and adding
// to the same set: every increment counts and every add survives.
func TestMutatorsFromTwoClientsBothCount(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := rowauth.AsSystem(context.Background())
		first, err := serverdb.New(ctx, mSchema, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Insert(mPosts).Values(orm.Row{"id": "p1", "likes": crdt.Empty(crdt.KindCounter), "tags": crdt.Empty(crdt.KindORSet)}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		second, err := serverdb.New(ctx, mSchema, orm.New(tg.Open(t), tg.Dialect), serverdb.SkipEnsure())
		if err != nil {
			t.Fatal(err)
		}
		const each = 10
		var wg sync.WaitGroup
		for i, db := range []*orm.DB{first, second} {
			client := fmt.Sprintf("client-%d", i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for m := 1; m <= each; m++ {
					mctx := changelog.WithOrigin(ctx, client, int64(m))
					for _, call := range []struct{ name, args string }{
						{"like", `{"ID":"p1"}`},
						{"tag", fmt.Sprintf(`{"ID":"p1","Tag":"%s-%d"}`, client, m)},
					} {
						if err := invokeRetrying(mctx, db, call.name, call.args); err != nil {
							t.Errorf("%s %s: %v", client, call.name, err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		likes, err := crdtcol.Load(ctx, first, mPosts, "p1", "likes")
		if err != nil {
			t.Fatal(err)
		}
		if got := likes.(*crdt.GCounter).Read(); got != 2*each {
			t.Errorf("likes = %d, want %d: an increment was lost", got, 2*each)
		}
		tags, err := crdtcol.Load(ctx, first, mPosts, "p1", "tags")
		if err != nil {
			t.Fatal(err)
		}
		if got := tags.(*crdt.ORSet).Len(); got != 2*each {
			t.Errorf("%d tags, want %d: an add was lost", got, 2*each)
		}
		n, err := orm.Scalar[int64](ctx, first.Select(expr.CountAll()).From(mPosts))
		if err != nil || n != 1 {
			t.Fatal(n, err)
		}
	})
}

// invokeRetrying runs a mutator, retrying what the sync server would retry
// (serialization failures and deadlocks on PostgreSQL, a busy SQLite).
func invokeRetrying(ctx context.Context, db *orm.DB, name, args string) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = mutator.Invoke(ctx, mMutators, name, db, struct{}{}, json.RawMessage(args)); err == nil || !mutator.IsRetryable(err) {
			return err
		}
	}
	return err
}
