package ormtest_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// Base is embedded in scanned structs: its fields are promoted.
type Base struct {
	ID string
}

type Audit struct {
	Score  int64
	Active bool
}

// scanPerson maps by db tag, by snake_case name and through embedded
// structs.
type scanPerson struct {
	Base
	Audit
	FullName string `db:"name"`
	Age      *int32 // nullable
	Team     sql.NullString
	Ignored  string  `db:"-"`
	Missing  float64 // no such column: left zero
	//lint:ignore U1000 an unexported field must be left alone by scanning
	unexp int
}

func TestScanStructs(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		got, err := orm.All[scanPerson](ctx, db.Select().From(qPeople).OrderBy(expr.Asc(pc("id"))))
		if err != nil {
			t.Fatal(err)
		}
		age := func(n int32) *int32 { return &n }
		ns := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
		want := []scanPerson{
			{Base: Base{"p1"}, Audit: Audit{10, true}, FullName: "ann", Age: age(30), Team: ns("red")},
			{Base: Base{"p2"}, Audit: Audit{20, false}, FullName: "bob", Age: age(20), Team: ns("blue")},
			{Base: Base{"p3"}, Audit: Audit{30, true}, FullName: "cat", Team: ns("red")},
			{Base: Base{"p4"}, Audit: Audit{40, true}, FullName: "dan", Age: age(40)},
			{Base: Base{"p5"}, Audit: Audit{50, false}, FullName: "eve", Age: age(25), Team: ns("blue")},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
		rec("structs", got)

		// snake_case: PersonID -> person_id; extra columns are skipped.
		type order struct {
			ID       string
			PersonID string
			Amount   int
			Note     *string
		}
		orders, err := orm.All[order](ctx, db.Select(oc("id"), oc("person_id"), oc("amount"), oc("note"), expr.As(expr.SQL("1"), "extra")).
			From(qOrders).OrderBy(expr.Asc(oc("id"))))
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) != 4 || orders[2].PersonID != "p2" || orders[3].Note != nil || *orders[0].Note != "first" || orders[1].Amount != 50 {
			t.Errorf("orders: %+v", orders)
		}
		rec("orders", orders)

		// An empty result is an empty slice.
		none, err := orm.All[order](ctx, db.Select().From(qOrders).Where(expr.Or()))
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("empty: %#v %v", none, err)
		}

		// One: the first row, or ErrNotFound.
		one, err := orm.One[scanPerson](ctx, db.Select().From(qPeople).Where(expr.Eq(pc("id"), "p2")))
		if err != nil || !reflect.DeepEqual(one, want[1]) {
			t.Errorf("one: %+v %v", one, err)
		}
		_, err = orm.One[scanPerson](ctx, db.Select().From(qPeople).Where(expr.Eq(pc("id"), "zz")))
		if !errors.Is(err, orm.ErrNotFound) {
			t.Errorf("one, none: %v", err)
		}
		_, err = orm.Scalar[int64](ctx, db.Select(pc("score")).From(qPeople).Where(expr.Eq(pc("id"), "zz")))
		if !errors.Is(err, orm.ErrNotFound) {
			t.Errorf("scalar, none: %v", err)
		}
		// Scalar of each type.
		name, err := orm.Scalar[string](ctx, db.Select(pc("name")).From(qPeople).Where(expr.Eq(pc("id"), "p3")))
		if err != nil || name != "cat" {
			t.Errorf("scalar string: %q %v", name, err)
		}
		active, err := orm.Scalar[bool](ctx, db.Select(pc("active")).From(qPeople).Where(expr.Eq(pc("id"), "p2")))
		if err != nil || active {
			t.Errorf("scalar bool: %v %v", active, err)
		}
		nullAge, err := orm.Scalar[*int64](ctx, db.Select(pc("age")).From(qPeople).Where(expr.Eq(pc("id"), "p3")))
		if err != nil || nullAge != nil {
			t.Errorf("scalar NULL: %v %v", nullAge, err)
		}
		nullTeam, err := orm.Scalar[sql.NullString](ctx, db.Select(pc("team")).From(qPeople).Where(expr.Eq(pc("id"), "p4")))
		if err != nil || nullTeam.Valid {
			t.Errorf("scalar NullString: %v %v", nullTeam, err)
		}
		// A scalar of several columns is refused.
		_, err = orm.Scalar[int64](ctx, db.Select(pc("age"), pc("score")).From(qPeople))
		if err == nil {
			t.Error("scalar of two columns")
		}
		// All of a scalar type.
		names, err := orm.All[string](ctx, db.Select(pc("name")).From(qPeople).OrderBy(expr.Desc(pc("name"))))
		if err != nil || !slices.Equal(names, []string{"eve", "dan", "cat", "bob", "ann"}) {
			t.Errorf("all strings: %v %v", names, err)
		}
		rec("names", names)

		// Maps: column name to normalised value.
		maps, err := orm.Maps(ctx, db.Select().From(qPeople).Where(expr.InArray(pc("id"), []string{"p3", "p4"})).OrderBy(expr.Asc(pc("id"))))
		if err != nil {
			t.Fatal(err)
		}
		wantMaps := []orm.Row{
			{"id": "p3", "name": "cat", "age": nil, "team": "red", "score": int64(30), "active": true},
			{"id": "p4", "name": "dan", "age": int64(40), "team": nil, "score": int64(40), "active": true},
		}
		if !reflect.DeepEqual(maps, wantMaps) {
			t.Errorf("maps: %v", maps)
		}
		rec("maps", maps)
		empty, err := orm.Maps(ctx, db.Select().From(qPeople).Where(expr.Or()))
		if err != nil || len(empty) != 0 {
			t.Errorf("maps, none: %v %v", empty, err)
		}
	})
}

