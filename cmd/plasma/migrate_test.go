package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// migrateFlow runs the command through a dry run, an application, a
// second run with nothing to do, and a refused destructive change that an
// --allow then applies. target is "-data DIR" or "-postgres URL"; exec
// runs raw SQL on the same database.
func migrateFlow(t *testing.T, target []string, exec func(string)) {
	args := func(extra ...string) []string { return append(append([]string{"migrate"}, target...), extra...) }

	code, out, errOut := runCLI(t, args("--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errOut)
	}
	mustContain(t, "dry run", out, "+ add table lists", "+ add table todos", "CREATE TABLE \"todos\"", "dry run: nothing applied")

	code, out, _ = runCLI(t, args("--dry-run", "--json")...)
	var diff migrate.SchemaDiff
	if code != 0 || json.Unmarshal([]byte(out), &diff) != nil {
		t.Fatalf("dry run --json: exit %d:\n%s", code, out)
	}
	steps := len(todo.Schema.Tables()) // one "add table" each
	if len(diff.Steps) != steps || diff.Applied || diff.Steps[0].Op != migrate.OpAddTable {
		t.Fatalf("dry run --json: %+v", diff)
	}

	code, out, errOut = runCLI(t, args()...)
	if code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "applied: add table "); n != steps {
		t.Errorf("want one progress line per step, got %d:\n%s", n, out)
	}
	mustContain(t, "apply", out, fmt.Sprintf("done: %d step(s) applied", steps))

	code, out, _ = runCLI(t, args()...)
	if code != 0 {
		t.Fatalf("second run: exit %d", code)
	}
	mustContain(t, "second run", out, "nothing to do")

	// A column the schema does not declare: dropping it is refused.
	exec(`ALTER TABLE todos ADD COLUMN legacy TEXT`)
	exec(`INSERT INTO lists (id, name, owner_id) VALUES ('l1', 'groceries', 'u1')`)
	code, out, errOut = runCLI(t, args()...)
	if code != 1 {
		t.Fatalf("refusal: exit %d\n%s%s", code, out, errOut)
	}
	mustContain(t, "refusal stdout", out, "! drop column todos.legacy", "refused: nothing applied")
	mustContain(t, "refusal stderr", errOut, "drop column todos.legacy", "destructive")

	code, out, _ = runCLI(t, args("--json")...)
	if code != 1 || json.Unmarshal([]byte(out), &diff) != nil || len(diff.Refused()) != 1 {
		t.Fatalf("refusal --json: exit %d\n%s", code, out)
	}

	code, out, errOut = runCLI(t, args("--allow", "drop column todos.legacy")...)
	if code != 0 {
		t.Fatalf("allowed: exit %d: %s", code, errOut)
	}
	mustContain(t, "allowed", out, "applied: drop column todos.legacy", "done: 1 step(s) applied")
	code, out, _ = runCLI(t, args()...)
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("after: exit %d\n%s", code, out)
	}
}

func TestMigrateCommandSQLite(t *testing.T) {
	dir := t.TempDir()
	migrateFlow(t, []string{"-data", dir}, func(q string) {
		db, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "plasma.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	})
	// The rows survived the table rebuild that dropped the column.
	db, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "plasma.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(context.Background(), `SELECT COUNT(*) FROM lists`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	if !rows.Next() || rows.Scan(&n) != nil || n != 1 {
		t.Fatalf("lists: %d rows", n)
	}
}

func TestMigrateCommandPostgres(t *testing.T) {
	base := os.Getenv("PLASMA_TEST_POSTGRES")
	if base == "" {
		t.Skip("set PLASMA_TEST_POSTGRES to run the PostgreSQL half")
	}
	admin, err := postgres.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "plasma_cli_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+dialect.QuoteIdent(schema)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP SCHEMA "+dialect.QuoteIdent(schema)+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	qv := u.Query()
	qv.Set("search_path", schema)
	u.RawQuery = qv.Encode()
	dsn := u.String()
	migrateFlow(t, []string{"-postgres", dsn}, func(q string) {
		db, err := orm.Open(postgres.Dialect, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigrateCommandFlags(t *testing.T) {
	if code, _, errOut := runCLI(t, "migrate", "-data", t.TempDir(), "-postgres", "postgres://x"); code != 2 || !strings.Contains(errOut, "not both") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "migrate", "-data", t.TempDir(), "--allow", "explode table x"); code != 2 || !strings.Contains(errOut, "unknown step kind") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, out, _ := runCLI(t, "migrate", "-h"); code != 0 || !strings.Contains(out, "-dry-run") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, out, _ := runCLI(t, "help"); code != 0 || !strings.Contains(out, "migrate") {
		t.Fatalf("help: %s", out)
	}
	if code, out, _ := runCLI(t, "schema", "-h"); code != 0 || !strings.Contains(out, "-dialect") {
		t.Fatalf("schema -h: exit %d: %s", code, out)
	}
}

// TestSchemaCommand: plasma schema runs migratecli on the example app's
// schema: it creates the tables in -data and prints their DDL.
func TestSchemaCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "schema", "-data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	mustContain(t, "schema", out, "-- schema version "+todo.Schema.Version(), `CREATE TABLE "lists"`, `CREATE TABLE "todos"`)
	code, out, _ = runCLI(t, "migrate", "-data", dir, "-dry-run")
	if code != 0 || strings.Contains(out, "add table") {
		t.Fatalf("after schema: exit %d\n%s", code, out)
	}
	code, out, errOut = runCLI(t, "schema", "-dialect", "postgres")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	mustContain(t, "schema -dialect postgres", out, `CREATE TABLE "todos"`, "BOOLEAN")
}
