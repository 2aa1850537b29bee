package serverdb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

var (
	ownerOnly = rowauth.Owner(expr.ColRef("notes", "owner_id")).Rule()
	notes     = orm.NewTable("notes", orm.ID(), orm.Text("owner_id"), orm.Text("body")).
			With(orm.TableOptions{Auth: orm.TableAuth{Read: ownerOnly, Write: ownerOnly}})
	schema = orm.MustDefineSchema("1", notes)
)

func TestServerDB(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db, err := serverdb.New(ctx, schema, tg.DB, serverdb.Region("eu"))
		if err != nil {
			t.Fatal(err)
		}
		ann := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "ann"})
		if _, err := db.Insert(notes).Values(orm.Row{"id": "n1", "owner_id": "ann", "body": "x"}).Exec(ann); err != nil {
			t.Fatal(err)
		}
		// Row auth runs before the change log: a refused write logs nothing.
		_, err = db.Insert(notes).Values(orm.Row{"id": "n2", "owner_id": "bob", "body": "y"}).Exec(ann)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatal(err)
		}
		if _, err := db.Insert(notes).Values(orm.Row{"id": "n3", "owner_id": "bob", "body": "z"}).Exec(rowauth.AsSystem(ctx)); err != nil {
			t.Fatal(err)
		}
		cs, _, err := changelog.ChangesSince(ctx, db, "eu", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 2 || cs[0].RowID != "n1" || cs[1].RowID != "n3" {
			t.Fatalf("%+v", cs)
		}
		// The base DB is unchanged: no rules, no middleware. Its writes
		// still reach the log, through the capture triggers, under the
		// region New was given.
		if n, err := orm.Scalar[int64](ctx, tg.DB.Select(expr.CountAll()).From(notes)); err != nil || n != 2 {
			t.Fatal(n, err)
		}
		if _, err := tg.DB.Delete(notes).AllRows().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		cs, _, err = changelog.ChangesSince(ctx, db, "eu", cs[1].Version, 0)
		if err != nil || len(cs) != 2 || cs[0].Op != changelog.OpDel || cs[1].Op != changelog.OpDel || cs[0].ClientID != "" {
			t.Fatal(cs, err)
		}
		// SkipEnsure leaves the tables to migrations.
		again, err := serverdb.New(ctx, schema, tg.DB, serverdb.SkipEnsure())
		if err != nil || again == nil {
			t.Fatal(err)
		}
		if _, err := serverdb.New(ctx, nil, tg.DB); err == nil {
			t.Fatal("nil schema accepted")
		}
	})
}

func Example() {
	ctx := context.Background()
	base, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer base.Close()
	db, err := serverdb.New(ctx, schema, base)
	if err != nil {
		panic(err)
	}

	// A backend job acts as the system: no rules, but its writes are logged.
	job := rowauth.AsSystem(ctx)
	if _, err := db.Insert(notes).Values(
		orm.Row{"id": "n1", "owner_id": "ann", "body": "for ann"},
		orm.Row{"id": "n2", "owner_id": "bob", "body": "for bob"},
	).Exec(job); err != nil {
		panic(err)
	}

	// A request acts for its user.
	ann := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "ann"})
	bodies, err := orm.All[string](ann, db.Select(notes.Col("body")).From(notes))
	fmt.Println(bodies, err)

	changes, _, err := changelog.ChangesSince(ctx, db, "", 0, 0)
	fmt.Println(len(changes), err)
	// Output:
	// [for ann] <nil>
	// 2 <nil>
}
