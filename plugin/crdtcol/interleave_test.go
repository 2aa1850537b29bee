package crdtcol_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/crdtcol"
)

// TestPlainInsertWaitsForUpsert: on PostgreSQL a plain INSERT of a new
// row takes the advisory lock an upsert on the same primary key holds
// between reading the stored state and writing the merged one, so the
// INSERT cannot land in between and be overwritten. The upsert is held
// after its read while the INSERT runs: the INSERT must either wait and
// then fail as a duplicate, or, if it succeeds, its increment must be in
// the final state.
func TestPlainInsertWaitsForUpsert(t *testing.T) {
	tg := ormtest.Postgres(t)
	read, proceed := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	armed.Store(true)
	hold := func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			res, err := next(ctx, st)
			if st.Op == orm.OpSelect && strings.Contains(st.SQL, `FROM "counters"`) && armed.CompareAndSwap(true, false) {
				close(read)
				<-proceed
			}
			return res, err
		}
	}
	ctx, dbA := setup(t, tg, crdtcol.Options{}, hold)
	dbB := second(t, tg, crdtcol.Options{})

	upserted := make(chan error, 1)
	go func() {
		_, err := dbA.Insert(counters).Values(orm.Row{"n": int64(1), "slug": "s", "hits": crdtcol.Incr(1)}).
			OnConflictDoUpdate([]string{"n"}, "hits").Exec(as("u"))
		upserted <- err
	}()
	select {
	case <-read:
	case err := <-upserted:
		t.Fatalf("the upsert ended before its read was held: %v", err)
	}
	inserted := make(chan error, 1)
	go func() {
		_, err := dbB.Insert(counters).Values(orm.Row{"n": int64(1), "slug": "s", "hits": crdtcol.Incr(1)}).Exec(as("p"))
		inserted <- err
	}()
	var insertErr error
	done := false
	select {
	case insertErr = <-inserted: // it did not wait for the upsert
		done = true
	case <-time.After(300 * time.Millisecond):
	}
	close(proceed)
	if err := <-upserted; err != nil {
		t.Fatalf("upsert: %v", err)
	}
	if !done {
		insertErr = <-inserted
	}
	var hits string
	rows, err := tg.DB.Query(ctx, `SELECT "hits" FROM "counters" WHERE "n" = ?`, 1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if err := rows.Scan(&hits); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	n := gcounter(t, hits).Read()
	switch {
	case insertErr == nil && n != 2:
		t.Fatalf("the INSERT succeeded and the upsert overwrote it: hits %s", hits)
	case insertErr != nil && !dialect.Classifier(tg.Dialect).IsUniqueViolation(insertErr):
		t.Fatalf("the INSERT failed otherwise than as a duplicate: %v", insertErr)
	case insertErr != nil && n != 1:
		t.Fatalf("hits %s after the upsert alone", hits)
	}
}
