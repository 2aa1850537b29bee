package migratecli_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	"github.com/plasma-go/plasma/orm/migrate/migratecli"
)

// TestBadUsage: every mistake on the command line exits 2 with the reason
// and the usage on stderr, and touches no database.
func TestBadUsage(t *testing.T) {
	each(t, func(t *testing.T, e engine) {
		before := e.state(t)
		for _, c := range []struct {
			args []string
			want string
		}{
			{nil, "usage: app <command>"},
			{[]string{"explode"}, `unknown command "explode"`},
			{e.args("migrate", "-bogus"), "flag provided but not defined: -bogus"},
			{e.args("migrate", "extra"), `unexpected arguments ["extra"]`},
			{e.args("migrate", "-allow", "explode table x"), "unknown step kind"},
			{e.args("migrate", "-allow", "drop column"), "-allow"},
			{[]string{"migrate", "-data", t.TempDir(), "-postgres", "postgres://x"}, "give -data or -postgres, not both"},
			{[]string{"migrate", "-data", ""}, "-data needs a directory"},
			{e.args("schema", "-dialect", "sqlite"), "-dialect prints without a database"},
			{[]string{"schema", "-dialect", "mysql"}, `-dialect "mysql": want sqlite or postgres`},
			{e.args("schema", "-dry-run"), "flag provided but not defined: -dry-run"},
		} {
			code, out, errOut := cli(appV1(), c.args...)
			if code != migratecli.ExitUsage || out != "" || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "usage: app") {
				t.Errorf("%q: exit %d, stdout %q, stderr:\n%s", c.args, code, out, errOut)
			}
		}
		if after := e.state(t); after != before {
			t.Fatalf("bad usage changed the database:\n%s\n%s", before, after)
		}
	})
}

func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"help"}, []string{"migrate", "schema", "app <command> -h"}},
		{[]string{"migrate", "-h"}, []string{"usage: app migrate", "schema (version 1)", "-dry-run", "-json", "-allow STEP", "-data DIR", "-postgres URL"}},
		{[]string{"schema", "--help"}, []string{"usage: app schema", "-dialect engine", "-data DIR"}},
	} {
		code, out, errOut := cli(appV1(), c.args...)
		if code != migratecli.ExitOK || errOut != "" {
			t.Errorf("%q: exit %d, stderr %s", c.args, code, errOut)
		}
		mustContain(t, strings.Join(c.args, " "), out, c.wants...)
	}
	if code, _, errOut := cli(nil, "migrate"); code != migratecli.ExitFailed || !strings.Contains(errOut, "no schema") {
		t.Errorf("nil schema: exit %d: %s", code, errOut)
	}
}

// TestMigrate runs the command through a dry run, an application, a
// second run with nothing to do, refusals that apply nothing, and allowed
// destructive steps that apply exactly what was named.
func TestMigrate(t *testing.T) {
	each(t, func(t *testing.T, e engine) {
		v1, v2 := appV1(), appV2()
		empty := e.state(t)
		code, out, errOut := cli(v1, e.args("migrate", "-dry-run")...)
		if code != 0 || errOut != "" {
			t.Fatalf("dry run: exit %d: %s", code, errOut)
		}
		mustContain(t, "dry run", out, "+ add table notes", "+ add table tags", `CREATE TABLE "notes"`, `CREATE INDEX "notes_title"`, "dry run: nothing applied")
		if e.state(t) != empty {
			t.Fatal("the dry run changed the database")
		}

		code, out, errOut = cli(v1, e.args("migrate")...)
		if code != 0 {
			t.Fatalf("apply: exit %d: %s", code, errOut)
		}
		mustContain(t, "apply", out, "applied: add table notes", "applied: add table tags", "done: 2 step(s) applied, schema version 1 recorded")
		if code, out, _ = cli(v1, e.args("migrate")...); code != 0 || !strings.Contains(out, "nothing to do") {
			t.Fatalf("second run: exit %d\n%s", code, out)
		}

		e.exec(t, `INSERT INTO notes (id, title, legacy) VALUES ('n1', 'milk', 'x')`)
		e.exec(t, `INSERT INTO tags (id, note_id, name) VALUES ('t1', 'n1', 'home')`)
		e.exec(t, `CREATE TABLE other (k TEXT)`) // another app's table
		e.exec(t, `INSERT INTO other (k) VALUES ('kept')`)
		refusedFlow(t, e, v2)
		allowedFlow(t, e, v2)
	})
}

