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
