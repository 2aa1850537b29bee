package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

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

// status is a named string type, which lib/pq's argument check, not the
// cache's fast path, must see.
type status string

// TestStatementCacheArguments binds each kind of argument the cache's
// check passes through, and the kinds it leaves to lib/pq, and reads each
// back as PostgreSQL stored it: the same values with the cache as without.
func TestStatementCacheArguments(t *testing.T) {
	ctx := context.Background()
	when := time.Date(2026, 12, 7, 9, 30, 0, 123456000, time.UTC)
	args := []any{nil, "text ✓", int64(-1 << 40), 2.5, true, []byte{0, 1, 0xff}, when, status("open"), int32(7), sql.NullString{String: "v", Valid: true}}
	q := `SELECT $1::text IS NULL, $2::text, $3::bigint, $4::float8, $5::boolean, $6::bytea, $7::timestamptz, $8::text, $9::int, $10::text`
	for _, size := range []int{postgres.DefaultStatementCache, 0} {
		db, err := postgres.OpenWith(testDSN(t), postgres.StatementCache(size))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var (
			isNull    bool
			s, st, nv string
			i64       int64
			f         float64
			b         bool
			raw       []byte
			at        time.Time
			i32       int
		)
		if err := db.QueryRowContext(ctx, q, args...).Scan(&isNull, &s, &i64, &f, &b, &raw, &at, &st, &i32, &nv); err != nil {
			t.Fatalf("cache %d: %v", size, err)
		}
		if !isNull || s != "text ✓" || i64 != -1<<40 || f != 2.5 || !b || !bytes.Equal(raw, []byte{0, 1, 0xff}) ||
			!at.Equal(when) || st != "open" || i32 != 7 || nv != "v" {
			t.Errorf("cache %d: read back %v %q %d %v %v %x %v %q %d %q", size, isNull, s, i64, f, b, raw, at, st, i32, nv)
		}
	}
}
