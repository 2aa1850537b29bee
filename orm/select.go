package orm

import (
	"context"
	"fmt"
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

// SelectParts are the clauses of a SELECT, exported so that a middleware
// can inspect a statement and rewrite a clone of it.
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
	// Parts holds the clauses.
	Parts SelectParts

	// Small inline buffers keep the common statement to one allocation.
	colBuf   [4]expr.Expr
	whereBuf [4]expr.Expr
	orderBuf [2]expr.Order
}

// Select starts a SELECT of cols (columns, aggregates, aliased expressions)
// that is not bound to a database: use it for subqueries, or render it with
// Render. DB.Select starts one that can run.
func Select(cols ...expr.Expr) *SelectQuery {
	q := &SelectQuery{}
	q.Parts.Columns = append(q.colBuf[:0], cols...)
	q.Parts.Where = q.whereBuf[:0]
	q.Parts.OrderBy = q.orderBuf[:0]
	return q
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
	c := &SelectQuery{db: q.db, Parts: q.Parts}
	p := &c.Parts
	p.Columns = append(c.colBuf[:0], q.Parts.Columns...)
	p.Where = append(c.whereBuf[:0], q.Parts.Where...)
	p.OrderBy = append(c.orderBuf[:0], q.Parts.OrderBy...)
	p.Joins = slices.Clone(q.Parts.Joins)
	p.GroupBy = slices.Clone(q.Parts.GroupBy)
	p.Having = slices.Clone(q.Parts.Having)
	return c
}

// From sets the table rows come from.
func (q *SelectQuery) From(t *Table) *SelectQuery { q.Parts.From = t; return q }

// FromSubquery reads rows from inner under alias; refer to its columns
// with expr.ColRef(alias, column).
func (q *SelectQuery) FromSubquery(inner *SelectQuery, alias string) *SelectQuery {
	q.Parts.FromSub, q.Parts.FromAlias = inner, alias
	return q
}

// Where adds predicates, ANDed with each other and with earlier ones.
func (q *SelectQuery) Where(preds ...expr.Expr) *SelectQuery {
	q.Parts.Where = append(q.Parts.Where, preds...)
	return q
}

// InnerJoin joins t on a condition. Join a table twice under aliases
// (Table.As).
func (q *SelectQuery) InnerJoin(t *Table, on expr.Expr) *SelectQuery {
	q.Parts.Joins = append(q.Parts.Joins, Join{Kind: InnerJoin, Table: t, On: on})
	return q
}

// LeftJoin left-joins t on a condition: rows of the left side without a
// match come back once, with t's columns NULL.
func (q *SelectQuery) LeftJoin(t *Table, on expr.Expr) *SelectQuery {
	q.Parts.Joins = append(q.Parts.Joins, Join{Kind: LeftJoin, Table: t, On: on})
	return q
}

// GroupBy groups rows by the given expressions.
func (q *SelectQuery) GroupBy(cols ...expr.Expr) *SelectQuery {
	q.Parts.GroupBy = append(q.Parts.GroupBy, cols...)
	return q
}

// Having filters groups; predicates are ANDed.
func (q *SelectQuery) Having(preds ...expr.Expr) *SelectQuery {
	q.Parts.Having = append(q.Parts.Having, preds...)
	return q
}

// OrderBy adds ordering terms, made with expr.Asc and expr.Desc.
func (q *SelectQuery) OrderBy(terms ...expr.Order) *SelectQuery {
	q.Parts.OrderBy = append(q.Parts.OrderBy, terms...)
	return q
}

// Limit caps the number of rows. A negative n is reported when the query
// is rendered.
func (q *SelectQuery) Limit(n int64) *SelectQuery {
	q.Parts.Limit, q.Parts.HasLimit = n, true
	return q
}

// Offset skips the first n rows; order the query for stable pages.
func (q *SelectQuery) Offset(n int64) *SelectQuery { q.Parts.Offset = n; return q }

// Rows runs the query through the middleware chain. The caller closes
// Result.Rows; All, One, Scalar and Maps do that for you.
func (q *SelectQuery) Rows(ctx context.Context) (*Result, error) {
	if q.db == nil {
		return nil, errNoDB("SELECT")
	}
	return q.db.run(ctx, &Statement{Op: OpSelect, Table: q.Parts.From, Query: q})
}

// ToSql renders the query with '?' placeholders, as squirrel.Sqlizer does,
// so a plasma query can be used wherever squirrel takes one.
func (q *SelectQuery) ToSql() (string, []any, error) { return toSQL(q) }

