package orm

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
)

// JoinKind is INNER or LEFT.
type JoinKind uint8

// The join kinds.
const (
	InnerJoin JoinKind = iota
	LeftJoin
)

// Join is one JOIN clause.
type Join struct {
	Kind  JoinKind
	Table *Table
	On    expr.Expr
}

// SelectParts are the clauses of a SELECT, as SelectQuery.Parts copies
// them and SelectQuery.Rewrite hands them to a middleware to edit.
type SelectParts struct {
	Columns   []expr.Expr // the projection; empty means every column of FROM
	From      *Table
	FromSub   *SelectQuery // FROM (subquery) AS FromAlias, instead of From
	FromAlias string
	Joins     []Join
	Where     []expr.Expr // ANDed
	GroupBy   []expr.Expr
	Having    []expr.Expr // ANDed
	OrderBy   []expr.Order
	Limit     int64 // used when HasLimit
	HasLimit  bool
	Offset    int64 // 0: no OFFSET
}

// SelectQuery is a SELECT statement. Its methods add clauses and return the
// query, so a statement reads as one chain; they change the query they are
// called on, so use Clone to branch from a shared base. A finished query can
// be rendered and run any number of times.
type SelectQuery struct {
	db *DB
	// parts holds the clauses; middleware reads them with Parts and
	// changes them only on a clone, through Rewrite. While sliced is
	// false, Columns, Where and OrderBy are not in parts but in the
	// inline buffers (see view).
	parts SelectParts

	// Small inline buffers keep the common statement to no allocation of
	// its own: exprBuf holds the projection (nCols) and, after it, WHERE
	// (nWhere); orderBuf holds one ORDER BY term (nOrder). They are
	// counted, not sliced: a slice of them stored in the query would point
	// into the query itself, and the compiler moves such a query to the
	// heap. A clause that outgrows them moves all three into parts' own
	// slices (spill), and sliced says so.
	sliced                bool
	nCols, nWhere, nOrder uint8
	exprBuf               [7]expr.Expr
	orderBuf              [1]expr.Order
}

// view returns q's clauses with Columns, Where and OrderBy filled in
// from the inline buffers when they are there. The slices are q's: to
// read while q is not changed.
func (q *SelectQuery) view() SelectParts {
	p := q.parts
	p.Columns, p.Where, p.OrderBy = q.columns(), q.where(), q.orderBy()
	return p
}

// columns returns the projection, to read while q is not changed.
func (q *SelectQuery) columns() []expr.Expr {
	if q.sliced {
		return q.parts.Columns
	}
	return q.exprBuf[:q.nCols:q.nCols]
}

// where returns the WHERE predicates, to read while q is not changed.
func (q *SelectQuery) where() []expr.Expr {
	if q.sliced {
		return q.parts.Where
	}
	nc, nw := int(q.nCols), int(q.nCols)+int(q.nWhere)
	return q.exprBuf[nc:nw:nw]
}

// orderBy returns the ORDER BY terms, to read while q is not changed.
func (q *SelectQuery) orderBy() []expr.Order {
	if q.sliced {
		return q.parts.OrderBy
	}
	return q.orderBuf[:q.nOrder:q.nOrder]
}

// spill moves Columns, Where and OrderBy out of the inline buffers into
// slices of their own, with room for a few more predicates.
func (q *SelectQuery) spill() {
	if q.sliced {
		return
	}
	v := q.view()
	nc, nw := len(v.Columns), len(v.Where)
	buf := make([]expr.Expr, nc+nw, nc+nw+4)
	copy(buf, v.Columns)
	copy(buf[nc:], v.Where)
	// Columns is capped at its length, so appending to it never
	// overwrites WHERE.
	q.parts.Columns, q.parts.Where = buf[:nc:nc], buf[nc:]
	q.parts.OrderBy = slices.Clone(v.OrderBy)
	q.sliced = true
	clear(q.exprBuf[:])
	clear(q.orderBuf[:])
}

