package dialect

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/plasma-go/plasma/expr"
)

// Appender is a statement that renders itself into a Builder. plasma's
// statements implement it, so a subquery shares the placeholder counter of
// the statement around it.
type Appender interface {
	AppendSQL(b *Builder) error
}

// Checker validates a statement while a Builder renders it, so that the
// statement is checked and written in one pass over its expressions. The
// statement being rendered sets Builder.Check (plasma's SELECT does, and a
// subquery sets its own for its clauses); with none, the Builder checks
// nothing and quotes each column from its names.
type Checker interface {
	// Column resolves a column reference and returns its SQL text,
	// quoted and qualified, or "" for the Builder to quote it from its
	// names.
	Column(c *expr.Column) (string, error)
	// ColumnValue is Column for a column compared with (or matched
	// against) a bound value v, which it checks too: the common predicate,
	// resolved once.
	ColumnValue(c *expr.Column, v any) (string, error)
	// Value checks a bound value that stands against column c in any
	// other way: the other side of a comparison, a LIKE pattern or an
	// element of an IN list. It is called after both have been rendered.
	Value(c *expr.Column, v any) error
	// Node checks the nodes that need more than their columns checked,
	// before they are rendered: each *expr.Alias (its name) and a nil
	// expression.
	Node(e expr.Expr) error
}

// Builder accumulates one statement's SQL text and arguments. Placeholders
// are numbered once for the whole statement, nested subqueries included.
type Builder struct {
	D    Dialect
	Buf  []byte
	Args []any
	// Check, when set, validates the expressions as they are rendered.
	// A statement nested in the one being rendered (a subquery) finds its
	// enclosing statement here too: the Checker is the statement's own.
	Check Checker
}

var builderPool = sync.Pool{New: func() any { return &Builder{Buf: make([]byte, 0, 256)} }}

// GetBuilder takes a Builder for d from a pool; PutBuilder returns it.
func GetBuilder(d Dialect) *Builder {
	b := builderPool.Get().(*Builder)
	b.D = d
	return b
}

// PutBuilder returns b to the pool. b's Args and Buf must not be used after.
func PutBuilder(b *Builder) {
	if cap(b.Buf) > 64<<10 {
		return // let an unusually large buffer go
	}
	b.Buf = b.Buf[:0]
	b.Args = nil
	b.Check = nil
	builderPool.Put(b)
}

// The append methods below write into Buf's spare capacity and then
// reslice Buf from itself (b.Buf = b.Buf[:n]), which stores only the
// length. Appending with b.Buf = append(b.Buf, ...) stores the whole slice
// header, pointer included, and so pays a GC write barrier on every call
// while the collector is marking: a render makes dozens of such calls.

// room makes Buf's spare capacity at least k bytes.
func (b *Builder) room(k int) {
	if cap(b.Buf)-len(b.Buf) < k {
		b.Buf = slices.Grow(b.Buf, k)
	}
}

// WriteString appends SQL text.
func (b *Builder) WriteString(s string) {
	b.room(len(s))
	n := len(b.Buf)
	b.Buf = b.Buf[:n+len(s)]
	copy(b.Buf[n:], s)
}

// Write appends SQL text.
func (b *Builder) Write(p []byte) {
	b.room(len(p))
	n := len(b.Buf)
	b.Buf = b.Buf[:n+len(p)]
	copy(b.Buf[n:], p)
}

// PlaceholdersRepeat reports whether the dialect's placeholder is the same
// text whatever its number (SQLite's "?", unlike PostgreSQL's "$n"), so
// that rendered placeholders can be copied: a multi-row INSERT repeats
// its first row's. It writes only into Buf's spare capacity.
func (b *Builder) PlaceholdersRepeat() bool {
	const r = placeholderRoom
	b.room(2 * r)
	n := len(b.Buf)
	one := b.D.AppendPlaceholder(b.Buf[n:n:n+r], 1)
	two := b.D.AppendPlaceholder(b.Buf[n+r:n+r:n+2*r], 2)
	return string(one) == string(two)
}

// WriteByte appends one byte of SQL text.
func (b *Builder) WriteByte(c byte) error {
	b.room(1)
	n := len(b.Buf)
	b.Buf = b.Buf[:n+1]
	b.Buf[n] = c
	return nil
}