// Render renders the query for a dialect.
func (q *SelectQuery) Render(d dialect.Dialect) (string, []any, error) { return render(d, q) }

func (q *SelectQuery) name() string {
	switch {
	case q.Parts.From != nil:
		return "SELECT FROM " + q.Parts.From.Name()
	case q.Parts.FromSub != nil:
		return "SELECT FROM (subquery) " + q.Parts.FromAlias
	}
	return "SELECT"
}

// scope returns the sources q's expressions resolve against.
func (q *SelectQuery) scope(outer *scope) (*scope, error) {
	p := &q.Parts
	s := &scope{stmt: q.name(), parent: outer}
	switch {
	case p.From != nil:
		s.sources = append(s.sources, source{alias: p.From.Alias(), table: p.From})
	case p.FromSub != nil:
		if err := checkIdent(s.stmt, "subquery alias", p.FromAlias); err != nil {
			return nil, err
		}
		if err := p.FromSub.validate(outer); err != nil {
			return nil, err
		}
		cols, kinds := p.FromSub.outputs()
		s.sources = append(s.sources, source{alias: p.FromAlias, cols: cols, kinds: kinds})
	}
	for _, j := range p.Joins {
		if j.Table == nil {
			return nil, &QueryError{Statement: s.stmt, Err: ErrNoTable, Detail: "JOIN of a nil table"}
		}
		for _, src := range s.sources {
			if src.alias == j.Table.Alias() {
				return nil, &QueryError{Statement: s.stmt, Err: ErrDuplicateAlias, Detail: strconv.Quote(src.alias)}
			}
		}
		s.sources = append(s.sources, source{alias: j.Table.Alias(), table: j.Table})
	}
	return s, nil
}

// outputs names the columns the query returns, with their kinds where a
// column is projected as it is.
func (q *SelectQuery) outputs() ([]string, []Kind) {
	p := &q.Parts
	if len(p.Columns) == 0 {
		if p.From != nil {
			return tableOutputs(p.From)
		}
		if p.FromSub != nil {
			return p.FromSub.outputs()
		}
		return nil, nil
	}
	names := make([]string, len(p.Columns))
	kinds := make([]Kind, len(p.Columns))
	s, err := q.scope(nil)
	if err != nil {
		s = &scope{}
	}
	for i, c := range p.Columns {
		names[i], kinds[i] = output(s, c)
	}
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
		if n.Func == expr.AggMax || n.Func == expr.AggMin {
			_, k := output(s, n.X)
			return "", k
		}
	}
	return "", 0
}

func tableOutputs(t *Table) ([]string, []Kind) {
	names := make([]string, len(t.columns))
	kinds := make([]Kind, len(t.columns))
	for i, c := range t.columns {
		names[i], kinds[i] = c.def.Name, c.def.Kind
	}
	return names, kinds
}

// resultKinds gives the scanner each output column's kind.
func (q *SelectQuery) resultKinds() []Kind {
	_, kinds := q.outputs()
	return kinds
}

// validate checks the query before any SQL runs: every column resolves,
// values suit their columns, selected columns are grouped when the query
// aggregates, and LIMIT/OFFSET are not negative.
func (q *SelectQuery) validate(outer *scope) error {
	_, err := q.check(outer)
	return err
}

// check validates q and returns its scope.
func (q *SelectQuery) check(outer *scope) (*scope, error) {
	s, err := q.checkClauses(outer)
	if err != nil {
		return nil, err
	}
	return s, q.checkGrouping(s)
}