// Select starts a SELECT of cols (columns, aggregates, aliased expressions)
// that is not bound to a database: use it for subqueries, or render it with
// Render. DB.Select starts one that can run.
func Select(cols ...expr.Expr) *SelectQuery {
	// Kept small enough to inline: the query is then allocated in the
	// caller's frame, where it stays when the caller only builds and
	// renders it (BenchmarkBuildSelect: no allocation for the query).
	q := &SelectQuery{}
	q.setColumns(cols)
	return q
}

// setColumns sets the projection of a query fresh from Select.
func (q *SelectQuery) setColumns(cols []expr.Expr) {
	if len(cols) <= len(q.exprBuf) {
		q.nCols = uint8(copy(q.exprBuf[:], cols))
		return
	}
	q.sliced = true
	q.parts.Columns = slices.Clone(cols)
	q.parts.Where = []expr.Expr{}
	q.parts.OrderBy = []expr.Order{}
}

// Select starts a SELECT on db.
func (db *DB) Select(cols ...expr.Expr) *SelectQuery {
	q := Select(cols...)
	q.db = db
	return q
}

// Clone returns an independent copy of q, to build two statements from one
// base or to rewrite a statement in a middleware.
func (q *SelectQuery) Clone() *SelectQuery {
	c := new(SelectQuery)
	*c = *q
	if q.sliced {
		v := q.view()
		c.sliced, c.nCols, c.nWhere, c.nOrder = false, 0, 0, 0
		c.parts.Columns, c.parts.Where, c.parts.OrderBy = nil, nil, nil
		c.setColumns(v.Columns)
		c.Where(v.Where...)
		c.OrderBy(v.OrderBy...)
	}
	p := &c.parts
	p.Joins = slices.Clone(q.parts.Joins)
	p.GroupBy = slices.Clone(q.parts.GroupBy)
	p.Having = slices.Clone(q.parts.Having)
	return c
}

// DB returns the database q runs on: the one DB.Select started it on,
// or nil for a query from Select.
func (q *SelectQuery) DB() *DB { return q.db }

// From sets the table rows come from.
func (q *SelectQuery) From(t *Table) *SelectQuery { q.parts.From = t; return q }

// FromSubquery reads rows from inner under alias; refer to its columns
// with expr.ColRef(alias, column).
func (q *SelectQuery) FromSubquery(inner *SelectQuery, alias string) *SelectQuery {
	q.parts.FromSub, q.parts.FromAlias = inner, alias
	return q
}

// Where adds predicates, ANDed with each other and with earlier ones.
func (q *SelectQuery) Where(preds ...expr.Expr) *SelectQuery {
	if !q.sliced {
		n := int(q.nCols) + int(q.nWhere)
		if len(preds) <= len(q.exprBuf)-n {
			q.nWhere += uint8(copy(q.exprBuf[n:], preds))
			return q
		}
		q.spill()
	}
	q.parts.Where = append(q.parts.Where, preds...)
	return q
}

// InnerJoin joins t on a condition. Join a table twice under aliases
// (Table.As).
func (q *SelectQuery) InnerJoin(t *Table, on expr.Expr) *SelectQuery {
	q.parts.Joins = append(q.parts.Joins, Join{Kind: InnerJoin, Table: t, On: on})
	return q
}

// LeftJoin left-joins t on a condition: rows of the left side without a
// match come back once, with t's columns NULL.
func (q *SelectQuery) LeftJoin(t *Table, on expr.Expr) *SelectQuery {
	q.parts.Joins = append(q.parts.Joins, Join{Kind: LeftJoin, Table: t, On: on})
	return q
}

// GroupBy groups rows by the given expressions.
func (q *SelectQuery) GroupBy(cols ...expr.Expr) *SelectQuery {
	q.parts.GroupBy = append(q.parts.GroupBy, cols...)
	return q
}

// Having filters groups; predicates are ANDed.
func (q *SelectQuery) Having(preds ...expr.Expr) *SelectQuery {
	q.parts.Having = append(q.parts.Having, preds...)
	return q
}

// OrderBy adds ordering terms, made with expr.Asc and expr.Desc.
func (q *SelectQuery) OrderBy(terms ...expr.Order) *SelectQuery {
	if !q.sliced {
		n := int(q.nOrder)
		if len(terms) <= len(q.orderBuf)-n {
			q.nOrder += uint8(copy(q.orderBuf[n:], terms))
			return q
		}
		q.spill()
	}
	q.parts.OrderBy = append(q.parts.OrderBy, terms...)
	return q
}

