package main

import (
	"path/filepath"
	"testing"
)

// plasma pull reads the demo's database and declares the example app's
// tables.
func TestPullDemoDatabase(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "schema", "-data", dir); code != 0 {
		t.Fatalf("schema: %s", stderr)
	}
	out := filepath.Join(dir, "schema_gen.go")
	code, stdout, stderr := runCLI(t, "pull", "-data", dir, "-package", "todoschema", "-o", out)
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	}
	mustContain(t, "stdout", stdout, "wrote "+out)
	code, stdout, _ = runCLI(t, "pull", "-data", dir)
	if code != 0 {
		t.Fatal(code)
	}
	mustContain(t, "pulled source", stdout, "package schema", `var Lists = orm.NewTable("lists",`,
		`orm.Text("list_id").References("lists", "id", tabledef.Cascade)`, `orm.Boolean("done").Default(false)`,
		`orm.MustDefineSchema("1", Attachments, Lists, Members, Todos)`)
	if code, stdout, _ := runCLI(t, "help"); code != 0 {
		t.Fatal(code)
	} else {
		mustContain(t, "help", stdout, "pull")
	}
}
