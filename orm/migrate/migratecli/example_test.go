package migratecli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate/migratecli"
)

// An application's main runs the commands on its own schema; here
// `app schema -dialect postgres` prints the DDL for PostgreSQL.
func ExampleMain() {
	notes := orm.NewTable("notes", orm.ID(), orm.Text("title"), orm.Boolean("pinned").Default(false))
	schema := orm.MustDefineSchema("1", notes)

	// In main: os.Exit(migratecli.Main(ctx, schema, os.Args[1:], os.Stdout, os.Stderr))
	code := migratecli.Main(context.Background(), schema, []string{"schema", "-dialect", "postgres"}, os.Stdout, os.Stderr)
	fmt.Println("exit", code)
	// Output:
	// -- schema version 1, postgres
	// CREATE TABLE "notes" ("id" TEXT NOT NULL, "title" TEXT NOT NULL, "pinned" BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY ("id"));
	// exit 0
}

// An application with commands of its own hands "migrate" and "schema" to
// a Command; DataDir sets the default of -data.
func ExampleCommand_Run() {
	notes := orm.NewTable("notes", orm.ID(), orm.Text("title"))
	cmd := migratecli.Command{Schema: orm.MustDefineSchema("1", notes), Name: "app"}

	dir, err := os.MkdirTemp("", "app")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cmd.DataDir = filepath.Join(dir, "data")

	args := []string{"migrate", "-json"} // os.Args[1:] in a real main
	code := cmd.Run(context.Background(), args, os.Stdout, os.Stderr)
	fmt.Println("exit", code)
	// Output:
	// {
	//   "dialect": "sqlite",
	//   "recordedVersion": "",
	//   "declaredVersion": "1",
	//   "steps": [
	//     {
	//       "op": "add table",
	//       "table": "notes",
	//       "to": "(id, title)",
	//       "destructive": false
	//     }
	//   ],
	//   "sql": [
	//     "CREATE TABLE \"notes\" (\"id\" TEXT NOT NULL, \"title\" TEXT NOT NULL, PRIMARY KEY (\"id\"))"
	//   ],
	//   "applied": true
	// }
	// exit 0
}