// Limit caps the number of rows. A negative n is reported when the query
// is rendered.
func (q *SelectQuery) Limit(n int64) *SelectQuery {
	q.parts.Limit, q.parts.HasLimit = n, true
	return q
}

// Offset skips the first n rows; order the query for stable pages.
func (q *SelectQuery) Offset(n int64) *SelectQuery { q.parts.Offset = n; return q }

// Rows runs the query through the middleware chain. The caller closes
// Result.Rows; All, One, Scalar and Maps do that for you.
func (q *SelectQuery) Rows(ctx context.Context) (*Result, error) {
	if q.db == nil {
		return nil, errNoDB("SELECT")
	}
	return q.db.run(ctx, &Statement{Op: OpSelect, Table: q.parts.From, Query: q})
}

// ToSql renders the query with '?' placeholders, as squirrel.Sqlizer does,
// so a plasma query can be used wherever squirrel takes one.
func (q *SelectQuery) ToSql() (string, []any, error) { return toSQL(q) }

// Render renders the query for a dialect.
func (q *SelectQuery) Render(d dialect.Dialect) (string, []any, error) {
	// Not render(d, q): through the interface the query would have to
	// live on the heap; called directly it can stay on the caller's stack.
	b := dialect.GetBuilder(d)
	defer dialect.PutBuilder(b)
	if err := q.AppendSQL(b); err != nil {
		return "", nil, err
	}
	return string(b.Buf), b.Args, nil
}

func (q *SelectQuery) name() string {
	return selectName(q.parts.From, q.parts.FromSub != nil, q.parts.FromAlias)
}

// selectName names a SELECT for errors from its FROM clause.
func selectName(from *Table, fromSub bool, alias string) string {
	switch {
	case from != nil:
		return "SELECT FROM " + from.Name()
	case fromSub:
		return "SELECT FROM (subquery) " + alias
	}
	return "SELECT"
}

// scope returns the sources q's expressions resolve against, in a scope
// the caller releases (see newScope; b may be nil).
func (q *SelectQuery) scope(outer *scope, b *dialect.Builder) (*scope, error) {
	s := newScope(q, outer, b)
	if err := q.initScope(s); err != nil {
		s.release(b)
		return nil, err
	}
	return s, nil
}

// initScope adds q's sources to s, fresh from newScope.
func (q *SelectQuery) initScope(s *scope) error {
	p := &q.parts
	switch {
	case p.From != nil:
		if err := checkTableAlias(s, p.From); err != nil {
			return err
		}
		if len(p.Joins) == 0 {
			s.sources = p.From.self[:] // the common one-table SELECT: nothing to copy
			return nil
		}
		s.sources = append(s.sources, p.From.self[0])
	case p.FromSub != nil:
		// The subquery itself is checked as it renders (appendFrom).
		if err := checkIdent(s.name(), "subquery alias", p.FromAlias); err != nil {
			return err
		}
		cols, kinds := p.FromSub.outputs()
		s.sources = append(s.sources, source{alias: p.FromAlias, cols: cols, kinds: kinds})
	}
	for _, j := range p.Joins {
		if j.Table == nil {
			return &QueryError{Statement: s.name(), Err: ErrNoTable, Detail: "JOIN of a nil table"}
		}
		if err := checkTableAlias(s, j.Table); err != nil {
			return err
		}
		for _, src := range s.sources {
			if src.alias == j.Table.Alias() {
				return &QueryError{Statement: s.name(), Err: ErrDuplicateAlias, Detail: strconv.Quote(src.alias)}
			}
		}
		s.sources = append(s.sources, j.Table.self[0])
	}
	return nil
}

// checkTableAlias refuses a table alias (Table.As) no engine can store:
// NUL would cut the statement short on SQLite.
func checkTableAlias(s *scope, t *Table) error {
	if t.alias == "" {
		return nil
	}
	return checkIdent(s.name(), "table alias", t.alias)
}

