package orm

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
)

type icRow struct {
	ID    string `db:"id"`
	Title string `db:"title"`
	N     int    `db:"n"`
	Big   int64  `db:"big"`
	Done  bool   `db:"done"`
}

func icDB(t *testing.T) (*DB, *Table) {
	t.Helper()
	tbl := NewTable("ic", ID(), Text("title").Nullable(), Int("n").Nullable(), BigInt("big").Nullable(), Boolean("done").Nullable())
	db, err := Open(sqlite.Dialect, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := EnsureSchema(context.Background(), MustDefineSchema("1", tbl), db); err != nil {
		t.Fatal(err)
	}
	return db, tbl
}

// A plain INSERT's text is reused for the same table, columns and row
// count, and only then: other columns of the same count, another row
// count, and an upsert render their own.
func TestInsertTextCache(t *testing.T) {
	ctx := context.Background()
	db, tbl := icDB(t)
	exec := func(q *InsertQuery, want int64) {
		t.Helper()
		if n, err := q.Exec(ctx); err != nil || n != want {
			t.Fatalf("inserted %d, %v; want %d", n, err, want)
		}
	}
	exec(db.Insert(tbl).Model([]icRow{{ID: "a1", Title: "x", N: 1}, {ID: "a2", Title: "y", N: 2}}), 2)
	exec(db.Insert(tbl).Model([]icRow{{ID: "a3", Title: "z", N: 3}, {ID: "a4", Title: "w", N: 4}}), 2)
	exec(db.Insert(tbl).Values(Row{"id": "b1", "title": "t"}, Row{"id": "b2", "title": "u"}), 2)
	exec(db.Insert(tbl).Values(Row{"id": "c1", "n": 7}, Row{"id": "c2", "n": 8}), 2) // same shape, other columns
	exec(db.Insert(tbl).Values(Row{"id": "d1", "title": "v"}), 1)
	exec(db.Insert(tbl).Values(Row{"id": "d1", "title": "again"}, Row{"id": "d2", "title": "w"}).OnConflictDoUpdate([]string{"id"}), 2)
	if got := len(db.texts.ins); got != 3 { // one per shape: (id, n) replaced (id, title)
		t.Errorf("%d insert texts cached, want 3 (the upsert is not)", got)
	}
	got, err := All[struct {
		ID    string  `db:"id"`
		Title *string `db:"title"`
		N     *int64  `db:"n"`
	}](ctx, db.Select().From(tbl).OrderBy(expr.Asc(tbl.Col("id"))))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a1": "x/1", "a2": "y/2", "a3": "z/3", "a4": "w/4", "b1": "t/-", "b2": "u/-", "c1": "-/7", "c2": "-/8", "d1": "again/-", "d2": "w/-"}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for _, r := range got {
		s, n := "-", "-"
		if r.Title != nil {
			s = *r.Title
		}
		if r.N != nil {
			n = string(rune('0' + *r.N))
		}
		if w := want[r.ID]; s+"/"+n != w {
			t.Errorf("row %s: %s/%s, want %s", r.ID, s, n, w)
		}
	}
}

// Struct writes still refuse what their field types do not settle: text
// that is not UTF-8 and integers past an int column's 32 bits, as the
// value of the wrong kind it is, and nothing is written.
func TestModelBindChecks(t *testing.T) {
	ctx := context.Background()
	db, tbl := icDB(t)
	for name, rows := range map[string][]icRow{
		"utf8":     {{ID: "ok"}, {ID: "bad", Title: "\xff"}},
		"int32":    {{ID: "ok"}, {ID: "bad", N: math.MaxInt32 + 1}},
		"id utf8":  {{ID: "ok"}, {ID: "\xfe"}},
		"negative": {{ID: "ok"}, {ID: "bad", N: math.MinInt32 - 1}},
	} {
		_, err := db.Insert(tbl).Model(rows).Exec(ctx)
		if !errors.Is(err, ErrValueKind) {
			t.Errorf("%s: %v, want ErrValueKind", name, err)
		}
	}
	if _, err := db.Insert(tbl).Model(icRow{ID: "edge", N: math.MinInt32, Big: math.MaxInt64, Done: true}).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := All[icRow](ctx, db.Select().From(tbl))
	if err != nil || len(got) != 1 || got[0] != (icRow{ID: "edge", N: math.MinInt32, Big: math.MaxInt64, Done: true}) {
		t.Fatalf("%+v, %v; want only the valid row", got, err)
	}
}

