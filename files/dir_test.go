package files_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

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

func TestDirSweepTemp(t *testing.T) {
	root := t.TempDir()
	st, err := files.Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(root, "tmp", "put-old"), filepath.Join(root, "tmp", "put-new")
	os.WriteFile(old, []byte("x"), 0o644)
	os.WriteFile(fresh, []byte("x"), 0o644)
	os.Chtimes(old, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour))
	n, err := st.SweepTemp(context.Background(), time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("SweepTemp = %d, %v", n, err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatal("a fresh temporary file was removed")
	}
}