func (q *SelectQuery) checkClauses(outer *scope) (*scope, error) {
	p := &q.Parts
	if p.From == nil && p.FromSub == nil && len(p.Columns) == 0 {
		return nil, &QueryError{Statement: q.name(), Err: ErrNoTable}
	}
	s, err := q.scope(outer)
	if err != nil {
		return nil, err
	}
	if p.Limit < 0 || p.Offset < 0 {
		return nil, &QueryError{Statement: s.stmt, Err: ErrBadLimit, Detail: fmt.Sprintf("LIMIT %d OFFSET %d", p.Limit, p.Offset)}
	}
	for _, group := range [...][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
		for _, e := range group {
			if err := s.walk(e); err != nil {
				return nil, err
			}
		}
	}
	for _, j := range p.Joins {
		if err := s.walk(j.On); err != nil {
			return nil, err
		}
	}
	for _, o := range p.OrderBy {
		if err := s.walk(o.X); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkGrouping refuses a projected column that is neither in GROUP BY nor
// inside an aggregate, when the query groups or aggregates. SQLite would
// return an arbitrary row's value; PostgreSQL refuses. plasma refuses on both.
func (q *SelectQuery) checkGrouping(s *scope) error {
	p := &q.Parts
	aggregates := len(p.GroupBy) > 0
	for _, c := range p.Columns {
		aggregates = aggregates || hasAggregate(c)
	}
	if !aggregates {
		return nil
	}
	if len(p.Columns) == 0 {
		return &QueryError{Statement: s.stmt, Err: ErrUngrouped, Detail: "a grouped query must name its columns"}
	}
	for _, c := range p.Columns {
		if col := ungrouped(c, p.GroupBy); col != nil {
			return &QueryError{Statement: s.stmt, Column: qualified(col), Err: ErrUngrouped}
		}
	}
	return nil
}

// ungrouped returns a column of e outside any aggregate and not grouped.
func ungrouped(e expr.Expr, groups []expr.Expr) *expr.Column {
	switch n := e.(type) {
	case *expr.Column:
		for _, g := range groups {
			if gc, ok := g.(*expr.Column); ok && sameColumn(gc, n) {
				return nil
			}
		}
		return n
	case *expr.Alias:
		return ungrouped(n.X, groups)
	case *expr.Compare:
		if c := ungrouped(n.Left, groups); c != nil {
			return c
		}
		return ungrouped(n.Right, groups)
	}
	return nil
}

func sameColumn(a, b *expr.Column) bool {
	return a.Name == b.Name && (a.Table == b.Table || a.Table == "" || b.Table == "")
}

func hasAggregate(e expr.Expr) bool {
	switch n := e.(type) {
	case *expr.Aggregate:
		return true
	case *expr.Alias:
		return hasAggregate(n.X)
	}
	return false
}

// AppendSQL validates q and renders it into b. It implements
// dialect.Appender, so q renders inside another statement with one
// placeholder counter.
func (q *SelectQuery) AppendSQL(b *dialect.Builder) error {
	outer, _ := b.Outer.(*scope)
	s, err := q.check(outer)
	if err != nil {
		return err
	}
	saved := b.Outer
	b.Outer = s
	defer func() { b.Outer = saved }()
	return q.appendSQL(b)
}

func (q *SelectQuery) appendSQL(b *dialect.Builder) error {
	p := &q.Parts
	b.WriteString("SELECT ")
	if err := q.appendColumns(b); err != nil {
		return err
	}
	if err := q.appendFrom(b); err != nil {
		return err
	}
	if err := appendWhere(b, " WHERE ", p.Where); err != nil {
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
	if err := appendOrder(b, p.OrderBy); err != nil {
		return err
	}
	if p.HasLimit {
		b.WriteString(" LIMIT ")
		b.Buf = strconv.AppendInt(b.Buf, p.Limit, 10)
	}
	if p.Offset > 0 {
		if !p.HasLimit && b.D.Name() == "sqlite" {
			b.WriteString(" LIMIT -1") // SQLite has no OFFSET without LIMIT
		}
		b.WriteString(" OFFSET ")
		b.Buf = strconv.AppendInt(b.Buf, p.Offset, 10)
	}
	return nil
}

func (q *SelectQuery) appendColumns(b *dialect.Builder) error {
	p := &q.Parts
	if len(p.Columns) > 0 {
		return appendList(b, p.Columns)
	}
	// Every column of FROM, spelled out so the result's shape does not
	// depend on the live table.
	switch {
	case p.From != nil:
		appendTableColumns(b, p.From.Alias(), p.From.columns)
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

func (q *SelectQuery) appendFrom(b *dialect.Builder) error {
	p := &q.Parts
	switch {
	case p.From != nil:
		b.WriteString(" FROM ")
		appendTableRef(b, p.From)
	case p.FromSub != nil:
		b.WriteString(" FROM ")
		if err := b.Subquery(p.FromSub); err != nil {
			return err
		}
		b.WriteString(" AS ")
		b.Ident(p.FromAlias)
	}
	for _, j := range p.Joins {
		if j.Kind == LeftJoin {
			b.WriteString(" LEFT JOIN ")
		} else {
			b.WriteString(" INNER JOIN ")
		}
		appendTableRef(b, j.Table)
		b.WriteString(" ON ")
		if err := b.Expr(j.On); err != nil {
			return err
		}
	}
	return nil
}

func appendTableRef(b *dialect.Builder, t *Table) {
	b.Ident(t.name)
	if t.alias != "" {
		b.WriteString(" AS ")
		b.Ident(t.alias)
	}
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
		if err := b.Expr(e); err != nil {
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

func appendOrder(b *dialect.Builder, terms []expr.Order) error {
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
	}
	return nil
}