// outputs names the columns the query returns, with their kinds where a
// column is projected as it is.
func (q *SelectQuery) outputs() ([]string, []Kind) {
	p := &q.parts
	if len(q.columns()) == 0 {
		if p.From != nil {
			return tableOutputs(p.From)
		}
		if p.FromSub != nil {
			return p.FromSub.outputs()
		}
		return nil, nil
	}
	names := make([]string, len(q.columns()))
	kinds := make([]Kind, len(q.columns()))
	s, err := q.scope(nil, nil)
	if err != nil {
		s = &scope{}
	}
	for i, c := range q.columns() {
		names[i], kinds[i] = output(s, c)
	}
	s.release(nil)
	return names, kinds
}

// output names a projected expression and gives its kind where it is a
// column, or MAX/MIN of one.
func output(s *scope, c expr.Expr) (string, Kind) {
	switch n := c.(type) {
	case *expr.Column:
		r, _, _ := s.local(n)
		return n.Name, r.kind
	case *expr.Alias:
		_, k := output(s, n.X)
		return n.Name, k
	case *expr.Aggregate:
		switch n.Func {
		case expr.AggMax, expr.AggMin:
			_, k := output(s, n.X)
			return "", k
		case expr.AggCount:
			return "", KindBigInt
		case expr.AggSum:
			// PostgreSQL sums a bigint as numeric (text to the driver),
			// SQLite as an integer: the kind makes both read as int64.
			if _, k := output(s, n.X); k == KindInt || k == KindBigInt {
				return "", KindBigInt
			}
		case expr.AggAvg:
			// PostgreSQL averages integers as numeric, SQLite as REAL.
			return "", kindFloat
		}
	}
	return "", 0
}

// kindFloat is the kind of a result column that is a floating-point
// number, such as AVG: no column is declared with it, but it tells the
// scanner to read PostgreSQL's numeric text as a float64, as SQLite's REAL.
const kindFloat Kind = 255

func tableOutputs(t *Table) ([]string, []Kind) {
	names := make([]string, len(t.columns))
	kinds := make([]Kind, len(t.columns))
	for i, c := range t.columns {
		names[i], kinds[i] = c.def.Name, storedKind(&c.def)
	}
	return names, kinds
}

// rowsHint is how many rows to make room for when collecting the
// result: the LIMIT, when there is a modest one.
func (q *SelectQuery) rowsHint() int {
	if p := &q.parts; p.HasLimit && p.Limit > 0 && p.Limit <= maxRowsHint {
		return int(p.Limit)
	}
	return 0
}

// maxRowsHint bounds the room made for rows ahead of reading them.
const maxRowsHint = 1024

// resultKinds gives the scanner each output column's kind.
func (q *SelectQuery) resultKinds() []Kind {
	if p := &q.parts; len(q.columns()) == 0 && p.From != nil && len(p.From.kinds) == len(p.From.columns) {
		return p.From.kinds // the table's own, made once
	}
	_, kinds := q.outputs()
	return kinds
}

// validate checks q inside an enclosing scope, without keeping its SQL:
// a SELECT is checked as it renders, so it renders into a scratch Builder.
// Write statements check their subqueries with it before rendering.
func (q *SelectQuery) validate(outer *scope) error {
	b := dialect.GetBuilder(dialect.Placeholders)
	defer dialect.PutBuilder(b)
	if outer != nil {
		b.Outer = outer
	}
	return q.AppendSQL(b)
}

// checkGrouping refuses a projected column that is neither in GROUP BY nor
// inside an aggregate, when the query groups or aggregates. SQLite would
// return an arbitrary row's value; PostgreSQL refuses. plasma refuses on both.
func (q *SelectQuery) checkGrouping(s *scope) error {
	p := &q.parts
	if !q.aggregates() {
		return nil
	}
	if len(q.columns()) == 0 {
		return &QueryError{Statement: s.name(), Err: ErrUngrouped, Detail: "a grouped query must name its columns"}
	}
	g := grouping{s: s, groups: p.GroupBy}
	for _, list := range [...][]expr.Expr{q.columns(), p.Having} {
		for _, e := range list {
			if col := g.ungrouped(e); col != nil {
				return &QueryError{Statement: s.name(), Column: qualified(col), Err: ErrUngrouped}
			}
		}
	}
	for _, o := range q.orderBy() {
		if col := g.ungrouped(o.X); col != nil {
			return &QueryError{Statement: s.name(), Column: qualified(col), Err: ErrUngrouped, Detail: "in ORDER BY"}
		}
	}
	return nil
}

