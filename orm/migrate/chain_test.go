package migrate_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// Migration steps are plasma statements like any other: they pass through
// the caller's middleware chain as OpDDL.
func TestStepsGoThroughMiddleware(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		skipRefusedExec(t, tg)
		var mu sync.Mutex
		var ddl []string
		db := tg.DB.Use(func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if st.Op == orm.OpDDL {
					mu.Lock()
					ddl = append(ddl, st.SQL)
					mu.Unlock()
				}
				return next(ctx, st)
			}
		})
		v1 := schema(t, "1", orm.NewTable("things", orm.ID(), orm.Text("name")))
		if _, err := migrate.Run(ctx, v1, db, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		v2 := schema(t, "2", orm.NewTable("things", orm.ID(), orm.Text("name"), orm.Text("note").Nullable()))
		ddl = nil
		if _, err := migrate.Run(ctx, v2, db, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(ddl, "\n")
		if !strings.Contains(joined, `"note"`) {
			t.Fatalf("the add-column step did not reach the middleware; saw:\n%s", joined)
		}
	})
}

// TestRunRefusesTxExecutor: Run runs its own transaction, so a DB on a
// caller's transaction is refused with an error, before any statement, not
// joined or deadlocked. (The executor-mode runs of the other tests skip
// that mode for this reason.)
func TestRunRefusesTxExecutor(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		tx, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		_, err = migrate.Run(ctx, schema(t, "1", base()...), tg.DB.WithExecutor(tx), migrate.Options{})
		if err == nil || !strings.Contains(err.Error(), "needs a connection pool") {
			t.Fatalf("Run on a transaction: %v, want the connection-pool refusal", err)
		}
	})
}
