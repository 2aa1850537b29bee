package dialect

import (
	"errors"
	"fmt"
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

// Builder accumulates one statement's SQL text and arguments. Placeholders
// are numbered once for the whole statement, nested subqueries included.
type Builder struct {
	D    Dialect
	Buf  []byte
	Args []any
	// Outer is set by the statement being rendered so that a statement
	// nested in it (a subquery) can see it, to resolve correlated column
	// references. The dialect never reads it.
	Outer any
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
	b.Outer = nil
	builderPool.Put(b)
}

// WriteString appends SQL text.
func (b *Builder) WriteString(s string) { b.Buf = append(b.Buf, s...) }

// WriteByte appends one byte of SQL text.
func (b *Builder) WriteByte(c byte) error { b.Buf = append(b.Buf, c); return nil }

// Ident appends a quoted identifier.
func (b *Builder) Ident(name string) { b.Buf = AppendIdent(b.Buf, name) }

// Bind appends a placeholder bound to v.
func (b *Builder) Bind(v any) {
	b.Args = append(b.Args, v)
	b.Buf = b.D.AppendPlaceholder(b.Buf, len(b.Args))
}

// Expr appends the SQL for e.
func (b *Builder) Expr(e expr.Expr) error {
	switch n := e.(type) {
	case *expr.Column:
		if n.Table != "" {
			b.Ident(n.Table)
			b.Buf = append(b.Buf, '.')
		}
		b.Ident(n.Name)
	case *expr.Param:
		b.Bind(n.Value)
	case *expr.Compare:
		return b.binary(n.Left, n.Op.String(), n.Right)
	case *expr.Match:
		return b.binary(n.X, "LIKE", n.Pattern)
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
		if err := b.Expr(n.X); err != nil {
			return err
		}
		b.WriteString(" AS ")
		b.Ident(n.Name)
	case *expr.Raw:
		return b.Raw(n.SQL, n.Args)
	case *expr.Subquery:
		return b.Subquery(n.Query)
	case nil:
		return errors.New("plasma: nil expression")
	default:
		return fmt.Errorf("plasma: unknown expression node %T", e)
	}
	return nil
}

func (b *Builder) binary(l expr.Expr, op string, r expr.Expr) error {
	b.WriteString("(")
	if err := b.Expr(l); err != nil {
		return err
	}
	b.WriteString(" ")
	b.WriteString(op)
	b.WriteString(" ")
	if err := b.Expr(r); err != nil {
		return err
	}
	b.WriteString(")")
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
		if err := b.Expr(a); err != nil {
			return err
		}
	}
	b.WriteString(")")
	return nil
}

func (b *Builder) in(n *expr.In) error {
	if n.Sub == nil && len(n.List) == 0 {
		// x IN () is invalid SQL; an empty list matches nothing.
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
	}
	b.WriteString("))")
	return nil
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
