package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"
)

// openCached opens a database at a temporary path on a connector keeping
// size statements per connection, on one connection.
func openCached(t *testing.T, size int) *sql.DB {
	t.Helper()
	db := sql.OpenDB(&cachingConnector{dsn: DSN(filepath.Join(t.TempDir(), "c.db")), size: size})
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := db.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// cached returns the texts the database's one connection keeps compiled.
func cached(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := map[string]bool{}
	err = conn.Raw(func(dc any) error {
		for q, cs := range dc.(*cachingConn).stmts {
			if cs.taken {
				return fmt.Errorf("%q is still taken", q)
			}
			out[q] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, q interface {
	QueryRow(string, ...any) *sql.Row
}, query string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStatementCacheReuses: a text run again runs on its compiled
// statement, and scripts are never cached.
func TestStatementCacheReuses(t *testing.T) {
	db := openCached(t, 8)
	for range 3 {
		if n := count(t, db, `SELECT count(*) FROM t WHERE id >= ?`, 2); n != 2 {
			t.Fatalf("count %d", n)
		}
	}
	if _, err := db.Exec(`UPDATE t SET v = 'a' WHERE id = 1; UPDATE t SET v = 'b' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM t WHERE v IN ('a', 'b')`); n != 2 {
		t.Fatalf("the script ran %d of its 2 statements", n)
	}
	got := cached(t, db)
	if !got[`SELECT count(*) FROM t WHERE id >= ?`] || got[`UPDATE t SET v = 'a' WHERE id = 1; UPDATE t SET v = 'b' WHERE id = 2`] {
		t.Fatalf("cached %v", got)
	}
}

// TestStatementCacheNestedRows: a query run again while rows of the same
// text are open (in one transaction, on one connection) runs on a
// statement of its own: neither cursor disturbs the other.
func TestStatementCacheNestedRows(t *testing.T) {
	db := openCached(t, 8)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT id FROM t WHERE id >= ? ORDER BY id`
	outer, err := tx.Query(q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for outer.Next() {
		var id int
		if err := outer.Scan(&id); err != nil {
			t.Fatal(err)
		}
		inner, err := tx.Query(q, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, fmt.Sprintf("%d:%d", id, n))
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[1:3 2:2 3:1]" {
		t.Fatalf("nested reads %v", seen)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_ = cached(t, db) // nothing left taken
}

// TestStatementCachePrepared: a statement a caller holds prepared is
// taken while held; the same text meanwhile runs on its own statement,
// and closing the prepared one gives it back.
func TestStatementCachePrepared(t *testing.T) {
	db := openCached(t, 8)
	const q = `SELECT v FROM t WHERE id = ?`
	st, err := db.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	var a, b string
	if err := st.QueryRow(1).Scan(&a); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(q, 2).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if a != "v1" || b != "v2" {
		t.Fatalf("read %q, %q", a, b)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if !cached(t, db)[q] {
		t.Fatal("the prepared statement was not given back")
	}
}

// TestStatementCacheEvictsAndRecompiles: a full cache finalizes its least
// recently used statement, and a cached statement follows a schema
// change (SQLite recompiles it).
func TestStatementCacheEvictsAndRecompiles(t *testing.T) {
	db := openCached(t, 2)
	for _, q := range []string{`SELECT count(*) FROM t WHERE id = 1`, `SELECT count(*) FROM t WHERE id = 2`, `SELECT count(*) FROM t WHERE id = 3`} {
		if n := count(t, db, q); n != 1 {
			t.Fatalf("%s: %d", q, n)
		}
	}
	if got := cached(t, db); len(got) != 2 || got[`SELECT count(*) FROM t WHERE id = 1`] {
		t.Fatalf("cached %v", got)
	}
	cols := func() int {
		rows, err := db.Query(`SELECT * FROM t WHERE id = ?`, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	if n := cols(); n != 2 {
		t.Fatalf("%d columns", n)
	}
	if _, err := db.Exec(`ALTER TABLE t ADD COLUMN w TEXT`); err != nil {
		t.Fatal(err)
	}
	if n := cols(); n != 3 {
		t.Fatalf("%d columns after ALTER TABLE", n)
	}
}

// TestStatementCacheCancel: a query cancelled before it runs leaves its
// cached statement given back and usable; one interrupted while it runs
// has database/sql drop its connection (and the connection's cache with
// it), and the next connection serves the same text.
func TestStatementCacheCancel(t *testing.T) {
	db := openCached(t, 8)
	const q = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) FROM c`
	if n := count(t, db, q, 10); n != 10 { // cached
		t.Fatalf("count %d", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.QueryRowContext(ctx, q, 100000000).Scan(new(int)); err == nil {
		t.Fatal("a cancelled query ran")
	}
	if !cached(t, db)[q] { // cached fails if the statement is still taken
		t.Fatal("a query cancelled before it ran dropped its statement")
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := db.QueryRowContext(ctx, q, int64(1)<<40).Scan(new(int)); err == nil {
		t.Fatal("a query interrupted while it ran finished")
	}
	_ = cached(t, db) // nothing taken on the connection that serves now
	if n := count(t, db, q, 10); n != 10 {
		t.Fatalf("count %d", n)
	}
}

// TestStatementCacheError: a cached statement that fails as it runs is
// given back, and runs again.
func TestStatementCacheError(t *testing.T) {
	db := openCached(t, 8)
	const q = `SELECT abs(?)`
	if n := count(t, db, q, -3); n != 3 {
		t.Fatalf("abs %d", n)
	}
	for _, f := range []func() error{
		func() error { return db.QueryRow(q, int64(math.MinInt64)).Scan(new(int64)) },
		func() error { _, err := db.Exec(q, int64(math.MinInt64)); return err },
	} {
		if err := f(); err == nil {
			t.Fatal("abs of the least int64 did not overflow")
		}
		if !cached(t, db)[q] { // cached fails if the statement is still taken
			t.Fatal("the failed statement left the cache")
		}
	}
	if n := count(t, db, q, -4); n != 4 {
		t.Fatalf("abs %d", n)
	}
}
