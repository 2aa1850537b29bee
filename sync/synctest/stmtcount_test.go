package synctest_test

import (
	"testing"

	"github.com/plasma-go/plasma/sync/synctest"
)

func TestStatementKind(t *testing.T) {
	for q, want := range map[string]string{
		`SELECT 1`:                           "SELECT",
		"\n  insert into t values (1)":       "INSERT",
		`SELECT pg_notify('c', 'x')`:         synctest.KindNotify,
		`ROLLBACK TO SAVEPOINT s`:            "ROLLBACK TO",
		`RELEASE SAVEPOINT s`:                "RELEASE",
		`WITH "w" AS (UPDATE t SET a = 1) X`: "WITH",
		`SELECT("x")`:                        "SELECT",
		``:                                   "EMPTY",
		`   `:                                "EMPTY",
	} {
		if got := synctest.StatementKind(q); got != want {
			t.Errorf("StatementKind(%q) = %q, want %q", q, got, want)
		}
	}
}
