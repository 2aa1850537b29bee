package expr_test

import (
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
)

// Predicates are plain values: build them once, render them for any
// dialect, or walk them in Go.
func Example() {
	age := &expr.Column{Table: "users", Name: "age"}
	status := &expr.Column{Table: "users", Name: "status"}
	pred := expr.And(
		expr.Gt(age, 18),
		expr.Or(expr.Eq(status, "active"), expr.IsNull(status)),
		expr.InArray(status, []string{}), // an empty list is false, never invalid SQL
	)

	b := dialect.GetBuilder(postgres.Dialect)
	defer dialect.PutBuilder(b)
	if err := b.Expr(pred); err != nil {
		panic(err)
	}
	fmt.Println(b.String())
	fmt.Println(b.Args)
	// Output:
	// (("users"."age" > $1) AND (("users"."status" = $2) OR ("users"."status" IS NULL)) AND (1 = 0))
	// [18 active]
}

// A type switch sees every node as its constructor built it.
func ExampleCompare() {
	e := expr.Lte(expr.ColRef("t", "n"), 10)
	if c, ok := e.(*expr.Compare); ok {
		fmt.Println(c.Op, c.Left.(*expr.Column).Name, c.Right.(*expr.Param).Value)
	}
	// Output: <= n 10
}

// SQL is the escape hatch: its '?' placeholders are renumbered for the
// dialect, and an Expr argument renders in place.
func ExampleSQL() {
	e := expr.SQL("lower(?) = ?", expr.ColRef("u", "email"), "a@example.com")
	b := dialect.GetBuilder(postgres.Dialect)
	defer dialect.PutBuilder(b)
	_ = b.Expr(e)
	fmt.Println(b.String(), b.Args)
	// Output: lower("u"."email") = $1 [a@example.com]
}
