package sqleval

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/plasma-go/plasma/expr"
)

// ErrUnsupported is returned by Compile for a predicate whose evaluation
// in Go could differ from the engine's.
var ErrUnsupported = errors.New("plasma: predicate cannot be evaluated in Go with the engine's semantics")

// Tri is a three-valued truth value.
type Tri uint8

// The truth values.
const (
	False Tri = iota
	True
	Unknown
)

// Type is the type of an operand.
type Type uint8

// The operand types. TNull is the type of a NULL parameter, which
// compares with anything (and gives Unknown).
const (
	TNull Type = iota
	TInt
	TText
	TBool
	TInt32 // an integer column that holds 32 bits on PostgreSQL
)

// Engine says which engine's rules apply.
type Engine uint8

// The engines.
const (
	SQLite Engine = iota + 1
	Postgres
)

// Options are the facts about the engine a predicate will be compared to.
type Options struct {
	Engine Engine
	// ByteOrderText: text orders byte by byte (SQLite's BINARY, a C or
	// C.UTF-8 collation on PostgreSQL). Without it, text comparisons
	// other than = and <> are refused.
	ByteOrderText bool
}

// Resolver gives the slot and type of a leaf (a column, or an aggregate in
// HAVING) in the rows a compiled predicate is evaluated on; ok false
// refuses the leaf.
type Resolver func(e expr.Expr) (slot int, t Type, ok bool)

// Pred is a compiled predicate over a row of canonical values (nil,
// int64, string, bool).
type Pred func(row []any) Tri

type operand struct {
	t    Type
	slot int // -1 for a constant
	val  any
}

