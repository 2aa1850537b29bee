package orm

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

// source is one row source a statement's columns can come from: a table
// (possibly aliased) or a subquery under an alias.
type source struct {
	alias string
	table *Table          // nil for a subquery
	cols  []string        // a subquery's output columns
	kinds []tabledef.Kind // and their kinds, where known
	// byRef says alias is the table's own (Table.Alias), so the
	// references the table made (Table.Col) resolve to this source by
	// their address.
	byRef bool
}

// scope is the set of sources a column reference can resolve against; a
// subquery's scope has its enclosing statement's as parent, so correlated
// references resolve.
//
// A SELECT's scope is reused (newScope, release): the statement is
// validated on every render and the scope is garbage as soon as rendering
// ends, so it comes from the Builder the statement renders into, or from a
// pool. It keeps its statement rather than the statement's name, which is
// built only if an error needs it.
//
// A scope is the dialect.Checker of the SELECT it belongs to: the Builder
// asks it for each column's SQL text as it renders the statement, so the
// statement is validated in the same pass that writes it.
type scope struct {
	stmt    string
	sources []source
	parent  *scope
	srcBuf  [2]source // backs sources for the common one- and two-source statement

	// pooled says s came from newScope. selFrom, selSub and selAlias are
	// the FROM clause of its SELECT, from which the statement's name is
	// built only when an error needs it (see name). The scope keeps them
	// rather than the query so that the query need not outlive its
	// rendering, and can stay on its caller's stack.
	pooled   bool
	selFrom  *Table
	selSub   bool
	selAlias string
	// wop and wtable are the operation ("UPDATE ", "DELETE FROM ") and
	// table of a write's pooled scope, named the same way.
	wop    string
	wtable *Table

	// argBuf backs the arguments of the outermost SELECT while it renders;
	// the caller gets a copy of exactly the right length (see ownArgs).
	argBuf [8]any
}

var scopePool = sync.Pool{New: func() any { return new(scope) }}

// newScope returns an empty scope for q, nested in parent, from the
// pool; release gives it back.
func newScope(q *SelectQuery, parent *scope) *scope {
	s := scopePool.Get().(*scope)
	s.pooled, s.parent = true, parent
	s.selFrom, s.selSub, s.selAlias = q.parts.From, q.parts.FromSub != nil, q.parts.FromAlias
	s.sources = s.srcBuf[:0]
	return s
}

// release empties a scope from newScope and returns it to the pool; other
// scopes, and nil, are left alone. Nothing may refer to s afterwards:
// errors copy the statement name, never the scope, and ownArgs has let go
// of argBuf.
func (s *scope) release() {
	if s == nil || !s.pooled {
		return
	}
	if len(s.sources) > len(s.srcBuf) {
		clear(s.srcBuf[:]) // sources outgrew srcBuf, which keeps stale copies
	}
	if !s.tableSources() {
		clear(s.sources) // drop the references (srcBuf's, in the common case)
	}
	s.sources, s.parent, s.pooled = nil, nil, false
	s.selFrom, s.selSub, s.selAlias = nil, false, ""
	scopePool.Put(s)
}

// enclosing returns the scope of the statement being rendered into b, for
// a statement nested in it (a subquery) to resolve correlated columns
// against, or nil at the top. plasma's statements find it through
// b.Check, which is orm's own while one of them renders: a SELECT's
// scope, which checks its clauses, or an outerScope, which only carries
// one. Any other Checker, or none, means no enclosing plasma statement.
func enclosing(b *dialect.Builder) *scope {
	switch c := b.Check.(type) {
	case *scope:
		return c
	case outerScope:
		return c.s
	}
	return nil
}

// withOuter returns the Checker that lets a statement rendered next into
// a Builder see s as its enclosing scope (see enclosing) while checking
// nothing itself, or nil for no scope. outerScope holds one pointer, so
// the conversion to an interface does not allocate.
func withOuter(s *scope) dialect.Checker {
	if s == nil {
		return nil
	}
	return outerScope{s}
}

// outerScope is the Checker of a Builder while something other than a
// SELECT's own clauses renders: an UPDATE's or DELETE's (checked before
// rendering, by walk), a SELECT's FROM subquery (which sees the
// statements around the SELECT, not the SELECT), or a subquery checked
// alone (validate). It resolves nothing, so the Builder quotes each
// column from its names as it does with no Checker, and checks nothing.
type outerScope struct{ s *scope }

func (outerScope) Column(*expr.Column) (string, error)           { return "", nil }
func (outerScope) ColumnValue(*expr.Column, any) (string, error) { return "", nil }
func (outerScope) Value(*expr.Column, any) error                 { return nil }
func (outerScope) Node(expr.Expr) error                          { return nil }

// tableSources reports whether s's sources are its one table's own
// (Table.self), which are the table's to keep, not s's to clear.
func (s *scope) tableSources() bool {
	if len(s.sources) != 1 {
		return false
	}
	t := s.sources[0].table
	return t != nil && &s.sources[0] == &t.self[0]
}

// ownArgs returns args, which a render started in argBuf, as a slice the
// caller owns, and clears what argBuf held. None is nil, as a Builder's
// arguments start.
func (s *scope) ownArgs(args []any) []any {
	if cap(args) == 0 || &args[:1][0] != &s.argBuf[0] {
		clear(s.argBuf[:]) // they outgrew argBuf, which keeps the first ones
		return args        // already the caller's
	}
	if len(args) == 0 {
		return nil
	}
	out := copyArgs(args)
	clear(s.argBuf[:len(args)])
	return out
}

