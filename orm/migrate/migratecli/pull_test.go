package migratecli_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm/migrate/migratecli"
)

// pull runs the pull command, with no schema, as a program that only
// pulls would.
func pull(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = migratecli.Command{Name: "app"}.Run(ctx, append([]string{"pull"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// pull writes the declaration of the database to a file or to standard
// output, changing nothing in the database, on both engines.
func TestPull(t *testing.T) {
	each(t, func(t *testing.T, e engine) {
		if code, _, stderr := cli(appV1(), e.args("migrate")...); code != 0 {
			t.Fatalf("migrate: %d %s", code, stderr)
		}
		e.exec(t, `INSERT INTO notes (id, title) VALUES ('n1', 'x')`)
		before := e.state(t)
		out := filepath.Join(t.TempDir(), "schema_gen.go")
		code, stdout, stderr := pull(append(e.flags, "-package", "appschema", "-o", out)...)
		if code != 0 {
			t.Fatalf("pull: %d %s", code, stderr)
		}
		mustContain(t, "stdout", stdout, "wrote "+out)
		src, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, "the file", string(src), "package appschema", `var Notes = orm.NewTable("notes",`,
			`orm.Text("note_id").References("notes", "id", tabledef.Cascade)`,
			`{Name: "notes_title", Columns: []string{"title"}}`, `orm.MustDefineSchema("1", Notes, Tags)`)
		if after := e.state(t); after != before {
			t.Fatalf("pull changed the database:\n%s\n%s", before, after)
		}
		// Standard output, a subset of tables, another version.
		code, stdout, stderr = pull(append(e.flags, "-tables", "notes", "-version", "v9")...)
		if code != 0 {
			t.Fatalf("pull: %d %s", code, stderr)
		}
		mustContain(t, "stdout", stdout, "package schema", `orm.MustDefineSchema("v9", Notes)`)
		if strings.Contains(stdout, "Tags") {
			t.Errorf("-tables notes declared tags:\n%s", stdout)
		}
	})
}

// pull reads a SQLite file read-only: it does not switch it to WAL, and
// a missing file is an error, not a new database.
func TestPullSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "other.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE items (sku TEXT NOT NULL PRIMARY KEY, qty INT NOT NULL DEFAULT 0, at TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := pull("-sqlite", path)
	if code != 1 {
		t.Fatalf("want exit 1 for a TIMESTAMP column, got %d:\n%s", code, stdout)
	}
	mustContain(t, "stderr", stderr, `table "items", column "at": no plasma kind has its type "TIMESTAMP"`, "-lossy")
	code, stdout, stderr = pull("-sqlite", path, "-lossy")
	if code != 0 {
		t.Fatalf("-lossy: %d %s", code, stderr)
	}
	mustContain(t, "stdout", stdout, "The database has 1 thing(s) this declaration cannot say", `orm.Text("sku").PrimaryKey()`, `orm.Int("qty").Default(0)`, `Column "at" is not declared:`, "External: true")
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "delete" {
		t.Fatalf("journal mode %q %v: pull changed it", mode, err)
	}

	missing := filepath.Join(dir, "missing.db")
	code, _, stderr = pull("-sqlite", missing)
	if code != 1 || !strings.Contains(stderr, "no SQLite database at "+missing) {
		t.Fatalf("missing file: %d %s", code, stderr)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("pull created %s", missing)
	}
}

// Bad input: clear errors, the right exit codes, no partial output file.
func TestPullBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full.db")
	raw, err := sql.Open("sqlite", "file:"+full)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE a (id TEXT NOT NULL PRIMARY KEY); CREATE TABLE b (id TEXT NOT NULL PRIMARY KEY, a_id TEXT REFERENCES a (id))`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable server", []string{"-postgres", "postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}, 1, "postgres://u:xxxxx@127.0.0.1:1/x?sslmode=disable&connect_timeout=2: plasma: open postgres: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"empty database", []string{"-sqlite", empty}, 1, "no tables to declare"},
		{"data dir without a database", []string{"-data", filepath.Join(dir, "nothing")}, 1, "no SQLite database at"},
		{"a directory", []string{"-sqlite", dir}, 1, "not a regular file"},
		{"unknown table", []string{"-sqlite", full, "-tables", "a,zzz"}, 1, `no such table: "zzz"`},
		{"reference outside the tables", []string{"-sqlite", full, "-tables", "b"}, 1, `table "b", column "a_id"`},
		{"bad package", []string{"-sqlite", full, "-package", "my-schema"}, 1, `package name "my-schema" is not a Go identifier`},
		{"two databases", []string{"-sqlite", full, "-postgres", "postgres://x"}, 2, "give one of -data, -sqlite and -postgres"},
		{"positional argument", []string{"-sqlite", full, "extra"}, 2, "unexpected arguments"},
		{"output in a missing directory", []string{"-sqlite", full, "-o", filepath.Join(dir, "no", "such", "x.go")}, 1, "no such file or directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var out, errOut bytes.Buffer
			code := migratecli.Command{Name: "app"}.Run(cctx, append([]string{"pull"}, c.args...), &out, &errOut)
			if code != c.code || !strings.Contains(errOut.String(), c.want) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant %q", code, c.code, errOut.String(), c.want)
			}
			if strings.Contains(errOut.String(), "hunter2") {
				t.Fatalf("the password is in the message: %s", errOut.String())
			}
			if out.Len() > 0 {
				t.Fatalf("output on failure: %s", out.String())
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("pull left files behind: %v", entries)
	}
	// -h prints the usage to stdout.
	code, stdout, _ := pull("-h")
	if code != 0 || !strings.Contains(stdout, "usage: app pull") || !strings.Contains(stdout, "-lossy") {
		t.Fatalf("%d %s", code, stdout)
	}
}
