package rowauth_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// Within one transaction, a write rule's check reflects every write made
// before it: what SQLite remembers between checks never outlives a
// change to what the check reads.
func TestChecksFollowWritesInATransaction(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := open(t, tg)
		u3 := as("u3") // a member of L1, not its owner
		insertTodo := func(tx *orm.DB, ctx context.Context, id string) error {
			_, err := tx.Insert(todos).Values(orm.Row{"id": id, "list_id": "L1", "title": id}).Exec(ctx)
			return err
		}
		denied := func(err error) bool { return errors.Is(err, rowauth.ErrOutsideRule) }
		steps := []struct {
			name  string
			run   func(tx *orm.DB) error
			allow bool // whether u3 may then insert a todo into L1
		}{
			{"a member", func(*orm.DB) error { return nil }, true},
			{"removed with DELETE", func(tx *orm.DB) error {
				_, err := tx.Delete(members).Where(expr.Eq(members.Col("id"), "m2")).Exec(system)
				return err
			}, false},
			{"added back with INSERT", func(tx *orm.DB) error {
				_, err := tx.Insert(members).Values(orm.Row{"id": "m2", "list_id": "L1", "user_id": "u3"}).Exec(system)
				return err
			}, true},
			{"moved with UPDATE", func(tx *orm.DB) error {
				_, err := tx.Update(members).Set(orm.Row{"list_id": "L2"}).Where(expr.Eq(members.Col("id"), "m2")).Exec(system)
				return err
			}, false},
			{"moved back with raw SQL", func(tx *orm.DB) error {
				_, err := tx.Exec(system, `UPDATE "members" SET "list_id" = ? WHERE "id" = ?`, "L1", "m2")
				return err
			}, true},
			{"removed inside a savepoint", func(tx *orm.DB) error {
				_, err := tx.Exec(system, `SAVEPOINT s`)
				if err == nil {
					_, err = tx.Delete(members).Where(expr.Eq(members.Col("id"), "m2")).Exec(system)
				}
				return err
			}, false},
			{"the savepoint rolled back", func(tx *orm.DB) error {
				_, err := tx.Exec(system, `ROLLBACK TO SAVEPOINT s`)
				return err
			}, true},
		}
		err := db.Tx(context.Background(), func(tx *orm.Tx) error {
			for i, s := range steps {
				if err := s.run(tx.DB); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				for j := range 2 { // the second check may be remembered
					err := insertTodo(tx.DB, u3, "x"+string(rune('a'+i))+string(rune('0'+j)))
					if s.allow && err != nil || !s.allow && !denied(err) {
						t.Errorf("%s, insert %d: %v (allowed: %v)", s.name, j, err, s.allow)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestChecksRememberedInATransaction: inside one transaction, the
// INSERT check that reads the same rows runs once, however many rows the
// transaction inserts (a push of a hundred todos into one list asks once
// whether its user is a member); outside one it runs for each INSERT.
// The checks that read before writing are SQLite's (see precheck):
// PostgreSQL checks the written rows through RETURNING instead.
func TestChecksRememberedInATransaction(t *testing.T) {
	tg := ormtest.SQLite(t)
	{
		var reads atomic.Int32
		db := open(t, tg).Use(func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if st.Op == orm.OpSelect || st.Op == orm.OpRaw && st.ReturnsRows {
					reads.Add(1)
				}
				return next(ctx, st)
			}
		})
		u3 := as("u3") // a member of L1, not its owner
		const n = 10
		insert := func(tx *orm.DB, i int) {
			id := fmt.Sprintf("r%d", i)
			if _, err := tx.Insert(todos).Values(orm.Row{"id": id, "list_id": "L1", "title": id}).Exec(u3); err != nil {
				t.Fatal(err)
			}
		}
		err := db.Tx(context.Background(), func(tx *orm.Tx) error {
			for i := range n {
				insert(tx.DB, i)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		inTx := reads.Swap(0)
		for i := n; i < 2*n; i++ {
			insert(db, i)
		}
		outside := reads.Load()
		if inTx != 1 || outside != n {
			t.Errorf("%d INSERTs read %d times in a transaction, %d times outside one: want the checks remembered in it", n, inTx, outside)
		}
		t.Logf("reads: %d in a transaction, %d outside", inTx, outside)
	}
}