// WriteInt appends n in decimal.
func (b *Builder) WriteInt(n int64) {
	b.room(20)
	l := len(b.Buf)
	out := strconv.AppendInt(b.Buf[l:l], n, 10) // in place: 20 bytes hold any int64
	b.Buf = b.Buf[:l+len(out)]
}

// Ident appends a quoted identifier.
func (b *Builder) Ident(name string) {
	if strings.IndexByte(name, '"') >= 0 {
		b.Buf = AppendIdent(b.Buf, name)
		return
	}
	// The common case, no quote to double: copy the name whole.
	b.room(len(name) + 2)
	n := len(b.Buf)
	b.Buf = b.Buf[:n+len(name)+2]
	b.Buf[n] = '"'
	copy(b.Buf[n+1:], name)
	b.Buf[n+1+len(name)] = '"'
}

// column appends a column reference: the text the Checker gives for it,
// which also checks it, or else its names quoted.
func (b *Builder) column(c *expr.Column) error {
	if b.Check != nil {
		text, err := b.Check.Column(c)
		if err != nil {
			return err
		}
		if text != "" {
			b.WriteString(text)
			return nil
		}
	}
	b.quoteColumn(c)
	return nil
}

// quoteColumn appends a column reference, qualified when it names its
// table. The common case, where neither name has a quote to double, is
// written in one go.
func (b *Builder) quoteColumn(c *expr.Column) {
	t, name := c.Table, c.Name
	if t == "" {
		b.Ident(name)
		return
	}
	if strings.IndexByte(t, '"') >= 0 || strings.IndexByte(name, '"') >= 0 {
		b.Ident(t)
		_ = b.WriteByte('.')
		b.Ident(name)
		return
	}
	k := len(t) + len(name) + 5
	b.room(k)
	n := len(b.Buf)
	b.Buf = b.Buf[:n+k]
	out := b.Buf[n:]
	out[0] = '"'
	copy(out[1:], t)
	i := 1 + len(t)
	out[i], out[i+1], out[i+2] = '"', '.', '"'
	copy(out[i+3:], name)
	out[k-1] = '"'
}

// checkValue shows the Checker a value bound against a column, when x is
// a column and v a bound value.
func (b *Builder) checkValue(x, v expr.Expr) error {
	if b.Check == nil {
		return nil
	}
	c, ok := x.(*expr.Column)
	if !ok {
		return nil
	}
	if p, ok := v.(*expr.Param); ok {
		return b.Check.Value(c, p.Value)
	}
	return nil
}

// placeholderRoom is more than any placeholder needs ("$" and an int).
const placeholderRoom = 24

// Bind appends a placeholder bound to v.
func (b *Builder) Bind(v any) {
	if n := len(b.Args); n < cap(b.Args) {
		b.Args = b.Args[:n+1]
		b.Args[n] = v
	} else {
		b.Args = append(b.Args, v)
	}
	b.room(placeholderRoom)
	n := len(b.Buf)
	out := b.D.AppendPlaceholder(b.Buf[n:n], len(b.Args))
	if len(out) == 0 || &out[0] == &b.Buf[:n+1][n] {
		b.Buf = b.Buf[:n+len(out)] // the dialect appended in place
	} else {
		b.Buf = append(b.Buf, out...) // it needed more room: copy what it wrote
	}
}

// Expr appends the SQL for e, checking it as it goes when b has a
// Checker.
func (b *Builder) Expr(e expr.Expr) error { return b.expr(e, false) }

// Predicate appends e as an operand of AND or OR. Raw SQL is put in
// parentheses, so that its own OR cannot bind to a neighbouring AND;
// every other node renders its own parentheses.
func (b *Builder) Predicate(e expr.Expr) error { return b.expr(e, true) }

