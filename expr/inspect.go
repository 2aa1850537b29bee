package expr

// Inspect walks the tree of e depth first: it calls f for e and, if f
// returns true, for each of e's children in turn (the operands of a
// comparison, a LIKE, AND/OR and NOT, an IN's operand, list and
// subquery node, the expression under IS NULL, an aggregate and an alias,
// and the expression arguments of raw SQL). A subquery's own clauses are
// not children: they belong to its statement. Nil children are skipped.
func Inspect(e Expr, f func(Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	switch n := e.(type) {
	case *Compare:
		Inspect(n.Left, f)
		Inspect(n.Right, f)
	case *Match:
		Inspect(n.X, f)
		Inspect(n.Pattern, f)
	case *Logic:
		for _, a := range n.Args {
			Inspect(a, f)
		}
	case *Negation:
		Inspect(n.X, f)
	case *In:
		Inspect(n.X, f)
		for _, a := range n.List {
			Inspect(a, f)
		}
		if n.Sub != nil {
			Inspect(n.Sub, f)
		}
	case *NullCheck:
		Inspect(n.X, f)
	case *Aggregate:
		Inspect(n.X, f)
	case *Alias:
		Inspect(n.X, f)
	case *Raw:
		for _, a := range n.Args {
			if x, ok := a.(Expr); ok {
				Inspect(x, f)
			}
		}
	}
}
