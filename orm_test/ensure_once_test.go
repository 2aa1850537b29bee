package ormtest_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// execOnly is an executor that can begin no transaction and is not one.
type execOnly struct{ db *sql.DB }

func (e execOnly) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return e.db.ExecContext(ctx, q, args...)
}

func (e execOnly) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return e.db.QueryContext(ctx, q, args...)
}

type onceKey struct{ name string }

// TestEnsureOnce: a key's function runs in a transaction until it
// succeeds, then never again until ForgetEnsured; on an executor that
// cannot begin a transaction it runs on the executor every time.
func TestEnsureOnce(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "EnsureOnce remembers nothing in a caller's transaction, by design, and the body's second executor would wait on the schema lock that transaction holds", ormtest.ExecTx)
		ctx := context.Background()
		runs := 0
		create := func(tx *orm.DB) error {
			runs++
			if !tx.IsTx() {
				t.Error("not in a transaction")
			}
			_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS "once_t" ("n" INTEGER)`)
			return err
		}
		boom := errors.New("boom")
		if err := tg.DB.EnsureOnce(ctx, onceKey{"t"}, func(*orm.DB) error { return boom }); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		for range 3 {
			if err := tg.DB.EnsureOnce(ctx, onceKey{"t"}, create); err != nil {
				t.Fatal(err)
			}
		}
		if runs != 1 {
			t.Errorf("ran %d times, want 1 (a failure is not remembered)", runs)
		}
		if err := tg.DB.EnsureOnce(ctx, onceKey{"other"}, create); err != nil || runs != 2 {
			t.Errorf("another key: %d runs, %v", runs, err)
		}
		orm.ForgetEnsured(tg.DB)
		_ = tg.DB.EnsureOnce(ctx, onceKey{"t"}, create)
		_ = tg.DB.EnsureOnce(ctx, onceKey{"other"}, create)
		if runs != 4 {
			t.Errorf("after ForgetEnsured: %d runs, want 4", runs)
		}

		raw := orm.New(execOnly{tg.SQL}, tg.Dialect)
		n := 0
		for range 2 {
			if err := raw.EnsureOnce(ctx, onceKey{"t"}, func(tx *orm.DB) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if n != 2 {
			t.Errorf("on an executor that cannot begin: ran %d times, want 2 (nothing remembered)", n)
		}
	})
}
