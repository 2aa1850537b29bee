package expr_test

import (
	"reflect"
	"testing"

	"github.com/plasma-go/plasma/expr"
)

// query is a minimal Query (squirrel.Sqlizer).
type query struct{ text string }

func (q query) ToSql() (string, []any, error) { return q.text, nil, nil }

func TestOf(t *testing.T) {
	col := &expr.Column{Table: "t", Name: "c"}
	if got := expr.Of(col); got != expr.Expr(col) {
		t.Errorf("an Expr stays itself: %#v", got)
	}
	q := query{"SELECT 1"}
	if got, ok := expr.Of(q).(*expr.Subquery); !ok || got.Query != q {
		t.Errorf("a Query becomes a Subquery: %#v", expr.Of(q))
	}
	for _, v := range []any{nil, 1, "x", []byte{1}, true, 1.5, []int{1}} {
		p, ok := expr.Of(v).(*expr.Param)
		if !ok || !reflect.DeepEqual(p.Value, v) {
			t.Errorf("%#v becomes a Param: %#v", v, expr.Of(v))
		}
	}
	// Bind keeps even an Expr or a Query as a value.
	if p, ok := expr.Bind(col).(*expr.Param); !ok || p.Value != any(col) {
		t.Errorf("Bind: %#v", expr.Bind(col))
	}
}

func TestComparisons(t *testing.T) {
	col := expr.ColRef("t", "c")
	for _, c := range []struct {
		e  expr.Expr
		op expr.Op
		s  string
	}{
		{expr.Eq(col, 1), expr.OpEq, "="},
		{expr.Ne(col, 1), expr.OpNe, "<>"},
		{expr.Gt(col, 1), expr.OpGt, ">"},
		{expr.Gte(col, 1), expr.OpGte, ">="},
		{expr.Lt(col, 1), expr.OpLt, "<"},
		{expr.Lte(col, 1), expr.OpLte, "<="},
	} {
		n, ok := c.e.(*expr.Compare)
		if !ok || n.Op != c.op || n.Op.String() != c.s || n.Left != expr.Expr(col) {
			t.Fatalf("%#v", c.e)
		}
		if p, ok := n.Right.(*expr.Param); !ok || p.Value != 1 {
			t.Errorf("%s: right %#v", c.s, n.Right)
		}
	}
	// Both sides go through Of.
	n := expr.Eq("x", col).(*expr.Compare)
	if p, ok := n.Left.(*expr.Param); !ok || p.Value != "x" || n.Right != expr.Expr(col) {
		t.Errorf("reversed: %#v", n)
	}
	n = expr.Eq(col, query{"q"}).(*expr.Compare)
	if _, ok := n.Right.(*expr.Subquery); !ok {
		t.Errorf("query operand: %#v", n.Right)
	}
	n = expr.Eq(col, nil).(*expr.Compare)
	if p, ok := n.Right.(*expr.Param); !ok || p.Value != nil {
		t.Errorf("nil operand: %#v", n.Right)
	}
	if expr.Op(99).String() != "?op" || expr.AggFunc(99).String() != "?agg" {
		t.Error("out-of-range names")
	}
}

func TestLogic(t *testing.T) {
	a, b := expr.Eq(expr.ColRef("", "a"), 1), expr.Eq(expr.ColRef("", "b"), 2)
	and := expr.And(a, b).(*expr.Logic)
	or := expr.Or(a).(*expr.Logic)
	if and.Op != expr.OpAnd || len(and.Args) != 2 || or.Op != expr.OpOr || len(or.Args) != 1 {
		t.Errorf("%#v %#v", and, or)
	}
	if l := expr.And().(*expr.Logic); len(l.Args) != 0 || l.Op != expr.OpAnd {
		t.Errorf("And(): %#v", l)
	}
	if n := expr.Not(a).(*expr.Negation); n.X != a {
		t.Errorf("Not: %#v", n)
	}
}

