package synctest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/sync/synctest"
)

// CountStatements opens a pool that counts what it sends, here on a
// SQLite file; tests build the handler's orm.DB on it, Reset before a
// request and read the counts after.
func ExampleCountStatements() {
	dir, _ := os.MkdirTemp("", "count")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	plain, err := sqlite.Open(path) // for its driver
	if err != nil {
		panic(err)
	}
	defer plain.Close()
	pool, counter := synctest.CountStatements(plain.Driver(), sqlite.DSN(path))
	defer pool.Close()
	ctx := context.Background()
	if _, err := pool.ExecContext(ctx, `CREATE TABLE "t" ("id" TEXT PRIMARY KEY)`); err != nil {
		panic(err)
	}
	counter.Reset()
	tx, _ := pool.BeginTx(ctx, nil)
	_, _ = tx.ExecContext(ctx, `INSERT INTO "t" ("id") VALUES (?)`, "a")
	_ = tx.QueryRowContext(ctx, `SELECT count(*) FROM "t"`).Scan(new(int))
	_ = tx.Commit()
	fmt.Println(counter)
	// Output: total 4: BEGIN 1, COMMIT 1, INSERT 1, SELECT 1
}