// aggregates reports whether q groups or calls an aggregate in its
// projection or ordering, which makes it a grouped query.
func (q *SelectQuery) aggregates() bool {
	p := &q.parts
	if len(p.GroupBy) > 0 || len(p.Having) > 0 {
		return true
	}
	for _, c := range q.columns() {
		if _, isCol := c.(*expr.Column); !isCol && hasAggregate(c) {
			return true
		}
	}
	for _, o := range q.orderBy() {
		if _, isCol := o.X.(*expr.Column); !isCol && hasAggregate(o.X) {
			return true
		}
	}
	return false
}

// grouping finds columns used outside GROUP BY in a grouped query.
type grouping struct {
	s      *scope
	groups []expr.Expr
}

// ungrouped returns a column of e that is outside any aggregate, not
// grouped, and not of a table whose whole primary key is grouped (such a
// column is functionally dependent on the key: both engines accept it).
// An expression that is itself a GROUP BY term is grouped.
func (g grouping) ungrouped(e expr.Expr) *expr.Column {
	if _, isCol := e.(*expr.Column); !isCol {
		for _, x := range g.groups {
			if x == e || reflect.DeepEqual(x, e) {
				return nil
			}
		}
	}
	switch n := e.(type) {
	case *expr.Column:
		for _, x := range g.groups {
			if gc, ok := x.(*expr.Column); ok && sameColumn(gc, n) {
				return nil
			}
		}
		if g.keyGrouped(n) {
			return nil
		}
		return n
	case *expr.Alias:
		return g.ungrouped(n.X)
	case *expr.Compare:
		return firstCol(g.ungrouped(n.Left), n.Right, g)
	case *expr.Match:
		return firstCol(g.ungrouped(n.X), n.Pattern, g)
	case *expr.Negation:
		return g.ungrouped(n.X)
	case *expr.NullCheck:
		return g.ungrouped(n.X)
	case *expr.Logic:
		for _, a := range n.Args {
			if c := g.ungrouped(a); c != nil {
				return c
			}
		}
	case *expr.In:
		if c := g.ungrouped(n.X); c != nil {
			return c
		}
		for _, a := range n.List {
			if c := g.ungrouped(a); c != nil {
				return c
			}
		}
	case *expr.Raw:
		for _, a := range n.Args {
			if x, ok := a.(expr.Expr); ok {
				if c := g.ungrouped(x); c != nil {
					return c
				}
			}
		}
	}
	// Aggregates, parameters and subqueries group nothing.
	return nil
}

func firstCol(c *expr.Column, next expr.Expr, g grouping) *expr.Column {
	if c != nil {
		return c
	}
	return g.ungrouped(next)
}

// keyGrouped reports whether c belongs to a table of the query whose
// primary key columns are all grouped.
func (g grouping) keyGrouped(c *expr.Column) bool {
	for i := range g.s.sources {
		src := &g.s.sources[i]
		if src.table == nil || (c.Table != "" && c.Table != src.alias) {
			continue
		}
		if _, ok := src.table.Column(c.Name); !ok {
			continue
		}
		pk := src.table.PrimaryKey()
		if len(pk) == 0 {
			return false
		}
		for _, k := range pk {
			if !slices.ContainsFunc(g.groups, func(x expr.Expr) bool {
				gc, ok := x.(*expr.Column)
				return ok && gc.Name == k && (gc.Table == src.alias || gc.Table == "")
			}) {
				return false
			}
		}
		return true
	}
	return false
}

func sameColumn(a, b *expr.Column) bool {
	return a.Name == b.Name && (a.Table == b.Table || a.Table == "" || b.Table == "")
}