func (o operand) get(row []any) any {
	if o.slot < 0 {
		return o.val
	}
	return row[o.slot]
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// Compile compiles e. A nil e is true.
func Compile(e expr.Expr, res Resolver, opt Options) (Pred, error) {
	if e == nil {
		return func([]any) Tri { return True }, nil
	}
	c := compiler{res: res, opt: opt}
	return c.pred(e)
}

// And compiles the conjunction of es.
func And(es []expr.Expr, res Resolver, opt Options) (Pred, error) {
	return Compile(&expr.Logic{Op: expr.OpAnd, Args: es}, res, opt)
}

type compiler struct {
	res Resolver
	opt Options
}

func (c *compiler) pred(e expr.Expr) (Pred, error) {
	switch n := e.(type) {
	case *expr.Logic:
		return c.logic(n)
	case *expr.Negation:
		p, err := c.pred(n.X)
		if err != nil {
			return nil, err
		}
		return func(r []any) Tri { return Not(p(r)) }, nil
	case *expr.Compare:
		return c.compare(n)
	case *expr.Match:
		return c.match(n)
	case *expr.In:
		return c.in(n)
	case *expr.NullCheck:
		o, err := c.operand(n.X)
		if err != nil {
			return nil, err
		}
		neg := n.Negated
		return func(r []any) Tri { return boolTri((o.get(r) == nil) != neg) }, nil
	case *expr.Column:
		o, err := c.operand(n)
		if err != nil {
			return nil, err
		}
		if o.t != TBool {
			return nil, unsupported("a non-boolean column as a predicate")
		}
		return func(r []any) Tri {
			v := o.get(r)
			if v == nil {
				return Unknown
			}
			return boolTri(v.(bool))
		}, nil
	}
	return nil, unsupported("%T as a predicate", e)
}

func (c *compiler) logic(n *expr.Logic) (Pred, error) {
	ps := make([]Pred, len(n.Args))
	for i, a := range n.Args {
		p, err := c.pred(a)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	// One and two terms (the common cases) get closures of their own:
	// a live query keeps its predicate for as long as it lives.
	switch {
	case len(ps) == 1:
		return ps[0], nil
	case len(ps) == 2 && n.Op == expr.OpAnd:
		a, b := ps[0], ps[1]
		return func(r []any) Tri { return and2(a(r), b, r) }, nil
	case len(ps) == 2:
		a, b := ps[0], ps[1]
		return func(r []any) Tri { return or2(a(r), b, r) }, nil
	}
	if n.Op == expr.OpAnd {
		return func(r []any) Tri {
			out := True
			for _, p := range ps {
				switch p(r) {
				case False:
					return False
				case Unknown:
					out = Unknown
				}
			}
			return out
		}, nil
	}
	return func(r []any) Tri {
		out := False
		for _, p := range ps {
			switch p(r) {
			case True:
				return True
			case Unknown:
				out = Unknown
			}
		}
		return out
	}, nil
}

// and2 is x AND b(r), b evaluated only when x is not False.
func and2(x Tri, b Pred, r []any) Tri {
	if x == False {
		return False
	}
	y := b(r)
	if y == False {
		return False
	}
	if x == Unknown || y == Unknown {
		return Unknown
	}
	return True
}

// or2 is x OR b(r), b evaluated only when x is not True.
func or2(x Tri, b Pred, r []any) Tri {
	if x == True {
		return True
	}
	y := b(r)
	if y == True {
		return True
	}
	if x == Unknown || y == Unknown {
		return Unknown
	}
	return False
}

// Not is SQL's NOT.
func Not(t Tri) Tri {
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

func boolTri(b bool) Tri {
	if b {
		return True
	}
	return False
}

// operand compiles a value: a resolved leaf or a parameter.
func (c *compiler) operand(e expr.Expr) (operand, error) {
	if p, ok := e.(*expr.Param); ok {
		v, t, err := Canonical(p.Value)
		if err != nil {
			return operand{}, err
		}
		return operand{t: t, slot: -1, val: v}, nil
	}
	switch e.(type) {
	case *expr.Column, *expr.Aggregate:
		slot, t, ok := c.res(e)
		if !ok {
			return operand{}, unsupported("an operand the row does not hold")
		}
		return operand{t: t, slot: slot}, nil
	}
	return operand{}, unsupported("%T as an operand", e)
}

// Canonical turns a parameter into the value evaluation uses: nil, int64,
// string or bool.
func Canonical(v any) (any, Type, error) {
	switch x := v.(type) {
	case nil:
		return nil, TNull, nil
	// v as it is, not re-boxed: no allocation for the common kinds.
	case string:
		return v, TText, nil
	case bool:
		return v, TBool, nil
	case int64:
		return v, TInt, nil
	case int:
		return int64(x), TInt, nil
	case driver.Valuer:
		return nil, 0, unsupported("a driver.Valuer parameter (%T)", v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), TText, nil
	case reflect.Bool:
		return rv.Bool(), TBool, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), TInt, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, 0, unsupported("an unsigned parameter above the int64 range")
		}
		return int64(u), TInt, nil
	}
	return nil, 0, unsupported("a parameter of type %T", v)
}

// compatible checks that a and b compare in SQL the way they do in Go.
func (c *compiler) compatible(a, b operand, ordering bool) error {
	if a.t == TNull || b.t == TNull {
		return nil
	}
	ta, tb := a.t, b.t
	if err := c.int32Range(a, b); err != nil {
		return err
	}
	if ta == TInt32 {
		ta = TInt
	}
	if tb == TInt32 {
		tb = TInt
	}
	if ta != tb {
		return unsupported("a comparison between different types")
	}
	if ta == TText && ordering && !c.opt.ByteOrderText {
		return unsupported("text ordering under a collation that is not byte order")
	}
	return nil
}

// int32Range refuses a constant outside int32 against a 32-bit column on
// PostgreSQL, which fails the statement rather than compare.
func (c *compiler) int32Range(a, b operand) error {
	if c.opt.Engine != Postgres {
		return nil
	}
	for _, p := range [][2]operand{{a, b}, {b, a}} {
		if p[0].t == TInt32 && p[1].slot < 0 {
			if n, ok := p[1].val.(int64); ok && (n < math.MinInt32 || n > math.MaxInt32) {
				return unsupported("an integer outside the range of a 32-bit column")
			}
		}
	}
	return nil
}

func (c *compiler) compare(n *expr.Compare) (Pred, error) {
	l, err := c.operand(n.Left)
	if err != nil {
		return nil, err
	}
	r, err := c.operand(n.Right)
	if err != nil {
		return nil, err
	}
	if err := c.compatible(l, r, n.Op != expr.OpEq && n.Op != expr.OpNe); err != nil {
		return nil, err
	}
	op := n.Op
	if op > expr.OpLte {
		return nil, unsupported("operator %d", op)
	}
	// A column against a constant (the common case) is a smaller
	// closure: a live query keeps it for as long as it lives.
	switch {
	case l.slot >= 0 && r.slot < 0:
		return compareConst(l.slot, r.val, op), nil
	case l.slot < 0 && r.slot >= 0:
		return compareConst(r.slot, l.val, flipOp(op)), nil
	}
	return func(row []any) Tri {
		a, b := l.get(row), r.get(row)
		if a == nil || b == nil {
			return Unknown
		}
		return compareTri(Cmp(a, b), op)
	}, nil
}

// compareConst compares the row's slot with a constant.
func compareConst(slot int, val any, op expr.Op) Pred {
	if val == nil {
		return func([]any) Tri { return Unknown }
	}
	return func(row []any) Tri {
		a := row[slot]
		if a == nil {
			return Unknown
		}
		return compareTri(Cmp(a, val), op)
	}
}

// flipOp is op with its operands swapped: c < x is x > c.
func flipOp(op expr.Op) expr.Op {
	switch op {
	case expr.OpGt:
		return expr.OpLt
	case expr.OpGte:
		return expr.OpLte
	case expr.OpLt:
		return expr.OpGt
	case expr.OpLte:
		return expr.OpGte
	}
	return op
}

// compareTri reads a comparison's result d (as Cmp gives it) under op.
func compareTri(d int, op expr.Op) Tri {
	switch op {
	case expr.OpEq:
		return boolTri(d == 0)
	case expr.OpNe:
		return boolTri(d != 0)
	case expr.OpGt:
		return boolTri(d > 0)
	case expr.OpGte:
		return boolTri(d >= 0)
	case expr.OpLt:
		return boolTri(d < 0)
	}
	return boolTri(d <= 0)
}

// Cmp orders two non-NULL canonical values of one type: integers
// numerically, text byte by byte, false before true. Floats (aggregate
// results) compare numerically with each other and with integers.
func Cmp(a, b any) int {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp3(x < y, x > y)
		case float64:
			return cmpFloat(float64(x), y)
		}
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		return cmp3(!x && y, x && !y)
	case float64:
		switch y := b.(type) {
		case float64:
			return cmpFloat(x, y)
		case int64:
			return cmpFloat(x, float64(y))
		}
	}
	panic(fmt.Sprintf("sqleval: cannot compare %T with %T", a, b))
}

