package serverdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/encrypt"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

var (
	posts = orm.NewTable("posts", orm.ID(), orm.Text("title"), orm.CRDTCounter("likes"), orm.Text("secret").Encrypted().Nullable())
	stack = orm.MustDefineSchema("1", posts)
)

// serverdb installs the whole plugin stack in order: the change log
// records CRDT state after the merge, and an encrypted column refuses
// plaintext before anything is logged.
func TestStack(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := rowauth.AsSystem(context.Background())
		db, err := serverdb.New(ctx, stack, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(posts).Values(orm.Row{"id": "p1", "title": "hi", "likes": crdt.Empty(crdt.KindCounter)}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, client := range []string{"c1", "c2"} {
			cctx := changelog.WithOrigin(ctx, client, 1)
			if _, err := db.Update(posts).Set(orm.Row{"likes": crdtcol.Incr(1)}).Where(expr.Eq(posts.Col("id"), "p1")).Exec(cctx); err != nil {
				t.Fatal(err)
			}
		}
		cs, head, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 0)
		if err != nil || len(cs) != 3 {
			t.Fatalf("%d changes, %v", len(cs), err)
		}
		var row struct {
			Likes json.RawMessage `json:"likes"`
		}
		if err := json.Unmarshal(cs[2].Row, &row); err != nil {
			t.Fatal(err)
		}
		g, err := crdt.DecodeGCounter(row.Likes, crdt.DefaultLimits())
		if err != nil || g.Read() != 2 {
			t.Fatalf("the log must hold the merged counter (2), got %s: %v", row.Likes, err)
		}

		_, err = db.Update(posts).Set(orm.Row{"secret": `"plaintext"`}).Where(expr.Eq(posts.Col("id"), "p1")).Exec(ctx)
		if !errors.Is(err, encrypt.ErrNotEnvelope) {
			t.Fatalf("plaintext into an encrypted column: %v", err)
		}
		if more, _, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, head, 0); err != nil || len(more) != 0 {
			t.Fatalf("a refused write must log nothing: %d changes, %v", len(more), err)
		}
	})
}
