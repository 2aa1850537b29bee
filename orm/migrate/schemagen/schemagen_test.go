package schemagen_test

import (
	"database/sql"
	"errors"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate/schemagen"
)

// each runs body on a fresh database of each engine.
func each(t *testing.T, body func(t *testing.T, l *liveDB)) {
	for _, e := range []string{"sqlite", "postgres"} {
		t.Run(e, func(t *testing.T) { body(t, newDB(t, e)) })
	}
}

func execAll(t *testing.T, l *liveDB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := l.db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// mustParse checks that src is Go.
func mustParse(t testing.TB, src []byte) {
	t.Helper()
	if _, err := parser.ParseFile(token.NewFileSet(), "schema_gen.go", src, parser.AllErrors); err != nil {
		t.Fatalf("generated source does not parse: %v\n%s", err, src)
	}
}

func TestEmptyDatabase(t *testing.T) {
	each(t, func(t *testing.T, l *liveDB) {
		if _, err := schemagen.Generate(ctx, l.db, schemagen.Options{}); !errors.Is(err, schemagen.ErrNoTables) {
			t.Fatalf("empty database: %v", err)
		}
		// plasma's own tables are never declared.
		execAll(t, l, `CREATE TABLE _plasma_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
		if _, err := schemagen.Generate(ctx, l.db, schemagen.Options{}); !errors.Is(err, schemagen.ErrNoTables) {
			t.Fatalf("only plasma's tables: %v", err)
		}
		if _, err := schemagen.Generate(ctx, l.db, schemagen.Options{Tables: []string{"_plasma_meta"}}); !errors.Is(err, schemagen.ErrUnknownTable) {
			t.Fatalf("naming plasma's table: %v", err)
		}
	})
}

// What plasma cannot declare is an error naming each thing; Lossy
// declares the rest and says what it left out where it did.
func TestUnsupported(t *testing.T) {
	each(t, func(t *testing.T, l *liveDB) {
		execAll(t, l, lossyDDL[l.dialect]...)
		_, err := schemagen.Generate(ctx, l.db, schemagen.Options{})
		var ue *schemagen.UnsupportedError
		if !errors.As(err, &ue) {
			t.Fatalf("want *UnsupportedError, got %v", err)
		}
		want := map[string][]string{
			"sqlite": {`table "accounts", column "id": the database lets this key column hold NULL`,
				`table "accounts", column "created_at": no plasma kind has its type "TIMESTAMP"`,
				`table "accounts", column "ratio": no plasma kind has its type "REAL"`,
				`table "accounts", column "code": the default "5" is no text value`,
				`table "entries", column "account_id": its reference to "accounts" ("id") is ON DELETE SET DEFAULT`,
				`table "loose": it has no primary key`},
			"postgres": {`table "accounts", column "created_at": no plasma kind has its type "timestamp with time zone"`,
				`table "accounts", column "ratio": no plasma kind has its type "numeric(10,2)"`,
				`table "accounts", column "uid": no plasma kind has its type "uuid"`,
				`table "accounts", column "n": the database assigns it (integer)`,
				`table "entries", column "account_id": its reference to "accounts" ("id") is ON DELETE SET DEFAULT`,
				`table "entries", column "tags": no plasma kind has its type "text[]"`,
				`table "loose": it has no primary key`},
		}[l.dialect]
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("the error lacks %q:\n%v", w, err)
			}
		}
		if len(ue.Problems) != len(want) {
			t.Errorf("%d problems, want %d:\n%v", len(ue.Problems), len(want), err)
		}
		src, err := schemagen.Generate(ctx, l.db, schemagen.Options{Lossy: true})
		if err != nil {
			t.Fatal(err)
		}
		mustParse(t, src)
		for _, w := range []string{`Column "created_at" is not declared:`, `Table "loose" is not declared:`,
			"The table also has what a plasma schema cannot declare:", "CHECK", "multi-column UNIQUE constraint",
			"generated column", "ON UPDATE action", `Index "entries_partial" is partial`, `Index "entries_expr" is on`,
			"The database's reference also has ON UPDATE CASCADE", `orm.Text("account_id").Nullable().Default("x"),`} {
			if !strings.Contains(unwrap(src), w) {
				t.Errorf("the lossy source lacks %q:\n%s", w, src)
			}
		}
	})
}

// Names plasma refuses (its reserved prefix, an engine's, names equal but
// for case) are problems too, and Lossy leaves exactly them out.
func TestRefusedNames(t *testing.T) {
	each(t, func(t *testing.T, l *liveDB) {
		execAll(t, l,
			`CREATE TABLE ok (id TEXT NOT NULL PRIMARY KEY, "_plasma_x" TEXT, v TEXT)`,
			`CREATE INDEX "Pg_ix" ON ok (v)`,
			`CREATE TABLE child (id TEXT NOT NULL PRIMARY KEY, ok_id TEXT REFERENCES ok (id) ON DELETE CASCADE)`)
		if l.dialect == "postgres" {
			execAll(t, l, `CREATE TABLE "OK" (id TEXT PRIMARY KEY)`, `CREATE INDEX "IX" ON ok (v)`, `CREATE INDEX "ix" ON child (ok_id)`,
				`CREATE TABLE cased (id TEXT PRIMARY KEY, "Name" TEXT, name TEXT)`)
		}
		_, err := schemagen.Generate(ctx, l.db, schemagen.Options{})
		var ue *schemagen.UnsupportedError
		if !errors.As(err, &ue) {
			t.Fatalf("want *UnsupportedError, got %v", err)
		}
		for _, w := range []string{`column "_plasma_x": plasma cannot declare it`, `index "Pg_ix" is not declared`} {
			if l.dialect == "postgres" && strings.Contains(w, "_plasma_x") {
				continue // the table "ok" is left out whole there, for "OK"
			}
			if !strings.Contains(err.Error(), w) {
				t.Errorf("the error lacks %q:\n%v", w, err)
			}
		}
		src, err := schemagen.Generate(ctx, l.db, schemagen.Options{Lossy: true})
		if err != nil {
			t.Fatal(err)
		}
		mustParse(t, src)
		if l.dialect == "postgres" {
			// "OK" and "ok" would be one table on SQLite, and "Name" and
			// "name" one column: one of each is left out.
			if strings.Count(string(src), "orm.NewTable(") != 3 || !strings.Contains(unwrap(src), "duplicate table") ||
				!strings.Contains(unwrap(src), `Column "name" is not declared: plasma cannot declare it (plasma: schema: table "cased": column "name": duplicate column)`) {
				t.Errorf("want one of ok and OK declared, and one of Name and name:\n%s", src)
			}
			return
		}
		for _, w := range []string{`var Ok = orm.NewTable("ok",`, `orm.Text("ok_id").Nullable().References("ok", "id", tabledef.Cascade)`} {
			if !strings.Contains(string(src), w) {
				t.Errorf("the lossy source lacks %q:\n%s", w, src)
			}
		}
	})
}

func TestOptions(t *testing.T) {
	l := newDB(t, "sqlite")
	execAll(t, l, `CREATE TABLE a (id TEXT NOT NULL PRIMARY KEY)`,
		`CREATE TABLE b (id TEXT NOT NULL PRIMARY KEY, a_id TEXT REFERENCES a (id))`)
	for _, pkg := range []string{"my-schema", "_", "func", "1x", "a b"} {
		if _, err := schemagen.Generate(ctx, l.db, schemagen.Options{Package: pkg}); err == nil || !strings.Contains(err.Error(), "not a Go identifier") {
			t.Errorf("package %q: %v", pkg, err)
		}
	}
	if _, err := schemagen.Generate(ctx, l.db, schemagen.Options{Tables: []string{"a", "nope"}}); !errors.Is(err, schemagen.ErrUnknownTable) {
		t.Errorf("unknown table: %v", err)
	}
	// A reference to a table left out is a problem; with the table, none.
	var ue *schemagen.UnsupportedError
	if _, err := schemagen.Generate(ctx, l.db, schemagen.Options{Tables: []string{"b"}}); !errors.As(err, &ue) || ue.Problems[0].Column != "a_id" {
		t.Errorf("reference outside Tables: %v", err)
	}
	src, err := schemagen.Generate(ctx, l.db, schemagen.Options{Tables: []string{"b", "a"}, Version: "v2", Package: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `orm.MustDefineSchema("v2", A, B)`) || !strings.Contains(string(src), "package p\n") {
		t.Errorf("%s", src)
	}
	if _, err := schemagen.Generate(ctx, nil, schemagen.Options{}); err == nil {
		t.Error("nil database: no error")
	}
}

// An unreachable server is an error saying so.
func TestUnreachable(t *testing.T) {
	pool, err := sql.Open("postgres", "postgres://u@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = schemagen.Generate(ctx, orm.New(pool, postgres.Dialect), schemagen.Options{})
	if err == nil || !strings.Contains(err.Error(), "read the database") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("got %v", err)
	}
}

// FuzzNames: any table and column name SQLite takes yields Go that
// parses and quotes the names, or an *UnsupportedError; never a panic or
// another error.
func FuzzNames(f *testing.F) {
	for _, s := range append(identHostileNames, "id", "Schema", "_plasma_x", "sqlite_x", strings.Repeat("x", 64), "\x00", "\xff", "`", "*/") {
		f.Add(s, s+"_col")
	}
	f.Fuzz(func(t *testing.T, table, column string) {
		db, err := orm.Open(sqlite.Dialect, ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		q := `CREATE TABLE ` + quote(table) + ` (id TEXT NOT NULL PRIMARY KEY, ` + quote(column) + ` TEXT DEFAULT ` + literal(column) + `)`
		if _, err := db.Exec(ctx, q); err != nil {
			return // a name SQLite refuses
		}
		for _, lossy := range []bool{false, true} {
			src, err := schemagen.Generate(ctx, db, schemagen.Options{Lossy: lossy})
			var ue *schemagen.UnsupportedError
			switch {
			case errors.As(err, &ue) || errors.Is(err, schemagen.ErrNoTables):
				continue
			case err != nil:
				t.Fatalf("%q.%q: %v", table, column, err)
			}
			mustParse(t, src)
			if !strings.Contains(string(src), "orm.NewTable("+strconv.Quote(table)) && !strings.Contains(string(src), "orm.NewTable(`"+table+"`") {
				t.Fatalf("%q is not declared:\n%s", table, src)
			}
		}
	})
}

// unwrap joins wrapped comment lines.
func unwrap(src []byte) string {
	return strings.NewReplacer("\n\t// ", " ", "\n// ", " ").Replace(string(src))
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func literal(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
