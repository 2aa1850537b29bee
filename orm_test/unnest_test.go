package ormtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// Every column kind, nullable, and columns with defaults that the
// multi-row inserts below leave out.
var (
	qMulti = orm.NewTable("multi_kinds",
		orm.ID(),
		orm.Text("txt").Nullable(),
		orm.Int("n").Nullable(),
		orm.BigInt("big").Nullable(),
		orm.Boolean("flag").Nullable(),
		orm.Blob("data").Nullable(),
		orm.JSON("doc").Nullable(),
		orm.File("file").Nullable(),
		orm.CRDTCounter("likes").Nullable(),
		orm.Text("sealed").Encrypted().Nullable(),
		orm.Text("dtxt").Default("dflt"),
		orm.Int("dn").Default(7),
		orm.Boolean("dflag").Default(true),
	)
	qMultiSeq          = orm.NewTable("multi_seq", orm.AutoIncrement("seq"), orm.Text("label")).With(orm.TableOptions{ChangeLogSuppressed: true})
	qMultiSchema       = orm.MustDefineSchema("mk1", qMulti, qMultiSeq)
	multiTexts         = []string{"", "plain", "NULL", "null", `\N`, `"`, `\`, `\\x00`, "{}", "{a,b}", ",", " ", "  lead and trail  ", "tab\there", "new\nline", "\r\n", "quote ' \" \\ end", "héllo ✓ 日本語 🎉", "\u00a0nbsp", "\x7f", strings.Repeat("long ", 300)}
	multiInts          = []int64{0, 1, -1, math.MaxInt32, math.MinInt32, 1 << 20}
	multiBigs          = []int64{0, -1, math.MaxInt64, math.MinInt64, 1<<53 + 1, -(1<<53 + 1)}
	multiDocs          = []any{map[string]any{"a": 1.5, "s": "x\"y", "u": "✓", "l": []any{true, nil}}, "a JSON string", json.RawMessage(`[1,"two",null]`), json.RawMessage(`"NULL"`), 0.0, false, json.RawMessage(`{}`), json.RawMessage(`"\\\""`)}
	multiCounterStates = []string{`{"a":1}`, `{"n1":3,"n2":4}`, `{}`}
)

// multiRow is row i of the multi-row insert tests: every seventh row is
// NULL in every nullable column, the others cycle through edge values.
func multiRow(prefix string, i int) orm.Row {
	r := orm.Row{"id": prefix + strconv.Itoa(1000+i)}
	if i%7 == 3 {
		for _, c := range []string{"txt", "n", "big", "flag", "data", "doc", "file", "likes", "sealed"} {
			r[c] = nil
		}
		return r
	}
	blob := make([]byte, i%5*3)
	for j := range blob {
		blob[j] = byte(i*31 + j*17) // every byte value comes round, NUL and high bytes included
	}
	if i%11 == 5 {
		blob = nil // a nil []byte is NULL
	}
	r["txt"] = multiTexts[i%len(multiTexts)]
	r["n"] = multiInts[i%len(multiInts)]
	r["big"] = multiBigs[i%len(multiBigs)]
	r["flag"] = i%2 == 0
	r["data"] = blob
	r["doc"] = multiDocs[i%len(multiDocs)]
	r["file"] = `{"hash":"h` + strconv.Itoa(i) + `","size":` + strconv.Itoa(i) + `}`
	r["likes"] = multiCounterStates[i%len(multiCounterStates)]
	r["sealed"] = `{"v":1,"k":"key","c":"` + strconv.Itoa(i) + `"}`
	if i%5 == 1 { // mixed: some values NULL, some not, in one row
		r["txt"], r["data"], r["flag"] = nil, nil, nil
	}
	return r
}

// TestMultiRowInsertKinds writes multi-row inserts of every column kind
// with NULLs and edge values (on PostgreSQL, through lib/pq and pgx, from
// orm.UnnestMinRows rows these go as INSERT ... SELECT unnest(...), with
// one array per column), leaving defaulted columns out, and checks that
// the rows read back are the rows written, the same on every engine,
// driver and executor; and that ON CONFLICT, RETURNING (in the order
// given) and a failing insert behave as with VALUES.
func TestMultiRowInsertKinds(t *testing.T) {
	sizes := []int{2, orm.UnnestMinRows, 3*orm.UnnestMinRows + 7}
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx := context.Background()
		db := tg.DB
		if err := orm.EnsureSchema(ctx, qMultiSchema, db); err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			rows := make([]orm.Row, n)
			for i := range rows {
				rows[i] = multiRow("r"+strconv.Itoa(n)+"_", i)
			}
			if got := mustN(t)(db.Insert(qMulti).Values(rows...).Exec(ctx)); got != int64(n) {
				t.Fatalf("%d rows: inserted %d", n, got)
			}
		}
		// The same rows again, in a transaction plasma opens.
		n := sizes[len(sizes)-1]
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			rows := make([]orm.Row, n)
			for i := range rows {
				rows[i] = multiRow("tx_", i)
			}
			_, err := tx.Insert(qMulti).Values(rows...).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := orm.Maps(ctx, db.Select().From(qMulti).OrderBy(expr.Asc(qMulti.Col("id"))))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != sizes[0]+sizes[1]+2*sizes[2] {
			t.Fatalf("read back %d rows", len(got))
		}
		for _, g := range got {
			id := g["id"].(string)
			prefix, num, _ := strings.Cut(id, "_")
			i, _ := strconv.Atoi(num)
			want := multiRow(prefix+"_", i-1000)
			checkMultiRow(t, g, want)
		}
		rec("rows", got)

		// ON CONFLICT, no RETURNING: DO NOTHING skips the existing rows,
		// DO UPDATE overwrites them.
		batch := make([]orm.Row, orm.UnnestMinRows+2)
		for i := range batch {
			batch[i] = multiRow("tx_", i)
			batch[i]["txt"] = "updated " + strconv.Itoa(i)
		}
		batch = append(batch, multiRow("new_", 0))
		if k := mustN(t)(db.Insert(qMulti).Values(batch...).OnConflictDoNothing("id").Exec(ctx)); k != 1 {
			t.Errorf("ON CONFLICT DO NOTHING inserted %d rows, want 1", k)
		}
		if k := mustN(t)(db.Insert(qMulti).Values(batch...).OnConflictDoUpdate([]string{"id"}, "txt").Exec(ctx)); k != int64(len(batch)) {
			t.Errorf("ON CONFLICT DO UPDATE wrote %d rows, want %d", k, len(batch))
		}
		texts, err := orm.Maps(ctx, db.Select(qMulti.Col("id"), qMulti.Col("txt")).From(qMulti).
			Where(expr.Like(qMulti.Col("id"), "tx_10%")).OrderBy(expr.Asc(qMulti.Col("id"))))
		if err != nil {
			t.Fatal(err)
		}
		rec("upserted", texts)

		// RETURNING gives the rows back in the order given (ids out of
		// sorted order on purpose).
		back := make([]orm.Row, orm.UnnestMinRows+3)
		for i := range back {
			back[i] = multiRow("ret_", (i*7)%len(back))
		}
		res, err := db.Insert(qMulti).Values(back...).Returning(qMulti.Col("id"), qMulti.Col("dn")).Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for res.Rows.Next() {
			var id string
			var dn int64
			if err := res.Rows.Scan(&id, &dn); err != nil {
				t.Fatal(err)
			}
			order = append(order, id+"/"+strconv.FormatInt(dn, 10))
		}
		if err := res.Rows.Err(); err != nil {
			t.Fatal(err)
		}
		res.Rows.Close()
		for i, r := range back {
			if i >= len(order) || order[i] != r["id"].(string)+"/7" {
				t.Fatalf("RETURNING gave %v, want the ids in the order %v", order, back)
			}
		}
		rec("returning", order)

		// An auto-increment key: left out it is assigned in row order;
		// given it is kept.
		seqRows := make([]orm.Row, orm.UnnestMinRows+1)
		for i := range seqRows {
			seqRows[i] = orm.Row{"label": "l" + strconv.Itoa(i)}
		}
		mustN(t)(db.Insert(qMultiSeq).Values(seqRows...).Exec(ctx))
		for i := range seqRows {
			seqRows[i] = orm.Row{"seq": int64(1_000_000_000_000 + i), "label": "given" + strconv.Itoa(i)}
		}
		mustN(t)(db.Insert(qMultiSeq).Values(seqRows...).Exec(ctx))
		seqs, err := orm.Maps(ctx, db.Select().From(qMultiSeq).OrderBy(expr.Asc(qMultiSeq.Col("seq"))))
		if err != nil {
			t.Fatal(err)
		}
		rec("seq", seqs)

		if tg.AbortsOnError() {
			return // the failing insert below would abort the caller's transaction
		}
		// A duplicate key: an error, nothing written; on PostgreSQL on a
		// pool, the insert went as unnest.
		dup := make([]orm.Row, orm.UnnestMinRows+1)
		for i := range dup {
			dup[i] = multiRow("dup_", i)
		}
		dup = append(dup, multiRow("dup_", 2))
		_, err = db.Insert(qMulti).Values(dup...).Exec(ctx)
		var ee *orm.ExecError
		if !errors.As(err, &ee) {
			t.Fatalf("duplicate key in a multi-row insert: %v", err)
		}
		usesUnnest := tg.Name == "postgres" && (tg.Exec == ormtest.ExecPool || tg.Exec == ormtest.ExecBun)
		if strings.Contains(ee.SQL, "unnest(") != usesUnnest {
			t.Errorf("on %s/%s the multi-row insert ran as %.80s", tg.Mode, tg.Exec, ee.SQL)
		}
		count, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qMulti).Where(expr.Like(qMulti.Col("id"), "dup_%")))
		if err != nil || count != 0 {
			t.Errorf("after the failed insert: %d rows, %v", count, err)
		}
	})
}

// checkMultiRow compares a row read back with the row written: the
// defaulted columns hold their defaults, JSON columns equal JSON values,
// empty and nil blobs as the engines give them back.
func checkMultiRow(t *testing.T, got map[string]any, want orm.Row) {
	t.Helper()
	id := got["id"]
	for _, c := range []string{"txt", "n", "big", "flag"} {
		w, g := want[c], got[c]
		if n, ok := w.(int64); ok {
			if gi, ok := g.(int64); !ok || gi != n {
				t.Errorf("%v.%s = %#v, want %d", id, c, g, n)
			}
			continue
		}
		if w != g {
			t.Errorf("%v.%s = %#v, want %#v", id, c, g, w)
		}
	}
	if w, _ := want["data"].([]byte); w == nil {
		if got["data"] != nil {
			t.Errorf("%v.data = %#v, want NULL", id, got["data"])
		}
	} else if g, ok := got["data"].([]byte); !ok || string(g) != string(w) {
		t.Errorf("%v.data = %#v, want %#v", id, got["data"], w)
	}
	for _, c := range []string{"doc", "file", "likes", "sealed"} {
		w := want[c]
		if w == nil {
			if got[c] != nil {
				t.Errorf("%v.%s = %#v, want NULL", id, c, got[c])
			}
			continue
		}
		wj, _ := json.Marshal(w)
		if s, ok := w.(string); ok && c != "doc" {
			wj = []byte(s)
		}
		gj, _ := json.Marshal(got[c])
		if s, ok := got[c].(string); ok && c != "doc" {
			gj = []byte(s) // encrypted and CRDT columns read back as their JSON text
		}
		var wv, gv any
		if json.Unmarshal(wj, &wv) != nil || json.Unmarshal(gj, &gv) != nil || !jsonEqual(wv, gv) {
			t.Errorf("%v.%s = %s, want %s", id, c, gj, wj)
		}
	}
	if got["dtxt"] != "dflt" || got["dn"] != int64(7) || got["dflag"] != true {
		t.Errorf("%v: defaults %#v %#v %#v", id, got["dtxt"], got["dn"], got["dflag"])
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestMultiRowInsertForeignTypes inserts many rows into a PostgreSQL
// table plasma did not create, whose columns have other types than
// plasma's (uuid, smallint, varchar, timestamptz, json) for the kinds it
// declares (text, int, json): the rows go as VALUES, whose parameters
// take the columns' types, and arrive as they would one by one.
func TestMultiRowInsertForeignTypes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Name != "postgres" {
			t.Skip("the table's column types are PostgreSQL's")
		}
		ctx := context.Background()
		if _, err := tg.Executor.ExecContext(ctx, `CREATE TABLE "foreign_multi" (id uuid PRIMARY KEY, n smallint, label varchar(20), at timestamptz, doc json, ok boolean)`); err != nil {
			t.Fatal(err)
		}
		tbl := orm.NewTable("foreign_multi", orm.ID(), orm.Int("n"), orm.Text("label"), orm.Text("at"), orm.JSON("doc"), orm.Boolean("ok")).
			With(orm.TableOptions{External: true})
		orm.MustDefineSchema("fm1", tbl)
		rows := make([]orm.Row, 2*orm.UnnestMinRows)
		for i := range rows {
			rows[i] = orm.Row{"id": "00000000-0000-4000-8000-0000000000" + strconv.Itoa(10+i), "n": int64(i), "label": "l" + strconv.Itoa(i),
				"at": "2026-12-07 10:00:0" + strconv.Itoa(i%10) + "+00", "doc": map[string]any{"i": i}, "ok": i%2 == 0}
		}
		for range 2 { // the second run finds the table's types known
			if _, err := tg.DB.Insert(tbl).Values(rows...).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := tg.Executor.ExecContext(ctx, `DELETE FROM "foreign_multi"`); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tg.DB.Insert(tbl).Values(rows...).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		var at string
		if err := tg.QueryRow(ctx, `SELECT count(*), min(at AT TIME ZONE 'UTC')::text FROM "foreign_multi"`).Scan(&n, &at); err != nil || n != len(rows) || at != "2026-12-07 10:00:00" {
			t.Fatalf("%d rows, first at %s, %v", n, at, err)
		}
	})
}
