package ormtest_test

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// TestBulkInsert inserts enough rows in one statement that lib/pq loads
// them by COPY ... FROM STDIN (orm.CopyMinRows on the pool,
// orm.CopyMinRowsInTx in a transaction; pgx and SQLite use the multi-row
// INSERT), and checks every kind round-trips the same on every mode; and
// that a failing bulk insert writes nothing.
func TestBulkInsert(t *testing.T) {
	n := orm.CopyMinRows + orm.CopyMinRowsInTx + 7
	onPool := orm.CopyMinRows + 3
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	texts := []string{"plain", "tab\there", "new\nline", `back\slash`, `\N`, "quote ' \" ", "héllo ✓", "", "\r\n", `\\x00`}
	rows := make([]kindModel, n)
	for i := range rows {
		r := kindModel{ID: "b" + strconv.Itoa(i), Big: int64(i) * (math.MaxInt64 / int64(n))}
		if i%7 != 0 { // every seventh row is NULLs
			r.Flag, r.N = ptr(i%2 == 0), ptr(i-n/2)
			r.Txt = ptr(texts[i%len(texts)])
			r.Data = blob[:i%len(blob)]
			r.Doc = map[string]any{"i": float64(i), "s": texts[i%len(texts)], "l": []any{true, nil}}
		}
		if i == 1 {
			r.Big = math.MinInt64
		}
		rows[i] = r
	}
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		if tg.AbortsOnError() {
			tg.SkipExec(t, "the body goes on after a duplicate key fails a bulk insert; a failed statement aborts the caller's PostgreSQL transaction", ormtest.ExecTx)
		}
		ctx, db := seed(t, tg)
		if err := orm.EnsureSchema(ctx, qKindsSchema, db); err != nil {
			t.Fatal(err)
		}
		// On the pool: plasma opens the transaction COPY needs.
		if got, err := db.Insert(qKinds).Model(rows[:onPool]).Exec(ctx); err != nil || got != int64(onPool) {
			t.Fatalf("bulk insert on the pool: %d %v", got, err)
		}
		// In a transaction, with the rest (more than CopyMinRowsInTx).
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			got, err := tx.Insert(qKinds).Model(rows[onPool:]).Exec(ctx)
			if err == nil && got != int64(n-onPool) {
				t.Errorf("bulk insert in a transaction: %d rows", got)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := orm.All[kindModel](ctx, db.Select().From(qKinds).OrderBy(expr.Asc(qKinds.Col("big"))))
		if err != nil || len(got) != n {
			t.Fatalf("read back %d rows, %v", len(got), err)
		}
		want := make(map[string]kindModel, n)
		for _, r := range rows {
			want[r.ID] = r
		}
		for _, g := range got {
			w := want[g.ID]
			if w.Data != nil && len(w.Data) == 0 && g.Data != nil && len(g.Data) == 0 {
				w.Data = g.Data
			}
			if w.Doc != nil {
				w.Doc = map[string]any{"i": w.Doc.(map[string]any)["i"], "s": w.Doc.(map[string]any)["s"], "l": []any{true, nil}}
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("row %s read back as %+v, want %+v", g.ID, g, w)
			}
		}
		maps, err := orm.Maps(ctx, db.Select().From(qKinds).OrderBy(expr.Asc(qKinds.Col("id"))))
		if err != nil {
			t.Fatal(err)
		}
		rec("rows", maps)

		// A duplicate key in the batch: an error, and nothing written.
		dup := append([]kindModel(nil), rows[:n-1]...)
		for i := range dup {
			dup[i].ID = "d" + strconv.Itoa(i)
		}
		dup = append(dup, dup[3])
		_, err = db.Insert(qKinds).Model(dup).Exec(ctx)
		var ee *orm.ExecError
		if !errors.As(err, &ee) {
			t.Fatalf("duplicate key in a bulk insert: %v", err)
		}
		// COPY needs the driver, which orm.New finds only on a pool: a DB
		// built on a *sql.Conn or a caller's *sql.Tx inserts rows.
		usesCopy := (tg.Driver == ormtest.DriverPQ || tg.Driver == ormtest.DriverPQNoCache) &&
			(tg.Exec == ormtest.ExecPool || tg.Exec == ormtest.ExecBun)
		if strings.HasPrefix(ee.SQL, "COPY ") != usesCopy {
			t.Errorf("on %s the bulk insert ran as %.40s", tg.Mode, ee.SQL)
		}
		// The same in a transaction, with CopyMinRowsInTx rows.
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			batch := append(dup[:orm.CopyMinRowsInTx-1:orm.CopyMinRowsInTx-1], dup[0])
			_, err := tx.Insert(qKinds).Model(batch).Exec(ctx)
			return err
		})
		ee = nil
		if !errors.As(err, &ee) || strings.HasPrefix(ee.SQL, "COPY ") != usesCopy {
			t.Errorf("bulk insert in a transaction on %s: %v", tg.Mode, err)
		}
		count, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qKinds))
		if err != nil || count != int64(n) {
			t.Errorf("after the failed bulk insert: %d rows, %v", count, err)
		}
	})
}
