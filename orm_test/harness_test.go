package ormtest_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// TestHarnessExecModes checks that each executor mode builds the body's DB
// on the executor it names, so that a mode cannot silently fall back to
// the pool.
func TestHarnessExecModes(t *testing.T) {
	seen := map[string]bool{}
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		seen[tg.Exec] = true
		if tg.DB.Executor() != tg.Executor {
			t.Fatalf("%s: DB runs on %T, the target says %T", tg.Exec, tg.DB.Executor(), tg.Executor)
		}
		tx, err := tg.DB.Begin(context.Background())
		if err == nil {
			_ = tx.Rollback()
		}
		switch ex := tg.Executor.(type) {
		case *sql.DB:
			if tg.Exec != ormtest.ExecPool && tg.Exec != ormtest.ExecBun || tg.DB.IsTx() || err != nil {
				t.Errorf("%s on a pool: IsTx %v, Begin %v", tg.Exec, tg.DB.IsTx(), err)
			}
		case *sql.Tx:
			if tg.Exec != ormtest.ExecTx || !tg.DB.IsTx() || !errors.Is(err, orm.ErrNoBeginner) {
				t.Errorf("%s on a transaction: IsTx %v, Begin %v", tg.Exec, tg.DB.IsTx(), err)
			}
		case *sql.Conn:
			if tg.Exec != ormtest.ExecConn || tg.DB.IsTx() || err != nil {
				t.Errorf("%s on a connection: IsTx %v, Begin %v", tg.Exec, tg.DB.IsTx(), err)
			}
		default:
			t.Errorf("%s: unexpected executor %T", tg.Exec, ex)
		}
	})
	for _, ex := range ormtest.ExecModes() {
		if !seen[ex] {
			t.Errorf("executor mode %s never ran", ex)
		}
	}
}
