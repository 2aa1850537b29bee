package ormtest_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

func countPeople(t *testing.T, ctx context.Context, db *orm.DB) int64 {
	t.Helper()
	n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qPeople))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTxBeginCommitRollback(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "its subject is DB.Begin, which a caller's transaction refuses (ErrNoBeginner, proved by TestNewOverCallerTx), and a second pool checking the commit would wait on that transaction", ormtest.ExecTx)
		ctx, db := seed(t, tg)
		// Commit: the write is visible afterwards, also to another pool.
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !tx.IsTx() || db.IsTx() {
			t.Fatal("IsTx")
		}
		mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "c1", "name": "com"}).Exec(ctx))
		if n := countPeople(t, ctx, tx.DB); n != 6 {
			t.Errorf("inside the tx: %d", n)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		other := orm.New(tg.Open(t), tg.Dialect)
		if n := countPeople(t, ctx, other); n != 6 {
			t.Errorf("after commit: %d", n)
		}
		if err := tx.Commit(); !errors.Is(err, orm.ErrTxDone) {
			t.Errorf("second commit: %v", err)
		}
		if err := tx.Rollback(); !errors.Is(err, orm.ErrTxDone) {
			t.Errorf("rollback after commit: %v", err)
		}

		// Rollback: nothing of the transaction is left.
		tx, err = db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "r1", "name": "rol"}).Exec(ctx))
		mustN(t)(tx.Update(qPeople).Set(orm.Row{"score": 0}).AllRows().Exec(ctx))
		mustN(t)(tx.Delete(qOrders).AllRows().Exec(ctx))
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := countPeople(t, ctx, db); n != 6 {
			t.Errorf("after rollback: %d people", n)
		}
		if sum, _ := orm.Scalar[int64](ctx, db.Select(expr.Sum(pc("score"))).From(qPeople)); sum != 150 {
			t.Errorf("after rollback: score sum %d", sum)
		}
		if n, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qOrders)); n != 4 {
			t.Errorf("after rollback: %d orders", n)
		}
		// A statement on a finished transaction fails.
		if _, err := tx.Insert(qPeople).Values(orm.Row{"id": "r2", "name": "late"}).Exec(ctx); err == nil {
			t.Error("insert on a rolled-back tx succeeded")
		}
		// A transaction cannot begin another.
		tx, err = db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Begin(ctx); !errors.Is(err, orm.ErrNoBeginner) {
			t.Errorf("begin inside a tx: %v", err)
		}
	})
}

var errBoom = errors.New("boom")