func cmpFloat(x, y float64) int { return cmp3(x < y, x > y) }

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

func (c *compiler) in(n *expr.In) (Pred, error) {
	if n.Sub != nil {
		return nil, unsupported("IN (subquery)")
	}
	x, err := c.operand(n.X)
	if err != nil {
		return nil, err
	}
	list := make([]operand, len(n.List))
	for i, e := range n.List {
		if list[i], err = c.operand(e); err != nil {
			return nil, err
		}
		if err := c.compatible(x, list[i], false); err != nil {
			return nil, err
		}
	}
	return func(row []any) Tri {
		if len(list) == 0 {
			return False
		}
		v := x.get(row)
		if v == nil {
			return Unknown
		}
		out := False
		for _, o := range list {
			w := o.get(row)
			if w == nil {
				out = Unknown
			} else if Cmp(v, w) == 0 {
				return True
			}
		}
		return out
	}, nil
}

func (c *compiler) match(n *expr.Match) (Pred, error) {
	x, err := c.operand(n.X)
	if err != nil {
		return nil, err
	}
	if x.t != TText {
		return nil, unsupported("LIKE on a value that is not text")
	}
	p, ok := n.Pattern.(*expr.Param)
	if !ok {
		return nil, unsupported("a LIKE pattern that is not a parameter")
	}
	if p.Value == nil {
		return func([]any) Tri { return Unknown }, nil
	}
	pat, ok := p.Value.(string)
	if !ok {
		return nil, unsupported("a LIKE pattern that is not a string")
	}
	var fold bool
	switch c.opt.Engine {
	case SQLite:
		fold = true // ASCII letters only, without PRAGMA case_sensitive_like
	case Postgres:
		if strings.ContainsRune(pat, '\\') {
			return nil, unsupported("a LIKE pattern with PostgreSQL's escape character")
		}
	default:
		return nil, unsupported("LIKE on an unknown engine")
	}
	if !utf8.ValidString(pat) {
		return nil, unsupported("a LIKE pattern that is not UTF-8")
	}
	if c.opt.Engine == Postgres && strings.ContainsRune(pat, utf8.RuneError) {
		return nil, unsupported("a LIKE pattern with U+FFFD")
	}
	// SQLite's LIKE reads both sides as C strings: they end at a NUL.
	cut := func(s string) string { return s }
	if c.opt.Engine == SQLite {
		cut = func(s string) string {
			if i := strings.IndexByte(s, 0); i >= 0 {
				return s[:i]
			}
			return s
		}
		pat = cut(pat)
	}
	return func(row []any) Tri {
		v := x.get(row)
		if v == nil {
			return Unknown
		}
		return boolTri(Like(cut(v.(string)), pat, fold))
	}, nil
}

