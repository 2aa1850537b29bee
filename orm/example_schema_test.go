package orm_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// Declare tables once, as package variables. References name their target
// by table and column, so tables may be declared in any order.
func ExampleNewTable() {
	todos := orm.NewTable("todos",
		orm.ID(),
		orm.Text("title"),
		orm.Boolean("done").Default(false),
		orm.Text("owner_id").References("users", "id", tabledef.Cascade),
		orm.CRDTCounter("likes").Nullable(),
		orm.Text("notes").Encrypted().Nullable(),
	).With(orm.TableOptions{
		Indexes: []orm.Index{{Name: "todos_by_owner", Columns: []string{"owner_id"}}},
	})
	users := orm.NewTable("users", orm.ID(), orm.Text("email").Unique())

	// An existing table with an integer key is mapped as External: it is
	// not synced, so it may have any primary key.
	audit := orm.NewTable("audit_log", orm.AutoIncrement("seq"), orm.Text("what")).
		With(orm.TableOptions{External: true})

	if _, err := orm.DefineSchema("1", todos, users, audit); err != nil {
		fmt.Println(err)
		return
	}
	stmts, _ := dialect.CreateTable(postgres.Dialect, todos.Def(), true)
	for _, s := range stmts {
		fmt.Println(s)
	}
	fmt.Println(todos.Synced(), audit.Synced(), audit.PrimaryKey())
	// Output:
	// CREATE TABLE IF NOT EXISTS "todos" ("id" TEXT NOT NULL, "title" TEXT NOT NULL, "done" BOOLEAN NOT NULL DEFAULT FALSE, "owner_id" TEXT NOT NULL, "likes" TEXT, "notes" TEXT, PRIMARY KEY ("id"), FOREIGN KEY ("owner_id") REFERENCES "users" ("id") ON DELETE CASCADE)
	// CREATE INDEX IF NOT EXISTS "todos_by_owner" ON "todos" ("owner_id")
	// true false [seq]
}

// DefineSchema reports every problem at once, each a *SchemaError that
// errors.Is tells apart.
func ExampleDefineSchema() {
	_, err := orm.DefineSchema("1",
		orm.NewTable("notes", orm.Text("body")),
		orm.NewTable("tags", orm.ID(), orm.Text("note_id").References("note", "id", tabledef.Cascade)),
	)
	fmt.Println(errors.Is(err, orm.ErrSyncedTableID), errors.Is(err, orm.ErrUnknownReference))
	var se *orm.SchemaError
	if errors.As(err, &se) {
		fmt.Printf("first problem: table %q\n", se.Table)
	}
	fmt.Println(err)
	// Output:
	// true true
	// first problem: table "notes"
	// plasma: schema: table "notes": a synced table needs exactly one primary key: the id column, orm.ID(): mark the table ChangeLogSuppressed or External to map another key
	// plasma: schema: table "tags": column "note_id": reference to an unknown table or column: no such table: references "note"
}

// EnsureSchema creates what is missing. Call it at start-up or on every
// request: once it has succeeded for a DB, it returns without touching the
// database.
func ExampleEnsureSchema() {
	users := orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Int("age").Default(0))
	schema := orm.MustDefineSchema("1", users)

	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	for range 2 { // the second call does nothing
		if err := orm.EnsureSchema(ctx, schema, db); err != nil {
			fmt.Println(err)
			return
		}
	}
	if _, err := db.Insert(users).Values(orm.Row{"id": "u1", "name": "Ann"}).Exec(ctx); err != nil {
		fmt.Println(err)
		return
	}
	rows, err := orm.Maps(ctx, db.Select(users.Col("name"), users.Col("age")).From(users).Where(expr.Eq(users.Col("id"), "u1")))
	fmt.Println(rows, err)
	// Output:
	// [map[age:0 name:Ann]] <nil>
}
