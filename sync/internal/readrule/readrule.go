// Package readrule analyses a synced table's read rule (orm.TableAuth.Read,
// evaluated for one identity) for an incremental pull: whether a row's
// readability follows from the row's own values and a few sets of values
// read by the rule's subqueries, and which subqueries those are.
//
// A rule is analysable when it is a predicate over its own table's
// columns and bound values (comparisons, LIKE, AND/OR/NOT, IS NULL,
// IN lists) in which every subquery stands where the predicate is
// positive (under AND and OR only) and has the shape
//
//	col IN (SELECT sel FROM m WHERE <an analysable predicate over m>)
//
// with col a column of the rule's table and m a synced table (so its
// changes are in the change log): a row's readability then changes only
// when the row changes or when the set such a subquery returns gains or
// loses the row's col. Anything else (raw SQL, joins, scalar or
// correlated subqueries, NOT IN a subquery, aggregates,
// prepared-statement slots, a table outside the log) is not analysable,
// and its pulls rescan.
//
// sync/realtime canonicalises values the same way (Canon), so a value
// read from the database and one read from a change-log image compare
// equal.
package readrule

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/rowjson"
	"github.com/plasma-go/plasma/orm"
)

// Input is one subquery of an analysable rule: rows of the filtered
// table whose Col is among the values Query returns may be read.
type Input struct {
	// Col is the filtered table's column tested against the subquery.
	Col string
	// Table is the table the subquery reads.
	Table string
	// Query is the subquery, runnable on its own (it references no outer
	// row).
	Query *orm.SelectQuery
	// Key names the input: its column, and its subquery's SQL and
	// arguments in the dialect. Equal keys read the same values.
	Key string
	// ByID is set when the subquery selects Table's id column: then the
	// values it may gain or lose are the ids of Table's changed rows and
	// of the rows of Table that Inner's changes let in or out, so no set
	// of its values need be kept. Else the values are compared with the
	// set the last pull read.
	ByID bool
	// Inner are the inputs of the subquery's own WHERE (filtering Table).
	Inner []Input
	// Required are the keys of the Inner inputs that the WHERE requires:
	// each stands at its top, under AND only, so the subquery selects a
	// row of Table only if the row's value of that input's Col is among
	// the input's values.
	Required []string
}

// Tables returns the tables in's values depend on: its own and its inner
// inputs', at any depth.
func (in *Input) Tables(yield func(string) bool) {
	if !yield(in.Table) {
		return
	}
	for i := range in.Inner {
		for t := range in.Inner[i].Tables {
			if !yield(t) {
				return
			}
		}
	}
}

// Analyze returns the inputs of rule e of table t, and whether e is
// analysable (see the package documentation). d renders each subquery
// for its key.
func Analyze(s *orm.Schema, t *orm.Table, e expr.Expr, d dialect.Dialect) ([]Input, bool) {
	a := &analysis{s: s, t: t, d: d}
	if !a.walk(e, t.Name()) {
		return nil, false
	}
	return a.inputs, true
}

// maxDepth bounds how deeply inputs nest.
const maxDepth = 4

type analysis struct {
	s      *orm.Schema
	t      *orm.Table
	d      dialect.Dialect
	depth  int
	inputs []Input
}

// walk reports whether e, a predicate over t's rows (t known as alias),
// is analysable, and records its inputs. Subqueries are allowed only
// where the predicate is positive (at its top, under AND and OR): there
// a row passes iff a monotone function of which atoms are TRUE is, so a
// subquery's NULLs, and the difference between FALSE and NULL, never
// matter, and only its non-NULL values decide.
func (a *analysis) walk(e expr.Expr, alias string) bool {
	switch n := e.(type) {
	case *expr.Logic:
		for _, x := range n.Args {
			if !a.walk(x, alias) {
				return false
			}
		}
		return true
	case *expr.In:
		if n.Sub != nil {
			return a.input(n, alias)
		}
	}
	return a.flat(e, alias)
}

