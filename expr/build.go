package expr

import "reflect"

// Of turns an operand into an Expr: an Expr is returned as it is, a Query
// becomes a Subquery, and any other value (nil included) a bound Param.
func Of(v any) Expr {
	if c, ok := v.(*Column); ok {
		return c // the common operand, without an interface assertion
	}
	switch v := v.(type) {
	case Expr:
		return v
	case Query:
		return &Subquery{Query: v}
	default:
		return &Param{Value: v}
	}
}

// compareParam keeps a comparison and its bound right operand in one
// allocation: comparing a column with a value is the common case, and the
// builder's allocation budget is tight.
type compareParam struct {
	c Compare
	p Param
}

// plainValue reports whether v is of a common value type, which is
// neither an Expr nor a Query: a cheap check before asserting interfaces.
func plainValue(v any) bool {
	switch v.(type) {
	case int, int64, int32, string, bool, float64:
		return true
	}
	return false
}

func compare(op Op, l, r any) Expr {
	if plainValue(r) {
		n := &compareParam{c: Compare{Op: op, Left: Of(l)}, p: Param{Value: r}}
		n.c.Right = &n.p
		return &n.c
	}
	if _, isNode := r.(Expr); !isNode {
		if _, isQuery := r.(Query); !isQuery {
			n := &compareParam{c: Compare{Op: op, Left: Of(l)}, p: Param{Value: r}}
			n.c.Right = &n.p
			return &n.c
		}
	}
	return &Compare{Op: op, Left: Of(l), Right: Of(r)}
}

// Eq is l = r. Like SQL, it is never true when either side is NULL: use
// IsNull to test for NULL.
func Eq(l, r any) Expr { return compare(OpEq, l, r) }

// Ne is l <> r; NULL on either side makes it unknown, not true.
func Ne(l, r any) Expr { return compare(OpNe, l, r) }

// Gt is l > r.
func Gt(l, r any) Expr { return compare(OpGt, l, r) }

// Gte is l >= r.
func Gte(l, r any) Expr { return compare(OpGte, l, r) }

// Lt is l < r.
func Lt(l, r any) Expr { return compare(OpLt, l, r) }

// Lte is l <= r.
func Lte(l, r any) Expr { return compare(OpLte, l, r) }

// And is the conjunction of its operands; And() is true.
func And(args ...Expr) Expr { return &Logic{Op: OpAnd, Args: args} }

// Or is the disjunction of its operands; Or() is false.
func Or(args ...Expr) Expr { return &Logic{Op: OpOr, Args: args} }

// Not is NOT x.
func Not(x Expr) Expr { return &Negation{X: x} }

// InArray is x IN list. list may be a slice or array of values (each bound),
// an []Expr, or a Query used as a subquery. An empty list is false.
func InArray(x any, list any) Expr {
	n := &In{X: Of(x)}
	switch l := list.(type) {
	case []Expr:
		n.List = l
	case Query:
		n.Sub = &Subquery{Query: l}
	case *Subquery:
		n.Sub = l
	default:
		n.List = params(list)
	}
	return n
}

// IsNull is x IS NULL.
func IsNull(x any) Expr { return &NullCheck{X: Of(x)} }

// IsNotNull is x IS NOT NULL.
func IsNotNull(x any) Expr { return &NullCheck{X: Of(x), Negated: true} }

// matchParam keeps a LIKE and its bound pattern in one allocation, as
// compareParam does for comparisons.
type matchParam struct {
	m Match
	p Param
}

// Like is x LIKE pattern.
func Like(x, pattern any) Expr {
	if plainValue(pattern) {
		n := &matchParam{m: Match{X: Of(x)}, p: Param{Value: pattern}}
		n.m.Pattern = &n.p
		return &n.m
	}
	if _, isNode := pattern.(Expr); !isNode {
		if _, isQuery := pattern.(Query); !isQuery {
			n := &matchParam{m: Match{X: Of(x)}, p: Param{Value: pattern}}
			n.m.Pattern = &n.p
			return &n.m
		}
	}
	return &Match{X: Of(x), Pattern: Of(pattern)}
}

// Count is COUNT(x); Count(nil) is COUNT(*).
func Count(x any) Expr {
	if x == nil {
		return &Aggregate{Func: AggCount}
	}
	return &Aggregate{Func: AggCount, X: Of(x)}
}

// CountAll is COUNT(*).
func CountAll() Expr { return &Aggregate{Func: AggCount} }

// Sum is SUM(x).
func Sum(x any) Expr { return &Aggregate{Func: AggSum, X: Of(x)} }

// Avg is AVG(x).
func Avg(x any) Expr { return &Aggregate{Func: AggAvg, X: Of(x)} }

// Max is MAX(x).
func Max(x any) Expr { return &Aggregate{Func: AggMax, X: Of(x)} }

// Min is MIN(x).
func Min(x any) Expr { return &Aggregate{Func: AggMin, X: Of(x)} }

// As names x in a projection.
func As(x any, name string) Expr { return &Alias{X: Of(x), Name: name} }

// ColRef refers to column col of alias, a table alias or a subquery alias
// from FromSubquery.
func ColRef(alias, col string) *Column { return &Column{Table: alias, Name: col} }

// Bind is an explicit bound parameter, for a value that would otherwise be
// taken for an Expr or a Query.
func Bind(v any) Expr { return &Param{Value: v} }

// SQL is the raw escape hatch: text with '?' placeholders bound to args.
// Never build text from untrusted input; pass such values as args.
func SQL(text string, args ...any) Expr { return &Raw{SQL: text, Args: args} }

// Sub wraps a Query (a plasma statement or any squirrel.Sqlizer) as an
// expression: a scalar subquery in a comparison, or a raw predicate.
func Sub(q Query) Expr { return &Subquery{Query: q} }

// Asc orders by x ascending.
func Asc(x any) Order { return Order{X: Of(x)} }

// Desc orders by x descending.
func Desc(x any) Order { return Order{X: Of(x), Desc: true} }

// params binds each element of a slice or array. A non-slice value is a
// one-element list, so InArray(col, 3) reads as col IN (3).
func params(list any) []Expr {
	switch l := list.(type) {
	case nil:
		return nil
	case []byte: // a blob is one value, not a list of bytes
		return []Expr{&Param{Value: l}}
	case []any:
		return bindAll(l)
	case []string:
		return bindAll(l)
	case []int:
		return bindAll(l)
	case []int64:
		return bindAll(l)
	}
	rv := reflect.ValueOf(list)
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
		return []Expr{&Param{Value: list}}
	}
	out := make([]Expr, rv.Len())
	for i := range out {
		out[i] = &Param{Value: rv.Index(i).Interface()}
	}
	return out
}

func bindAll[T any](vals []T) []Expr {
	out := make([]Expr, len(vals))
	for i, v := range vals {
		out[i] = &Param{Value: v}
	}
	return out
}
