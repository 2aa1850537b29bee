package ormtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var (
	smokeUsers, smokeTodos = testschema.Smoke("")
	smokeSchema            = orm.MustDefineSchema("1", smokeTodos, smokeUsers)
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

type smokeTodo struct {
	ID      string
	Title   string
	OwnerID string `db:"owner_id"`
	Meta    map[string]any
}

func TestSmokeScan(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := tg.DB
		if err := orm.EnsureSchema(ctx, smokeSchema, db); err != nil {
			t.Fatal(err)
		}
		db.Insert(smokeUsers).Values(orm.Row{"id": "u1", "name": "ann"}).Exec(ctx)
		if _, err := db.Insert(smokeTodos).Values(orm.Row{"id": "t1", "title": "x", "owner_id": "u1", "meta": map[string]any{"a": 1}}, orm.Row{"id": "t2", "title": "y", "owner_id": "u1", "meta": nil}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		todos, err := orm.All[smokeTodo](ctx, db.Select().From(smokeTodos).OrderBy(expr.Asc(smokeTodos.Col("id"))))
		if err != nil || len(todos) != 2 || todos[0].Meta["a"] != float64(1) || todos[1].Meta != nil || todos[0].OwnerID != "u1" {
			t.Fatalf("%+v %v", todos, err)
		}
		n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(smokeTodos))
		if err != nil || n != 2 {
			t.Fatal(n, err)
		}
		maps, err := orm.Maps(ctx, db.Select().From(smokeUsers))
		if err != nil || maps[0]["active"] != true || maps[0]["age"] != int64(0) {
			t.Fatalf("%v %v", maps, err)
		}
		_, err = orm.One[smokeTodo](ctx, db.Select().From(smokeTodos).Where(expr.Eq(smokeTodos.Col("id"), "nope")))
		if !errors.Is(err, orm.ErrNotFound) {
			t.Fatal(err)
		}
		type strictTodo struct{ Meta string }
		_, err = orm.All[struct{ Meta json.RawMessage }](ctx, db.Select(smokeTodos.Col("meta")).From(smokeTodos))
		if err != nil {
			t.Fatal(err)
		}
		_, err = orm.All[strictTodo](ctx, db.Select(smokeTodos.Col("meta")).From(smokeTodos))
		var se *orm.ScanError
		if !errors.As(err, &se) || se.Column != "meta" || !errors.Is(err, orm.ErrNull) {
			t.Fatalf("want ScanError on meta, got %v", err)
		}
	})
}
