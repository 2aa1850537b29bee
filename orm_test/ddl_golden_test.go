package ormtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/tabledef"
)

// goldenDDLTables is the golden DDL schema, testschema.Golden: every
// column kind, defaults of every kind, UNIQUE, each ON DELETE action, a
// reference cycle, indexes, an autoincrement key and a composite key.
// extra columns go to docs, so migration plans can start from a subset.
func goldenDDLTables(extra ...orm.Column) []*orm.Table { return testschema.Golden(extra...) }

func goldenDDLSchema(t testing.TB) *orm.Schema {
	t.Helper()
	s, err := orm.DefineSchema("1", goldenDDLTables()...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkGolden compares got with testdata/golden/name, or rewrites it
// under -update, reporting the first differing line.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./orm_test -run Golden -update)", err)
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Fatalf("%s differs from the golden file at line %d (rerun with -update if intended):\ngot:  %s\nwant: %s", path, i+1, gl, wl)
		}
	}
}

func sqlLines(stmts []string) string {
	var b strings.Builder
	for _, s := range stmts {
		if strings.HasPrefix(s, "--") {
			fmt.Fprintf(&b, "%s\n", s)
		} else {
			fmt.Fprintf(&b, "%s;\n", s)
		}
	}
	return b.String()
}

// TestGoldenDDL pins the statements that create the representative
// schema on each engine: migrate.CreateSQL, which is what migrate.Run
// executes on an empty database and what `schema -dialect` prints.
func TestGoldenDDL(t *testing.T) {
	s := goldenDDLSchema(t)
	for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
		t.Run(d.Name(), func(t *testing.T) {
			stmts, err := migrate.CreateSQL(d, s)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "ddl_"+d.Name()+".sql", "-- the representative schema of ddl_golden_test.go, created on "+d.Name()+"\n"+sqlLines(stmts))
		})
	}
}

// TestGoldenDDLRuns runs the pinned DDL on each engine: the engines
// accept it, and the database it makes diffs empty against the schema.
func TestGoldenDDLRuns(t *testing.T) {
	s := goldenDDLSchema(t)
	perEngine(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		stmts, err := migrate.CreateSQL(tg.Dialect, s)
		if err != nil {
			t.Fatal(err)
		}
		pool := tg.SQL
		tx, err := pool.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				tx.Rollback()
				t.Fatalf("%v\n%s", err, q)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		diff, err := migrate.Diff(ctx, s, orm.New(pool, tg.Dialect), migrate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !diff.Empty() {
			t.Fatalf("the golden DDL does not make the schema:\n%s", diff)
		}
	})
}

// perEngine runs body once per engine on a fresh database whose DB is a
// pool: migrate takes a connection of its own, which a caller's
// transaction would block, so these tests do not run per executor mode.
func perEngine(t *testing.T, body func(t *testing.T, tg *ormtest.Target)) {
	t.Run("sqlite", func(t *testing.T) { body(t, ormtest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { body(t, ormtest.Postgres(t)) })
}

// goldenPlans are schema changes from goldenDDLTables, each planned
// against a database made from that schema.
func goldenPlans() []struct {
	name   string
	tables []*orm.Table
} {
	withDocs := func(edit func(docs *orm.Table) *orm.Table, extra ...orm.Column) []*orm.Table {
		ts := goldenDDLTables(extra...)
		ts[0] = edit(ts[0])
		return ts
	}
	same := func(t *orm.Table) *orm.Table { return t }
	return []struct {
		name   string
		tables []*orm.Table
	}{
		{"add column", withDocs(same,
			orm.Text("summary").Default(""),
			orm.JSON("history").Nullable(),
			orm.CRDTCounter("likes").Default(json.RawMessage(`{}`)),
			orm.Text("reviewer_id").Nullable().References("owners", "id", tabledef.SetNull))},
		{"add index", withDocs(func(d *orm.Table) *orm.Table {
			return d.With(orm.TableOptions{Indexes: append(d.Options().Indexes,
				orm.Index{Name: "docs_lang", Columns: []string{"lang"}},
				orm.Index{Name: "docs_title_lang", Columns: []string{"title", "lang"}, Unique: true})})
		})},
		{"add table", append(goldenDDLTables(),
			orm.NewTable("comments", orm.ID(), orm.Text("doc_id").References("docs", "id", tabledef.Cascade),
				orm.Text("body"), orm.CRDTORSet("reactions").Nullable()).
				With(orm.TableOptions{Indexes: []orm.Index{{Name: "comments_doc", Columns: []string{"doc_id"}}}}))},
		{"refused destructive change", goldenRefusedTables()},
	}
}

// goldenRefusedTables drops a column, changes a kind and tightens a NOT
// NULL in docs, and drops the table pairs.
func goldenRefusedTables() []*orm.Table {
	ts := goldenDDLTables()
	var cols []orm.Column
	for _, c := range ts[0].Columns() {
		switch c.Name() {
		case "subtitle": // dropped
			continue
		case "rank":
			c = orm.BigInt("rank").Default(-1)
		case "thumb":
			c = orm.Blob("thumb")
		}
		cols = append(cols, c)
	}
	docs := orm.NewTable("docs", cols...).With(ts[0].Options())
	return []*orm.Table{docs, ts[1], ts[2]}
}

// TestGoldenMigrationPlans pins, per engine, the steps and SQL of a few
// migrations from the representative schema (migrate.Diff, as `migrate
// -dry-run` prints them), and for the refused one Run's error, after
// checking that Run applied nothing.
func TestGoldenMigrationPlans(t *testing.T) {
	base := goldenDDLSchema(t)
	perEngine(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := tg.DB
		if _, err := migrate.Run(ctx, base, db, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "-- migration plans from the representative schema of ddl_golden_test.go, on %s\n", tg.Dialect.Name())
		for _, p := range goldenPlans() {
			s, err := orm.DefineSchema("2", p.tables...)
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			diff, err := migrate.Diff(ctx, s, db, migrate.Options{})
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			fmt.Fprintf(&b, "\n-- plan: %s\n%s", p.name, commentLines(diff.String()))
			b.WriteString(sqlLines(diff.SQL))
			if len(diff.Refused()) > 0 {
				b.WriteString(commentLines(refusal(t, ctx, s, db)))
			}
		}
		checkGolden(t, "migrate_"+tg.Dialect.Name()+".sql", b.String())
	})
}

// refusal runs the migration, which must be refused with nothing
// applied, and returns the error's text.
func refusal(t *testing.T, ctx context.Context, s *orm.Schema, db *orm.DB) string {
	t.Helper()
	before, err := migrate.Introspect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = migrate.Run(ctx, s, db, migrate.Options{})
	var refused *migrate.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("want a refusal, got %v", err)
	}
	after, ierr := migrate.Introspect(ctx, db)
	if ierr != nil {
		t.Fatal(ierr)
	}
	if b, a := fmt.Sprint(json.Marshal(before)), fmt.Sprint(json.Marshal(after)); b != a {
		t.Fatalf("a refused migration changed the database:\n%s\n%s", b, a)
	}
	return "refused: " + err.Error() + "\n"
}

func commentLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString(strings.TrimRight("-- "+l, " ") + "\n")
	}
	return b.String()
}
