package rowauth

import (
	"fmt"
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
		got := render(orm.CorrelateIn(c.e))
		if strings.Contains(got, "EXISTS") != c.exists || (c.exists && strings.Contains(got, " IN ")) {
			t.Errorf("%s: got %s", render(c.e), got)
		}
	}
	if got := render(orm.CorrelateIn(in)); !strings.Contains(got, `EXISTS (SELECT 1 FROM "members" WHERE ("members"."user_id" = ?) AND ("todos"."list_id" = "members"."list_id"))`) {
		t.Errorf("got %s", got)
	}
}

func TestSubstitute(t *testing.T) {
	members := orm.NewTable("members", orm.ID(), orm.Text("list_id"), orm.Text("user_id"))
	todos := orm.NewTable("todos", orm.ID(), orm.Text("list_id"), orm.Text("title"))
	row := map[string]any{"id": "t1", "list_id": "L1", "title": "x"}
	value := func(col string) any { return row[col] }
	render := func(e expr.Expr) (string, []any) {
		text, args, err := orm.Select(expr.As(e, "ok")).Render(sqlite.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		return text, args
	}
	mine := orm.Select(members.Col("list_id")).From(members).Where(expr.Eq(members.Col("user_id"), "ann"))
	for _, c := range []struct {
		name  string
		e     expr.Expr
		plain bool
		text  string
		args  string
	}{
		{"membership", expr.InArray(expr.ColRef("todos", "list_id"), mine), true,
			`SELECT (? IN (SELECT "members"."list_id" FROM "members" WHERE ("members"."user_id" = ?))) AS "ok"`, "[L1 ann]"},
		{"unqualified and qualified", expr.And(expr.Eq(expr.ColRef("", "title"), "x"), expr.IsNotNull(expr.ColRef("todos", "id"))), true,
			`SELECT ((? = ?) AND (? IS NOT NULL)) AS "ok"`, "[x x t1]"},
		{"a subquery over the table itself keeps its own columns",
			expr.InArray(expr.ColRef("todos", "list_id"), orm.Select(todos.Col("list_id")).From(todos).Where(expr.Eq(todos.Col("title"), "y"))), true,
			`SELECT (? IN (SELECT "todos"."list_id" FROM "todos" WHERE ("todos"."title" = ?))) AS "ok"`, "[L1 y]"},
		{"raw SQL", expr.SQL(`"todos"."title" = ?`, "x"), false, "", ""},
		{"raw SQL inside", expr.And(expr.Eq(expr.ColRef("todos", "title"), "x"), expr.SQL("1 = 1")), false, "", ""},
		{"raw SQL in a subquery", expr.InArray(expr.ColRef("todos", "list_id"),
			orm.Select(members.Col("list_id")).From(members).Where(expr.SQL(`"todos"."title" = 'x'`))), false, "", ""},
	} {
		got, plain, err := substitute(c.e, "todos", value)
		if err != nil || plain != c.plain {
			t.Errorf("%s: plain %v, %v", c.name, plain, err)
			continue
		}
		if !plain {
			continue
		}
		text, args := render(got)
		if text != c.text || fmt.Sprint(args) != c.args {
			t.Errorf("%s:\n got %s %v\nwant %s %s", c.name, text, args, c.text, c.args)
		}
	}
}
