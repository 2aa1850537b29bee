package ormtest_test

import (
	"context"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var (
	smokeUsers = orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Int("age").Default(0), orm.Boolean("active").Default(true))
	smokeTodos = orm.NewTable("todos", orm.ID(), orm.Text("title"), orm.Text("owner_id").References("users", "id", orm.OnDeleteCascade),
		orm.JSON("meta").Nullable())
	smokeSchema = orm.MustDefineSchema("1", smokeTodos, smokeUsers)
)

func TestSmoke(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := tg.DB
		if err := orm.EnsureSchema(ctx, smokeSchema, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(smokeUsers).Values(orm.Row{"id": "u1", "name": "ann", "age": 30}, orm.Row{"id": "u2", "name": "bob", "age": 20}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(smokeTodos).Values(orm.Row{"id": "t1", "title": "x", "owner_id": "u1", "meta": map[string]any{"a": 1}}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := db.Update(smokeUsers).Set(orm.Row{"active": false}).Where(expr.Eq(smokeUsers.Col("id"), "u2")).Exec(ctx)
		if err != nil || n != 1 {
			t.Fatal(n, err)
		}
		res, err := db.Select(smokeUsers.Col("name"), smokeUsers.Col("active")).From(smokeUsers).Where(expr.Gt(smokeUsers.Col("age"), 10)).OrderBy(expr.Desc(smokeUsers.Col("age"))).Limit(5).Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Rows.Close()
		var got []string
		for res.Rows.Next() {
			var name string
			var active bool
			if err := res.Rows.Scan(&name, &active); err != nil {
				t.Fatal(err)
			}
			got = append(got, name)
			t.Log(name, active)
		}
		if len(got) != 2 || got[0] != "ann" {
			t.Fatalf("got %v", got)
		}
		if _, err := db.Delete(smokeUsers).Where(expr.Eq(smokeUsers.Col("id"), "u1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