// name is the statement's name for errors. A SELECT's is built only when
// an error needs it, so validation allocates nothing.
func (s *scope) name() string {
	if s.pooled {
		return selectName(s.selFrom, s.selSub, s.selAlias)
	}
	if s.wop != "" {
		return s.wop + tableName(s.wtable)
	}
	return s.stmt
}

// writeScopeFor returns a pooled scope for an UPDATE or DELETE (op) of t,
// nested in parent; releaseWrite gives it back.
func writeScopeFor(op string, t *Table, parent *scope) *scope {
	s := scopePool.Get().(*scope)
	s.wop, s.wtable, s.parent = op, t, parent
	s.srcBuf[0] = source{alias: t.name, table: t}
	s.sources = s.srcBuf[:1]
	return s
}

// releaseWrite empties a scope from writeScopeFor and returns it to the
// pool. Nothing may refer to s afterwards: errors copy the statement
// name, never the scope.
func (s *scope) releaseWrite() {
	if s == nil || s.wop == "" {
		return
	}
	clear(s.srcBuf[:])
	s.sources, s.parent, s.wop, s.wtable = nil, nil, "", nil
	scopePool.Put(s)
}

// resolved is what a column reference names.
type resolved struct {
	kind     tabledef.Kind // zero when unknown (a subquery column)
	nullable bool
	sql      string // the column's SQL text when it is a table's own reference (Table.Col), else ""
}

// column resolves c in s or an enclosing scope.
func (s *scope) column(c *expr.Column) (resolved, error) {
	for sc := s; sc != nil; sc = sc.parent {
		if r := sc.ref(c); r != nil {
			return *r, nil
		}
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

// ref resolves c by its address when one of s's own tables made it
// (Table.Col): the common case, with no name to compare. Such a reference
// is qualified by its source's alias, which no other source of s has, so
// local would find the same.
func (s *scope) ref(c *expr.Column) *resolved {
	for i := range s.sources {
		if src := &s.sources[i]; src.byRef {
			if j := src.table.refIndex(c); j >= 0 {
				return &src.table.refs[j].res
			}
		}
	}
	return nil
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
			var k tabledef.Kind
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
		return s.walkCompare(n)
	case *expr.Match:
		return s.walkMatch(n)
	case *expr.Logic:
		for _, a := range n.Args {
			if err := s.walk(a); err != nil {
				return err
			}
		}
	case *expr.Negation:
		return s.walk(n.X)
	case *expr.In:
		return s.walkIn(n)
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
		for _, a := range n.Args {
			if x, ok := a.(expr.Expr); ok {
				if err := s.walk(x); err != nil {
					return err
				}
			}
		}
	case nil:
		return &QueryError{Statement: s.name(), Err: ErrNoValues, Detail: "nil expression"}
	}
	return nil
}

// walkCompare walks both sides of a comparison and checks each against
// the other's kind.
func (s *scope) walkCompare(n *expr.Compare) error {
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
}

// walkMatch walks a LIKE and checks its pattern against the column.
func (s *scope) walkMatch(n *expr.Match) error {
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
}

// walkIn walks an IN and checks each element of its list against x.
func (s *scope) walkIn(n *expr.In) error {
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
	return s.valueKind(c, &r, p.Value)
}

// columnValue walks a column compared with a bound value, as walking both
// and then compareKinds would, resolving the column once.
func (s *scope) columnValue(c *expr.Column, p *expr.Param) error {
	r, err := s.column(c)
	if err != nil {
		return err
	}
	return s.valueKind(c, &r, p.Value)
}

// valueKind checks that v suits the column c resolved to r.
func (s *scope) valueKind(c *expr.Column, r *resolved, v any) error {
	if r.kind == 0 || v == nil {
		return nil
	}
	if err := checkArg(r.kind, v); err != nil {
		return &QueryError{Statement: s.name(), Column: qualified(c), Err: ErrValueKind, Detail: err.Error()}
	}
	return nil
}

// Column implements dialect.Checker: it resolves c, as walk does, and
// gives the Builder its quoted text when c is a table's own reference.
func (s *scope) Column(c *expr.Column) (string, error) {
	if r := s.ref(c); r != nil {
		return r.sql, nil
	}
	r, err := s.column(c)
	return r.sql, err
}

// ColumnValue implements dialect.Checker: it resolves c and checks v
// against it, as walk's columnValue does, resolving c once.
func (s *scope) ColumnValue(c *expr.Column, v any) (string, error) {
	r := s.ref(c)
	if r == nil {
		found, err := s.column(c)
		if err != nil {
			return "", err
		}
		r = &found
	}
	return r.sql, s.valueKind(c, r, v)
}

// Value implements dialect.Checker: it checks a value bound against c, as
// compareKinds does.
func (s *scope) Value(c *expr.Column, v any) error {
	r, err := s.column(c)
	if err != nil {
		return err
	}
	return s.valueKind(c, &r, v)
}

// Node implements dialect.Checker: it refuses what walk refuses besides
// columns and values.
func (s *scope) Node(e expr.Expr) error {
	switch n := e.(type) {
	case *expr.Alias:
		return checkIdent(s.name(), "alias", n.Name)
	case nil:
		return &QueryError{Statement: s.name(), Err: ErrNoValues, Detail: "nil expression"}
	}
	return nil
}