// expr is Expr, or Predicate when operand is set: one switch serves both.
func (b *Builder) expr(e expr.Expr, operand bool) error {
	switch n := e.(type) {
	case *expr.Column:
		return b.column(n)
	case *expr.Param:
		b.Bind(n.Value)
	case *expr.Slot:
		// A prepared statement's argument: the slot itself stands as
		// the bound value until orm.PrepareUnchained finds it in Args
		// and Bind replaces it; left unbound, its driver.Valuer reports
		// the mistake.
		b.Bind(n)
	case *expr.Compare:
		if c, ok := n.Left.(*expr.Column); ok {
			if p, ok := n.Right.(*expr.Param); ok {
				return b.columnParam(c, spacedOp(n.Op), p) // the common case
			}
		}
		if err := b.binary(n.Left, spacedOp(n.Op), n.Right); err != nil {
			return err
		}
		if err := b.checkValue(n.Left, n.Right); err != nil {
			return err
		}
		return b.checkValue(n.Right, n.Left)
	case *expr.Match:
		if c, ok := n.X.(*expr.Column); ok {
			if p, ok := n.Pattern.(*expr.Param); ok {
				return b.columnParam(c, " LIKE ", p)
			}
		}
		if err := b.binary(n.X, " LIKE ", n.Pattern); err != nil {
			return err
		}
		return b.checkValue(n.X, n.Pattern)
	case *expr.Logic:
		return b.logic(n)
	case *expr.Negation:
		b.WriteString("NOT (")
		if err := b.Expr(n.X); err != nil {
			return err
		}
		b.WriteString(")")
	case *expr.In:
		return b.in(n)
	case *expr.NullCheck:
		return b.nullCheck(n)
	case *expr.Aggregate:
		return b.aggregate(n)
	case *expr.Alias:
		if b.Check != nil {
			if err := b.Check.Node(n); err != nil {
				return err
			}
		}
		if err := b.Expr(n.X); err != nil {
			return err
		}
		b.WriteString(" AS ")
		b.Ident(n.Name)
	case *expr.Raw:
		if operand {
			return b.rawOperand(n)
		}
		return b.Raw(n.SQL, n.Args)
	case *expr.Subquery:
		return b.Subquery(n.Query)
	case nil:
		if b.Check != nil {
			if err := b.Check.Node(nil); err != nil {
				return err
			}
		}
		return errors.New("plasma: nil expression")
	default:
		return fmt.Errorf("plasma: unknown expression node %T", e)
	}
	return nil
}

// rawOperand appends raw SQL in parentheses, as an operand of AND or OR.
func (b *Builder) rawOperand(r *expr.Raw) error {
	b.WriteString("(")
	if err := b.Raw(r.SQL, r.Args); err != nil {
		return err
	}
	b.WriteString(")")
	return nil
}

// spacedOps are the comparison operators with the spaces around them.
var spacedOps = [...]string{expr.OpEq: " = ", expr.OpNe: " <> ", expr.OpGt: " > ", expr.OpGte: " >= ", expr.OpLt: " < ", expr.OpLte: " <= "}

func spacedOp(o expr.Op) string {
	if int(o) < len(spacedOps) {
		return spacedOps[o]
	}
	return " " + o.String() + " "
}

// binary appends (l op r); op comes with its surrounding spaces.
func (b *Builder) binary(l expr.Expr, op string, r expr.Expr) error {
	_ = b.WriteByte('(')
	if err := b.Expr(l); err != nil {
		return err
	}
	b.WriteString(op)
	if err := b.Expr(r); err != nil {
		return err
	}
	b.WriteString(")")
	return nil
}

// columnParam appends (c op p), as binary would, without going back
// through Expr for either operand, and has the Checker check p's value.
func (b *Builder) columnParam(c *expr.Column, op string, p *expr.Param) error {
	text := ""
	if b.Check != nil {
		var err error
		if text, err = b.Check.ColumnValue(c, p.Value); err != nil {
			return err
		}
	}
	_ = b.WriteByte('(')
	if text != "" {
		b.WriteString(text)
	} else {
		b.quoteColumn(c)
	}
	b.WriteString(op)
	b.Bind(p.Value)
	_ = b.WriteByte(')')
	return nil
}

func (b *Builder) logic(n *expr.Logic) error {
	if len(n.Args) == 0 {
		// SQL has no empty conjunction; spell out its truth value.
		if n.Op == expr.OpAnd {
			b.WriteString("(1 = 1)")
		} else {
			b.WriteString("(1 = 0)")
		}
		return nil
	}
	sep := " AND "
	if n.Op == expr.OpOr {
		sep = " OR "
	}
	b.WriteString("(")
	for i, a := range n.Args {
		if i > 0 {
			b.WriteString(sep)
		}
		if err := b.Predicate(a); err != nil {
			return err
		}
	}
	b.WriteString(")")
	return nil
}

