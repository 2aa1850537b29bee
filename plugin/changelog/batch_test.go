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

// TestBatchFlushWith: the writes FlushWith is given run with the change
// rows (in their INSERT's WITH on PostgreSQL), and on their own when no
// change row waits.
func TestBatchFlushWith(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: schema}))
		if err := orm.EnsureSchema(ctx, schema, db); err != nil {
			t.Fatal(err)
		}
		if err := changelog.Ensure(ctx, db); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.SQL.Exec(`CREATE TABLE "marks" ("id" TEXT PRIMARY KEY, "n" BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		mark := func(id string, n int64) changelog.RawWrite {
			return changelog.RawWrite{SQL: `INSERT INTO "marks" ("id", "n") VALUES (?, ?)`, Args: []any{id, n}}
		}
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			b := changelog.NewBatch(tx.DB)
			bctx := changelog.WithBatch(ctx, b)
			for _, id := range []string{"L1", "L2"} {
				if _, err := tx.Insert(lists).Values(orm.Row{"id": id, "name": "x"}).Exec(bctx); err != nil {
					return err
				}
			}
			if err := b.FlushWith(ctx, tx.DB, mark("a", 1), mark("b", 2)); err != nil {
				return err
			}
			return b.FlushWith(ctx, tx.DB, mark("c", 3)) // nothing waits
		})
		if err != nil {
			t.Fatal(err)
		}
		var n, sum int64
		if err := tg.SQL.QueryRow(`SELECT count(*), sum("n") FROM "marks"`).Scan(&n, &sum); err != nil || n != 3 || sum != 6 {
			t.Fatalf("marks: %d rows, sum %d, %v", n, sum, err)
		}
		cs, _, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 0)
		if err != nil || len(cs) != 2 || cs[0].RowID != "L1" || cs[1].RowID != "L2" {
			t.Fatalf("changes %+v, %v", cs, err)
		}
	})
}
