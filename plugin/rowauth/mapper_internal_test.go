package rowauth

import (
	"slices"
	"testing"

	"github.com/plasma-go/plasma/expr"
)

// TestMapperRawKeepsArgumentPlaces: when an expression argument of raw
// SQL is rewritten, the plain values after it keep their places, so each
// placeholder still binds the argument it was written for.
func TestMapperRawKeepsArgumentPlaces(t *testing.T) {
	old := &expr.Column{Name: "a"}
	repl := &expr.Column{Name: "b"}
	keep := &expr.Column{Name: "c"}
	m := &mapper{column: func(c *expr.Column) expr.Expr {
		if c == old {
			return repl
		}
		return nil
	}}
	blob := []byte("x") // not comparable: must not be compared
	in := expr.SQL("? = ? AND ? = ? AND ?", old, 5, keep, blob, "tail").(*expr.Raw)
	out, err := m.expr(in)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*expr.Raw).Args
	if len(got) != 5 || got[0] != repl || got[1] != 5 || got[2] != keep || string(got[3].([]byte)) != "x" || got[4] != "tail" {
		t.Fatalf("args = %v, want [b 5 c x tail]", got)
	}
	if !slices.Equal(in.Args[:3], []any{old, 5, keep}) {
		t.Fatalf("the input was changed: %v", in.Args)
	}
	same, err := m.expr(expr.SQL("?", keep, blob))
	if err != nil {
		t.Fatal(err)
	}
	if same.(*expr.Raw).Args[0] != keep {
		t.Fatal("an unchanged raw node was rebuilt wrongly")
	}
}
