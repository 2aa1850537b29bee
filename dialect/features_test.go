package dialect_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/lib/pq"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
)

// The engines' features, and the render methods that go with them: what
// plugins and sync used to spell by hand on PostgreSQL.
func TestFeatures(t *testing.T) {
	pg, lite := postgres.Dialect.Features(), sqlite.Dialect.Features()
	for _, f := range []dialect.Feature{dialect.RowLocking, dialect.AdvisoryLocks, dialect.NotifyListen,
		dialect.ConcurrentWrites, dialect.CheapReturning, dialect.AlterColumn, dialect.PrimaryKeyNotNull} {
		if !pg.Has(f) || lite.Has(f) {
			t.Errorf("feature %b: postgres %v, sqlite %v", f, pg.Has(f), lite.Has(f))
		}
	}
	for _, f := range []dialect.Feature{dialect.OffsetNeedsLimit, dialect.NullsSortFirst} {
		if pg.Has(f) || !lite.Has(f) {
			t.Errorf("feature %b: postgres %v, sqlite %v", f, pg.Has(f), lite.Has(f))
		}
	}
	if _, ok := sqlite.Dialect.(dialect.RowLocker); ok {
		t.Error("sqlite renders row locks it does not have")
	}
	if got := string(postgres.Dialect.(dialect.RowLocker).AppendForUpdate([]byte("SELECT 1"))); got != "SELECT 1 FOR UPDATE" {
		t.Errorf("AppendForUpdate: %q", got)
	}
	b := dialect.GetBuilder(postgres.Dialect)
	defer dialect.PutBuilder(b)
	postgres.Dialect.(dialect.AdvisoryLocker).AppendAdvisoryLocks(b, []int64{7, -2})
	if got, want := string(b.Buf), "SELECT pg_advisory_xact_lock(k) FROM (VALUES ($1::bigint), ($2::bigint)) AS v(k)"; got != want || !reflect.DeepEqual(b.Args, []any{int64(7), int64(-2)}) {
		t.Errorf("AppendAdvisoryLocks: %q %v", got, b.Args)
	}
	n := dialect.GetBuilder(dialect.Placeholders)
	defer dialect.PutBuilder(n)
	postgres.Dialect.(dialect.Notifier).AppendNotify(n, "ch", "{}")
	if got := string(n.Buf); got != "SELECT pg_notify(?, ?)" || !reflect.DeepEqual(n.Args, []any{"ch", "{}"}) {
		t.Errorf("AppendNotify: %q %v", got, n.Args)
	}
}

// Both dialects classify their engine's errors, and the registry answers
// for code that has no dialect at hand.
func TestErrorClassifier(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id TEXT PRIMARY KEY, u TEXT UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES ('a', 'x')`); err != nil {
		t.Fatal(err)
	}
	lite := dialect.Classifier(sqlite.Dialect)
	for _, q := range []string{`INSERT INTO t VALUES ('a', 'y')`, `INSERT INTO t VALUES ('b', 'x')`} {
		_, err := db.ExecContext(ctx, q)
		if err == nil || !lite.IsUniqueViolation(err) || lite.IsTemporary(err) || lite.IsRetryable(err) {
			t.Errorf("%s: %v: not a unique violation", q, err)
		}
	}
	_, syntax := db.ExecContext(ctx, `INSERT INTO`)
	if syntax == nil || lite.IsUniqueViolation(syntax) {
		t.Errorf("syntax error %v classified as a unique violation", syntax)
	}
	pg := dialect.Classifier(postgres.Dialect)
	ser := &pq.Error{Code: "40001"}
	if !pg.IsSerializationFailure(ser) || !pg.IsRetryable(ser) || !pg.IsTemporary(ser) || pg.IsUniqueViolation(ser) {
		t.Error("40001 misclassified")
	}
	if !pg.IsUniqueViolation(&pq.Error{Code: "23505"}) || !pg.IsAbortedTx(&pq.Error{Code: "25P02"}) || lite.IsAbortedTx(&pq.Error{Code: "25P02"}) {
		t.Error("23505 / 25P02 misclassified")
	}
	if !dialect.IsRetryable(ser) || !dialect.IsTemporary(&pq.Error{Code: "08006"}) || dialect.IsTemporary(errors.New("app")) || dialect.IsTemporary(nil) {
		t.Error("registered classifiers misclassify")
	}
	if dialect.Classifier(dialect.Placeholders).IsTemporary(ser) {
		t.Error("a dialect without a classifier classified an error")
	}
}