// refusedFlow: v2's two drops are refused, and nothing at all is applied
// (not even v2's added column), with no allowance and with only one.
func refusedFlow(t *testing.T, e engine, v2 *orm.Schema) {
	t.Helper()
	before := e.state(t)
	code, out, errOut := cli(v2, e.args("migrate")...)
	if code != migratecli.ExitFailed {
		t.Fatalf("refusal: exit %d\n%s%s", code, out, errOut)
	}
	mustContain(t, "refusal stdout", out, "+ add column notes.pinned", "! drop column notes.legacy", "! drop column tags.name", "refused: nothing applied")
	mustContain(t, "refusal stderr", errOut, "app migrate:", "drop column notes.legacy is destructive", "drop column tags.name is destructive")

	code, out, errOut = cli(v2, e.args("migrate", "-allow", "drop column notes.legacy")...)
	if code != migratecli.ExitFailed {
		t.Fatalf("one of two allowed: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(errOut, "notes.legacy") || !strings.Contains(errOut, "drop column tags.name is destructive") {
		t.Errorf("one of two allowed: stderr should name only tags.name:\n%s", errOut)
	}
	if strings.Contains(out, "applied:") {
		t.Errorf("a refused run reported progress:\n%s", out)
	}
	if after := e.state(t); after != before {
		t.Fatalf("a refused run changed the database:\n%s\n%s", before, after)
	}
}

// allowedFlow: naming both drops applies them and v2's added column, and
// nothing else: the other app's table and its row stay.
func allowedFlow(t *testing.T, e engine, v2 *orm.Schema) {
	t.Helper()
	code, out, errOut := cli(v2, e.args("migrate", "-allow", "drop column notes.legacy", "--allow", "drop column tags.name")...)
	if code != 0 {
		t.Fatalf("allowed: exit %d: %s\n%s", code, errOut, out)
	}
	var applied []string
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "applied: "); ok {
			applied = append(applied, strings.SplitN(s, ":", 2)[0])
		}
	}
	slices.Sort(applied)
	if want := []string{"add column notes.pinned", "drop column notes.legacy", "drop column tags.name"}; !slices.Equal(applied, want) {
		t.Errorf("applied %q, want exactly %q\n%s", applied, want, out)
	}
	mustContain(t, "allowed", out, "done: 3 step(s) applied, schema version 2 recorded", `left alone: table "other"`)
	if e.count(t, "other") != 1 || e.count(t, "notes") != 1 || e.count(t, "tags") != 1 {
		t.Errorf("rows lost: other %d, notes %d, tags %d", e.count(t, "other"), e.count(t, "notes"), e.count(t, "tags"))
	}
	if code, out, _ = cli(v2, e.args("migrate")...); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("after: exit %d\n%s", code, out)
	}
}

