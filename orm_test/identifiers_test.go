package ormtest_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// identHostileNames are used as table, column and index names
// (testschema.HostileNames).
var identHostileNames = testschema.HostileNames()

// identHostileSchema declares testschema.HostileIdentifiers: one table per
// hostile name, each with a column of the same name, a column per hostile
// name in one wide table, indexes with hostile names and a reference from
// each table to the previous one.
func identHostileSchema(t *testing.T) (*orm.Schema, []*orm.Table, *orm.Table) {
	t.Helper()
	all := testschema.HostileIdentifiers(identHostileNames)
	tables, wide := slices.Clip(all[:len(all)-1]), all[len(all)-1]
	s, err := orm.DefineSchema("hostile", slices.Clone(all)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, tables, wide
}

func TestHostileIdentifiersRoundTrip(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		s, tables, wide := identHostileSchema(t)
		db := tg.DB
		if err := orm.EnsureSchema(ctx, s, db); err != nil {
			t.Fatal(err)
		}

		// Introspection sees every name exactly.
		have := introTables(t, tg)
		for _, tbl := range s.Tables() {
			if !slices.Contains(have, tbl.Name()) {
				t.Errorf("table %q missing; have %q", tbl.Name(), have)
			}
		}
		for i, tbl := range tables {
			n := identHostileNames[i]
			var got []string
			for _, c := range introColumns(t, tg, n) {
				got = append(got, c.name)
			}
			want := []string{"id", n}
			if i > 0 {
				want = append(want, "ref "+identHostileNames[i-1])
				fks := introForeignKeys(t, tg, n)
				if fk := fks["ref "+identHostileNames[i-1]]; fk != (introFK{identHostileNames[i-1], "id", "CASCADE"}) {
					t.Errorf("table %q: foreign keys %q", n, fks)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("table %q: columns %q, want %q", tbl.Name(), got, want)
			}
			ix := introIndexes(t, tg, n)
			if !reflect.DeepEqual(ix, map[string]introIndex{"ix " + n: {columns: []string{n}}}) {
				t.Errorf("table %q: indexes %+v", n, ix)
			}
		}
		var wideGot []string
		for _, c := range introColumns(t, tg, wide.Name()) {
			wideGot = append(wideGot, c.name)
		}
		if !slices.Equal(wideGot, append([]string{"id"}, identHostileNames...)) {
			t.Errorf("wide table columns %q", wideGot)
		}

		// A fresh pool finds every table by its exact name: no DDL. Not
		// in the caller's transaction, whose tables (and schema lock) a
		// fresh pool cannot see until the test ends.
		if tg.Exec != ormtest.ExecTx {
			fresh, _, sc := ensCounted(tg, tg.Open(t))
			if err := orm.EnsureSchema(ctx, s, fresh); err != nil {
				t.Fatal(err)
			}
			if _, ddl, _, _ := sc.snapshot(); ddl != 0 {
				t.Errorf("EnsureSchema on existing hostile tables issued DDL: %q", sc.sql)
			}
		}

		// Insert and select through every table, defaults included.
		for i, tbl := range tables {
			n := identHostileNames[i]
			row := orm.Row{"id": "row " + n}
			if i > 0 {
				row["ref "+identHostileNames[i-1]] = "row " + identHostileNames[i-1]
			}
			if _, err := db.Insert(tbl).Values(row).Exec(ctx); err != nil {
				t.Fatalf("insert into %q: %v", n, err)
			}
			got, err := orm.Maps(ctx, db.Select().From(tbl).Where(expr.Eq(tbl.Col(n), n)))
			if err != nil {
				t.Fatalf("select from %q: %v", n, err)
			}
			row[n] = n // the default
			if len(got) != 1 || !reflect.DeepEqual(got[0], row) {
				t.Errorf("table %q: got %q, want %q", n, got, row)
			}
		}
		// The references hold: deleting the first row cascades down the chain.
		if _, err := db.Delete(tables[0]).Where(expr.Eq(tables[0].Col("id"), "row "+identHostileNames[0])).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		last := tables[len(tables)-1]
		if n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(last)); err != nil || n != 0 {
			t.Errorf("cascade through hostile names left %d rows in the last table (%v)", n, err)
		}

		// The wide table: every hostile column, holding its own name.
		row := orm.Row{"id": "w"}
		for _, n := range identHostileNames {
			row[n] = n
		}
		if _, err := db.Insert(wide).Values(row).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		set := orm.Row{}
		for _, n := range identHostileNames {
			set[n] = "updated " + n
		}
		if k, err := db.Update(wide).Set(set).Where(expr.Eq(wide.Col(`select`), `select`), expr.Eq(wide.Col(`q?mark`), `q?mark`)).Exec(ctx); err != nil || k != 1 {
			t.Fatalf("update: %d, %v", k, err)
		}
		set["id"] = "w"
		got, err := orm.Maps(ctx, db.Select().From(wide))
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], set) {
			t.Errorf("wide row %q, %v; want %q", got, err, set)
		}

		// Struct scanning by hostile column names.
		type hostileRow struct {
			Select string `db:"select"`
			Emoji  string `db:"emoji😀🎉"`
			Quote  string `db:"dq\"uote"`
			Order  string `db:"ORDER"`
		}
		rows, err := orm.All[hostileRow](ctx, db.Select(wide.Col("select"), wide.Col("emoji😀🎉"), wide.Col(`dq"uote`), wide.Col("ORDER")).From(wide))
		if err != nil {
			t.Fatal(err)
		}
		want := hostileRow{"updated select", "updated emoji😀🎉", `updated dq"uote`, "updated ORDER"}
		if len(rows) != 1 || rows[0] != want {
			t.Errorf("All: %+v, want %+v", rows, want)
		}

		// Raw SQL reaches the same names.
		var v string
		q := fmt.Sprintf(`SELECT %s FROM %s WHERE %s = ?`, `"dq""uote"`, `"wide dq""uote"`, `"q?mark"`)
		rs, err := db.Query(ctx, q, "updated q?mark")
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		if !rs.Next() {
			t.Fatal("raw select found no row")
		}
		if err := rs.Scan(&v); err != nil || v != `updated dq"uote` {
			t.Errorf("raw select: %q, %v", v, err)
		}
	})
}
