package expr_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/expr"
)

func TestInspect(t *testing.T) {
	e := expr.And(
		expr.Eq(expr.ColRef("t", "a"), 1),
		expr.Not(expr.Like(expr.ColRef("t", "b"), "x%")),
		expr.InArray(expr.ColRef("t", "c"), []int{1, 2}),
		expr.IsNull(expr.As(expr.Count(expr.ColRef("t", "d")), "n")),
		expr.SQL("? > 0", expr.ColRef("t", "e")),
	)
	var cols []string
	nodes := 0
	expr.Inspect(e, func(n expr.Expr) bool {
		nodes++
		if c, ok := n.(*expr.Column); ok {
			cols = append(cols, c.Name)
		}
		return true
	})
	if got := strings.Join(cols, ","); got != "a,b,c,d,e" || nodes != 18 {
		t.Errorf("columns %s, %d nodes", got, nodes)
	}
	// Returning false skips a node's children.
	cols = nil
	expr.Inspect(e, func(n expr.Expr) bool {
		if c, ok := n.(*expr.Column); ok {
			cols = append(cols, c.Name)
		}
		_, isNot := n.(*expr.Negation)
		return !isNot
	})
	if fmt.Sprint(cols) != "[a c d e]" {
		t.Errorf("after skipping NOT: %v", cols)
	}
	expr.Inspect(nil, func(expr.Expr) bool { t.Error("called for nil"); return true })
}