// Like matches s against a LIKE pattern without escape character: %
// matches any sequence, _ any one character; fold compares ASCII letters
// without case, as SQLite does. Characters are read as SQLite reads
// UTF-8 (see char), so invalid UTF-8 matches as it does in SQLite;
// PostgreSQL stores none.
func Like(s, pat string, fold bool) bool {
	// Iterative matching with backtracking to the last %.
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(pat) {
			pc, pw := char(pat, pi)
			sc, sw := char(s, si)
			switch {
			case pc == '%':
				star, mark = pi+pw, si
				pi += pw
				continue
			case pc == '_' || pc == sc || (fold && pc < 128 && sc < 128 && lower(pc) == lower(sc)):
				pi += pw
				si += sw
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, w := char(s, mark)
		mark += w
		si, pi = mark, star
	}
	for pi < len(pat) && pat[pi] == '%' {
		pi++
	}
	return pi == len(pat)
}

// char decodes the character at s[i] as SQLite's READ_UTF8 does: a byte
// from 0xC0 up takes every continuation byte after it; an overlong,
// surrogate or U+FFFE/U+FFFF result is U+FFFD; any other byte is itself.
func char(s string, i int) (uint32, int) {
	c := uint32(s[i])
	n := 1
	if c < 0xC0 {
		return c, 1
	}
	switch {
	case c < 0xE0:
		c &= 0x1F
	case c < 0xF0:
		c &= 0x0F
	case c < 0xF8:
		c &= 0x07
	case c < 0xFC:
		c &= 0x03
	default:
		c &= 0x01
	}
	for i+n < len(s) && s[i+n]&0xC0 == 0x80 {
		c = c<<6 + uint32(s[i+n]&0x3F)
		n++
	}
	if c < 0x80 || c&^0x7FF == 0xD800 || c&^1 == 0xFFFE {
		c = 0xFFFD
	}
	return c, n
}

func lower(r uint32) uint32 {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}
