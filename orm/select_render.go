package orm

import (
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
)

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
	outer := b.Check // restored when q ends; enclosing(b) is its scope
	s, err := q.scope(enclosing(b))
	if err != nil {
		return err
	}
	defer s.release()
	if p.Limit < 0 || p.Offset < 0 {
		return &QueryError{Statement: s.name(), Err: ErrBadLimit, Detail: fmt.Sprintf("LIMIT %d OFFSET %d", p.Limit, p.Offset)}
	}
	// The outermost statement starts the arguments in its scope's buffer
	// and hands the caller a copy of exactly their length.
	ownArgs := b.Args == nil
	if ownArgs {
		b.Args = s.argBuf[:0]
	}
	b.Check = s
	err = q.appendSQL(b, s, outer)
	b.Check = outer
	if ownArgs {
		b.Args = s.ownArgs(b.Args)
	}
	if err != nil {
		return err
	}
	return q.checkGrouping(s)
}

// appendSQL writes q's clauses; s is q's scope and outer is what b.Check
// was before q set it.
func (q *SelectQuery) appendSQL(b *dialect.Builder, s *scope, outer dialect.Checker) error {
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
func (q *SelectQuery) appendFrom(b *dialect.Builder, s *scope, outer dialect.Checker) error {
	p := &q.parts
	switch {
	case p.From != nil:
		b.WriteString(" FROM ")
		b.WriteString(p.From.sqlRef)
	case p.FromSub != nil:
		b.WriteString(" FROM ")
		b.Check = outer
		err := b.Subquery(p.FromSub)
		b.Check = s
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
