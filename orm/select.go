package orm

import (
	"context"
	"slices"

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