func TestInArray(t *testing.T) {
	col := expr.ColRef("t", "c")
	values := func(e expr.Expr) []any {
		t.Helper()
		n := e.(*expr.In)
		if n.X != expr.Expr(col) {
			t.Fatalf("X: %#v", n.X)
		}
		if n.Sub != nil {
			t.Fatalf("unexpected subquery")
		}
		out := []any{}
		for _, x := range n.List {
			p, ok := x.(*expr.Param)
			if !ok {
				t.Fatalf("list element %#v", x)
			}
			out = append(out, p.Value)
		}
		return out
	}
	type myInt int
	for _, c := range []struct {
		name string
		list any
		want []any
	}{
		{"strings", []string{"a", "b"}, []any{"a", "b"}},
		{"ints", []int{1, 2}, []any{1, 2}},
		{"int64s", []int64{1}, []any{int64(1)}},
		{"anys with nil", []any{1, nil, "x"}, []any{1, nil, "x"}},
		{"named element type", []myInt{3}, []any{myInt(3)}},
		{"array", [2]string{"x", "y"}, []any{"x", "y"}},
		{"empty", []string{}, []any{}},
		{"nil", nil, []any{}},
		{"one value", 7, []any{7}},
		{"bytes are one value", []byte{1, 2}, []any{[]byte{1, 2}}},
		{"string is one value", "abc", []any{"abc"}},
	} {
		if got := values(expr.InArray(col, c.list)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %#v", c.name, got)
		}
	}
	exprs := []expr.Expr{expr.Bind(1), col}
	if n := expr.InArray(col, exprs).(*expr.In); len(n.List) != 2 || n.List[1] != expr.Expr(col) {
		t.Errorf("[]Expr: %#v", n.List)
	}
	q := query{"SELECT 1"}
	if n := expr.InArray(col, q).(*expr.In); n.Sub == nil || n.Sub.Query != q || n.List != nil {
		t.Errorf("query: %#v", n)
	}
	sub := &expr.Subquery{Query: q}
	if n := expr.InArray(col, sub).(*expr.In); n.Sub != sub {
		t.Errorf("*Subquery: %#v", n)
	}
	if n := expr.InArray(col, expr.Sub(q)).(*expr.In); n.Sub == nil {
		t.Errorf("Sub(q): %#v", n)
	}
	// The slice is copied into params, so changing it later changes nothing.
	s := []string{"a"}
	e := expr.InArray(col, s)
	s[0] = "z"
	if got := values(e); got[0] != "a" {
		t.Errorf("list aliased the caller's slice: %v", got)
	}
}

func TestOtherNodes(t *testing.T) {
	col := expr.ColRef("t", "c")
	if n := expr.IsNull(col).(*expr.NullCheck); n.Negated || n.X != expr.Expr(col) {
		t.Errorf("IsNull: %#v", n)
	}
	if n := expr.IsNotNull(col).(*expr.NullCheck); !n.Negated {
		t.Errorf("IsNotNull: %#v", n)
	}
	m := expr.Like(col, "a%").(*expr.Match)
	if p, ok := m.Pattern.(*expr.Param); !ok || p.Value != "a%" || m.X != expr.Expr(col) {
		t.Errorf("Like: %#v", m)
	}
	if m := expr.Like(col, col).(*expr.Match); m.Pattern != expr.Expr(col) {
		t.Errorf("Like column: %#v", m)
	}
	for _, c := range []struct {
		e    expr.Expr
		f    expr.AggFunc
		name string
		star bool
	}{
		{expr.Count(col), expr.AggCount, "COUNT", false},
		{expr.Count(nil), expr.AggCount, "COUNT", true},
		{expr.CountAll(), expr.AggCount, "COUNT", true},
		{expr.Sum(col), expr.AggSum, "SUM", false},
		{expr.Avg(col), expr.AggAvg, "AVG", false},
		{expr.Max(col), expr.AggMax, "MAX", false},
		{expr.Min(col), expr.AggMin, "MIN", false},
	} {
		n := c.e.(*expr.Aggregate)
		if n.Func != c.f || n.Func.String() != c.name || (n.X == nil) != c.star {
			t.Errorf("%s: %#v", c.name, n)
		}
	}
	a := expr.As(col, "x").(*expr.Alias)
	if a.Name != "x" || a.X != expr.Expr(col) {
		t.Errorf("As: %#v", a)
	}
	if r := expr.SQL("? + ?", col, 1).(*expr.Raw); r.SQL != "? + ?" || len(r.Args) != 2 {
		t.Errorf("SQL: %#v", r)
	}
	if c := expr.ColRef("", "n"); c.Table != "" || c.Name != "n" {
		t.Errorf("ColRef: %#v", c)
	}
	if o := expr.Asc(col); o.Desc || o.X != expr.Expr(col) {
		t.Errorf("Asc: %#v", o)
	}
	if o := expr.Desc("x"); !o.Desc {
		t.Errorf("Desc: %#v", o)
	}
}

// TestNodesAreDistinct checks that constructors never share nodes: two
// calls build two trees, so a consumer may keep or compare them.
func TestNodesAreDistinct(t *testing.T) {
	col := expr.ColRef("t", "c")
	a, b := expr.Eq(col, 1), expr.Eq(col, 1)
	if a == b || a.(*expr.Compare).Right == b.(*expr.Compare).Right {
		t.Error("shared nodes")
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("equal trees differ")
	}
}
