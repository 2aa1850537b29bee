package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var ctx = context.Background()

func schema(t testing.TB, version string, tables ...*orm.Table) *orm.Schema {
	t.Helper()
	s, err := orm.DefineSchema(version, tables...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exec(t testing.TB, db *orm.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// value returns the single value a query yields.
func value[T any](t testing.TB, db *orm.DB, query string, args ...any) T {
	t.Helper()
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var v T
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", query, rows.Err())
	}
	if err := rows.Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func count(t testing.TB, db *orm.DB, table string) int64 {
	t.Helper()
	return value[int64](t, db, `SELECT COUNT(*) FROM `+quote(table))
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// state is the database as introspection sees it, with every table's row
// count, for "nothing changed" checks.
func state(t testing.TB, db *orm.DB) string {
	t.Helper()
	live, err := migrate.Introspect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, tb := range live.Tables {
		counts[tb.Name] = count(t, db, tb.Name)
	}
	p, err := json.MarshalIndent(struct {
		Live   *migrate.Database
		Counts map[string]int64
	}{live, counts}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func run(t testing.TB, s *orm.Schema, db *orm.DB, allow ...migrate.Allowance) *migrate.SchemaDiff {
	t.Helper()
	diff, err := migrate.Run(ctx, s, db, migrate.Options{Allow: allow})
	if err != nil {
		t.Fatalf("Run %s: %v\n%s", s.Version(), err, diff)
	}
	return diff
}

func mustDiff(t testing.TB, s *orm.Schema, db *orm.DB, allow ...migrate.Allowance) *migrate.SchemaDiff {
	t.Helper()
	diff, err := migrate.Diff(ctx, s, db, migrate.Options{Allow: allow})
	if err != nil {
		t.Fatal(err)
	}
	return diff
}

func assertEmpty(t testing.TB, s *orm.Schema, db *orm.DB) {
	t.Helper()
	if diff := mustDiff(t, s, db); !diff.Empty() {
		t.Fatalf("want an empty diff, got:\n%s", diff)
	}
}

// ops lists a diff's steps as IDs.
func ops(diff *migrate.SchemaDiff) []string {
	var out []string
	for _, s := range diff.Steps {
		out = append(out, s.ID())
	}
	return out
}

func refused(t testing.TB, err error) *migrate.RefusedError {
	t.Helper()
	var r *migrate.RefusedError
	if !errors.As(err, &r) {
		t.Fatalf("want *RefusedError, got %v", err)
	}
	return r
}

// each runs body on a fresh database of each dialect, on the pool and on
// a single connection; see skipRefusedExec for the other executor modes.
func each(t *testing.T, body func(t *testing.T, tg *ormtest.Target)) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		skipRefusedExec(t, tg)
		body(t, tg)
	})
}

// skipRefusedExec skips the executor modes Run refuses by design: it opens
// its own transaction, so a caller's *sql.Tx is refused, and it needs a
// *sql.DB or *sql.Conn to take a connection from, which the bun executor
// is not.
func skipRefusedExec(t *testing.T, tg *ormtest.Target) {
	t.Helper()
	tg.SkipExec(t, "migrate.Run refuses this executor (it runs its own transaction on a *sql.DB or *sql.Conn)",
		ormtest.ExecTx, ormtest.ExecBun)
}
