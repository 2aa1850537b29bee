package postgres_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
)

// TestStatementCache runs statements through Open's per-connection
// statement cache on one connection: statements are prepared once and
// reused, the least recently used is closed when the cache is full, and a
// statement the server no longer runs as prepared (a column type changed,
// DISCARD ALL) is prepared again.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.OpenWith(testDSN(t), postgres.StatementCache(2))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	prepared := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_prepared_statements`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := db.Exec(`CREATE TABLE t (a INT PRIMARY KEY, b TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := db.Exec(`INSERT INTO t VALUES ($1, $2)`, i, "v"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := prepared(); n != 2 {
		t.Errorf("%d statements prepared after one statement run 10 times and the count, want 2", n)
	}
	// Three texts through a cache of two: each runs right, and at most
	// two stay prepared.
	for round := range 3 {
		for i, q := range []string{`SELECT b FROM t WHERE a = $1`, `SELECT b FROM t WHERE a = $1 + 0`, `SELECT b FROM t WHERE a = $1 * 1`} {
			var b string
			if err := db.QueryRow(q, i+round).Scan(&b); err != nil || b != "v"+strconv.Itoa(i+round) {
				t.Fatalf("%s: %q %v", q, b, err)
			}
		}
	}
	if n := prepared(); n != 2 {
		t.Errorf("%d statements prepared, want the cache's 2", n)
	}

	// A schema change that alters the result columns.
	sel := `SELECT a, b FROM t WHERE a = $1`
	var a int64
	var b string
	if err := db.QueryRow(sel, 3).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE t ALTER COLUMN b TYPE VARCHAR(20), ALTER COLUMN a TYPE BIGINT`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(sel, 3).Scan(&a, &b); err != nil || a != 3 || b != "v3" {
		t.Errorf("after ALTER: %d %q %v", a, b, err)
	}
	// Inside a transaction the failed statement aborts it: the error is
	// returned, and the statement is prepared afresh next time.
	if _, err := db.Exec(`ALTER TABLE t ALTER COLUMN b TYPE TEXT`); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(sel, 3).Scan(&a, &b); err == nil {
		t.Log("the server re-planned without complaint")
	}
	_ = tx.Rollback()
	if err := db.QueryRow(sel, 4).Scan(&a, &b); err != nil || a != 4 || b != "v4" {
		t.Errorf("after the transaction: %d %q %v", a, b, err)
	}
	// Statements dropped behind the cache's back.
	if _, err := db.Exec(`DISCARD ALL`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(sel, 5).Scan(&a, &b); err != nil || a != 5 {
		t.Errorf("after DISCARD ALL: %d %v", a, err)
	}
	// With the cache off nothing stays prepared.
	off, err := postgres.OpenWith(testDSN(t), postgres.StatementCache(0))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	off.SetMaxOpenConns(1)
	var n int
	if err := off.QueryRow(`SELECT count(*) FROM pg_prepared_statements WHERE name <> $1`, "x").Scan(&n); err != nil || n != 0 {
		t.Errorf("cache off: %d prepared, %v", n, err)
	}
}

// TestStatementCacheQueries checks the queries without arguments the
// cache prepares: one statement is prepared and reused; several in one
// text, which the server will not prepare, run by the simple protocol.
func TestStatementCacheQueries(t *testing.T) {
	db, err := postgres.Open(testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for range 3 {
		var n int
		if err := db.QueryRow(`SELECT 41 + 1`).Scan(&n); err != nil || n != 42 {
			t.Fatalf("SELECT 41 + 1: %d %v", n, err)
		}
		rows, err := db.Query(`SELECT 1; SELECT 2`)
		if err != nil {
			t.Fatalf("two statements: %v", err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	var prepared []string
	rows, err := db.Query(`SELECT statement FROM pg_prepared_statements ORDER BY statement`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		prepared = append(prepared, s)
	}
	want := []string{`SELECT 41 + 1`, `SELECT statement FROM pg_prepared_statements ORDER BY statement`}
	if len(prepared) != 2 || prepared[0] != want[0] || prepared[1] != want[1] {
		t.Errorf("prepared %q, want %q", prepared, want)
	}
}
