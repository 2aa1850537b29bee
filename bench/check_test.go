package bench

import (
	"context"
	"reflect"
	"testing"

	sq "github.com/Masterminds/squirrel"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// TestContendersAgree checks that the benchmarks compare like with like:
// the builders render the same query, and the readers and writers see
// the same rows.
func TestContendersAgree(t *testing.T) {
	ctx := context.Background()

	t.Run("BuildSelect", func(t *testing.T) {
		const want = `SELECT "users"."id", "users"."name", "users"."email" FROM "users" WHERE ("users"."age" > $1) AND ("users"."status" = $2) AND ("users"."name" LIKE $3) ORDER BY "users"."id" DESC LIMIT 10`
		q := orm.Select(qbUsers.Col("id"), qbUsers.Col("name"), qbUsers.Col("email")).
			From(qbUsers).
			Where(expr.Gt(qbUsers.Col("age"), 18), expr.Eq(qbUsers.Col("status"), "active"), expr.Like(qbUsers.Col("name"), "a%")).
			OrderBy(expr.Desc(qbUsers.Col("id"))).
			Limit(10)
		text, args, err := q.Render(postgres.Dialect)
		if err != nil || text != want || !reflect.DeepEqual(args, []any{18, "active", "a%"}) {
			t.Fatalf("plasma: %s %v %v", text, args, err)
		}
		p, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(qbUsers.Col("id"), qbUsers.Col("name"), qbUsers.Col("email")).
			From(qbUsers).
			Where(expr.Gt(qbUsers.Col("age"), expr.Arg(0)), expr.Eq(qbUsers.Col("status"), expr.Arg(1)), expr.Like(qbUsers.Col("name"), expr.Arg(2))).
			OrderBy(expr.Desc(qbUsers.Col("id"))).
			Limit(10))
		if err != nil {
			t.Fatal(err)
		}
		if text, args, err := p.Bind(18, "active", "a%"); err != nil || text != want || !reflect.DeepEqual(args, []any{18, "active", "a%"}) {
			t.Fatalf("plasma_prepared: %s %v %v", text, args, err)
		}
		text, args, err = sq.Select("id", "name", "email").From("users").
			Where(sq.Gt{"age": 18}).Where(sq.Eq{"status": "active"}).Where(sq.Like{"name": "a%"}).
			OrderBy("id DESC").Limit(10).PlaceholderFormat(sq.Dollar).ToSql()
		if want := "SELECT id, name, email FROM users WHERE age > $1 AND status = $2 AND name LIKE $3 ORDER BY id DESC LIMIT 10"; err != nil || text != want || len(args) != 3 {
			t.Fatalf("squirrel: %s %v %v", text, args, err)
		}
	})

	t.Run("ReadSlice", func(t *testing.T) {
		bd := qbOpen(t)
		qbSeed(t, bd, qbRows)
		want := qbMakePeople(0, qbRows)
		got, err := orm.All[qbPerson](ctx, bd.db.Select().From(qbPeople).Limit(qbRows))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("plasma: %v (%d rows)", err, len(got))
		}
		raw, err := qbReadRaw(ctx, bd.sql, `SELECT `+qbColumns+` FROM "people" LIMIT 100`)
		if err != nil || !reflect.DeepEqual(raw, want) {
			t.Fatalf("raw: %v (%d rows)", err, len(raw))
		}
		var viaBun []qbPerson
		if err := bd.bun.NewSelect().Model(&viaBun).Limit(qbRows).Scan(ctx); err != nil || !reflect.DeepEqual(viaBun, want) {
			t.Fatalf("bun: %v (%d rows)", err, len(viaBun))
		}
	})

	t.Run("InsertMulti", func(t *testing.T) {
		bd := qbOpen(t)
		batch := qbMakePeople(0, qbRows)
		vals := make([]orm.Row, len(batch))
		for i := range batch {
			vals[i] = qbRow(&batch[i])
		}
		if n, err := bd.db.Insert(qbPeople).Values(vals...).Exec(ctx); err != nil || n != qbRows {
			t.Fatalf("plasma: %d %v", n, err)
		}
		check := func(who string) {
			t.Helper()
			got, err := orm.All[qbPerson](ctx, bd.db.Select().From(qbPeople).OrderBy(expr.Asc(qbPeople.Col("id"))))
			if err != nil || len(got) != qbRows {
				t.Fatalf("%s: %d rows, %v", who, len(got), err)
			}
			byID := map[string]qbPerson{}
			for _, p := range got {
				byID[p.ID] = p
			}
			for _, p := range batch {
				if byID[p.ID] != p {
					t.Fatalf("%s: row %s is %+v, want %+v", who, p.ID, byID[p.ID], p)
				}
			}
			if _, err := bd.sql.ExecContext(ctx, `DELETE FROM "people"`); err != nil {
				t.Fatal(err)
			}
		}
		check("plasma")
		if _, err := bd.sql.ExecContext(ctx, qbInsertSQL(qbRows), qbArgs(batch, nil)...); err != nil {
			t.Fatal(err)
		}
		check("raw")
		if _, err := bd.bun.NewInsert().Model(&batch).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		check("bun")
	})
}
