package files_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/files/internal/storagetest"
)

func TestDirConformance(t *testing.T) {
	st, err := files.Dir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, st, 3<<20+5, false)
	tmp, _ := os.ReadDir(filepath.Join(st.Root(), "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("%d temporary files left behind", len(tmp))
	}
}

func TestDirListSkipsStrays(t *testing.T) {
	root := t.TempDir()
	st, err := files.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "README"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "ab", "cd"), 0o755)
	os.WriteFile(filepath.Join(root, "ab", "cd", "../../../etc"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "tmp", "put-1"), []byte("x"), 0o644)
	n := 0
	if err := st.List(context.Background(), func(files.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("List found %d blobs, err %v", n, err)
	}
}