// doc is a JSON document scanned into a struct.
type doc struct {
	Name string         `json:"name"`
	Tags []string       `json:"tags"`
	N    float64        `json:"n"`
	Sub  map[string]any `json:"sub"`
}

// kindRow reads every column of the kinds table.
type kindRow struct {
	ID   string
	Flag *bool
	N    *int32
	Big  *int64
	Txt  *string
	Data []byte
	Doc  any
}

func TestScanKinds(t *testing.T) {
	blob := []byte{0x00, 0xff, 0x01, 0xfe, 0x00, '\'', '"', '\\', 0x80}
	bigs := []int64{1<<53 + 1, math.MaxInt64, math.MinInt64, -(1<<53 + 1), 0}
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		if err := orm.EnsureSchema(ctx, qKindsSchema, db); err != nil {
			t.Fatal(err)
		}
		rows := []orm.Row{
			{"id": "k1", "flag": true, "n": math.MaxInt32, "big": bigs[0], "txt": "héllo", "data": blob,
				"doc": map[string]any{"name": "x", "tags": []string{"a", "b"}, "n": 1.5, "sub": map[string]any{"z": nil, "a": true}}},
			{"id": "k2", "flag": false, "n": math.MinInt32, "big": bigs[1], "txt": "", "data": []byte{},
				"doc": json.RawMessage(`[1, "two", null, {"b": 2, "a": 1}]`)},
			{"id": "k3", "flag": nil, "n": nil, "big": bigs[2], "txt": nil, "data": nil, "doc": nil},
			{"id": "k4", "flag": true, "n": 0, "big": bigs[3], "txt": "x", "data": []byte{0}, "doc": "a JSON string"},
			{"id": "k5", "flag": false, "n": -1, "big": bigs[4], "txt": "y", "data": []byte{0xff}, "doc": json.RawMessage(`12345678901`)},
		}
		mustN(t)(db.Insert(qKinds).Values(rows...).Exec(ctx))
		all := db.Select().From(qKinds).OrderBy(expr.Asc(qKinds.Col("id")))

		got, err := orm.All[kindRow](ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("%d rows", len(got))
		}
		// Booleans, from SQLite's integers too.
		if *got[0].Flag != true || *got[1].Flag != false || got[2].Flag != nil {
			t.Errorf("flags: %v %v %v", got[0].Flag, got[1].Flag, got[2].Flag)
		}
		// int at its limits; bigint beyond 2^53 exactly.
		if *got[0].N != math.MaxInt32 || *got[1].N != math.MinInt32 || got[2].N != nil {
			t.Errorf("ints: %v %v", *got[0].N, *got[1].N)
		}
		for i, b := range bigs {
			if got[i].Big == nil || *got[i].Big != b {
				t.Errorf("bigint %d: %v", b, got[i].Big)
			}
		}
		// Blobs byte for byte, with 0x00 and 0xff.
		if !slices.Equal(got[0].Data, blob) || len(got[1].Data) != 0 || got[2].Data != nil || !slices.Equal(got[3].Data, []byte{0}) || !slices.Equal(got[4].Data, []byte{0xff}) {
			t.Errorf("blobs: %v", [][]byte{got[0].Data, got[1].Data, got[2].Data, got[3].Data})
		}
		// JSON into any.
		wantDoc0 := map[string]any{"name": "x", "tags": []any{"a", "b"}, "n": 1.5, "sub": map[string]any{"z": nil, "a": true}}
		if !reflect.DeepEqual(got[0].Doc, wantDoc0) {
			t.Errorf("json any: %#v", got[0].Doc)
		}
		if !reflect.DeepEqual(got[1].Doc, []any{1.0, "two", nil, map[string]any{"a": 1.0, "b": 2.0}}) {
			t.Errorf("json array: %#v", got[1].Doc)
		}
		if got[2].Doc != nil || got[3].Doc != "a JSON string" || got[4].Doc != 12345678901.0 {
			t.Errorf("json scalars: %#v %#v %#v", got[2].Doc, got[3].Doc, got[4].Doc)
		}
		rec("structs", got)

		// JSON into a struct, a map and a pointer.
		type withDoc struct {
			ID  string
			Doc doc
		}
		d, err := orm.One[withDoc](ctx, db.Select(qKinds.Col("id"), qKinds.Col("doc")).From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k1")))
		if err != nil {
			t.Fatal(err)
		}
		if want := (doc{Name: "x", Tags: []string{"a", "b"}, N: 1.5, Sub: map[string]any{"z": nil, "a": true}}); !reflect.DeepEqual(d.Doc, want) {
			t.Errorf("json struct: %+v", d.Doc)
		}
		rec("json struct", d)
		type withDocPtr struct {
			Doc *doc
		}
		dp, err := orm.All[withDocPtr](ctx, db.Select(qKinds.Col("doc")).From(qKinds).Where(expr.InArray(qKinds.Col("id"), []string{"k1", "k3"})).OrderBy(expr.Asc(qKinds.Col("id"))))
		if err != nil || len(dp) != 2 || dp[0].Doc == nil || dp[0].Doc.Name != "x" || dp[1].Doc != nil {
			t.Errorf("json pointer: %+v %v", dp, err)
		}
		m, err := orm.Scalar[map[string]any](ctx, db.Select(qKinds.Col("doc")).From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k1")))
		if err != nil || !reflect.DeepEqual(m, wantDoc0) {
			t.Errorf("json scalar map: %v %v", m, err)
		}
		// JSON NULL into a non-pointer struct is a NULL error like any other.
		_, err = orm.One[withDoc](ctx, db.Select(qKinds.Col("id"), qKinds.Col("doc")).From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k3")))
		var se *orm.ScanError
		if !errors.As(err, &se) || se.Column != "doc" || !errors.Is(err, orm.ErrNull) {
			t.Errorf("json NULL into a struct: %v", err)
		}

		// Maps: one Go type per kind, on both engines.
		maps, err := orm.Maps(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		want0 := orm.Row{"id": "k1", "flag": true, "n": int64(math.MaxInt32), "big": bigs[0], "txt": "héllo", "data": blob, "doc": wantDoc0}
		if !reflect.DeepEqual(maps[0], want0) {
			t.Errorf("maps[0]: %#v", maps[0])
		}
		want2 := orm.Row{"id": "k3", "flag": nil, "n": nil, "big": bigs[2], "txt": nil, "data": nil, "doc": nil}
		if !reflect.DeepEqual(maps[2], want2) {
			t.Errorf("maps[2]: %#v", maps[2])
		}
		rec("maps", maps)

		// Into any: the same normalised values as Maps.
		type anyRow struct {
			Flag any
			Big  any
			Txt  any
			Data any
		}
		anys, err := orm.All[anyRow](ctx, db.Select(qKinds.Col("flag"), qKinds.Col("big"), qKinds.Col("txt"), qKinds.Col("data")).
			From(qKinds).OrderBy(expr.Asc(qKinds.Col("id"))))
		if err != nil {
			t.Fatal(err)
		}
		if want := (anyRow{true, bigs[0], "héllo", blob}); !reflect.DeepEqual(anys[0], want) {
			t.Errorf("into any: %#v", anys[0])
		}
		rec("anys", anys)

		// sql.Null* and pointers take NULL.
		type nulls struct {
			Flag sql.NullBool
			N    sql.NullInt32
			Big  sql.NullInt64
			Txt  sql.NullString
			Data *[]byte
		}
		ns, err := orm.One[nulls](ctx, db.Select(qKinds.Col("flag"), qKinds.Col("n"), qKinds.Col("big"), qKinds.Col("txt"), qKinds.Col("data")).
			From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k3")))
		if err != nil || ns.Flag.Valid || ns.N.Valid || !ns.Big.Valid || ns.Txt.Valid || ns.Data != nil {
			t.Errorf("nulls: %+v %v", ns, err)
		}
		nv, err := orm.One[nulls](ctx, db.Select(qKinds.Col("flag"), qKinds.Col("n"), qKinds.Col("big"), qKinds.Col("txt"), qKinds.Col("data")).
			From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k1")))
		if err != nil || !nv.Flag.Bool || nv.N.Int32 != math.MaxInt32 || nv.Big.Int64 != bigs[0] || nv.Txt.String != "héllo" || !slices.Equal(*nv.Data, blob) {
			t.Errorf("null types with values: %+v %v", nv, err)
		}

		// NULL into a non-pointer: a ScanError naming the column.
		for _, c := range []struct {
			col  string
			scan func() error
		}{
			{"flag", func() error {
				_, err := orm.All[struct{ Flag bool }](ctx, db.Select(qKinds.Col("flag")).From(qKinds))
				return err
			}},
			{"n", func() error {
				_, err := orm.All[struct{ N int32 }](ctx, db.Select(qKinds.Col("n")).From(qKinds))
				return err
			}},
			{"txt", func() error {
				_, err := orm.All[struct {
					ID  string
					Txt string
				}](ctx, db.Select(qKinds.Col("id"), qKinds.Col("txt")).From(qKinds))
				return err
			}},
			{"n", func() error {
				_, err := orm.Scalar[int](ctx, db.Select(qKinds.Col("n")).From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k3")))
				return err
			}},
			{"renamed", func() error {
				_, err := orm.One[struct {
					Renamed string `db:"renamed"`
				}](ctx, db.Select(expr.As(qKinds.Col("txt"), "renamed")).From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k3")))
				return err
			}},
		} {
			err := c.scan()
			var se *orm.ScanError
			if !errors.As(err, &se) || se.Column != c.col || !errors.Is(err, orm.ErrNull) {
				t.Errorf("NULL into %s: %v", c.col, err)
			}
		}
	})
}

// TestScanAggregateKinds shows aggregates read the same on both engines:
// COUNT and SUM of integers as int64, AVG as float64, MAX/MIN as their
// column's kind.
func TestScanAggregateKinds(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		maps, err := orm.Maps(ctx, db.Select(pc("team"),
			expr.As(expr.CountAll(), "n"), expr.As(expr.Sum(pc("score")), "sum"), expr.As(expr.Sum(pc("age")), "ages"),
			expr.As(expr.Avg(pc("score")), "avg"), expr.As(expr.Max(pc("age")), "oldest"), expr.As(expr.Min(pc("name")), "first")).
			From(qPeople).GroupBy(pc("team")).OrderBy(expr.Asc(pc("team"))))
		if err != nil {
			t.Fatal(err)
		}
		want := []orm.Row{
			{"team": "blue", "n": int64(2), "sum": int64(70), "ages": int64(45), "avg": 35.0, "oldest": int64(25), "first": "bob"},
			{"team": "red", "n": int64(2), "sum": int64(40), "ages": int64(30), "avg": 20.0, "oldest": int64(30), "first": "ann"},
			{"team": nil, "n": int64(1), "sum": int64(40), "ages": int64(40), "avg": 40.0, "oldest": int64(40), "first": "dan"},
		}
		if !reflect.DeepEqual(maps, want) {
			t.Errorf("got  %v\nwant %v", maps, want)
		}
		rec("maps", maps)
	})
}
