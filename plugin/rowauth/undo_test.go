package rowauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// TestCallerUndo: under WithCallerUndo, a write inside a transaction runs
// without row auth's savepoint, and a refusal of a write that ran is
// recorded for the caller, who rolls back; outside it the savepoint stays (PostgreSQL) and nothing
// is recorded.
func TestCallerUndo(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := openEdges(t, tg)
		var raws []string
		db = db.Use(func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if st.Op == orm.OpRaw {
					raws = append(raws, st.SQL)
				}
				return next(ctx, st)
			}
		})
		u2 := rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: "u2"})
		savepoints := func() int {
			n := 0
			for _, s := range raws {
				if strings.Contains(s, "SAVEPOINT") {
					n++
				}
			}
			return n
		}
		for _, undo := range []bool{true, false} {
			raws = nil
			u := &rowauth.CallerUndo{}
			ctx := u2
			if undo {
				ctx = rowauth.WithCallerUndo(u2, u)
			}
			_ = db.Tx(ctx, func(tx *orm.Tx) error {
				if _, err := tx.Insert(inbox).Values(orm.Row{"id": "ok", "owner_id": "u2", "author_id": "u2", "body": "x"}).Exec(ctx); err != nil {
					t.Fatal(err)
				}
				_, err := tx.Insert(inbox).Values(orm.Row{"id": "bad", "owner_id": "u9", "author_id": "u9", "body": "x"}).Exec(ctx)
				var ae *rowauth.AuthorizationError
				if !errors.As(err, &ae) {
					t.Fatalf("undo %v: want a refusal, got %v", undo, err)
				}
				return err // the caller rolls back
			})
			// SQLite checks an INSERT before it runs: nothing to undo.
			if want := undo && tg.Name == "postgres"; u.Refused() != want {
				t.Errorf("undo %v: Refused %v", undo, u.Refused())
			}
			switch {
			case undo && savepoints() != 0:
				t.Errorf("under WithCallerUndo: %d savepoint statements: %v", savepoints(), raws)
			case !undo && tg.Name == "postgres" && savepoints() == 0:
				t.Errorf("without WithCallerUndo: no savepoint on PostgreSQL: %v", raws)
			}
		}
	})
}
