package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
)

// A schema evolves: version 2 adds a column, which Run applies, and drops
// one, which Run refuses until the drop is allowed by name.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "plasma-migrate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	v1 := orm.MustDefineSchema("1", orm.NewTable("todos", orm.ID(), orm.Text("title"), orm.Text("note").Nullable()))
	diff, err := migrate.Run(ctx, v1, db, migrate.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range diff.Steps {
		fmt.Println("v1:", s.ID())
	}
	if _, err := db.Exec(ctx, `INSERT INTO todos (id, title, note) VALUES ('t1', 'write docs', 'soon')`); err != nil {
		log.Fatal(err)
	}

	v2 := orm.MustDefineSchema("2", orm.NewTable("todos", orm.ID(), orm.Text("title"), orm.Boolean("done").Default(false)))
	_, err = migrate.Run(ctx, v2, db, migrate.Options{})
	var refused *migrate.RefusedError
	if errors.As(err, &refused) {
		for _, s := range refused.Diff.Refused() {
			fmt.Println("refused:", s.ID())
		}
	}

	diff, err = migrate.Run(ctx, v2, db, migrate.Options{
		Allow:    []migrate.Allowance{migrate.Allow(migrate.OpDropColumn, "todos", "note")},
		Progress: func(s migrate.Step) { fmt.Println("applied:", s) },
	})
	if err != nil {
		log.Fatal(err)
	}
	st, err := migrate.Version(ctx, v2, db)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recorded version:", st.Recorded, "current:", st.Current())
	// Output:
	// v1: add table todos
	// refused: drop column todos.note
	// applied: add column todos.done: boolean NOT NULL DEFAULT 0
	// applied: drop column todos.note: was text (TEXT) NULL [destructive, allowed]
	// recorded version: 2 current: true
}

// Diff is a dry run: it reports the steps and their SQL and applies
// nothing.
func ExampleDiff() {
	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE other_app (k INTEGER PRIMARY KEY)`); err != nil {
		log.Fatal(err)
	}
	s := orm.MustDefineSchema("1", orm.NewTable("todos", orm.ID(), orm.Text("title")).
		With(orm.TableOptions{Indexes: []orm.Index{{Name: "todos_title", Columns: []string{"title"}}}}))
	diff, err := migrate.Diff(ctx, s, db, migrate.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(diff)
	for _, q := range diff.SQL {
		fmt.Println(q)
	}
	// Output:
	// sqlite: recorded version none, declared version 1
	//   + add table todos: (id, title)
	//   (untracked table other_app left alone)
	// CREATE TABLE "todos" ("id" TEXT NOT NULL, "title" TEXT NOT NULL, PRIMARY KEY ("id"))
	// CREATE INDEX "todos_title" ON "todos" ("title")
}

// A step's ID, as Step.ID prints it and migratecli's -allow takes it,
// reads back as the allowance for that step.
func ExampleParseAllowance() {
	a, err := migrate.ParseAllowance(`rename column todos.title to "the name"`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s | %s | %s | %s\n", a.Op, a.Table, a.Name, a.NewName)
	// Output:
	// rename column | todos | title | the name
}
