// Package expr is plasma's expression AST: column references, bound
// parameters, comparisons, boolean logic, IN lists, NULL checks, LIKE,
// aggregates, ordering, subqueries and a raw escape hatch.
//
// Nodes are plain exported types with no SQL text and no I/O, so several
// consumers can read the same tree: the dialect renders it to SQL, the live
// package evaluates it in Go, and row auth composes predicates from it.
//
// Constructors take operands as any: an Expr stays as it is, a value that
// implements Query (for example an orm statement or a squirrel builder)
// becomes a Subquery, and anything else becomes a bound Param. Values are
// never spliced into SQL text.
//
// Every node type is a pointer (*Compare, *Param, ...) so a type switch over
// an Expr sees each node exactly as the constructor built it.
package expr

// Expr is a node of the expression tree. The set of node types is closed:
// the types in this package are the only implementations, so consumers can
// type-switch exhaustively. Raw and Subquery are the escape hatches.
type Expr interface {
	exprNode()
}

// Query is a statement that can stand inside an expression as a subquery.
// Its method set is squirrel's Sqlizer: every plasma statement implements
// it, and so does every squirrel builder. The dialect renders plasma
// statements directly (one placeholder counter for the whole statement) and
// other Queries through ToSql, whose '?' placeholders it renumbers.
type Query interface {
	ToSql() (string, []any, error)
}

// Column refers to a column of a table, or of an alias of a table or
// subquery. Table may be empty for an unqualified reference.
type Column struct {
	Table string
	Name  string
}

// Param is a value bound as a statement parameter.
type Param struct {
	Value any
}

// Op is a binary comparison operator.
type Op uint8

// The comparison operators.
const (
	OpEq  Op = iota // =
	OpNe            // <>
	OpGt            // >
	OpGte           // >=
	OpLt            // <
	OpLte           // <=
)

var opText = [...]string{OpEq: "=", OpNe: "<>", OpGt: ">", OpGte: ">=", OpLt: "<", OpLte: "<="}

// String returns the operator's SQL spelling.
func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return "?op"
}

// Compare is Left Op Right.
type Compare struct {
	Op          Op
	Left, Right Expr
}

// Match is X LIKE Pattern, with SQL's % and _ wildcards and no escape
// character. It is case-sensitive on PostgreSQL and, for ASCII letters,
// case-insensitive on SQLite: that is each engine's LIKE.
type Match struct {
	X, Pattern Expr
}

// LogicOp joins the operands of a Logic node.
type LogicOp uint8

// The boolean connectives.
const (
	OpAnd LogicOp = iota
	OpOr
)

// Logic is the conjunction or disjunction of Args. An empty And is true and
// an empty Or is false.
type Logic struct {
	Op   LogicOp
	Args []Expr
}

// Negation is NOT X.
type Negation struct {
	X Expr
}

// In is X IN (List...) or, when Sub is set, X IN (subquery). An empty List
// is false, never invalid SQL: Not over it is true.
type In struct {
	X    Expr
	List []Expr
	Sub  *Subquery
}

// NullCheck is X IS NULL, or X IS NOT NULL when Negated.
type NullCheck struct {
	X       Expr
	Negated bool
}

// AggFunc names an aggregate function.
type AggFunc uint8

// The aggregate functions.
const (
	AggCount AggFunc = iota
	AggSum
	AggAvg
	AggMax
	AggMin
)

var aggText = [...]string{AggCount: "COUNT", AggSum: "SUM", AggAvg: "AVG", AggMax: "MAX", AggMin: "MIN"}

// String returns the function's SQL name.
func (f AggFunc) String() string {
	if int(f) < len(aggText) {
		return aggText[f]
	}
	return "?agg"
}

// Aggregate is Func(X); Count with a nil X is COUNT(*).
type Aggregate struct {
	Func AggFunc
	X    Expr
}

// Alias names an expression in a projection: X AS Name.
type Alias struct {
	X    Expr
	Name string
}

// Raw is SQL text written by the caller, with '?' placeholders bound to
// Args in order. The dialect renumbers the placeholders; it does not parse
// or check the text, so Raw must never be built from untrusted input.
type Raw struct {
	SQL  string
	Args []any
}

// Subquery is a statement used as a value, a row source or an IN list.
type Subquery struct {
	Query Query
}

func (*Column) exprNode()    {}
func (*Param) exprNode()     {}
func (*Compare) exprNode()   {}
func (*Match) exprNode()     {}
func (*Logic) exprNode()     {}
func (*Negation) exprNode()  {}
func (*In) exprNode()        {}
func (*NullCheck) exprNode() {}
func (*Aggregate) exprNode() {}
func (*Alias) exprNode()     {}
func (*Raw) exprNode()       {}
func (*Subquery) exprNode()  {}

// Order is one ORDER BY term. It is a value, not an Expr: ordering is only
// meaningful in an ORDER BY clause.
type Order struct {
	X    Expr
	Desc bool
}