func (b *Builder) in(n *expr.In) error {
	if n.Sub == nil && len(n.List) == 0 {
		// x IN () is invalid SQL; an empty list matches nothing.
		if err := b.checkOnly(n.X); err != nil {
			return err
		}
		b.WriteString("(1 = 0)")
		return nil
	}
	b.WriteString("(")
	if err := b.Expr(n.X); err != nil {
		return err
	}
	b.WriteString(" IN ")
	if n.Sub != nil {
		if err := b.Subquery(n.Sub.Query); err != nil {
			return err
		}
		b.WriteString(")")
		return nil
	}
	b.WriteString("(")
	for i, x := range n.List {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := b.Expr(x); err != nil {
			return err
		}
		if err := b.checkValue(n.X, x); err != nil {
			return err
		}
	}
	b.WriteString("))")
	return nil
}

// checkOnly has the Checker check e, which is not written: e is rendered
// for the check and then taken back out of Buf and Args.
func (b *Builder) checkOnly(e expr.Expr) error {
	if b.Check == nil {
		return nil
	}
	text, args := len(b.Buf), len(b.Args)
	err := b.Expr(e)
	clear(b.Args[args:])
	b.Buf, b.Args = b.Buf[:text], b.Args[:args]
	return err
}

func (b *Builder) nullCheck(n *expr.NullCheck) error {
	b.WriteString("(")
	if err := b.Expr(n.X); err != nil {
		return err
	}
	if n.Negated {
		b.WriteString(" IS NOT NULL)")
	} else {
		b.WriteString(" IS NULL)")
	}
	return nil
}

func (b *Builder) aggregate(n *expr.Aggregate) error {
	b.WriteString(n.Func.String())
	if n.X == nil {
		if n.Func != expr.AggCount {
			return fmt.Errorf("plasma: %s needs an argument", n.Func)
		}
		b.WriteString("(*)")
		return nil
	}
	b.WriteString("(")
	if err := b.Expr(n.X); err != nil {
		return err
	}
	b.WriteString(")")
	return nil
}

// Subquery appends q in parentheses. A plasma statement renders straight
// into b; any other Query is rendered with ToSql and its '?' placeholders
// renumbered, so nested subqueries never restart the count.
func (b *Builder) Subquery(q expr.Query) error {
	b.WriteString("(")
	if a, ok := q.(Appender); ok {
		if err := a.AppendSQL(b); err != nil {
			return err
		}
	} else {
		text, args, err := q.ToSql()
		if err != nil {
			return fmt.Errorf("plasma: subquery: %w", err)
		}
		if err := b.Raw(text, args); err != nil {
			return err
		}
	}
	b.WriteString(")")
	return nil
}

// Raw appends caller-written SQL whose '?' placeholders bind args in order.
// A '?' inside a quoted string or identifier, or doubled as "??", is kept
// as a literal question mark.
func (b *Builder) Raw(text string, args []any) error {
	n := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(text[i+1:], c)
			if end < 0 {
				return fmt.Errorf("plasma: raw SQL %q: unterminated quote", text)
			}
			b.WriteString(text[i : i+end+2])
			i += end + 1
		case c == '?' && i+1 < len(text) && text[i+1] == '?':
			b.Buf = append(b.Buf, '?')
			i++
		case c == '?':
			if n >= len(args) {
				return fmt.Errorf("plasma: raw SQL %q: more placeholders than the %d args", text, len(args))
			}
			if err := b.rawArg(args[n]); err != nil {
				return err
			}
			n++
			if i+1 < len(text) && text[i+1] >= '0' && text[i+1] <= '9' {
				// "?1" would render as $21 on PostgreSQL (and ?1 is a
				// numbered parameter on SQLite): keep the digits apart.
				b.Buf = append(b.Buf, ' ')
			}
		default:
			b.Buf = append(b.Buf, c)
		}
	}
	if n != len(args) {
		return fmt.Errorf("plasma: raw SQL %q: %d placeholders for %d args", text, n, len(args))
	}
	return nil
}

// rawArg binds a raw argument; an Expr (a column, say) or a Query argument
// is rendered in place, so raw text can compose with the rest of the tree.
func (b *Builder) rawArg(a any) error {
	switch a := a.(type) {
	case expr.Expr:
		return b.Expr(a)
	case expr.Query:
		return b.Subquery(a)
	}
	b.Bind(a)
	return nil
}

// String returns the SQL text built so far.
func (b *Builder) String() string { return string(b.Buf) }