func TestTxFunc(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "its subject is a transaction DB begins and ends; in a caller's transaction DB.Tx joins it and the caller decides (DB.Tx's doc), proved by TestNewOverCallerTx", ormtest.ExecTx)
		ctx, db := seed(t, tg)
		// nil: committed.
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			_, err := tx.Insert(qPeople).Values(orm.Row{"id": "ok", "name": "ok"}).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(t, ctx, db, expr.Eq(pc("id"), "ok")); len(got) != 1 {
			t.Errorf("commit: %v", got)
		}

		// An error: rolled back, the error returned as it is.
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "e1", "name": "err"}).Exec(ctx))
			mustN(t)(tx.Delete(qOrders).AllRows().Exec(ctx))
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("error: %v", err)
		}
		if got := ids(t, ctx, db, expr.Eq(pc("id"), "e1")); len(got) != 0 {
			t.Errorf("error left a row: %v", got)
		}
		if n, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qOrders)); n != 4 {
			t.Errorf("error: %d orders", n)
		}

		// A failed statement inside: the caller's error, nothing written.
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "e2", "name": "err"}).Exec(ctx))
			_, err := tx.Insert(qPeople).Values(orm.Row{"id": "p1", "name": "dup"}).Exec(ctx)
			return err
		})
		var ee *orm.ExecError
		if !errors.As(err, &ee) {
			t.Errorf("failed statement: %v", err)
		}
		if got := ids(t, ctx, db, expr.Eq(pc("id"), "e2")); len(got) != 0 {
			t.Errorf("failed statement left a row: %v", got)
		}

		// A panic: rolled back, and the panic goes on to the caller.
		func() {
			defer func() {
				if p := recover(); p != "kaboom" {
					t.Errorf("recovered %v, want the original panic", p)
				}
			}()
			_ = db.Tx(ctx, func(tx *orm.Tx) error {
				mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "x1", "name": "panic"}).Exec(ctx))
				mustN(t)(tx.Update(qPeople).Set(orm.Row{"name": "gone"}).AllRows().Exec(ctx))
				panic("kaboom")
			})
			t.Error("Tx returned after a panic")
		}()
		if got := ids(t, ctx, db, expr.Eq(pc("id"), "x1")); len(got) != 0 {
			t.Errorf("panic left a row: %v", got)
		}
		if got := ids(t, ctx, db, expr.Eq(pc("name"), "gone")); len(got) != 0 {
			t.Errorf("panic left an update: %v", got)
		}

		// fn ending its goroutine (runtime.Goexit, as t.FailNow does):
		// the transaction is rolled back, not left open holding locks.
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = db.Tx(ctx, func(tx *orm.Tx) error {
				mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "g1", "name": "goexit"}).Exec(ctx))
				mustN(t)(tx.Update(qPeople).Set(orm.Row{"score": 1}).Where(expr.Eq(pc("id"), "p1")).Exec(ctx))
				runtime.Goexit()
				return nil
			})
		}()
		<-done
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if _, err := db.Update(qPeople).Set(orm.Row{"score": 2}).Where(expr.Eq(pc("id"), "p1")).Exec(wctx); err != nil {
			t.Errorf("write after Goexit in Tx (the transaction was left open?): %v", err)
		}
		if got := ids(t, ctx, db, expr.Eq(pc("id"), "g1")); len(got) != 0 {
			t.Errorf("Goexit left a row: %v", got)
		}

		// Tx inside a transaction runs in it: the outer one decides.
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "n1", "name": "outer"}).Exec(ctx))
			inner := tx.Tx(ctx, func(tx2 *orm.Tx) error {
				if !tx2.IsTx() {
					t.Error("nested Tx not in a transaction")
				}
				mustN(t)(tx2.Insert(qPeople).Values(orm.Row{"id": "n2", "name": "inner"}).Exec(ctx))
				return errBoom
			})
			if !errors.Is(inner, errBoom) {
				t.Errorf("nested error: %v", inner)
			}
			return inner
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("outer: %v", err)
		}
		if got := ids(t, ctx, db, expr.InArray(pc("id"), []string{"n1", "n2"})); len(got) != 0 {
			t.Errorf("nested rollback left %v", got)
		}
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "n3", "name": "outer"}).Exec(ctx))
			return tx.Tx(ctx, func(tx2 *orm.Tx) error {
				_, err := tx2.Insert(qPeople).Values(orm.Row{"id": "n4", "name": "inner"}).Exec(ctx)
				return err
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(t, ctx, db, expr.InArray(pc("id"), []string{"n3", "n4"})); !slices.Equal(got, []string{"n3", "n4"}) {
			t.Errorf("nested commit: %v", got)
		}
	})
}

// TestTxIsolation shows that a transaction's writes are not seen by
// another connection before commit.
func TestTxIsolation(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it checks what a second pool sees of DB's transactions, which a caller's transaction keeps uncommitted until the test ends", ormtest.ExecTx)
		ctx, db := seed(t, tg)
		other := orm.New(tg.Open(t), tg.Dialect)
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "iso", "name": "iso"}).Exec(ctx))
			if n := countPeople(t, ctx, other); n != 5 {
				t.Errorf("uncommitted row seen outside: %d", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := countPeople(t, ctx, other); n != 6 {
			t.Errorf("committed row not seen: %d", n)
		}
	})
}
