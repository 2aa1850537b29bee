package orm

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/tabledef"
)

// ErrArgCount is wrapped by the QueryError Bind returns when it is given
// more or fewer values than the prepared statement has arguments.
var ErrArgCount = errors.New("wrong number of arguments for a prepared statement")

// ErrBadSlot is wrapped by the QueryError PrepareUnchained returns for argument
// slots that do not number 0, 1, ... n-1 (a negative index, or a gap).
var ErrBadSlot = errors.New("argument slots must be numbered from 0 without gaps")

// Prepared is a statement validated and rendered once for one dialect,
// with argument slots (expr.Arg) to fill on each use. Bind only checks and
// places the values: no validation, no rendering, one allocation.
//
// A Prepared is immutable and safe for concurrent use. It is plasma's
// own reuse of a rendered shape; it does not prepare anything on the
// database, so the SQL and arguments Bind returns can run on any executor
// (or go through database/sql's own Prepare). Text run that way does not
// pass through a DB's middleware chain: no row auth, no change log. Use it
// where the chain would add nothing, such as reads of unsynced tables or
// rendering for another system.
type Prepared struct {
	stmt  string // the statement's name, for errors
	sql   string
	args  []any       // the rendered arguments: constants, and nil where a slot goes
	slots []slotPlace // where each slot's value goes in args
	kinds []slotKind  // what each argument is compared with, to check values
	nargs int
	write bool // some slot is a value written to a column (slotPlace.col)
	// direct: the arguments are exactly Bind's, in order (each slot used
	// once, no constants, nothing to convert), so Bind copies them as they are.
	direct bool
}

// slotPlace says that argument arg fills position pos of the rendered
// arguments. When the slot is a value written to a column (an INSERT
// value, an UPDATE SET), table and col name it, and Bind checks and
// converts the value as Values and Set do.
type slotPlace struct {
	pos, arg int
	table    *Table
	col      string
}

// slotKind says that argument arg is compared with (or written to) a
// column of kind kind.
type slotKind struct {
	arg    int
	kind   tabledef.Kind
	column string
}

// PrepareUnchained validates stmt (a *SelectQuery, *InsertQuery,
// *UpdateQuery or *DeleteQuery) and renders it for d once. Values that vary
// between uses are written in the statement as argument slots,
// expr.Arg(0), expr.Arg(1), ..., and supplied to Bind in that order; other
// values are bound as constants. Where a slot is compared with a column, or
// written to one, Bind checks its value against the column's kind as
// rendering would.
//
// The name says what it leaves out: no DB's middleware chain sees the
// statement, now or when its text runs, so row auth, the change log and
// every other middleware are skipped. Use it for statements the chain
// would add nothing to; run anything a middleware must see through a DB.
func PrepareUnchained(d dialect.Dialect, stmt dialect.Appender) (*Prepared, error) {
	name := "statement"
	if n, ok := stmt.(interface{ name() string }); ok {
		name = n.name()
	}
	b := dialect.GetBuilder(d)
	defer dialect.PutBuilder(b)
	if err := stmt.AppendSQL(b); err != nil {
		return nil, err
	}
	p := &Prepared{stmt: name, sql: string(b.Buf)}
	p.args = make([]any, len(b.Args))
	copy(p.args, b.Args)
	var writes map[*expr.Slot]writeTarget
	if hasSlot(p.args) {
		p.kinds, writes = slotKinds(stmt)
	}
	seen := map[int]bool{}
	for pos, a := range p.args {
		s, ok := a.(*expr.Slot)
		if !ok {
			continue
		}
		if s.Index < 0 {
			return nil, &QueryError{Statement: name, Err: ErrBadSlot, Detail: "expr.Arg(" + strconv.Itoa(s.Index) + ")"}
		}
		place := slotPlace{pos: pos, arg: s.Index}
		if w, ok := writes[s]; ok {
			place.table, place.col = w.table, w.col
			p.write = true
		}
		p.slots = append(p.slots, place)
		p.args[pos] = nil
		seen[s.Index] = true
		p.nargs = max(p.nargs, s.Index+1)
	}
	for i := range p.nargs {
		if !seen[i] {
			return nil, &QueryError{Statement: name, Err: ErrBadSlot,
				Detail: fmt.Sprintf("expr.Arg(%d) is missing, the highest is expr.Arg(%d)", i, p.nargs-1)}
		}
	}
	p.direct = !p.write && len(p.slots) == len(p.args) && p.nargs == len(p.args)
	for i, s := range p.slots {
		p.direct = p.direct && s.pos == i && s.arg == i
	}
	return p, nil
}

