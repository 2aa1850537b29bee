package funclen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLong(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("\t_ = 1\n", 5)
	src := "package p\n\n" +
		"func short() {\n" + body + "}\n\n" +
		"type T struct{}\n\n" +
		"func (*T) long() {\n" + body + body + "}\n\n" +
		"// Long: a table the reader reads top to bottom.\n" +
		"func excused() {\n" + body + body + "}\n"
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// A test file is not checked.
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\n\nfunc longTest() {\n"+body+body+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Long(dir, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "(*T).long" || got[0].Lines != 12 {
		t.Fatalf("Long = %v, want only (*T).long, 12 lines", got)
	}
	if _, err := Long(filepath.Join(dir, "missing"), 8); err == nil {
		t.Error("a missing root gave no error")
	}
}
