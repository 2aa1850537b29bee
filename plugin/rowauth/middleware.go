package rowauth

import (
	"context"
	"errors"
	"slices"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
)

// Middleware returns the row-auth middleware: it rewrites every statement
// built with the ORM so that it reads and writes only the rows the
// context's identity may, and refuses writes that would leave a row
// outside the write rule. A system context (AsSystem) passes untouched.
// Raw statements (DB.Exec, DB.Query, DDL) pass untouched too: they are
// trusted code that plasma cannot see into.
func Middleware() orm.Middleware {
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if st.Op != orm.OpSelect && st.DB != nil {
				if c := cacheOf(st.DB, false); c != nil {
					c.wrote(st)
				}
			}
			if st.Query == nil || IsSystem(ctx) {
				return next(ctx, st)
			}
			a := &authz{ctx: ctx, op: st.Op}
			switch q := st.Query.(type) {
			case *orm.SelectQuery:
				c, err := a.selectQuery(q)
				if err != nil {
					return nil, err
				}
				s := *st
				s.Query = c
				return next(ctx, &s)
			case *orm.InsertQuery:
				return a.insert(next, st, q)
			case *orm.UpdateQuery:
				return a.update(next, st, q)
			case *orm.DeleteQuery:
				return a.delete(next, st, q)
			}
			return next(ctx, st)
		}
	}
}

// authz rewrites one statement for one context.
type authz struct {
	ctx   context.Context
	op    orm.Op
	rules map[ruleKey]expr.Expr // the rules evaluated so far
	reads *mapper               // rewrites subqueries with the read rules
}

type ruleKey struct {
	table string
	write bool
}

func (a *authz) deny(t *orm.Table, err error) error {
	var ae *AuthorizationError
	if errors.As(err, &ae) {
		return err
	}
	name := ""
	if t != nil {
		name = t.Name()
	}
	return &AuthorizationError{Table: name, Op: a.op, Err: err}
}

// rule returns t's read or write predicate, qualified by the table's
// name, or nil when the table has no such rule.
func (a *authz) rule(t *orm.Table, write bool) (expr.Expr, error) {
	auth := t.Options().Auth
	f := auth.Read
	if write {
		f = auth.Write
	}
	if f == nil {
		return nil, nil
	}
	key := ruleKey{table: t.Name(), write: write}
	if p, ok := a.rules[key]; ok {
		return p, nil
	}
	if _, ok := IdentityFrom(a.ctx); !ok {
		return nil, a.deny(t, ErrNoIdentity)
	}
	p, err := f(a.ctx)
	if err != nil {
		return nil, a.deny(t, err)
	}
	if p == nil {
		return nil, a.deny(t, ErrNilPredicate)
	}
	if p, err = requalify(p, t.Name(), t.Name()); err != nil {
		return nil, err
	}
	if a.rules == nil {
		a.rules = make(map[ruleKey]expr.Expr, 4)
	}
	a.rules[key] = p
	return p, nil
}

// instance returns t's read predicate for this instance of it, under its
// alias, or nil.
func (a *authz) instance(t *orm.Table) (expr.Expr, error) {
	p, err := a.rule(t, false)
	if err != nil || p == nil || t.Alias() == t.Name() {
		return p, err
	}
	return requalify(p, t.Name(), t.Alias())
}

// expr applies the read rules to every subquery of e.
func (a *authz) expr(e expr.Expr) (expr.Expr, error) {
	if a.reads == nil {
		a.reads = &mapper{query: func(q expr.Query) (expr.Query, bool, error) {
			s, ok := q.(*orm.SelectQuery)
			if !ok {
				return nil, false, a.deny(nil, ErrUncheckable)
			}
			c, err := a.selectQuery(s)
			return c, err == nil, err
		}}
	}
	return a.reads.expr(e)
}

// exprs applies expr to each element of list, in place.
func (a *authz) exprs(list []expr.Expr) error {
	for i, e := range list {
		x, err := a.expr(e)
		if err != nil {
			return err
		}
		list[i] = x
	}
	return nil
}