// TestWritePlansLiveOnTheTable: a struct type's write plan is kept in
// its table's Memo, so it goes away with the table, and a table that With
// re-derives starts without the old plans.
func TestWritePlansLiveOnTheTable(t *testing.T) {
	tbl := NewTable("wp", ID(), Text("title"))
	type row struct {
		ID    string `db:"id"`
		Title string `db:"title"`
	}
	if q := Insert(tbl).Model(&row{ID: "a", Title: "x"}); q.err != nil {
		t.Fatal(q.err)
	}
	plans := MemoLoad(tbl.Memo(), plansKey, func() *sync.Map { return nil })
	if plans == nil {
		t.Fatal("no plans in the table's Memo after Model")
	}
	if _, ok := plans.Load(reflect.TypeFor[row]()); !ok {
		t.Fatal("the struct's plan is not in the table's Memo")
	}
	other := tbl.With(TableOptions{})
	if p := MemoLoad(other.Memo(), plansKey, func() *sync.Map { return nil }); p != nil {
		t.Fatal("a table made by With shares the old table's plans")
	}
}

// A struct insert whose fields all bind as they are keeps its rows
// unmade until something reads them (lazyRows): the values then are the
// same as an eager bind's, made once however many goroutines ask, and
// adding rows, cloning or rewriting the statement leaves the original's
// rows as they were.
func TestLazyModelRows(t *testing.T) {
	tbl := NewTable("lz", ID(), Text("title"), Int("n"), BigInt("big"), Boolean("done"))
	batch := []icRow{{ID: "a", Title: "x", N: -7, Big: 1 << 40, Done: true}, {ID: "b", Title: "y", N: 7}}
	want := [][]any{{"a", "x", int64(-7), int64(1 << 40), true}, {"b", "y", int64(7), int64(0), false}}
	q := Insert(tbl).Model(batch)
	if q.lazy == nil || q.err != nil {
		t.Fatalf("lazy %v, err %v: want lazy rows", q.lazy, q.err)
	}
	batch[0].Title = "changed after Model"
	var wg sync.WaitGroup
	got := make([][][]any, 4)
	for g := range got {
		wg.Go(func() { got[g] = q.Parts().Rows })
	}
	wg.Wait()
	for _, rows := range got {
		if !reflect.DeepEqual(rows, want) {
			t.Fatalf("Parts().Rows = %v, want %v", rows, want)
		}
	}
	if sql, args, err := q.Render(sqlite.Dialect); err != nil || len(args) != 10 || !reflect.DeepEqual(args[5:], want[1]) {
		t.Fatalf("Render: %q %v %v", sql, args, err)
	}

	c, parts := q.Rewrite()
	parts.Rows[0] = []any{"z", "swapped", int64(1), int64(2), false}
	if c.lazy != nil || !reflect.DeepEqual(q.Parts().Rows, want) {
		t.Fatalf("a rewrite changed the original's rows: %v", q.Parts().Rows)
	}
	more := q.Clone().Values(Row{"id": "c", "title": "z", "n": 1, "big": 2, "done": false})
	if rows := more.Parts().Rows; len(rows) != 3 || !reflect.DeepEqual(rows[:2], want) || !reflect.DeepEqual(q.Parts().Rows, want) {
		t.Fatalf("Values after a lazy Model: %v; original %v", rows, q.Parts().Rows)
	}
	again := Insert(tbl).Model(batch[1:]).Model(&batch[1])
	if rows := again.Parts().Rows; again.lazy != nil || len(rows) != 2 || !reflect.DeepEqual(rows[0], want[1]) || !reflect.DeepEqual(rows[1], want[1]) {
		t.Fatalf("Model twice: %v", rows)
	}
	// A field whose type binds through the general check is made at once.
	type withPtr struct {
		ID    string  `db:"id"`
		Title *string `db:"title"`
	}
	title := "t"
	if q := Insert(tbl).Model([]withPtr{{ID: "p", Title: &title}}); q.lazy != nil || q.err != nil {
		t.Fatalf("a pointer field: lazy %v, err %v", q.lazy, q.err)
	}
}
