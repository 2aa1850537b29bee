package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
)

// A write that meets another connection's write lock past its busy
// timeout fails with SQLITE_BUSY: temporary. A syntax error is not.
func TestIsTemporary(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	a, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10)")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_, busy := b.ExecContext(ctx, `INSERT INTO t VALUES (2)`)
	if busy == nil || !sqlite.IsTemporary(busy) || !sqlite.IsTemporary(fmt.Errorf("wrapped: %w", busy)) {
		t.Fatalf("a write behind another writer: %v, IsTemporary = %t; want a temporary error", busy, sqlite.IsTemporary(busy))
	}
	_, syntax := b.ExecContext(ctx, `INSERT INTO nowhere VALUES (2)`)
	if syntax == nil || sqlite.IsTemporary(syntax) || sqlite.ResultCode(syntax) == 0 {
		t.Fatalf("a missing table: %v, IsTemporary = %t, code %d", syntax, sqlite.IsTemporary(syntax), sqlite.ResultCode(syntax))
	}
	if sqlite.IsTemporary(errors.New("plain")) || sqlite.IsTemporary(nil) {
		t.Fatal("an error that is not SQLite's is temporary")
	}
}
