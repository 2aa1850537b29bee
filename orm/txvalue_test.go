package orm_test

import (
	"context"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
)

func TestTxValue(t *testing.T) {
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type key struct{}
	made := 0
	init := func() any { made++; return &made }
	if v := db.TxValue(key{}, init); v != nil || made != 0 {
		t.Fatalf("outside a transaction: %v", v)
	}
	ctx := context.Background()
	for round := range 2 {
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			if v := tx.TxValue(key{}, nil); v != nil {
				t.Errorf("round %d: a value before any was made: %v", round, v)
			}
			a := tx.TxValue(key{}, init)
			if b := tx.Use().TxValue(key{}, init); a != b {
				t.Errorf("round %d: two values in one transaction", round)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if made != 2 {
		t.Errorf("made %d values in two transactions", made)
	}
}