func hasSlot(args []any) bool {
	for _, a := range args {
		if _, ok := a.(*expr.Slot); ok {
			return true
		}
	}
	return false
}

// SQL returns the rendered statement text.
func (p *Prepared) SQL() string { return p.sql }

// NumArgs returns the number of values Bind takes.
func (p *Prepared) NumArgs() int { return p.nargs }

// Bind returns the statement's SQL and its arguments with args in the
// slots: args[i] fills every expr.Arg(i). It refuses a wrong number of
// values (ErrArgCount) and a value of the wrong kind for the column its
// slot is compared with or written to (ErrValueKind). The returned slice
// is new on every call.
func (p *Prepared) Bind(args ...any) (string, []any, error) {
	if len(args) != p.nargs {
		return "", nil, &QueryError{Statement: p.stmt, Err: ErrArgCount,
			Detail: fmt.Sprintf("got %d, want %d", len(args), p.nargs)}
	}
	for _, k := range p.kinds {
		if err := checkArg(k.kind, args[k.arg]); err != nil {
			return "", nil, &QueryError{Statement: p.stmt, Column: k.column, Err: ErrValueKind,
				Detail: fmt.Sprintf("expr.Arg(%d): %v", k.arg, err)}
		}
	}
	if p.direct {
		return p.sql, copyArgs(args), nil
	}
	out := make([]any, len(p.args))
	copy(out, p.args)
	for _, s := range p.slots {
		out[s.pos] = args[s.arg]
	}
	if p.write {
		for _, s := range p.slots {
			if s.table == nil {
				continue
			}
			v, err := bindColumn(p.stmt, s.table, s.col, args[s.arg])
			if err != nil {
				return "", nil, err
			}
			out[s.pos] = v
		}
	}
	return p.sql, out, nil
}

// copyArgs returns a copy of args. Small counts are composite literals:
// the compiler fills a new object without GC write barriers, which a copy
// into a made slice pays for each element while the collector is marking.
func copyArgs(args []any) []any {
	switch len(args) {
	case 0:
		return []any{}
	case 1:
		return []any{args[0]}
	case 2:
		return []any{args[0], args[1]}
	case 3:
		return []any{args[0], args[1], args[2]}
	case 4:
		return []any{args[0], args[1], args[2], args[3]}
	}
	out := make([]any, len(args))
	copy(out, args)
	return out
}

// checkArg checks v against kind k as rendering checks a bound value,
// taking the common cases without reflection.
func checkArg(k tabledef.Kind, v any) error {
	switch x := v.(type) {
	case string:
		if (k == tabledef.KindText || k == tabledef.KindID) && validUTF8(x) {
			return nil
		}
	case int:
		if k == tabledef.KindBigInt || (k == tabledef.KindInt && x >= math.MinInt32 && x <= math.MaxInt32) {
			return nil
		}
	case int64:
		if k == tabledef.KindBigInt || (k == tabledef.KindInt && x >= math.MinInt32 && x <= math.MaxInt32) {
			return nil
		}
	case bool:
		if k == tabledef.KindBool {
			return nil
		}
	}
	_, err := bindValue(k, false, v)
	return err
}

// writeTarget is the column a slot's value is written to.
type writeTarget struct {
	table *Table
	col   string
}

