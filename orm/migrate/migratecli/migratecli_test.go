package migratecli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	"github.com/plasma-go/plasma/orm/migrate/migratecli"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/tabledef"
)

var ctx = context.Background()

// appV1 is an application's first schema; appV2 adds a column and drops
// two, the destructive steps the tests allow one at a time.
func appV1() *orm.Schema {
	return orm.MustDefineSchema("1",
		orm.NewTable("notes", orm.ID(), orm.Text("title"), orm.Text("legacy").Nullable()).
			With(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_title", Columns: []string{"title"}}}}),
		orm.NewTable("tags", orm.ID(), orm.Text("note_id").References("notes", "id", tabledef.Cascade), orm.Text("name").Nullable()),
	)
}

func appV2() *orm.Schema {
	return orm.MustDefineSchema("2",
		orm.NewTable("notes", orm.ID(), orm.Text("title"), orm.Boolean("pinned").Default(false)).
			With(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_title", Columns: []string{"title"}}}}),
		orm.NewTable("tags", orm.ID(), orm.Text("note_id").References("notes", "id", tabledef.Cascade)),
	)
}

// cli runs the command for s and returns its exit code and output.
func cli(s *orm.Schema, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = migratecli.Command{Schema: s, Name: "app"}.Run(ctx, args, &out, &errOut)
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

// engine is a database the command reaches through its flags (flags),
// and the test through db.
type engine struct {
	flags []string
	db    *orm.DB
}

func (e engine) args(cmd string, extra ...string) []string {
	return append(append([]string{cmd}, e.flags...), extra...)
}

func (e engine) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := e.db.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// state is the database as introspection sees it, with each table's row
// count: equal states mean nothing was applied.
func (e engine) state(t *testing.T) string {
	t.Helper()
	live, err := migrate.Introspect(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, tb := range live.Tables {
		counts[tb.Name] = e.count(t, tb.Name)
	}
	p, _ := json.Marshal(struct {
		Live   *migrate.Database
		Counts map[string]int64
	}{live, counts})
	return string(p)
}

func (e engine) count(t *testing.T, table string) int64 {
	t.Helper()
	rows, err := e.db.Query(ctx, "SELECT COUNT(*) FROM "+dialect.QuoteIdent(table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	if !rows.Next() || rows.Scan(&n) != nil {
		t.Fatalf("count %s: %v", table, rows.Err())
	}
	return n
}

// sqliteEngine is a fresh -data directory.
func sqliteEngine(t *testing.T) engine {
	dir := t.TempDir()
	pool, err := sqlite.Open(filepath.Join(dir, "plasma.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return engine{flags: []string{"-data", dir}, db: orm.New(pool, sqlite.Dialect)}
}

// postgresEngine is a fresh PostgreSQL schema, named to the command by a
// URL whose search_path selects it (as ormtest does).
func postgresEngine(t *testing.T) engine {
	base := os.Getenv(ormtest.EnvPostgres)
	if base == "" {
		t.Skipf("set %s to run the PostgreSQL half", ormtest.EnvPostgres)
	}
	admin, err := postgres.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "plasma_cli_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+dialect.QuoteIdent(schema)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP SCHEMA "+dialect.QuoteIdent(schema)+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	pool, err := postgres.Open(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return engine{flags: []string{"-postgres", u.String()}, db: orm.New(pool, postgres.Dialect)}
}

// each runs body on SQLite and on PostgreSQL.
func each(t *testing.T, body func(t *testing.T, e engine)) {
	t.Run("sqlite", func(t *testing.T) { body(t, sqliteEngine(t)) })
	t.Run("postgres", func(t *testing.T) { body(t, postgresEngine(t)) })
}