// selectQuery returns a copy of q in which every instance of a table with
// a read rule sees only the rows the rule allows: the rule is ANDed into
// WHERE for the FROM table, into ON for each joined table (so a LEFT JOIN
// still keeps its left rows, with the hidden right side NULL), and into
// every subquery, at any depth. The rules' own subqueries are trusted and
// not rewritten.
func (a *authz) selectQuery(q *orm.SelectQuery) (*orm.SelectQuery, error) {
	c, p := q.Rewrite()
	if p.FromSub != nil {
		sub, err := a.selectQuery(p.FromSub)
		if err != nil {
			return nil, err
		}
		p.FromSub = sub
	}
	if err := a.reads0(p); err != nil {
		return nil, err
	}
	if p.From != nil {
		pred, err := a.instance(p.From)
		if err != nil {
			return nil, err
		}
		if pred != nil {
			p.Where = append(p.Where, pred)
		}
	}
	for i := range p.Joins {
		if p.Joins[i].Table == nil {
			continue
		}
		pred, err := a.instance(p.Joins[i].Table)
		if err != nil {
			return nil, err
		}
		if pred == nil {
			continue
		}
		if p.Joins[i].On == nil {
			p.Joins[i].On = pred
		} else {
			p.Joins[i].On = expr.And(p.Joins[i].On, pred)
		}
	}
	return c, nil
}

// reads0 applies the read rules to the subqueries of a SELECT's clauses.
func (a *authz) reads0(p *orm.SelectParts) error {
	for _, list := range [...][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
		if err := a.exprs(list); err != nil {
			return err
		}
	}
	for i := range p.OrderBy {
		x, err := a.expr(p.OrderBy[i].X)
		if err != nil {
			return err
		}
		p.OrderBy[i].X = x
	}
	for i := range p.Joins {
		x, err := a.expr(p.Joins[i].On)
		if err != nil {
			return err
		}
		p.Joins[i].On = x
	}
	return nil
}

// returning applies the read rules to a RETURNING clause's subqueries.
func (a *authz) returning(r *orm.Returning) error {
	if len(r.Columns) == 0 {
		return nil
	}
	r.Columns = slices.Clone(r.Columns)
	return a.exprs(r.Columns)
}

func (a *authz) delete(next orm.Handler, st *orm.Statement, q *orm.DeleteQuery) (*orm.Result, error) {
	c, cp := q.Rewrite()
	if err := a.exprs(cp.Where); err != nil {
		return nil, err
	}
	if err := a.returning(&cp.Returning); err != nil {
		return nil, err
	}
	wp, err := a.rule(st.Table, true)
	if err != nil {
		return nil, err
	}
	if wp != nil {
		cp.Where = append(cp.Where, wp)
	}
	rp, err := a.returnRule(st.Table, cp.Returning)
	if err != nil {
		return nil, err
	}
	s := *st
	s.Query = c
	if rp == nil {
		return next(a.ctx, &s)
	}
	// The deleted rows are gone afterwards: the read rule is evaluated in
	// RETURNING, on each row as the statement deletes it.
	ck := addChecks(&cp.Returning, st.Table, nil, rp, false)
	res, err := next(a.ctx, &s)
	if err != nil {
		return nil, err
	}
	return a.finish(next, &s, res, ck)
}

func (a *authz) update(next orm.Handler, st *orm.Statement, q *orm.UpdateQuery) (*orm.Result, error) {
	c, cp := q.Rewrite()
	if err := a.exprs(cp.Where); err != nil {
		return nil, err
	}
	for i, set := range cp.Set {
		if e, ok := set.Value.(expr.Expr); ok {
			x, err := a.expr(e)
			if err != nil {
				return nil, err
			}
			cp.Set[i].Value = x
		}
	}
	if err := a.returning(&cp.Returning); err != nil {
		return nil, err
	}
	s := *st
	s.Query = c
	t := st.Table
	wp, err := a.rule(t, true)
	if err != nil {
		return nil, err
	}
	rp, err := a.returnRule(t, cp.Returning)
	if err != nil {
		return nil, err
	}
	selfW, selfR := readsTable(wp, t.Name()), readsTable(rp, t.Name())
	if wp != nil {
		// Before: only rows the rule allows are updated.
		cp.Where = append(cp.Where, wp)
		// After: checked only if the update may move a row out of the
		// rule — it assigns a column the rule reads, or the rule reads
		// the table itself, whose rows the update changes.
		set := make(map[string]bool, len(cp.Set))
		for _, asg := range cp.Set {
			set[asg.Column] = true
		}
		if !selfW && !references(wp, t.Name(), set) {
			wp = nil
		}
	}
	if wp == nil && rp == nil {
		return next(a.ctx, &s)
	}
	// A rule that reads its own table is evaluated by a SELECT after the
	// UPDATE, which sees the table as the statement left it; in RETURNING
	// a subquery sees it as it was before (PostgreSQL) or half-way
	// (SQLite). Without a primary key to find the rows by, RETURNING it
	// is.
	after := (selfW && wp != nil || selfR) && len(t.PrimaryKey()) > 0
	ck := addChecks(&cp.Returning, t, wp, rp, after)
	if wp == nil && !after {
		res, err := next(a.ctx, &s)
		if err != nil {
			return nil, err
		}
		return a.finish(next, &s, res, ck)
	}
	return a.checked(next, &s, ck, nil)
}

