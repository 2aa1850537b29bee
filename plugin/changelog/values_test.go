package changelog_test

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/rowjson"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// upper is a driver.Valuer: only the database knows what it stores.
type upper string

func (u upper) Value() (driver.Value, error) { return string(u) + "!", nil }

var kinds = orm.NewTable("kinds", orm.ID(),
	orm.Text("t"), orm.Text("t_def").Default("dflt \"q\" ü"), orm.Text("t_null").Nullable(),
	orm.Int("i").Default(7), orm.BigInt("big").Nullable(),
	orm.Boolean("b").Default(true), orm.Blob("bl").Nullable(),
	orm.JSON("j").Nullable())

// An INSERT's logged image is the row as a read gives it, whether the
// log made it from the values (SQLite, plain INSERT of plain values) or
// read it back.
func TestInsertImageMatchesStoredRow(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		s := orm.MustDefineSchema("1", kinds)
		db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: s}))
		if err := orm.EnsureSchema(ctx, s, db); err != nil {
			t.Fatal(err)
		}
		if err := changelog.Ensure(ctx, db); err != nil {
			t.Fatal(err)
		}
		inserts := []*orm.InsertQuery{
			db.Insert(kinds).Values(orm.Row{"id": "a", "t": "plain"}), // defaults and NULLs
			db.Insert(kinds).Values(orm.Row{"id": "b", "t": "☃ \x01 \"x\" \\", "t_def": "", "t_null": "n",
				"i": -2147483648, "big": int64(-1) << 62, "b": false, "bl": []byte{0, 1, 255}}),
			db.Insert(kinds).Values( // several rows
				orm.Row{"id": "c", "t": "c", "big": nil, "bl": []byte("c")},
				orm.Row{"id": "d", "t": "d", "big": 9007199254740993, "bl": []byte{}}),
			db.Insert(kinds).Values(orm.Row{"id": "e", "t": "json", "j": json.RawMessage(`{ "b" : [1, 2] ,"a":1}`)}),
			db.Insert(kinds).Values(orm.Row{"id": "f", "t": upper("valuer")}),
		}
		for _, q := range inserts {
			if _, err := q.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		logged := map[string]string{}
		r := &reader{t: t, db: db, region: changelog.DefaultRegion}
		for _, c := range r.next() {
			logged[c.RowID] = string(c.Row)
		}
		stored := storedImages(t, ctx, tg, kinds)
		if len(stored) != 6 || len(logged) != 6 {
			t.Fatalf("%d rows stored, %d logged", len(stored), len(logged))
		}
		for id, want := range stored {
			if logged[id] != want {
				t.Errorf("row %s\nlogged %s\nstored %s", id, logged[id], want)
			}
		}
	})
}

// storedImages reads every row of tbl and encodes it as a pull would.
func storedImages(t *testing.T, ctx context.Context, tg *ormtest.Target, tbl *orm.Table) map[string]string {
	t.Helper()
	plan := rowjson.For(tbl)
	cols := make([]expr.Expr, 0, len(tbl.Columns()))
	for _, c := range tbl.Columns() {
		cols = append(cols, tbl.Col(c.Name()))
	}
	text, args, err := orm.Select(cols...).From(tbl).Render(tg.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tg.SQL.QueryContext(ctx, text, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		img, err := plan.AppendRow(nil, vals)
		if err != nil {
			t.Fatal(err)
		}
		out[rowjson.IDString(vals[plan.ID])] = string(img)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
