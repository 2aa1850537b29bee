package changelog_test

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

func Example() {
	ctx := context.Background()
	base, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer base.Close()
	notes := orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.Boolean("pinned").Default(false))
	schema := orm.MustDefineSchema("1", notes)
	if err := orm.EnsureSchema(ctx, schema, base); err != nil {
		panic(err)
	}
	if err := changelog.Ensure(ctx, base); err != nil {
		panic(err)
	}
	db := base.Use(changelog.Middleware(changelog.Options{Schema: schema}))

	// Writes log their rows; the origin comes from the context.
	mctx := changelog.WithOrigin(ctx, "client-a", 1)
	if _, err := db.Insert(notes).Values(orm.Row{"id": "n1", "body": "hello"}).Exec(mctx); err != nil {
		panic(err)
	}
	if _, err := db.Update(notes).Set(orm.Row{"pinned": true}).Where(expr.Eq(notes.Col("id"), "n1")).Exec(ctx); err != nil {
		panic(err)
	}
	if _, err := db.Delete(notes).Where(expr.Eq(notes.Col("id"), "n1")).Exec(ctx); err != nil {
		panic(err)
	}

	// A reader follows the log from its cursor.
	changes, cursor, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 100)
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Printf("%d %s %s/%s %s client=%q mutation=%d\n", c.Version, c.Op, c.Table, c.RowID, c.Row, c.ClientID, c.MutationID)
	}
	fmt.Println("cursor:", cursor)
	// Output:
	// 1 put notes/n1 {"id":"n1","body":"hello","pinned":false} client="client-a" mutation=1
	// 2 put notes/n1 {"id":"n1","body":"hello","pinned":true} client="" mutation=0
	// 3 del notes/n1  client="" mutation=0
	// cursor: 3
}

func ExampleRecord() {
	ctx := context.Background()
	base, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer base.Close()
	notes := orm.NewTable("notes", orm.ID(), orm.Text("body"))
	if err := orm.EnsureSchema(ctx, orm.MustDefineSchema("1", notes), base); err != nil {
		panic(err)
	}
	if err := changelog.Ensure(ctx, base); err != nil {
		panic(err)
	}
	db := base.Use(changelog.Middleware(changelog.Options{}))

	// Raw SQL bypasses the middleware: record what it touched.
	if _, err := db.Exec(ctx, `INSERT INTO "notes" ("id", "body") VALUES (?, ?)`, "n1", "bulk"); err != nil {
		panic(err)
	}
	if err := changelog.Record(ctx, db, notes, "n1", "n2"); err != nil {
		panic(err)
	}
	changes, _, err := changelog.ChangesSince(ctx, db, "", 0, 0)
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Println(c.Op, c.RowID, string(c.Row))
	}
	// Output:
	// put n1 {"id":"n1","body":"bulk"}
	// del n2
}

func ExampleCompactChangeLog() {
	ctx := context.Background()
	base, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer base.Close()
	notes := orm.NewTable("notes", orm.ID(), orm.Text("body"))
	schema := orm.MustDefineSchema("1", notes)
	if err := orm.EnsureSchema(ctx, schema, base); err != nil {
		panic(err)
	}
	if err := changelog.Ensure(ctx, base); err != nil {
		panic(err)
	}
	db := base.Use(changelog.Middleware(changelog.Options{Schema: schema}))
	exec := func(q interface {
		Exec(context.Context) (int64, error)
	}) {
		if _, err := q.Exec(ctx); err != nil {
			panic(err)
		}
	}
	exec(db.Insert(notes).Values(orm.Row{"id": "n1", "body": "draft"}))
	exec(db.Update(notes).Set(orm.Row{"body": "second draft"}).Where(expr.Eq(notes.Col("id"), "n1")))
	exec(db.Update(notes).Set(orm.Row{"body": "final"}).Where(expr.Eq(notes.Col("id"), "n1")))
	exec(db.Insert(notes).Values(orm.Row{"id": "n2", "body": "oops"}))
	exec(db.Delete(notes).Where(expr.Eq(notes.Col("id"), "n2")))
	exec(db.Insert(notes).Values(orm.Row{"id": "n3", "body": "later"}))

	// Fold everything up to version 5; version 6 stays as it is. Pick a
	// bound below which no reader needs the intermediate states (any bound
	// is safe: readers converge whatever their cursor).
	res, err := changelog.CompactChangeLog(ctx, db, changelog.DefaultRegion, 5)
	if err != nil {
		panic(err)
	}
	fmt.Printf("scanned %d, removed %d, kept %d (%d dels) of %d rows\n", res.Scanned, res.Removed, res.Kept, res.Dels, res.Rows)

	// A reader that starts from 0 now reads each row's latest change at or
	// below the bound: n1's last put and n2's del, at their own versions.
	changes, _, err := changelog.ChangesSince(ctx, db, "", 0, 0)
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		if c.Op == changelog.OpDel {
			fmt.Println(c.Version, c.Op, c.RowID)
		} else {
			fmt.Println(c.Version, c.Op, c.RowID, string(c.Row))
		}
	}
	// Output:
	// scanned 5, removed 3, kept 2 (1 dels) of 2 rows
	// 3 put n1 {"id":"n1","body":"final"}
	// 5 del n2
	// 6 put n3 {"id":"n3","body":"later"}
}

// ExampleEnsureCapture: with the capture triggers installed, a write made
// with database/sql alone (another ORM's, another process's) reaches the
// log, while a write through the middleware is logged once, with its
// origin.
func ExampleEnsureCapture() {
	ctx := context.Background()
	base, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer base.Close()
	notes := orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.Boolean("pinned").Default(false))
	schema := orm.MustDefineSchema("1", notes)
	if err := orm.EnsureSchema(ctx, schema, base); err != nil {
		panic(err)
	}
	if err := changelog.EnsureCapture(ctx, base, schema, ""); err != nil {
		panic(err)
	}
	db := base.Use(changelog.Middleware(changelog.Options{Schema: schema}))

	if _, err := db.Insert(notes).Values(orm.Row{"id": "n1", "body": "hello"}).Exec(changelog.WithOrigin(ctx, "client-a", 1)); err != nil {
		panic(err)
	}
	// What GORM, psql or another service would do.
	if _, err := base.Executor().ExecContext(ctx, `UPDATE "notes" SET "pinned" = 1 WHERE "id" = 'n1'`); err != nil {
		panic(err)
	}

	changes, _, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 100)
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Printf("%d %s %s/%s %s client=%q\n", c.Version, c.Op, c.Table, c.RowID, c.Row, c.ClientID)
	}
	// Output:
	// 1 put notes/n1 {"id":"n1","body":"hello","pinned":false} client="client-a"
	// 2 put notes/n1 {"id":"n1","body":"hello","pinned":true} client=""
}
