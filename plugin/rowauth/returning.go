package rowauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
)

// check locates the columns addChecks added to a write's RETURNING
// clause, after the caller's own.
type check struct {
	t      *orm.Table
	caller int // the caller's columns, first: how many
	write  int // the write rule's check column, or -1
	read   int // the read rule's check column, or -1
	// With after, the rules are evaluated by a SELECT once the statement
	// has run, on the rows key (the primary-key columns) names.
	after  bool
	key    []int
	wp, rp expr.Expr
}

// returnRule is the read rule t's RETURNING rows must satisfy to reach the
// caller, or nil when the write returns nothing or t has no read rule.
func (a *authz) returnRule(t *orm.Table, r orm.Returning) (expr.Expr, error) {
	if !r.All && len(r.Columns) == 0 {
		return nil, nil
	}
	return a.rule(t, false)
}

// addChecks appends to r what finish needs to check the written rows
// against wp and filter them by rp (either may be nil): a column that is
// 1 when the row satisfies the rule, or with after the row's primary key.
func addChecks(r *orm.Returning, t *orm.Table, wp, rp expr.Expr, after bool) *check {
	ck := &check{t: t, write: -1, read: -1, after: after, wp: wp, rp: rp}
	cols := slices.Clip(r.Columns)
	if r.All {
		cols = make([]expr.Expr, 0, len(t.Columns())+2)
		for _, col := range t.Columns() {
			cols = append(cols, t.Col(col.Name()))
		}
		r.All = false
	}
	ck.caller = len(cols)
	if after {
		for _, name := range t.PrimaryKey() {
			ck.key = append(ck.key, len(cols))
			cols = append(cols, t.Col(name))
		}
	} else {
		if wp != nil {
			ck.write = len(cols)
			cols = append(cols, caseWhen(wp))
		}
		if rp != nil {
			ck.read = len(cols)
			cols = append(cols, caseWhen(rp))
		}
	}
	r.Columns = cols
	return ck
}

// caseWhen is 1 where p is true, and 0 where it is false or NULL.
func caseWhen(p expr.Expr) expr.Expr { return expr.SQL("CASE WHEN ? THEN 1 ELSE 0 END", p) }

// finish reads the rows a write returned with the columns of ck, refuses
// the write with ErrOutsideRule if one of them fails the write rule, and
// hands the caller its own columns of the rows the read rule lets it see.
// A row the identity may write but not read is written, and not returned.
func (a *authz) finish(next orm.Handler, st *orm.Statement, res *orm.Result, ck *check) (*orm.Result, error) {
	if res.Rows == nil {
		return nil, a.deny(ck.t, errors.New("the write returned no rows to check"))
	}
	buf, err := rowbuf.Read(res.Rows)
	if err != nil {
		return nil, err
	}
	writable := func(row []any) bool { return ck.write < 0 || truthy(row[ck.write]) }
	readable := func(row []any) bool { return ck.read < 0 || truthy(row[ck.read]) }
	if ck.after {
		if writable, readable, err = a.after(next, st.DB, buf, ck); err != nil {
			return nil, err
		}
	}
	kept := buf.Values[:0:0]
	for _, row := range buf.Values {
		if !writable(row) {
			return nil, a.deny(ck.t, ErrOutsideRule)
		}
		if readable(row) {
			kept = append(kept, row)
		}
	}
	if ck.caller > 0 {
		out := &rowbuf.Buffer{Columns: buf.Columns, Values: kept}
		return out.Result(ck.caller, res.Kinds), nil
	}
	return &orm.Result{RowsAffected: int64(len(buf.Values))}, nil
}

// afterRows bounds the rows one SELECT of after checks.
const afterRows = 100

// after evaluates ck's rules on the written rows of buf as the table
// stands now, by their primary keys, and returns the verdicts. A row the
// SELECT no longer finds fails both rules.
func (a *authz) after(next orm.Handler, db *orm.DB, buf *rowbuf.Buffer, ck *check) (writable, readable func([]any) bool, err error) {
	t := ck.t
	pk := t.PrimaryKey()
	cols := make([]expr.Expr, 0, len(pk)+2)
	for _, name := range pk {
		cols = append(cols, t.Col(name))
	}
	for _, p := range [...]expr.Expr{ck.wp, ck.rp} {
		if p != nil {
			cols = append(cols, caseWhen(p))
		}
	}
	keyOf := func(vals []any) string { return fmt.Sprintf("%#v", vals) }
	verdicts := make(map[string][]any, len(buf.Values))
	for rows := buf.Values; len(rows) > 0; {
		n := min(len(rows), afterRows)
		match := make([]expr.Expr, n)
		for r, row := range rows[:n] {
			and := make([]expr.Expr, len(pk))
			for i, name := range pk {
				and[i] = expr.Eq(t.Col(name), expr.Bind(row[ck.key[i]]))
			}
			match[r] = expr.And(and...)
		}
		rows = rows[n:]
		sel := orm.Select(cols...).From(t).Where(expr.Or(match...))
		res, err := next(a.ctx, selectStmt(db, t, sel))
		if err != nil {
			return nil, nil, err
		}
		got, err := rowbuf.Read(res.Rows)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range got.Values {
			verdicts[keyOf(v[:len(pk)])] = v[len(pk):]
		}
	}
	key := func(row []any) string {
		vals := make([]any, len(ck.key))
		for i, j := range ck.key {
			vals[i] = row[j]
		}
		return keyOf(vals)
	}
	at := func(row []any, i int) bool {
		v, ok := verdicts[key(row)]
		return ok && truthy(v[i])
	}
	writable = func([]any) bool { return true }
	readable = writable
	i := 0
	if ck.wp != nil {
		writable = func(row []any) bool { return at(row, 0) }
		i++
	}
	if ck.rp != nil {
		j := i
		readable = func(row []any) bool { return at(row, j) }
	}
	return writable, readable, nil
}

// readsTable reports whether predicate e may read table name through a
// subquery, under its own name or an alias. Raw SQL text and subqueries
// plasma did not build cannot be read, so they may.
func readsTable(e expr.Expr, name string) bool {
	if e == nil {
		return false
	}
	found := false
	query := func(q expr.Query) {
		s, ok := q.(*orm.SelectQuery)
		found = found || !ok || selectReads(s, name)
	}
	visit(e, func(x expr.Expr) {
		switch n := x.(type) {
		case *expr.In:
			if n.Sub != nil {
				query(n.Sub.Query)
			}
		case *expr.Subquery:
			query(n.Query)
		case *expr.Raw:
			found = found || rawMayRead(n)
			for _, arg := range n.Args {
				if q, ok := arg.(expr.Query); ok {
					query(q)
				}
			}
		}
	}, func(expr.Query) { found = true })
	return found
}

// rawMayRead reports whether raw SQL may hold a subquery of its own: its
// text names SELECT. The subqueries passed as its arguments are visited
// on their own.
func rawMayRead(r *expr.Raw) bool {
	return strings.Contains(strings.ToUpper(r.SQL), "SELECT")
}

// selectReads reports whether s reads table name as one of its own
// sources, or through its FROM subquery. Its expressions' subqueries are
// left to the caller's walk.
func selectReads(s *orm.SelectQuery, name string) bool {
	p := s.Parts()
	if p.From != nil && p.From.Name() == name {
		return true
	}
	for _, j := range p.Joins {
		if j.Table != nil && j.Table.Name() == name {
			return true
		}
	}
	return p.FromSub != nil && selectReads(p.FromSub, name)
}
