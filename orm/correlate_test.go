package orm_test

import (
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// CorrelateIn rewrites a plain IN subquery into the one EXISTS form both
// of its users (row auth, realtime) run, and leaves alone the subqueries
// whose column cannot move into WHERE (an aggregate) or whose x would
// name the subquery's own row.
func TestCorrelateIn(t *testing.T) {
	members := orm.NewTable("members", orm.ID(), orm.Text("list_id"), orm.Text("user_id"))
	todos := orm.NewTable("todos", orm.ID(), orm.Text("list_id"))
	mine := orm.Select(members.Col("list_id")).From(members).Where(expr.Eq(members.Col("user_id"), "ann"))
	in := expr.InArray(todos.Col("list_id"), mine)
	got := orm.CorrelateIn(expr.And(expr.Eq(todos.Col("id"), "t1"), in))
	text, _, err := orm.Select(todos.Col("id")).From(todos).Where(got).Render(dialect.Placeholders)
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT "todos"."id" FROM "todos" WHERE (("todos"."id" = ?) AND (EXISTS (SELECT 1 FROM "members" WHERE ("members"."user_id" = ?) AND ("todos"."list_id" = "members"."list_id"))))`
	if text != want {
		t.Errorf("got  %s\nwant %s", text, want)
	}
	for _, e := range []expr.Expr{
		expr.InArray(todos.Col("list_id"), orm.Select(expr.Max(members.Col("list_id"))).From(members)),
		expr.InArray(members.Col("list_id"), mine),
		expr.Not(in),
		expr.InArray(todos.Col("list_id"), []string{"a"}),
	} {
		if orm.CorrelateIn(e) != e {
			t.Errorf("%#v rewritten", e)
		}
	}
}
