package schemagen_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	"github.com/plasma-go/plasma/orm/migrate/schemagen"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var ctx = context.Background()

// liveDB is a database made for one case: its engine, the DSN a separate
// process opens it with, and a pool on it.
type liveDB struct {
	dialect string
	dsn     string
	db      *orm.DB
	close   func() // closes db's pool early (it is closed at cleanup anyway)
}

// engines returns the engines to test: SQLite, and PostgreSQL when
// ormtest.EnvPostgres is set.
func engines() []string {
	if os.Getenv(ormtest.EnvPostgres) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// newDB returns an empty database of the engine: a SQLite file in t's
// temp directory, or a PostgreSQL schema dropped when t ends.
func newDB(t testing.TB, engine string) *liveDB {
	t.Helper()
	if engine == "sqlite" {
		path := filepath.Join(t.TempDir(), "pull.db")
		pool, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pool.Close() })
		return &liveDB{dialect: engine, dsn: path, db: orm.New(pool, sqlite.Dialect), close: func() { pool.Close() }}
	}
	base := os.Getenv(ormtest.EnvPostgres)
	if base == "" {
		t.Skipf("set %s to run the PostgreSQL half", ormtest.EnvPostgres)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "plasma_pull_" + hex.EncodeToString(b)
	// The admin connection is opened for each statement, not held: a
	// round trip makes dozens of databases, and PostgreSQL's connections
	// are shared by every test on the machine.
	admin := func(q string) error {
		pool, err := postgres.Open(base)
		if err != nil {
			return err
		}
		defer pool.Close()
		_, err = pool.ExecContext(context.Background(), q)
		return err
	}
	if err := admin("CREATE SCHEMA " + dialect.QuoteIdent(name)); err != nil {
		t.Fatalf("%s is set but: %v", ormtest.EnvPostgres, err)
	}
	t.Cleanup(func() {
		if err := admin("DROP SCHEMA " + dialect.QuoteIdent(name) + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	pool, err := postgres.Open(u.String())
	if err != nil {
		t.Fatal(err)
	}
	pool.SetMaxOpenConns(2)
	t.Cleanup(func() { pool.Close() })
	return &liveDB{dialect: engine, dsn: u.String(), db: orm.New(pool, postgres.Dialect), close: func() { pool.Close() }}
}

// setUp creates the case's tables in the database: by EnsureSchema, or by
// migrate.Run (which records the kinds), or by its DDL.
func (c rtCase) setUp(t testing.TB, l *liveDB, run bool) {
	t.Helper()
	if c.ddl != nil {
		for _, q := range c.ddl[l.dialect] {
			if _, err := l.db.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return
	}
	s, err := orm.DefineSchema("7", c.tables()...)
	if err != nil {
		t.Fatal(err)
	}
	if run {
		if _, err := migrate.Run(ctx, s, l.db, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := orm.EnsureSchema(ctx, s, l.db); err != nil {
		t.Fatal(err)
	}
}

// generated is one generated package and the database it must match;
// fresh, if set, is an empty database of the same engine to create from
// it and pull again, which must give the same source.
type generated struct {
	pkg, dialect, dsn, fresh string
	wantEmpty                bool
}

// TestRoundTrip pulls every case's database on each engine, created by
// EnsureSchema, by migrate.Run or by foreign DDL, then compiles the
// generated packages into one program that diffs each Schema against the
// database it came from with migrate.Diff: every diff must be empty, with
// nothing untracked. For the cases made from a schema, the program also
// creates a fresh database from the generated Schema and pulls it again:
// the source must come out the same. The Lossy output for a database with
// what plasma cannot declare must compile and define too.
func TestRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a program")
	}
	dir := t.TempDir()
	var gens []generated
	for _, engine := range engines() {
		for _, c := range rtCases {
			states := []bool{false, true}
			if c.ddl != nil {
				states = []bool{false}
			}
			for _, run := range states {
				name := fmt.Sprintf("%s_%s", engine, c.name)
				if run {
					name += "_run"
				}
				l := newDB(t, engine)
				c.setUp(t, l, run)
				src, err := schemagen.Generate(ctx, l.db, schemagen.Options{Package: name})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				again, err := schemagen.Generate(ctx, l.db, schemagen.Options{Package: name})
				if err != nil || !bytes.Equal(src, again) {
					t.Fatalf("%s: a second Generate wrote other source (%v)", name, err)
				}
				writeGen(t, dir, name, src)
				l.close()
				g := generated{pkg: name, dialect: engine, dsn: l.dsn, wantEmpty: true}
				if c.ddl == nil {
					fresh := newDB(t, engine)
					fresh.close()
					g.fresh = fresh.dsn
				}
				gens = append(gens, g)
			}
		}
		name := engine + "_lossy"
		l := newDB(t, engine)
		for _, q := range lossyDDL[engine] {
			if _, err := l.db.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		src, err := schemagen.Generate(ctx, l.db, schemagen.Options{Package: name, Lossy: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		writeGen(t, dir, name, src)
		l.close()
		gens = append(gens, generated{pkg: name, dialect: engine, dsn: l.dsn})
	}
	out := runProgram(t, dir, gens)
	for _, g := range gens {
		if !strings.Contains(out, "ok "+g.pkg+"\n") {
			t.Errorf("%s: no ok line", g.pkg)
		}
	}
	if t.Failed() {
		t.Logf("program output:\n%s", out)
	}
}

func writeGen(t *testing.T, dir, pkg string, src []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, pkg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pkg, "schema_gen.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runProgram writes a main package that diffs each generated Schema
// against its database, in a module of its own joined to this repository
// by a go.work file, and runs it.
func runProgram(t *testing.T, dir string, gens []generated) string {
	t.Helper()
	root := repoRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go \S+$`).Find(gomod)
	var main strings.Builder
	main.WriteString("package main\n\nimport (\n\t\"context\"\n\t\"database/sql\"\n\t\"fmt\"\n\t\"os\"\n\n")
	main.WriteString("\t\"github.com/plasma-go/plasma/dialect/postgres\"\n\t\"github.com/plasma-go/plasma/dialect/sqlite\"\n")
	main.WriteString("\t\"github.com/plasma-go/plasma/orm\"\n\t\"github.com/plasma-go/plasma/orm/migrate\"\n")
	main.WriteString("\t\"github.com/plasma-go/plasma/orm/migrate/schemagen\"\n")
	for _, g := range gens {
		fmt.Fprintf(&main, "\t%s \"pullcheck/%s\"\n", g.pkg, g.pkg)
	}
	main.WriteString(")\n\nvar cases = []struct {\n\tname, dialect, dsn, fresh string\n\twantEmpty bool\n\tschema *orm.Schema\n}{\n")
	for _, g := range gens {
		fmt.Fprintf(&main, "\t{%q, %q, %s, %s, %v, %s.Schema},\n", g.pkg, g.dialect, strconv.Quote(g.dsn), strconv.Quote(g.fresh), g.wantEmpty, g.pkg)
	}
	main.WriteString("}\n" + checkMain)
	files := map[string]string{
		"go.mod":  "module pullcheck\n\n" + string(goLine) + "\n",
		"go.work": string(goLine) + "\n\nuse (\n\t.\n\t" + strconv.Quote(root) + "\n)\n",
		"main.go": main.String(),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(dir, "go.work"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	return string(out)
}

// checkMain diffs each case's Schema against its database.
const checkMain = `
func main() {
	failed := false
	for _, c := range cases {
		if err := check(c.name, c.dialect, c.dsn, c.fresh, c.wantEmpty, c.schema); err != nil {
			fmt.Printf("FAIL %s: %v\n", c.name, err)
			failed = true
			continue
		}
		fmt.Printf("ok %s\n", c.name)
	}
	if failed {
		os.Exit(1)
	}
}

func open(dialect, dsn string) (*orm.DB, func(), error) {
	var pool *sql.DB
	var err error
	var db *orm.DB
	if dialect == "sqlite" {
		pool, err = sqlite.Open(dsn)
	} else {
		pool, err = postgres.Open(dsn)
	}
	if err != nil {
		return nil, nil, err
	}
	if dialect == "sqlite" {
		db = orm.New(pool, sqlite.Dialect)
	} else {
		db = orm.New(pool, postgres.Dialect)
	}
	pool.SetMaxOpenConns(2)
	return db, func() { pool.Close() }, nil
}

func check(name, dialect, dsn, fresh string, wantEmpty bool, s *orm.Schema) error {
	ctx := context.Background()
	db, closeDB, err := open(dialect, dsn)
	if err != nil {
		return err
	}
	defer closeDB()
	diff, err := migrate.Diff(ctx, s, db, migrate.Options{})
	if err != nil {
		return err
	}
	if wantEmpty && (!diff.Empty() || len(diff.Untracked) > 0) {
		return fmt.Errorf("want an empty diff, got:\n%s", diff)
	}
	if fresh == "" {
		return nil
	}
	db2, close2, err := open(dialect, fresh)
	if err != nil {
		return err
	}
	defer close2()
	if _, err := migrate.Run(ctx, s, db2, migrate.Options{}); err != nil {
		return fmt.Errorf("create a database from the generated schema: %w", err)
	}
	again, err := schemagen.Generate(ctx, db2, schemagen.Options{Package: name})
	if err != nil {
		return fmt.Errorf("pull the database made from the generated schema: %w", err)
	}
	src, err := os.ReadFile(name + "/schema_gen.go")
	if err != nil {
		return err
	}
	if string(src) != string(again) {
		return fmt.Errorf("pulling the database made from the generated schema gives other source:\n%s\n-- instead of --\n%s", again, src)
	}
	return nil
}
`

// repoRoot is the directory of the repository's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// lossyDDL has what a plasma schema cannot declare: types no kind maps
// to, expression defaults, ON DELETE SET DEFAULT, a nullable key, a table
// without a key, and what migrate leaves alone (CHECK, a multi-column
// UNIQUE, ON UPDATE, partial and expression indexes, generated columns).
var lossyDDL = map[string][]string{
	"sqlite": {
		`CREATE TABLE accounts (id TEXT PRIMARY KEY, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, ratio REAL, code TEXT DEFAULT 5, a TEXT, b TEXT, twice INT GENERATED ALWAYS AS (length(a) * 2), CHECK (length(id) > 0), UNIQUE (a, b))`,
		`CREATE TABLE entries (id TEXT NOT NULL PRIMARY KEY, account_id TEXT DEFAULT 'x' REFERENCES accounts (id) ON DELETE SET DEFAULT ON UPDATE CASCADE, owner TEXT REFERENCES accounts (id) ON UPDATE CASCADE)`,
		`CREATE TABLE loose (a TEXT, b INT)`,
		`CREATE INDEX entries_partial ON entries (owner) WHERE owner IS NOT NULL`,
		`CREATE INDEX entries_expr ON entries (lower(owner))`,
	},
	"postgres": {
		`CREATE TABLE accounts (id text PRIMARY KEY, created_at timestamptz DEFAULT now(), ratio numeric(10,2), uid uuid DEFAULT gen_random_uuid(), a text, b text, twice int GENERATED ALWAYS AS (length(a) * 2) STORED, n serial, CHECK (length(id) > 0), UNIQUE (a, b))`,
		`CREATE TABLE entries (id text PRIMARY KEY, account_id text DEFAULT 'x' REFERENCES accounts (id) ON DELETE SET DEFAULT ON UPDATE CASCADE, owner text REFERENCES accounts (id) ON UPDATE CASCADE, tags text[])`,
		`CREATE TABLE loose (a text, b int)`,
		`CREATE INDEX entries_partial ON entries (owner) WHERE owner IS NOT NULL`,
		`CREATE INDEX entries_expr ON entries (lower(owner))`,
	},
}
