package rowauth

import (
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

func TestPositiveExists(t *testing.T) {
	members := orm.NewTable("members", orm.ID(), orm.Text("list_id"), orm.Text("user_id"))
	todos := orm.NewTable("todos", orm.ID(), orm.Text("list_id"), orm.Text("title"))
	mine := orm.Select(members.Col("list_id")).From(members).Where(expr.Eq(members.Col("user_id"), "ann"))
	in := expr.InArray(expr.ColRef("todos", "list_id"), mine)
	render := func(e expr.Expr) string {
		b := dialect.GetBuilder(sqlite.Dialect)
		defer dialect.PutBuilder(b)
		q := orm.Select(expr.SQL("CASE WHEN ? THEN 1 ELSE 0 END", e)).
			FromSubquery(orm.Select(expr.As(expr.Bind("t1"), "id"), expr.As(expr.Bind("L1"), "list_id"), expr.As(expr.Bind("x"), "title")), "todos")
		if err := q.AppendSQL(b); err != nil {
			t.Fatal(err)
		}
		return string(b.Buf)
	}
	for _, c := range []struct {
		e      expr.Expr
		exists bool
	}{
		{in, true},
		{expr.And(expr.Eq(expr.ColRef("todos", "title"), "x"), in), true},
		{expr.Or(in, expr.Eq(expr.ColRef("todos", "title"), "x")), true},
		{expr.Not(in), false}, // NOT (NULL) is not NOT (false)
		{expr.InArray(expr.ColRef("todos", "list_id"), orm.Select(todos.Col("list_id")).From(todos)), false}, // would bind to the subquery's own todos
		{expr.InArray(expr.ColRef("", "list_id"), mine), false},
		{expr.InArray(expr.ColRef("todos", "list_id"), orm.Select(members.Col("list_id")).From(members).Limit(1)), false},
	} {
		got := render(positiveExists(c.e))
		if strings.Contains(got, "EXISTS") != c.exists || (c.exists && strings.Contains(got, " IN ")) {
			t.Errorf("%s: got %s", render(c.e), got)
		}
	}
	if got := render(positiveExists(in)); !strings.Contains(got, `EXISTS (SELECT 1 FROM "members" WHERE ("members"."user_id" = ?) AND ("todos"."list_id" = "members"."list_id"))`) {
		t.Errorf("got %s", got)
	}
}
