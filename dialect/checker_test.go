package dialect_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
)

// ckRecorder is a Checker that writes each column as <table.name> and
// records what it was shown, refusing the column named "bad".
type ckRecorder struct {
	calls []string
}

var errCkBad = errors.New("bad column")

func (r *ckRecorder) Column(c *expr.Column) (string, error) {
	r.calls = append(r.calls, "column "+c.Name)
	if c.Name == "bad" {
		return "", errCkBad
	}
	if c.Name == "plain" {
		return "", nil // the Builder quotes it
	}
	return "<" + c.Table + "." + c.Name + ">", nil
}

func (r *ckRecorder) ColumnValue(c *expr.Column, v any) (string, error) {
	r.calls = append(r.calls, "column-value "+c.Name)
	text, err := r.Column(c)
	r.calls = r.calls[:len(r.calls)-1] // Column's own record
	return text, err
}

func (r *ckRecorder) Value(c *expr.Column, v any) error {
	r.calls = append(r.calls, "value "+c.Name)
	return nil
}

func (r *ckRecorder) Node(e expr.Expr) error {
	switch n := e.(type) {
	case *expr.Alias:
		r.calls = append(r.calls, "alias "+n.Name)
	case nil:
		r.calls = append(r.calls, "nil")
		return errCkBad
	}
	return nil
}

// TestBuilderChecker checks that a Builder with a Checker asks it for each
// column's text and shows it each value bound against a column, once, in
// the order the SQL is written.
func TestBuilderChecker(t *testing.T) {
	col := func(name string) *expr.Column { return expr.ColRef("t", name) }
	for _, c := range []struct {
		name  string
		e     expr.Expr
		sql   string
		calls []string
	}{
		{"column compared with a value", expr.Gt(col("a"), 1),
			`(<t.a> > $1)`, []string{"column-value a"}},
		{"like", expr.Like(col("a"), "x%"),
			`(<t.a> LIKE $1)`, []string{"column-value a"}},
		{"value compared with a column", expr.Eq(1, col("a")),
			`($1 = <t.a>)`, []string{"column a", "value a"}},
		{"two columns", expr.Eq(col("a"), col("b")),
			`(<t.a> = <t.b>)`, []string{"column a", "column b"}},
		{"in list", expr.InArray(col("a"), []int{1, 2}),
			`(<t.a> IN ($1, $2))`, []string{"column a", "value a", "value a"}},
		{"empty in list: checked, not written", expr.InArray(col("a"), []int{}),
			`(1 = 0)`, []string{"column a"}},
		{"alias", expr.As(col("a"), "x"),
			`<t.a> AS "x"`, []string{"alias x", "column a"}},
		{"column the checker leaves to the builder", expr.Eq(col("plain"), 1),
			`("t"."plain" = $1)`, []string{"column-value plain"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &ckRecorder{}
			b := dialect.GetBuilder(postgres.Dialect)
			defer dialect.PutBuilder(b)
			b.Check = rec
			if err := b.Expr(c.e); err != nil {
				t.Fatal(err)
			}
			if got := string(b.Buf); got != c.sql {
				t.Errorf("sql %s, want %s", got, c.sql)
			}
			if !reflect.DeepEqual(rec.calls, c.calls) {
				t.Errorf("calls %q, want %q", rec.calls, c.calls)
			}
		})
	}
}

// TestBuilderCheckerErrors checks that the Checker's refusals stop
// rendering, and that an empty IN list's checked-only operand leaves
// nothing behind in the text or the arguments.
func TestBuilderCheckerErrors(t *testing.T) {
	for _, e := range []expr.Expr{
		expr.ColRef("t", "bad"),
		expr.Gt(expr.ColRef("t", "bad"), 1),
		expr.InArray(expr.ColRef("t", "bad"), []int{}),
		expr.And(expr.Eq(expr.ColRef("t", "a"), 1), nil),
	} {
		b := dialect.GetBuilder(postgres.Dialect)
		b.Check = &ckRecorder{}
		if err := b.Expr(e); !errors.Is(err, errCkBad) {
			t.Errorf("%#v: got %v, want the checker's error", e, err)
		}
		dialect.PutBuilder(b)
	}

	b := dialect.GetBuilder(postgres.Dialect)
	defer dialect.PutBuilder(b)
	b.Check = &ckRecorder{}
	b.Bind("first")
	e := expr.InArray(expr.SQL("? + ?", expr.ColRef("t", "a"), 2), []int{})
	if err := b.Expr(e); err != nil {
		t.Fatal(err)
	}
	if got := string(b.Buf); got != "$1(1 = 0)" || len(b.Args) != 1 {
		t.Errorf("got %s %v", got, b.Args)
	}
	if strings.Contains(string(b.Buf), "<") {
		t.Error("checked-only text kept")
	}
}
