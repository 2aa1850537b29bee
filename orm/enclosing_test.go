package orm_test

import (
	"errors"
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// A subquery resolves correlated columns against the statements around
// it: the SELECT, UPDATE or DELETE it sits in, but not the SELECT whose
// FROM it is. These pin what each kind of enclosing statement lets a
// subquery see, and the SQL it renders.
func TestSubqueryEnclosingScope(t *testing.T) {
	lists := orm.NewTable("lists", orm.ID(), orm.Text("owner"))
	todos := orm.NewTable("todos", orm.ID(), orm.Text("list_id"), orm.Int("n"))
	// The owner of a todo's list: correlated on todos.list_id.
	owner := func() expr.Expr {
		return expr.Sub(orm.Select(lists.Col("owner")).From(lists).Where(expr.Eq(lists.Col("id"), todos.Col("list_id"))))
	}
	// The same, through a FROM subquery that is itself correlated.
	viaFrom := func() expr.Expr {
		inner := orm.Select(lists.Col("id"), lists.Col("owner")).From(lists).Where(expr.Eq(lists.Col("id"), todos.Col("list_id")))
		return expr.Sub(orm.Select(expr.ColRef("l", "owner")).FromSubquery(inner, "l"))
	}
	ok := []struct {
		name string
		q    func() (string, []any, error)
		want string
	}{
		{"select where", func() (string, []any, error) {
			return orm.Select(todos.Col("id")).From(todos).Where(expr.Eq(owner(), "ann")).Render(postgres.Dialect)
		}, `SELECT "todos"."id" FROM "todos" WHERE ((SELECT "lists"."owner" FROM "lists" WHERE ("lists"."id" = "todos"."list_id")) = $1)`},
		{"update where", func() (string, []any, error) {
			return orm.Update(todos).Set(orm.Row{"n": 1}).Where(expr.Eq(owner(), "ann")).Render(postgres.Dialect)
		}, `UPDATE "todos" SET "n" = $1 WHERE ((SELECT "lists"."owner" FROM "lists" WHERE ("lists"."id" = "todos"."list_id")) = $2)`},
		{"update set", func() (string, []any, error) {
			return orm.Update(todos).Set(orm.Row{"list_id": owner()}).AllRows().Render(postgres.Dialect)
		}, `UPDATE "todos" SET "list_id" = (SELECT "lists"."owner" FROM "lists" WHERE ("lists"."id" = "todos"."list_id"))`},
		{"delete where", func() (string, []any, error) {
			return orm.Delete(todos).Where(expr.Eq(owner(), "ann")).Render(postgres.Dialect)
		}, `DELETE FROM "todos" WHERE ((SELECT "lists"."owner" FROM "lists" WHERE ("lists"."id" = "todos"."list_id")) = $1)`},
		{"select, correlated FROM subquery in WHERE", func() (string, []any, error) {
			return orm.Select(todos.Col("id")).From(todos).Where(expr.Eq(viaFrom(), "ann")).Render(postgres.Dialect)
		}, `SELECT "todos"."id" FROM "todos" WHERE ((SELECT "l"."owner" FROM (SELECT "lists"."id", "lists"."owner" FROM "lists" WHERE ("lists"."id" = "todos"."list_id")) AS "l") = $1)`},
		{"delete, correlated FROM subquery in WHERE", func() (string, []any, error) {
			return orm.Delete(todos).Where(expr.Eq(viaFrom(), "ann")).Render(postgres.Dialect)
		}, `DELETE FROM "todos" WHERE ((SELECT "l"."owner" FROM (SELECT "lists"."id", "lists"."owner" FROM "lists" WHERE ("lists"."id" = "todos"."list_id")) AS "l") = $1)`},
	}
	for _, c := range ok {
		text, _, err := c.q()
		if err != nil || text != c.want {
			t.Errorf("%s:\n got  %s (%v)\n want %s", c.name, text, err, c.want)
		}
	}

	// A FROM subquery sees the statements around its SELECT, not that
	// SELECT's own sources: here todos is joined to the SELECT, and the
	// subquery naming it is refused, alone or inside a DELETE of lists.
	inner := orm.Select(lists.Col("id")).From(lists).Where(expr.Eq(lists.Col("id"), todos.Col("list_id")))
	joined := orm.Select(expr.ColRef("l", "id")).FromSubquery(inner, "l").
		InnerJoin(todos, expr.Eq(todos.Col("list_id"), expr.ColRef("l", "id")))
	_, _, err := joined.Render(postgres.Dialect)
	_, _, err2 := orm.Delete(lists).Where(expr.InArray(lists.Col("id"), joined)).Render(postgres.Dialect)
	for _, e := range []error{err, err2} {
		if !errors.Is(e, orm.ErrUnknownTable) {
			t.Errorf("a FROM subquery naming its SELECT's joined table: %v, want ErrUnknownTable", e)
		}
	}
}
