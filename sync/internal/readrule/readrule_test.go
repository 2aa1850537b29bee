package readrule_test

import (
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/internal/readrule"
)

var (
	tTodos   = orm.NewTable("todos", orm.ID(), orm.Text("list_id"), orm.Text("owner"))
	tMembers = orm.NewTable("members", orm.ID(), orm.Text("list_id"), orm.Text("user_id"))
	tTags    = orm.NewTable("tags", orm.ID(), orm.Text("todo_id"))
	tOutside = orm.NewTable("outside", orm.ID(), orm.Text("list_id"), orm.Text("user_id")).
			With(orm.TableOptions{External: true})
	schema = orm.MustDefineSchema("1", tTodos, tMembers, tTags, tOutside)
)

func lists(user string) *orm.SelectQuery {
	m := tMembers.As("m")
	return orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), user))
}

// Analyze follows rules over the row and IN-subqueries in positive
// places, and gives up on anything whose inputs it cannot name.
func TestAnalyze(t *testing.T) {
	o := tOutside.As("o")
	td := tTodos.As("t")
	m := tMembers.As("m")
	cases := []struct {
		name   string
		table  *orm.Table
		rule   expr.Expr
		ok     bool
		inputs int
		byID   bool
		inner  int
	}{
		{"own columns", tTodos, expr.And(expr.Eq(tTodos.Col("owner"), "ann"), expr.Not(expr.Eq(tTodos.Col("list_id"), "x"))), true, 0, false, 0},
		{"membership", tTodos, expr.InArray(tTodos.Col("list_id"), lists("ann")), true, 1, false, 0},
		{"or", tTodos, expr.Or(expr.Eq(tTodos.Col("owner"), "ann"), expr.InArray(tTodos.Col("list_id"), lists("ann"))), true, 1, false, 0},
		{"nested, by id", tTags, expr.InArray(tTags.Col("todo_id"),
			orm.Select(td.Col("id")).From(td).Where(expr.InArray(td.Col("list_id"), lists("ann")))), true, 1, true, 1},
		{"not in", tTodos, expr.Not(expr.InArray(tTodos.Col("list_id"), lists("ann"))), false, 0, false, 0},
		{"in under a comparison", tTodos, expr.Eq(expr.InArray(tTodos.Col("list_id"), lists("ann")), false), false, 0, false, 0},
		{"raw SQL", tTodos, expr.SQL("1 = 1"), false, 0, false, 0},
		{"a table outside the log", tTodos, expr.InArray(tTodos.Col("list_id"),
			orm.Select(o.Col("list_id")).From(o).Where(expr.Eq(o.Col("user_id"), "ann"))), false, 0, false, 0},
		{"a join", tTodos, expr.InArray(tTodos.Col("list_id"),
			orm.Select(m.Col("list_id")).From(m).InnerJoin(td, expr.Eq(td.Col("id"), m.Col("id")))), false, 0, false, 0},
		{"a correlated subquery", tTodos, expr.InArray(tTodos.Col("list_id"),
			orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), tTodos.Col("owner")))), false, 0, false, 0},
		{"a column of another table", tTodos, expr.Eq(tMembers.Col("user_id"), "ann"), false, 0, false, 0},
	}
	for _, c := range cases {
		ins, ok := readrule.Analyze(schema, c.table, c.rule, sqlite.Dialect)
		if ok != c.ok || len(ins) != c.inputs {
			t.Errorf("%s: ok %v, %d inputs; want %v, %d", c.name, ok, len(ins), c.ok, c.inputs)
			continue
		}
		if len(ins) > 0 && (ins[0].ByID != c.byID || len(ins[0].Inner) != c.inner) {
			t.Errorf("%s: ByID %v, %d inner; want %v, %d", c.name, ins[0].ByID, len(ins[0].Inner), c.byID, c.inner)
		}
	}
	a, _ := readrule.Analyze(schema, tTodos, expr.InArray(tTodos.Col("list_id"), lists("ann")), sqlite.Dialect)
	b, _ := readrule.Analyze(schema, tTodos, expr.InArray(tTodos.Col("list_id"), lists("bob")), sqlite.Dialect)
	if a[0].Key == b[0].Key {
		t.Error("two users' inputs share a key")
	}
}

// Canon and Value round-trip the values inputs hold.
func TestCanon(t *testing.T) {
	for _, v := range []any{"x", []byte("y"), int64(-3), 7, int32(2), float64(4)} {
		k, ok := readrule.Canon(v)
		if !ok {
			t.Fatalf("Canon(%v) failed", v)
		}
		if k2, _ := readrule.Canon(readrule.Value(k)); k2 != k {
			t.Errorf("%v: %q then %q", v, k, k2)
		}
	}
	for _, v := range []any{nil, 1.5, true} {
		if _, ok := readrule.Canon(v); ok {
			t.Errorf("Canon(%v) succeeded", v)
		}
	}
}

// Required names the inner inputs a subquery's WHERE requires (at its
// top, under AND only), not those under OR.
func TestRequired(t *testing.T) {
	td := tTodos.As("t")
	byList := func(where ...expr.Expr) expr.Expr {
		return expr.InArray(tTags.Col("todo_id"), orm.Select(td.Col("id")).From(td).Where(where...))
	}
	mine := expr.InArray(td.Col("list_id"), lists("ann"))
	cases := []struct {
		name     string
		rule     expr.Expr
		required bool
	}{
		{"alone", byList(mine), true},
		{"with another condition", byList(expr.Eq(td.Col("owner"), "bob"), mine), true},
		{"under a nested AND", byList(expr.And(expr.Eq(td.Col("owner"), "bob"), mine)), true},
		{"under OR", byList(expr.Or(expr.Eq(td.Col("owner"), "bob"), mine)), false},
	}
	for _, c := range cases {
		ins, ok := readrule.Analyze(schema, tTags, c.rule, sqlite.Dialect)
		if !ok || len(ins) != 1 || len(ins[0].Inner) != 1 {
			t.Fatalf("%s: ok %v, inputs %+v", c.name, ok, ins)
		}
		got := len(ins[0].Required) == 1 && ins[0].Required[0] == ins[0].Inner[0].Key
		if got != c.required || (!c.required && len(ins[0].Required) != 0) {
			t.Errorf("%s: required %v (%q), want %v", c.name, got, ins[0].Required, c.required)
		}
	}
}