// hasAggregate reports whether e calls an aggregate outside a subquery,
// which makes the query an aggregate query.
func hasAggregate(e expr.Expr) bool {
	switch n := e.(type) {
	case *expr.Aggregate:
		return true
	case *expr.Alias:
		return hasAggregate(n.X)
	case *expr.Compare:
		return hasAggregate(n.Left) || hasAggregate(n.Right)
	case *expr.Match:
		return hasAggregate(n.X) || hasAggregate(n.Pattern)
	case *expr.Negation:
		return hasAggregate(n.X)
	case *expr.NullCheck:
		return hasAggregate(n.X)
	case *expr.Logic:
		return slices.ContainsFunc(n.Args, hasAggregate)
	case *expr.In:
		return hasAggregate(n.X) || slices.ContainsFunc(n.List, hasAggregate)
	case *expr.Raw:
		for _, a := range n.Args {
			if x, ok := a.(expr.Expr); ok && hasAggregate(x) {
				return true
			}
		}
	}
	return false
}

// AppendSQL validates q and renders it into b. It implements
// dialect.Appender, so q renders inside another statement with one
// placeholder counter.
//
// Checking and writing are one pass: q's scope is b's Checker while q's
// clauses are written, so each column is resolved, checked and written at
// once. Every check runs before any SQL does; an error leaves b's text
// unfinished, and the caller drops it.
func (q *SelectQuery) AppendSQL(b *dialect.Builder) error {
	p := &q.parts
	if p.From == nil && p.FromSub == nil && len(q.columns()) == 0 {
		return &QueryError{Statement: q.name(), Err: ErrNoTable}
	}
	outer := b.Outer
	outerScope, _ := outer.(*scope)
	s, err := q.scope(outerScope, b)
	if err != nil {
		return err
	}
	defer s.release(b)
	if p.Limit < 0 || p.Offset < 0 {
		return &QueryError{Statement: s.name(), Err: ErrBadLimit, Detail: fmt.Sprintf("LIMIT %d OFFSET %d", p.Limit, p.Offset)}
	}
	// The outermost statement starts the arguments in its scope's buffer
	// and hands the caller a copy of exactly their length.
	ownArgs := b.Args == nil
	if ownArgs {
		b.Args = s.argBuf[:0]
	}
	check := b.Check
	b.Outer, b.Check = s, s
	err = q.appendSQL(b, s, outer)
	b.Outer, b.Check = outer, check
	if ownArgs {
		b.Args = s.ownArgs(b.Args)
	}
	if err != nil {
		return err
	}
	return q.checkGrouping(s)
}

// appendSQL writes q's clauses; s is q's scope and outer is what b.Outer
// was before q set it.
func (q *SelectQuery) appendSQL(b *dialect.Builder, s *scope, outer any) error {
	p := &q.parts
	b.WriteString("SELECT ")
	if err := q.appendColumns(b); err != nil {
		return err
	}
	if err := q.appendFrom(b, s, outer); err != nil {
		return err
	}
	if err := appendWhere(b, " WHERE ", q.where()); err != nil {
		return err
	}
	if len(p.GroupBy) > 0 {
		b.WriteString(" GROUP BY ")
		if err := appendList(b, p.GroupBy); err != nil {
			return err
		}
	}
	if err := appendWhere(b, " HAVING ", p.Having); err != nil {
		return err
	}
	if err := q.appendOrder(b, s, q.orderBy()); err != nil {
		return err
	}
	if p.HasLimit {
		b.WriteString(" LIMIT ")
		b.WriteInt(p.Limit)
	}
	if p.Offset > 0 {
		if !p.HasLimit && b.D.Features().Has(dialect.OffsetNeedsLimit) {
			b.WriteString(" LIMIT -1") // SQLite has no OFFSET without LIMIT
		}
		b.WriteString(" OFFSET ")
		b.WriteInt(p.Offset)
	}
	return nil
}

func (q *SelectQuery) appendColumns(b *dialect.Builder) error {
	p := &q.parts
	if len(q.columns()) > 0 {
		return appendList(b, q.columns())
	}
	// Every column of FROM, spelled out so the result's shape does not
	// depend on the live table.
	switch {
	case p.From != nil:
		appendStar(b, p.From)
	case p.FromSub != nil:
		cols, _ := p.FromSub.outputs()
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.Ident(p.FromAlias)
			b.WriteString(".")
			b.Ident(c)
		}
	}
	return nil
}

