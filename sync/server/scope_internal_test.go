package server

import (
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/internal/readrule"
)

// scopeKept keeps a table scoped only while every rule input that reads
// it selects its ids and requires the table's own scope input.
func TestScopeKept(t *testing.T) {
	todos := orm.NewTable("todos", orm.ID(), orm.Text("list_id"), orm.Text("owner"))
	members := orm.NewTable("members", orm.ID(), orm.Text("list_id"), orm.Text("user_id"))
	tags := orm.NewTable("tags", orm.ID(), orm.Text("todo_id"))
	lists := orm.NewTable("lists", orm.ID(), orm.Text("name"))
	s := orm.MustDefineSchema("1", todos, members, tags, lists)
	td := todos.As("t")
	mine := func(col *expr.Column) expr.Expr {
		m := members.As("m")
		return expr.InArray(col, orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), "ann")))
	}
	analyze := func(tb *orm.Table, rule expr.Expr) ruleInput {
		ins, ok := readrule.Analyze(s, tb, rule, postgres.Dialect)
		if !ok || len(ins) != 1 {
			t.Fatalf("rule of %s: ok %v, %d inputs", tb.Name(), ok, len(ins))
		}
		return ruleInput{in: ins[0]}
	}
	own := analyze(todos, mine(todos.Col("list_id")))
	cases := []struct {
		name  string
		other expr.Expr // a rule of tags or lists reading todos
		of    *orm.Table
		kept  bool
	}{
		{"tags by the todo's list", expr.InArray(tags.Col("todo_id"), orm.Select(td.Col("id")).From(td).Where(mine(td.Col("list_id")))), tags, true},
		{"tags by the todo's list or owner", expr.InArray(tags.Col("todo_id"), orm.Select(td.Col("id")).From(td).
			Where(expr.Or(mine(td.Col("list_id")), expr.Eq(td.Col("owner"), "ann")))), tags, false},
		{"tags by the todo's owner", expr.InArray(tags.Col("todo_id"), orm.Select(td.Col("id")).From(td).Where(expr.Eq(td.Col("owner"), "ann"))), tags, false},
		{"lists holding a todo of ann", expr.InArray(lists.Col("id"), orm.Select(td.Col("list_id")).From(td).Where(expr.Eq(td.Col("owner"), "ann"))), lists, false},
	}
	for _, c := range cases {
		rules := []ruleInput{own, analyze(c.of, c.other)}
		if got := scopeKept(rules, "todos", own.in.Key); got != c.kept {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.kept)
		}
	}
	if !scopeKept([]ruleInput{own}, "todos", own.in.Key) {
		t.Error("todos alone: not kept")
	}
}
