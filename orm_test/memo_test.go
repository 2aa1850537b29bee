package ormtest_test

import (
	"context"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var memoKey = orm.NewMemoKey[*int]("test")

func memoOf(m *orm.Memo) *int { return orm.MemoLoad(m, memoKey, func() *int { return new(int) }) }

// TestMemoScope: a DB's Memo is shared by the DBs made from it and by no
// other DB; a Table's belongs to that table value and is emptied when the
// table changes.
func TestMemoScope(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := tg.DB
		v := memoOf(db.Memo())
		if memoOf(db.Memo()) != v || memoOf(db.Use().Memo()) != v {
			t.Error("Use copies do not share the Memo")
		}
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			if memoOf(tx.Memo()) != v {
				t.Error("a transaction does not share its DB's Memo")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if memoOf(orm.New(tg.Executor, tg.Dialect).Memo()) == v {
			t.Error("a new DB on the same pool shares the Memo")
		}
		orm.MemoForget(db.Memo(), memoKey)
		if memoOf(db.Memo()) == v {
			t.Error("MemoForget kept the value")
		}
	})

	tbl := orm.NewTable("memo_t", orm.ID())
	v := memoOf(tbl.Memo())
	if memoOf(tbl.Memo()) != v {
		t.Error("a table's Memo forgets")
	}
	if memoOf(tbl.As("x").Memo()) == v {
		t.Error("an alias shares its table's Memo")
	}
	orm.MustDefineSchema("memo-1", tbl)
	if memoOf(tbl.Memo()) == v {
		t.Error("DefineSchema kept a value made before it")
	}
	// A Table not made by NewTable keeps nothing, and does not panic.
	var zero orm.Table
	first, second := memoOf(zero.Memo()), memoOf(zero.Memo())
	if first == second {
		t.Error("a zero Table kept a value")
	}
}