// appendStar writes every column of t, qualified, from its references'
// quoted text.
func appendStar(b *dialect.Builder, t *Table) {
	if t.Alias() == "" {
		appendTableColumns(b, "", t.columns) // the references are unqualified
		return
	}
	for i := range t.refs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.refs[i].res.sql)
	}
}

func appendTableColumns(b *dialect.Builder, alias string, cols []Column) {
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.Ident(alias)
		b.WriteString(".")
		b.Ident(c.def.Name)
	}
}

// appendFrom writes FROM and the joins. A join's ON sees FROM and the
// tables joined so far, not later ones: PostgreSQL refuses a reference to
// a table joined further on. A subquery in FROM sees the statements
// around q (outer), not q's own sources.
func (q *SelectQuery) appendFrom(b *dialect.Builder, s *scope, outer any) error {
	p := &q.parts
	switch {
	case p.From != nil:
		b.WriteString(" FROM ")
		b.WriteString(p.From.sqlRef)
	case p.FromSub != nil:
		b.WriteString(" FROM ")
		b.Outer = outer
		err := b.Subquery(p.FromSub)
		b.Outer = s
		if err != nil {
			return err
		}
		b.WriteString(" AS ")
		b.Ident(p.FromAlias)
	}
	all, first := s.sources, len(s.sources)-len(p.Joins)
	for i, j := range p.Joins {
		if j.Kind == LeftJoin {
			b.WriteString(" LEFT JOIN ")
		} else {
			b.WriteString(" INNER JOIN ")
		}
		b.WriteString(j.Table.sqlRef)
		b.WriteString(" ON ")
		s.sources = all[:first+i+1]
		err := b.Expr(j.On)
		s.sources = all
		if err != nil {
			return err
		}
	}
	return nil
}

func appendWhere(b *dialect.Builder, keyword string, preds []expr.Expr) error {
	if len(preds) == 0 {
		return nil
	}
	b.WriteString(keyword)
	for i, e := range preds {
		if i > 0 {
			b.WriteString(" AND ")
		}
		if err := b.Predicate(e); err != nil {
			return err
		}
	}
	return nil
}

func appendList(b *dialect.Builder, list []expr.Expr) error {
	for i, e := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := b.Expr(e); err != nil {
			return err
		}
	}
	return nil
}

// appendOrder renders ORDER BY. NULL sorts after every value, as
// PostgreSQL has it: SQLite sorts it first, so on SQLite a term that can
// be NULL says NULLS LAST (NULLS FIRST when descending), and both engines
// return rows in one order.
func (q *SelectQuery) appendOrder(b *dialect.Builder, s *scope, terms []expr.Order) error {
	onSQLite := len(terms) > 0 && b.D.Features().Has(dialect.NullsSortFirst)
	for i, o := range terms {
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		if err := b.Expr(o.X); err != nil {
			return err
		}
		if o.Desc {
			b.WriteString(" DESC")
		}
		if onSQLite && q.mayBeNull(s, o.X) {
			if o.Desc {
				b.WriteString(" NULLS FIRST")
			} else {
				b.WriteString(" NULLS LAST")
			}
		}
	}
	return nil
}

// mayBeNull reports whether e can be NULL in q's rows: a nullable column,
// any column of a left-joined table, anything but COUNT and a non-NULL
// value otherwise.
func (q *SelectQuery) mayBeNull(s *scope, e expr.Expr) bool {
	switch n := e.(type) {
	case *expr.Column:
		if s == nil {
			return true
		}
		r, err := s.column(n)
		if err != nil || r.nullable {
			return true
		}
		for _, j := range q.parts.Joins {
			if j.Kind != LeftJoin {
				continue
			}
			if n.Table == j.Table.Alias() {
				return true
			}
			if _, ok := j.Table.Column(n.Name); ok && n.Table == "" {
				return true
			}
		}
		return false
	case *expr.Aggregate:
		return n.Func != expr.AggCount
	case *expr.Param:
		return n.Value == nil
	}
	return true
}