func (a *authz) insert(next orm.Handler, st *orm.Statement, q *orm.InsertQuery) (*orm.Result, error) {
	c, cp := q.Rewrite()
	if err := a.returning(&cp.Returning); err != nil {
		return nil, err
	}
	s := *st
	s.Query = c
	wp, err := a.rule(st.Table, true)
	if err != nil {
		return nil, err
	}
	if wp == nil {
		return next(a.ctx, &s)
	}
	if oc := cp.OnConflict; !cheapReturning(st.DB) && (oc == nil || oc.DoNothing) {
		// SQLite: check the proposed rows before writing them (see precheck).
		return txrun.Run(a.ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
			if err := a.precheck(next, db, st.Table, c, wp); err != nil {
				return nil, err
			}
			s.DB = db
			return next(a.ctx, &s)
		})
	}
	var pre func(db *orm.DB) error
	var rp expr.Expr // an upsert may return an existing row: filter it
	if oc := cp.OnConflict; oc != nil && !oc.DoNothing {
		pre = func(db *orm.DB) error { return a.checkConflicts(next, db, st.Table, c, wp) }
		if rp, err = a.returnRule(st.Table, cp.Returning); err != nil {
			return nil, err
		}
	}
	return a.checked(next, &s, addChecks(&cp.Returning, st.Table, wp, rp, false), pre)
}

// savepoint names the savepoint a checked write runs under inside a
// caller's transaction.
const savepoint = "plasma_rowauth"

// checked runs a write whose RETURNING carries the columns of ck,
// refusing it with ErrOutsideRule if any written row fails the write rule
// (see finish). The write's effects, change-log rows included, never
// survive a refusal: outside a transaction it runs in one that is rolled
// back; inside the caller's transaction it runs under a savepoint that is
// rolled back, so even a caller that ignores the error cannot commit the
// refused row. An executor that can begin no transaction is refused before
// anything is written (txrun.Run): plasma cannot know it is a
// transaction, and a savepoint outside one would not undo the write.
func (a *authz) checked(next orm.Handler, st *orm.Statement, ck *check, pre func(*orm.DB) error) (*orm.Result, error) {
	ctx := a.ctx
	run := func(s *orm.Statement) (*orm.Result, error) {
		if pre != nil {
			if err := pre(s.DB); err != nil {
				return nil, err
			}
		}
		res, err := next(ctx, s)
		if err != nil {
			return nil, err
		}
		return a.finish(next, s, res, ck)
	}
	if !st.DB.IsTx() {
		// A transaction of its own, rolled back on refusal; an executor
		// that cannot begin one is refused (see txrun.Run).
		return txrun.Run(ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
			s := *st
			s.DB = db
			return run(&s)
		})
	}
	if u := undoFrom(ctx); u != nil {
		// The caller rolls the whole scope back on a refusal.
		res, err := run(st)
		var ae *AuthorizationError
		if errors.As(err, &ae) {
			u.refused.Store(true)
		}
		return res, err
	}
	raw := func(sql string) error {
		_, err := next(ctx, &orm.Statement{Op: orm.OpRaw, SQL: sql, DB: st.DB})
		return err
	}
	if err := raw("SAVEPOINT " + savepoint); err != nil {
		return nil, err
	}
	res, err := run(st)
	if err != nil {
		var ae *AuthorizationError
		if errors.As(err, &ae) {
			if rbErr := raw("ROLLBACK TO SAVEPOINT " + savepoint); rbErr != nil {
				return nil, errors.Join(err, rbErr)
			}
		}
		// After a database error PostgreSQL refuses even this until the
		// caller rolls back; the transaction is lost either way.
		_ = raw("RELEASE SAVEPOINT " + savepoint)
		return nil, err
	}
	if err := raw("RELEASE SAVEPOINT " + savepoint); err != nil {
		closeResult(res)
		return nil, err
	}
	return res, nil
}

