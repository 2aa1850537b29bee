package orm

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/plasma-go/plasma/expr"
)

// source is one row source a statement's columns can come from: a table
// (possibly aliased) or a subquery under an alias.
type source struct {
	alias string
	table *Table   // nil for a subquery
	cols  []string // a subquery's output columns
	kinds []Kind   // and their kinds, where known
}

// scope is the set of sources a column reference can resolve against; a
// subquery's scope has its enclosing statement's as parent, so correlated
// references resolve.
//
// A SELECT's scope comes from a pool (newScope, release): the statement is
// validated on every render and the scope is garbage as soon as rendering
// ends. It keeps what names the statement (its FROM clause) rather than the
// name, which is built only if an error needs it.
type scope struct {
	stmt    string
	sources []source
	parent  *scope
	srcBuf  [2]source // backs sources for the common one- and two-source statement
	params  int       // bound values walk met: a hint to size the arguments

	// A pooled SELECT scope names its statement from these, only when an
	// error needs the name (see name).
	pooled   bool
	selFrom  *Table
	selSub   bool
	selAlias string
}

var scopePool = sync.Pool{New: func() any { return new(scope) }}

// newScope takes an empty scope for q from the pool; release returns it.
func newScope(q *SelectQuery, parent *scope) *scope {
	s := scopePool.Get().(*scope)
	s.pooled, s.parent = true, parent
	s.selFrom, s.selSub, s.selAlias = q.Parts.From, q.Parts.FromSub != nil, q.Parts.FromAlias
	s.sources = s.srcBuf[:0]
	return s
}

// release returns a scope from newScope to the pool; other scopes, and
// nil, are left alone. Nothing may refer to s afterwards: errors copy the
// statement name, never the scope.
func (s *scope) release() {
	if s == nil || !s.pooled {
		return
	}
	if len(s.sources) > len(s.srcBuf) {
		clear(s.srcBuf[:]) // sources outgrew srcBuf, which keeps stale copies
	}
	clear(s.sources) // drop the references (srcBuf's, in the common case)
	s.sources, s.parent, s.stmt, s.params = nil, nil, "", 0
	s.pooled, s.selFrom, s.selSub, s.selAlias = false, nil, false, ""
	scopePool.Put(s)
}

// name is the statement's name for errors. A SELECT's is built only when
// an error needs it, so validation allocates nothing.
func (s *scope) name() string {
	if s.pooled {
		return selectName(s.selFrom, s.selSub, s.selAlias)
	}
	return s.stmt
}

// resolved is what a column reference names.
type resolved struct {
	kind     Kind // zero when unknown (a subquery column)
	nullable bool
}

// column resolves c in s or an enclosing scope.
func (s *scope) column(c *expr.Column) (resolved, error) {
	for sc := s; sc != nil; sc = sc.parent {
		r, found, err := sc.local(c)
		if err != nil || found {
			return r, err
		}
	}
	name := c.Name
	if c.Table != "" {
		if !s.hasAlias(c.Table) {
			return resolved{}, &QueryError{Statement: s.name(), Column: qualified(c), Err: ErrUnknownTable}
		}
	}
	return resolved{}, &QueryError{Statement: s.name(), Column: qualified(c), Err: ErrUnknownColumn, Detail: fmt.Sprintf("no source has a column %q", name)}
}

func (s *scope) hasAlias(a string) bool {
	for sc := s; sc != nil; sc = sc.parent {
		for i := range sc.sources {
			if sc.sources[i].alias == a {
				return true
			}
		}
	}
	return false
}

// local resolves c against s's own sources only.
func (s *scope) local(c *expr.Column) (r resolved, found bool, err error) {
	for i := range s.sources {
		src := &s.sources[i]
		if c.Table != "" && c.Table != src.alias {
			continue
		}
		got, ok := src.lookup(c.Name)
		if !ok {
			if c.Table != "" {
				return resolved{}, false, &QueryError{Statement: s.name(), Column: qualified(c), Err: ErrUnknownColumn}
			}
			continue
		}
		if found {
			return resolved{}, false, &QueryError{Statement: s.name(), Column: c.Name, Err: ErrAmbiguousColumn,
				Detail: "qualify it with its table"}
		}
		r, found = got, true
		if c.Table != "" {
			break
		}
	}
	return r, found, nil
}

func (src *source) lookup(name string) (resolved, bool) {
	if src.table != nil {
		// Index rather than Table.Column, which copies every Column it
		// passes: this runs for each column reference on every render.
		cols := src.table.columns
		for i := range cols {
			if d := &cols[i].def; d.Name == name {
				return resolved{kind: storedKind(d), nullable: d.Nullable}, true
			}
		}
		return resolved{}, false
	}
	for i, n := range src.cols {
		if n == name {
			var k Kind
			if i < len(src.kinds) {
				k = src.kinds[i]
			}
			return resolved{kind: k, nullable: true}, true
		}
	}
	return resolved{}, false
}

