package ormtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// A nested DB.Tx must not be able to finish its enclosing transaction:
// only the outer owner commits, and the inner aborts by returning an error.
func TestNestedTxCannotFinishOuter(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "its subject is a transaction DB begins and ends; in a caller's transaction DB.Tx joins it and the caller decides (DB.Tx's doc), proved by TestNewOverCallerTx", ormtest.ExecTx)
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, smokeSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		errAbort := errors.New("abort")
		err := tg.DB.Tx(ctx, func(outer *orm.Tx) error {
			if _, err := outer.Insert(smokeUsers).Values(orm.Row{"id": "n1", "name": "a"}).Exec(ctx); err != nil {
				return err
			}
			return outer.Tx(ctx, func(inner *orm.Tx) error {
				if err := inner.Commit(); !errors.Is(err, orm.ErrNestedTx) {
					t.Errorf("inner Commit: got %v, want ErrNestedTx", err)
				}
				if err := inner.Rollback(); !errors.Is(err, orm.ErrNestedTx) {
					t.Errorf("inner Rollback: got %v, want ErrNestedTx", err)
				}
				return errAbort
			})
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("outer Tx: %v", err)
		}
		n, err := orm.Scalar[int64](ctx, tg.DB.Select(countAllExpr()).From(smokeUsers))
		if err != nil || n != 0 {
			t.Fatalf("the inner error must roll back the outer insert: %d rows, %v", n, err)
		}
	})
}

func countAllExpr() expr.Expr { return expr.CountAll() }

// A DB made with orm.New over a caller's *sql.Tx runs inside it: InTx
// reports true, and DB.Tx (and orm.InTx, which middlewares use) run in
// that transaction, so the caller's rollback undoes them.
func TestNewOverCallerTx(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it begins its own caller's transaction on the pool, which on SQLite waits on the harness's one writer", ormtest.ExecTx)
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, smokeSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		sqltx, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		db := orm.New(sqltx, tg.Dialect)
		if !db.IsTx() {
			t.Fatal("a DB over a *sql.Tx must report InTx")
		}
		err = orm.InTx(ctx, db, func(tx *orm.DB) error {
			_, err := tx.Insert(smokeUsers).Values(orm.Row{"id": "x1", "name": "x"}).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sqltx.Rollback(); err != nil {
			t.Fatal(err)
		}
		n, err := orm.Scalar[int64](ctx, tg.DB.Select(expr.CountAll()).From(smokeUsers))
		if err != nil || n != 0 {
			t.Fatalf("the caller's rollback must undo the write: %d rows, %v", n, err)
		}
	})
}