// TestMigrateJSON pins the shape of -json: a migrate.SchemaDiff with
// these keys, on a dry run, an application and a refusal.
func TestMigrateJSON(t *testing.T) {
	each(t, func(t *testing.T, e engine) {
		code, out, _ := cli(appV1(), e.args("migrate", "-dry-run", "-json")...)
		top := decode(t, code, 0, out)
		if top["applied"] != false || top["recordedVersion"] != "" || top["declaredVersion"] != "1" || top["dialect"] != e.db.Dialect().Name() {
			t.Errorf("dry run: %v", top)
		}
		steps := top["steps"].([]any)
		if len(steps) != 2 {
			t.Fatalf("dry run steps: %v", steps)
		}
		step := steps[0].(map[string]any)
		if got := slices.Sorted(maps.Keys(step)); !slices.Equal(got, []string{"destructive", "op", "table", "to"}) {
			t.Errorf("step keys %q: %v", got, step)
		}
		if step["op"] != "add table" || step["destructive"] != false {
			t.Errorf("step: %v", step)
		}
		if sql := top["sql"].([]any); len(sql) < 3 || !strings.HasPrefix(sql[0].(string), "CREATE TABLE") {
			t.Errorf("sql: %v", sql)
		}

		code, out, _ = cli(appV1(), e.args("migrate", "-json")...)
		if top = decode(t, code, 0, out); top["applied"] != true {
			t.Errorf("apply: %v", top)
		}
		e.exec(t, `INSERT INTO notes (id, title) VALUES ('n1', 'milk')`)
		code, out, errOut := cli(appV2(), e.args("migrate", "-json")...)
		top = decode(t, code, migratecli.ExitFailed, out)
		if top["applied"] != false || top["recordedVersion"] != "1" || !strings.Contains(errOut, "refused") {
			t.Errorf("refusal: %v\n%s", top, errOut)
		}
		var diff migrate.SchemaDiff
		if err := json.Unmarshal([]byte(out), &diff); err != nil || len(diff.Refused()) != 2 {
			t.Errorf("refusal as a SchemaDiff: %v %+v", err, diff)
		}
		for _, s := range top["steps"].([]any) {
			if s := s.(map[string]any); s["op"] == "drop column" && (s["destructive"] != true || s["allowed"] != nil) {
				t.Errorf("refused step: %v", s)
			}
		}
	})
}

// decode checks the exit code and that out is exactly one JSON object
// with SchemaDiff's keys.
func decode(t *testing.T, code, want int, out string) map[string]any {
	t.Helper()
	if code != want {
		t.Fatalf("exit %d, want %d:\n%s", code, want, out)
	}
	var top map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&top); err != nil || dec.More() {
		t.Fatalf("not one JSON object (%v):\n%s", err, out)
	}
	keys := slices.Sorted(maps.Keys(top))
	for _, k := range []string{"applied", "declaredVersion", "dialect", "recordedVersion", "steps"} {
		if !slices.Contains(keys, k) {
			t.Errorf("JSON lacks %q: %q", k, keys)
		}
	}
	for _, k := range keys {
		if !slices.Contains([]string{"applied", "declaredVersion", "dialect", "recordedVersion", "steps", "sql", "untracked"}, k) {
			t.Errorf("JSON has unexpected key %q", k)
		}
	}
	return top
}

// TestSchema: schema creates what is missing and prints the DDL that
// migrate.CreateSQL renders for the engine; -dialect prints it for either
// engine without a database.
func TestSchema(t *testing.T) {
	each(t, func(t *testing.T, e engine) {
		code, out, errOut := cli(appV1(), e.args("schema")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		want, err := migrate.CreateSQL(e.db.Dialect(), appV1())
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, "schema", out, "-- schema version 1, ensured in "+e.db.Dialect().Name(), strings.Join(want, ";\n")+";\n")
		if n := e.count(t, "notes"); n != 0 {
			t.Fatalf("notes: %d rows", n)
		}
		// The tables are there: a migrate run has no table to add.
		if code, out, _ := cli(appV1(), e.args("migrate", "-dry-run")...); code != 0 || strings.Contains(out, "add table") {
			t.Fatalf("after schema: exit %d\n%s", code, out)
		}
	})
	for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
		code, out, errOut := cli(appV1(), "schema", "-dialect", d.Name())
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", d.Name(), code, errOut)
		}
		stmts, err := migrate.CreateSQL(d, appV1())
		if err != nil {
			t.Fatal(err)
		}
		if want := "-- schema version 1, " + d.Name() + "\n" + strings.Join(stmts, ";\n") + ";\n"; out != want {
			t.Errorf("%s:\n%s\nwant:\n%s", d.Name(), out, want)
		}
	}
}
