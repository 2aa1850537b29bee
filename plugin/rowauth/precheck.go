package rowauth

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// On SQLite a RETURNING clause is costly (the engine collects its rows in
// an ephemeral table, which the pure-Go build allocates afresh for every
// statement), so an INSERT is checked before it runs instead: the write
// rule is evaluated over each proposed row — its values, and the declared
// defaults of the columns it leaves out — standing in for the table under
// the table's name. Nothing is written when a row fails, so no savepoint
// is needed. SQLite runs one writer at a time, and the check and the
// insert share a transaction, so nothing can change in between. An upsert
// that may update an existing row is checked on the written row with
// RETURNING, as on PostgreSQL.

// precheckRows bounds the rows checked by one query.
const precheckRows = 100

// cheapReturning reports whether db's engine returns rows cheaply; where
// it does not (SQLite), an INSERT is prechecked instead.
func cheapReturning(db *orm.DB) bool { return db.Dialect().Features().Has(dialect.CheapReturning) }

// precheck refuses q if one of its proposed rows is outside wp.
func (a *authz) precheck(next orm.Handler, db *orm.DB, t *orm.Table, q *orm.InsertQuery, wp expr.Expr) error {
	p := q.Parts()
	cols := t.Columns()
	// Where each of the table's columns gets its value: an index into the
	// proposed row, or -1 for the column's default.
	from := make([]int, len(cols))
	defaults := make([]any, len(cols))
	for i, c := range cols {
		from[i] = slices.Index(p.Columns, c.Name())
		if from[i] < 0 {
			defaults[i] = defaultOf(t, c)
		}
	}
	if len(p.Rows) == 1 {
		value := func(col string) any {
			for i, c := range cols {
				if c.Name() == col {
					if from[i] >= 0 {
						return p.Rows[0][from[i]]
					}
					return defaults[i]
				}
			}
			return nil
		}
		pred, plain, err := substitute(wp, t.Name(), value)
		if err != nil {
			return err
		}
		if plain {
			return a.checkOne(next, db, t, pred)
		}
	}
	ok := expr.SQL("CASE WHEN ? THEN 1 ELSE 0 END", orm.CorrelateIn(wp))
	for rows := p.Rows; len(rows) > 0; {
		n := min(len(rows), precheckRows)
		checks := make([]expr.Expr, n)
		for r, row := range rows[:n] {
			vals := make([]expr.Expr, len(cols))
			for i, c := range cols {
				v := defaults[i]
				if from[i] >= 0 {
					v = row[from[i]]
				}
				vals[i] = expr.As(expr.Bind(v), c.Name())
			}
			proposed := orm.Select(vals...)
			checks[r] = expr.As(expr.Sub(orm.Select(ok).FromSubquery(proposed, t.Name())), "r"+strconv.Itoa(r))
		}
		rows = rows[n:]
		if err := a.check(next, selectStmt(db, t, orm.Select(checks...)), n); err != nil {
			return err
		}
	}
	return nil
}

// checkOne checks one proposed row, pred being the write rule with the
// row's values bound in, remembering the result for the transaction (see
// checkCache).
func (a *authz) checkOne(next orm.Handler, db *orm.DB, t *orm.Table, pred expr.Expr) error {
	q := orm.Select(expr.As(expr.SQL("CASE WHEN ? THEN 1 ELSE 0 END", orm.CorrelateIn(pred)), "r0"))
	cache := cacheOf(db, true)
	var reads []string
	if cache == nil || !collectExpr(pred, func(t *orm.Table) { reads = append(reads, t.Name()) }) {
		return a.check(next, selectStmt(db, t, q), 1)
	}
	text, args, err := q.Render(db.Dialect())
	if err != nil {
		return err
	}
	// The check runs as rendered for the key: it is not rendered twice.
	st := &orm.Statement{Op: orm.OpSelect, Table: t, SQL: text, Args: args, DB: db}
	key, ok := checkKey(text, args)
	if !ok {
		return a.check(next, st, 1)
	}
	if r, hit := cache.get(key); hit {
		if !r.allowed {
			return a.deny(t, ErrOutsideRule)
		}
		return nil
	}
	err = a.check(next, st, 1)
	var ae *AuthorizationError
	switch {
	case err == nil:
		cache.put(key, checkResult{allowed: true, reads: reads})
	case errors.As(err, &ae) && errors.Is(err, ErrOutsideRule):
		cache.put(key, checkResult{allowed: false, reads: reads})
	}
	return err
}