func closeResult(r *orm.Result) {
	if r != nil && r.Rows != nil {
		r.Rows.Close()
	}
}

// truthy reads a check column: 1 (or true) passes, anything else fails.
func truthy(v any) bool {
	switch b := v.(type) {
	case int64:
		return b == 1
	case bool:
		return b
	case []byte:
		return string(b) == "1"
	case string:
		return b == "1"
	}
	return false
}

// checkConflicts refuses an upsert whose conflict target matches an
// existing row the write rule does not allow: the upsert would update it.
// A target column the insert leaves out takes its declared default (and
// NULL, which conflicts with nothing, when it has none). An upsert with
// no target (which SQLite allows) may conflict on any unique key.
func (a *authz) checkConflicts(next orm.Handler, db *orm.DB, t *orm.Table, q *orm.InsertQuery, wp expr.Expr) error {
	p := q.Parts()
	keys := [][]string{p.OnConflict.Target}
	if len(p.OnConflict.Target) == 0 {
		keys = uniqueKeys(t)
	}
	var matches []expr.Expr
	for _, key := range keys {
		matches = append(matches, conflictMatches(t, &p, key)...)
	}
	if len(matches) == 0 {
		return nil // no key to conflict on: nothing is updated
	}
	sel := orm.Select(expr.CountAll()).From(t).Where(expr.Or(matches...),
		expr.Eq(expr.SQL("CASE WHEN ? THEN 1 ELSE 0 END", wp), 0))
	res, err := next(a.ctx, &orm.Statement{Op: orm.OpSelect, Table: t, Query: sel, DB: db})
	if err != nil {
		return err
	}
	buf, err := rowbuf.Read(res.Rows)
	if err != nil {
		return err
	}
	if len(buf.Values) == 1 && !isZero(buf.Values[0][0]) {
		return a.deny(t, ErrOutsideRule)
	}
	return nil
}

// conflictMatches returns, for each proposed row of p, the predicate
// matching the existing row that has the row's values in the columns of
// key.
func conflictMatches(t *orm.Table, p *orm.InsertParts, key []string) []expr.Expr {
	if len(key) == 0 {
		return nil
	}
	idx := make([]int, len(key))
	defaults := make([]any, len(key))
	for i, col := range key {
		idx[i] = slices.Index(p.Columns, col)
		if idx[i] < 0 {
			c, _ := t.Column(col)
			defaults[i] = defaultOf(t, c)
		}
	}
	matches := make([]expr.Expr, 0, len(p.Rows))
	for _, row := range p.Rows {
		and := make([]expr.Expr, len(idx))
		for i, j := range idx {
			v := defaults[i]
			if j >= 0 && j < len(row) {
				v = row[j]
			}
			and[i] = expr.Eq(t.Col(key[i]), expr.Bind(v))
		}
		matches = append(matches, expr.And(and...))
	}
	return matches
}

// uniqueKeys returns t's primary key and unique constraints.
func uniqueKeys(t *orm.Table) [][]string {
	keys := [][]string{t.PrimaryKey()}
	def := t.Def()
	if def == nil {
		return keys
	}
	for _, c := range def.Columns {
		if c.Unique {
			keys = append(keys, []string{c.Name})
		}
	}
	for _, ix := range def.Indexes {
		if ix.Unique {
			keys = append(keys, ix.Columns)
		}
	}
	return keys
}

func isZero(v any) bool {
	n, ok := v.(int64)
	return ok && n == 0
}