// input records "col IN (subquery)" as an input, if it has the shape.
func (a *analysis) input(n *expr.In, alias string) bool {
	col, ok := n.X.(*expr.Column)
	if !ok || len(n.List) > 0 || !ownColumn(a.t, col, alias) || a.depth >= maxDepth {
		return false
	}
	q, ok := n.Sub.Query.(*orm.SelectQuery)
	if !ok || q == nil {
		return false
	}
	p := q.Parts()
	if p.From == nil || p.FromSub != nil || len(p.Joins) > 0 || len(p.Columns) != 1 ||
		len(p.GroupBy) > 0 || len(p.Having) > 0 || p.HasLimit || p.Offset != 0 {
		return false
	}
	m := a.s.Table(p.From.Name())
	if m == nil || !m.Synced() {
		return false
	}
	sel, ok := p.Columns[0].(*expr.Column)
	if !ok || !ownColumn(m, sel, p.From.Alias()) {
		return false
	}
	inner := &analysis{s: a.s, t: m, d: a.d, depth: a.depth + 1}
	var required []string
	for _, w := range conjuncts(p.Where) {
		n := len(inner.inputs)
		if !inner.walk(w, p.From.Alias()) {
			return false
		}
		if in, ok := w.(*expr.In); ok && in.Sub != nil && len(inner.inputs) == n+1 {
			required = append(required, inner.inputs[n].Key)
		}
	}
	text, args, err := q.Render(a.d)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%q\x00%#v", col.Name, text, args))
	plan := rowjson.For(m)
	byID := plan.ID >= 0 && plan.Columns[plan.ID].Name == sel.Name
	a.inputs = append(a.inputs, Input{Col: col.Name, Table: m.Name(), Query: q, Key: hex.EncodeToString(sum[:12]),
		ByID: byID, Inner: inner.inputs, Required: required})
	return true
}

// conjuncts returns the predicates whose conjunction where is, with
// nested ANDs flattened.
func conjuncts(where []expr.Expr) []expr.Expr {
	var out []expr.Expr
	for _, w := range where {
		if l, ok := w.(*expr.Logic); ok && l.Op == expr.OpAnd {
			out = append(out, conjuncts(l.Args)...)
			continue
		}
		out = append(out, w)
	}
	return out
}

// flat reports whether e is a predicate over the columns of a.t (known
// as alias, or by its name) and bound values alone, without subqueries.
func (a *analysis) flat(e expr.Expr, alias string) bool {
	switch n := e.(type) {
	case nil, *expr.Param:
		return true
	case *expr.Column:
		return ownColumn(a.t, n, alias)
	case *expr.Compare:
		return a.flat(n.Left, alias) && a.flat(n.Right, alias)
	case *expr.Match:
		return a.flat(n.X, alias) && a.flat(n.Pattern, alias)
	case *expr.Logic:
		for _, x := range n.Args {
			if !a.flat(x, alias) {
				return false
			}
		}
		return true
	case *expr.Negation:
		return a.flat(n.X, alias)
	case *expr.NullCheck:
		return a.flat(n.X, alias)
	case *expr.In:
		if n.Sub != nil || !a.flat(n.X, alias) {
			return false
		}
		for _, x := range n.List {
			if !a.flat(x, alias) {
				return false
			}
		}
		return true
	}
	return false
}

// ownColumn reports whether c is a column of t under the name alias (or
// unqualified).
func ownColumn(t *orm.Table, c *expr.Column, alias string) bool {
	if c.Table != "" && c.Table != alias && c.Table != t.Name() {
		return false
	}
	_, ok := t.Column(c.Name)
	return ok
}

// Canon is a value's text for comparing values read from the database
// and from change-log images: "s:" and a string's bytes, "n:" and an
// integer's digits. ok is false for any other value (NULL, a float with
// a fraction, a time...).
func Canon(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return "s:" + x, true
	case []byte:
		return "s:" + string(x), true
	case int:
		return "n:" + strconv.Itoa(x), true
	case int32:
		return "n:" + strconv.FormatInt(int64(x), 10), true
	case int64:
		return "n:" + strconv.FormatInt(x, 10), true
	case float64:
		if x == float64(int64(x)) {
			return "n:" + strconv.FormatInt(int64(x), 10), true
		}
	}
	return "", false
}

// Value turns a canonical text (Canon) back into a value to bind.
func Value(k string) any {
	if s, ok := strings.CutPrefix(k, "n:"); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return strings.TrimPrefix(k, "s:")
}

// CanonJSON is Canon for a value in a change-log image.
func CanonJSON(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return "s:" + s, true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return "", false
		}
		return "n:" + strconv.FormatInt(n, 10), true
	}
	return "", false
}