func qualified(c *expr.Column) string {
	if c.Table == "" {
		return c.Name
	}
	return c.Table + "." + c.Name
}

// checkIdent refuses identifiers no engine can store: empty, invalid
// UTF-8 or containing NUL. Quoting makes every other name safe.
func checkIdent(stmt, what, name string) error {
	if name == "" || !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
		return &QueryError{Statement: stmt, Err: ErrBadIdentifier, Detail: fmt.Sprintf("%s %q", what, name)}
	}
	return nil
}

// walk checks every node of e against s: columns resolve, values suit the
// columns they are compared with, and nested statements validate in a
// scope whose parent is s.
func (s *scope) walk(e expr.Expr) error {
	switch n := e.(type) {
	case *expr.Column:
		_, err := s.column(n)
		return err
	case *expr.Compare:
		if c, ok := n.Left.(*expr.Column); ok {
			if p, ok := n.Right.(*expr.Param); ok {
				return s.columnValue(c, p) // the common case, resolved once
			}
		}
		if err := s.walk(n.Left); err != nil {
			return err
		}
		if err := s.walk(n.Right); err != nil {
			return err
		}
		if err := s.compareKinds(n.Left, n.Right); err != nil {
			return err
		}
		return s.compareKinds(n.Right, n.Left)
	case *expr.Match:
		if c, ok := n.X.(*expr.Column); ok {
			if p, ok := n.Pattern.(*expr.Param); ok {
				return s.columnValue(c, p)
			}
		}
		if err := s.walk(n.X); err != nil {
			return err
		}
		if err := s.walk(n.Pattern); err != nil {
			return err
		}
		return s.compareKinds(n.X, n.Pattern)
	case *expr.Logic:
		for _, a := range n.Args {
			if err := s.walk(a); err != nil {
				return err
			}
		}
	case *expr.Negation:
		return s.walk(n.X)
	case *expr.In:
		if err := s.walk(n.X); err != nil {
			return err
		}
		for _, x := range n.List {
			if err := s.walk(x); err != nil {
				return err
			}
			if err := s.compareKinds(n.X, x); err != nil {
				return err
			}
		}
		if n.Sub != nil {
			return s.walk(n.Sub)
		}
	case *expr.NullCheck:
		return s.walk(n.X)
	case *expr.Aggregate:
		if n.X != nil {
			return s.walk(n.X)
		}
	case *expr.Alias:
		if err := checkIdent(s.name(), "alias", n.Name); err != nil {
			return err
		}
		return s.walk(n.X)
	case *expr.Subquery:
		if q, ok := n.Query.(validator); ok {
			return q.validate(s)
		}
	case *expr.Raw:
		s.params += len(n.Args)
		for _, a := range n.Args {
			if x, ok := a.(expr.Expr); ok {
				if err := s.walk(x); err != nil {
					return err
				}
			}
		}
	case *expr.Param, *expr.Slot:
		s.params++
	case nil:
		return &QueryError{Statement: s.name(), Err: ErrNoValues, Detail: "nil expression"}
	}
	return nil
}

// validator is a plasma statement that can check itself inside an
// enclosing scope.
type validator interface {
	validate(outer *scope) error
}

// compareKinds checks that a bound value compared with a column suits the
// column's kind.
func (s *scope) compareKinds(col, val expr.Expr) error {
	c, ok := col.(*expr.Column)
	if !ok {
		return nil
	}
	p, ok := val.(*expr.Param)
	if !ok {
		return nil
	}
	r, err := s.column(c)
	if err != nil {
		return err
	}
	return s.valueKind(c, r, p)
}

// columnValue walks a column compared with a bound value, as walking both
// and then compareKinds would, resolving the column once.
func (s *scope) columnValue(c *expr.Column, p *expr.Param) error {
	r, err := s.column(c)
	if err != nil {
		return err
	}
	s.params++
	return s.valueKind(c, r, p)
}

// valueKind checks that p suits the column c resolved to r.
func (s *scope) valueKind(c *expr.Column, r resolved, p *expr.Param) error {
	if r.kind == 0 || p.Value == nil {
		return nil
	}
	if err := checkArg(r.kind, p.Value); err != nil {
		return &QueryError{Statement: s.name(), Column: qualified(c), Err: ErrValueKind, Detail: err.Error()}
	}
	return nil
}
