package changelog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// TestBatchHoldsRowsUntilFlush: writes in a batch's transaction leave
// their change rows in it, each with its own origin and region; Flush
// writes them in order in one INSERT; a rollback drops them; writes
// outside the batch's transaction are logged at once.
func TestBatchHoldsRowsUntilFlush(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: schema}))
		if err := orm.EnsureSchema(ctx, schema, db); err != nil {
			t.Fatal(err)
		}
		if err := changelog.Ensure(ctx, db); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			cs, _, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			return len(cs)
		}
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			b := changelog.NewBatch(tx.DB)
			for i := range 3 {
				bctx := changelog.WithBatch(changelog.WithOrigin(ctx, "c1", int64(i+1)), b)
				if _, err := tx.Insert(lists).Values(orm.Row{"id": fmt.Sprint("L", i), "name": "x"}).Exec(bctx); err != nil {
					return err
				}
			}
			if b.Len() != 3 {
				return fmt.Errorf("batch holds %d rows, want 3", b.Len())
			}
			return b.Flush(ctx, tx.DB)
		})
		if err != nil {
			t.Fatal(err)
		}
		cs, _, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 0)
		if err != nil || len(cs) != 3 {
			t.Fatalf("%d changes, %v", len(cs), err)
		}
		for i, c := range cs {
			if c.RowID != fmt.Sprint("L", i) || c.ClientID != "c1" || c.MutationID != int64(i+1) || c.Op != changelog.OpPut {
				t.Errorf("change %d: %+v", i, c)
			}
		}
		// Rolled back: neither the rows nor their changes.
		_ = db.Tx(ctx, func(tx *orm.Tx) error {
			bctx := changelog.WithBatch(ctx, changelog.NewBatch(tx.DB))
			if _, err := tx.Insert(lists).Values(orm.Row{"id": "gone", "name": "x"}).Exec(bctx); err != nil {
				t.Fatal(err)
			}
			return fmt.Errorf("roll back")
		})
		if n := count(); n != 3 {
			t.Fatalf("%d changes after a rollback, want 3", n)
		}
		// Outside a transaction: logged at once.
		b := changelog.NewBatch(db)
		if _, err := db.Insert(lists).Values(orm.Row{"id": "L9", "name": "x"}).Exec(changelog.WithBatch(ctx, b)); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 4 || b.Len() != 0 {
			t.Fatalf("%d changes, batch %d: a write outside the batch's transaction waited", n, b.Len())
		}
	})
}