// selectStmt is q, a check of a write to t, as a statement on db.
func selectStmt(db *orm.DB, t *orm.Table, q *orm.SelectQuery) *orm.Statement {
	return &orm.Statement{Op: orm.OpSelect, Table: t, Query: q, DB: db}
}

// check runs st, a one-row SELECT of n check columns, and refuses the
// write to st.Table unless each is true.
func (a *authz) check(next orm.Handler, st *orm.Statement, n int) error {
	t := st.Table
	res, err := next(a.ctx, st)
	if err != nil {
		return err
	}
	vals, err := oneRow(res.Rows, n)
	if err != nil {
		return err
	}
	for _, v := range vals {
		if !truthy(v) {
			return a.deny(t, ErrOutsideRule)
		}
	}
	return nil
}

// oneRow reads the single row of n columns rows holds, and closes rows;
// no row reads as n NULLs.
func oneRow(rows orm.Rows, n int) ([]any, error) {
	defer rows.Close()
	vals := make([]any, 2*n) // the values, then pointers to them
	ptrs := vals[n:]
	for i := range n {
		ptrs[i] = &vals[i]
	}
	if rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return vals[:n], rows.Close()
}

// substitute returns the write rule e of table name with the table's
// columns replaced by the proposed row's values (value gives each by
// name), so that one row is checked by a plain SELECT CASE WHEN … rather
// than over a derived table. plain is false, and e must be checked over a
// derived table, when e holds raw SQL or a query plasma did not build:
// their text may name the table's columns.
func substitute(e expr.Expr, name string, value func(col string) any) (out expr.Expr, plain bool, err error) {
	plain = true
	param := func(c *expr.Column) expr.Expr { return &expr.Param{Value: value(c.Name)} }
	inner := &mapper{raw: func(*expr.Raw) { plain = false }}
	inner.column = func(c *expr.Column) expr.Expr {
		if c.Table == name {
			return param(c)
		}
		return nil
	}
	inner.query = func(q expr.Query) (expr.Query, bool, error) {
		if _, ok := q.(*orm.SelectQuery); !ok {
			plain = false
			return q, false, nil
		}
		return requalifySelect(q, name, inner)
	}
	top := &mapper{query: inner.query, raw: inner.raw}
	top.column = func(c *expr.Column) expr.Expr {
		if c.Table == "" || c.Table == name {
			return param(c)
		}
		return nil
	}
	out, err = top.expr(e)
	if err != nil || !plain {
		return nil, false, err
	}
	return out, true, nil
}

// defaultOf is the value a column left out of an INSERT takes: its
// declared default, or NULL.
func defaultOf(t *orm.Table, c orm.Column) any {
	def := t.Def()
	if def == nil {
		return nil
	}
	cd := def.Column(c.Name())
	if cd == nil || !cd.HasDefault || cd.Default == nil {
		return nil
	}
	v := cd.Default
	if cd.Kind.IsJSONText() || cd.Encrypted {
		switch x := v.(type) {
		case string:
			if cd.Kind == tabledef.KindJSON && !cd.Encrypted {
				b, _ := json.Marshal(x) // a Go string in a JSON column is a JSON string
				v = string(b)
			}
		case []byte:
			v = string(x)
		case json.RawMessage:
			v = string(x)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return nil
			}
			v = string(b)
		}
	}
	return v
}