// slotKinds finds the slots of stmt that stand against a column, with the
// column's kind, and the slots that are values written to a column. The
// statement has been validated, so every column resolves; one that does
// not is simply not checked.
func slotKinds(stmt dialect.Appender) ([]slotKind, map[*expr.Slot]writeTarget) {
	var out []slotKind
	writes := map[*expr.Slot]writeTarget{}
	switch q := stmt.(type) {
	case *SelectQuery:
		out = selectSlotKinds(q, nil, out)
	case *UpdateQuery:
		s := tableScope(q.name(), q.parts.Table)
		for _, a := range q.parts.Set {
			if slot, ok := a.Value.(*expr.Slot); ok {
				writes[slot] = writeTarget{table: q.parts.Table, col: a.Column}
			} else if e, ok := a.Value.(expr.Expr); ok {
				out = exprSlotKinds(s, e, out)
			}
		}
		out = exprsSlotKinds(s, q.parts.Where, out)
	case *DeleteQuery:
		out = exprsSlotKinds(tableScope(q.name(), q.parts.Table), q.parts.Where, out)
	case *InsertQuery:
		for _, row := range q.rows() {
			for j, v := range row {
				if slot, ok := v.(*expr.Slot); ok && j < len(q.parts.Columns) {
					writes[slot] = writeTarget{table: q.parts.Table, col: q.parts.Columns[j]}
				}
			}
		}
	}
	return out, writes
}

func tableScope(stmt string, t *Table) *scope {
	return &scope{stmt: stmt, sources: []source{{alias: t.name, table: t}}}
}

func selectSlotKinds(q *SelectQuery, outer *scope, out []slotKind) []slotKind {
	s, err := q.scope(outer)
	if err != nil {
		return out
	}
	defer s.release()
	p := &q.parts
	if p.FromSub != nil {
		out = selectSlotKinds(p.FromSub, outer, out)
	}
	for _, group := range [...][]expr.Expr{q.columns(), q.where(), p.GroupBy, p.Having} {
		out = exprsSlotKinds(s, group, out)
	}
	for _, j := range p.Joins {
		out = exprSlotKinds(s, j.On, out)
	}
	for _, o := range q.orderBy() {
		out = exprSlotKinds(s, o.X, out)
	}
	return out
}

func exprsSlotKinds(s *scope, es []expr.Expr, out []slotKind) []slotKind {
	for _, e := range es {
		out = exprSlotKinds(s, e, out)
	}
	return out
}

// exprSlotKinds walks e as scope.walk does, recording the slots compared
// with a column.
func exprSlotKinds(s *scope, e expr.Expr, out []slotKind) []slotKind {
	switch n := e.(type) {
	case *expr.Compare:
		out = pairSlot(s, n.Left, n.Right, out)
		out = pairSlot(s, n.Right, n.Left, out)
		out = exprSlotKinds(s, n.Left, out)
		return exprSlotKinds(s, n.Right, out)
	case *expr.Match:
		out = pairSlot(s, n.X, n.Pattern, out)
		out = exprSlotKinds(s, n.X, out)
		return exprSlotKinds(s, n.Pattern, out)
	case *expr.Logic:
		return exprsSlotKinds(s, n.Args, out)
	case *expr.Negation:
		return exprSlotKinds(s, n.X, out)
	case *expr.In:
		for _, x := range n.List {
			out = pairSlot(s, n.X, x, out)
		}
		out = exprSlotKinds(s, n.X, out)
		out = exprsSlotKinds(s, n.List, out)
		if n.Sub != nil {
			out = exprSlotKinds(s, n.Sub, out)
		}
	case *expr.NullCheck:
		return exprSlotKinds(s, n.X, out)
	case *expr.Aggregate:
		if n.X != nil {
			return exprSlotKinds(s, n.X, out)
		}
	case *expr.Alias:
		return exprSlotKinds(s, n.X, out)
	case *expr.Subquery:
		if q, ok := n.Query.(*SelectQuery); ok {
			return selectSlotKinds(q, s, out)
		}
	case *expr.Raw:
		for _, a := range n.Args {
			if x, ok := a.(expr.Expr); ok {
				out = exprSlotKinds(s, x, out)
			}
		}
	}
	return out
}

// pairSlot records val when it is a slot and col a column.
func pairSlot(s *scope, col, val expr.Expr, out []slotKind) []slotKind {
	c, ok := col.(*expr.Column)
	if !ok {
		return out
	}
	slot, ok := val.(*expr.Slot)
	if !ok {
		return out
	}
	return columnSlot(s, c, slot, out)
}

func columnSlot(s *scope, c *expr.Column, slot *expr.Slot, out []slotKind) []slotKind {
	r, err := s.column(c)
	if err != nil || r.kind == 0 {
		return out
	}
	return append(out, slotKind{arg: slot.Index, kind: r.kind, column: qualified(c)})
}
