package rowauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

// pairs: each user's rows; (a, b) is unique through an index.
var (
	pairs = orm.NewTable("pairs", orm.ID(), orm.Text("owner_id"), orm.Text("a"), orm.Text("b")).
		With(func() orm.TableOptions {
			o := ownerRules("pairs")
			o.Indexes = []orm.Index{{Name: "pairs_ab", Columns: []string{"a", "b"}, Unique: true}}
			return o
		}())
	pairSchema = orm.MustDefineSchema("1", pairs)
)

// TestUpsertWithoutTargetChecksUniqueIndexes: an upsert with no conflict
// target may conflict on any unique key, a unique index over several
// columns included, so row auth checks each: another user's row matching
// the index is refused by row auth, before the ORM would refuse the
// statement itself.
func TestUpsertWithoutTargetChecksUniqueIndexes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db, err := serverdb.New(context.Background(), pairSchema, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(pairs).Values(orm.Row{"id": "P1", "owner_id": "u2", "a": "x", "b": "y"}).Exec(system); err != nil {
			t.Fatal(err)
		}
		_, err = db.Insert(pairs).Values(orm.Row{"id": "P9", "owner_id": "u1", "a": "x", "b": "y"}).
			OnConflictDoUpdate(nil, "owner_id").Exec(as("u1"))
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatalf("want ErrOutsideRule, got %v", err)
		}
		expect(t, strs(t, system, db.Select(pairs.Col("id"), pairs.Col("owner_id")).From(pairs)), "P1,u2")
	})
}
