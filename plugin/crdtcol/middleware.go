package crdtcol

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
	"github.com/plasma-go/plasma/tabledef"
)

// Options configures Middleware.
type Options struct {
	// Limits caps every state read, written or produced by a merge. The
	// zero value means crdt.DefaultLimits.
	Limits crdt.Limits
	// Clock is the hybrid logical clock written LWW timestamps are passed
	// through (Clock.Update, which refuses one too far ahead of the wall
	// clock) and Assign takes its timestamps from. Share one Clock with
	// the rest of the server; nil means a Clock of the middleware's own.
	Clock *crdt.Clock
	// ClientsPerUser caps the entries of one row's per-client map (a
	// counter's totals, an OR-set's version vector) that the clients of
	// one user (the rowauth identity) may hold, so that no user can fill
	// a row's map (Limits.MaxClients) for everyone else. An Op from a
	// client past its user's quota writes the user's overflow entry
	// instead, and when the map itself is full the one shared entry; a
	// full state that would take the user past it is refused with
	// ErrClientQuota. Zero or negative means DefaultClientsPerUser.
	ClientsPerUser int
}

// Middleware returns the middleware that merges CRDT columns on every
// INSERT, upsert and UPDATE built with the ORM; see the package
// documentation. Install it after row auth and before the change log.
func Middleware(opts Options) orm.Middleware {
	m := &merger{lim: opts.Limits, clock: opts.Clock, perUser: opts.ClientsPerUser}
	if m.clock == nil {
		m.clock = new(crdt.Clock)
	}
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			switch q := st.Query.(type) {
			case *orm.UpdateQuery:
				if info := tableInfoOf(q.Parts().Table); info != nil {
					return m.update(ctx, next, st, q, info)
				}
			case *orm.InsertQuery:
				if info := tableInfoOf(q.Parts().Table); info != nil {
					return m.insert(ctx, next, st, q, info)
				}
			}
			return next(ctx, st)
		}
	}
}

type merger struct {
	lim     crdt.Limits
	clock   *crdt.Clock
	perUser int // Options.ClientsPerUser
}

// tableInfo is what the middleware needs to know about a table with CRDT
// columns.
type tableInfo struct {
	t    *orm.Table
	pk   []string
	crdt map[string]crdt.Kind // the CRDT columns that are not encrypted
}

// infoKey keeps a table's info (nil for none) in its Memo, which
// DefineSchema empties, so info made before the encrypted columns were
// known is not kept.
var infoKey = orm.NewMemoKey[*tableInfo]("crdtcol.tableInfo")

// tableInfoOf returns t's info, or nil if t has no CRDT column to merge.
func tableInfoOf(t *orm.Table) *tableInfo {
	if t == nil {
		return nil
	}
	return orm.MemoLoad(t.Memo(), infoKey, func() *tableInfo { return newTableInfo(t) })
}

func newTableInfo(t *orm.Table) *tableInfo {
	encrypted := map[string]bool{}
	def := t.Def()
	if def != nil {
		for _, c := range def.Columns {
			encrypted[c.Name] = c.Encrypted
		}
	}
	var info *tableInfo
	for _, c := range t.Columns() {
		k := crdtKind(c.Kind())
		if k == 0 || encrypted[c.Name()] {
			continue
		}
		if info == nil {
			info = &tableInfo{t: t, pk: t.PrimaryKey(), crdt: map[string]crdt.Kind{}}
		}
		info.crdt[c.Name()] = k
	}
	return info
}

func crdtKind(k tabledef.Kind) crdt.Kind {
	switch k {
	case tabledef.KindCounter:
		return crdt.KindCounter
	case tabledef.KindPNCounter:
		return crdt.KindPNCounter
	case tabledef.KindLWWRegister:
		return crdt.KindLWWRegister
	case tabledef.KindORSet:
		return crdt.KindORSet
	}
	return 0
}

// written is a value a statement writes to a CRDT column, checked.
type written struct {
	null  bool
	op    *Op
	state []byte // canonical, when neither null nor op
}

// incoming checks the value v written to column col of kind k: a state is
// validated and canonicalised (and an LWW timestamp passed through the
// clock), an Op's arguments are checked.
func (m *merger) incoming(t *orm.Table, col string, k crdt.Kind, v any) (written, error) {
	fail := func(err error) (written, error) {
		return written{}, &Error{Table: t.Name(), Column: col, Side: SideWritten, Err: err}
	}
	var raw []byte
unwrap:
	for range 3 { // unwrap a Param or a driver.Valuer, a bounded number of times
		switch x := v.(type) {
		case nil:
			return written{null: true}, nil
		case Op:
			return m.checkOp(t, col, k, &x)
		case *Op:
			if x == nil {
				return written{null: true}, nil
			}
			o := *x
			return m.checkOp(t, col, k, &o)
		case *expr.Param:
			v = x.Value
			continue
		case expr.Expr:
			return fail(ErrExpression)
		case string:
			raw = []byte(x)
		case []byte:
			raw = x
		case json.RawMessage:
			raw = x
		case driver.Valuer:
			dv, err := x.Value()
			if err != nil {
				return fail(err)
			}
			v = dv
			continue
		default:
			return fail(fmt.Errorf("%w, not %T", ErrValue, v))
		}
		break unwrap
	}
	if raw == nil {
		return fail(fmt.Errorf("%w, not %T", ErrValue, v))
	}
	s, err := crdt.Decode(k, raw, m.lim)
	if err != nil {
		return fail(err)
	}
	if r, ok := s.(*crdt.LWWRegister); ok {
		if ts, _, ok := r.Marker(); ok {
			if _, err := m.clock.Update(ts); err != nil {
				return fail(err)
			}
		}
	}
	return written{state: s.Encode()}, nil
}

func (m *merger) checkOp(t *orm.Table, col string, k crdt.Kind, o *Op) (written, error) {
	if err := o.check(k, m.lim); err != nil {
		return written{}, &Error{Table: t.Name(), Column: col, Side: SideWritten, Err: err}
	}
	return written{op: o}, nil
}

// client returns the writing client's id, if any value needs one.
func client(ctx context.Context, t *orm.Table, cols []string, ws []written) (string, error) {
	for i, w := range ws {
		if w.op != nil && w.op.needsClient() {
			id, _, ok := changelog.OriginFrom(ctx)
			if !ok || id == "" {
				return "", &Error{Table: t.Name(), Column: cols[i], Side: SideWritten, Err: ErrNoClient}
			}
			return id, nil
		}
	}
	return "", nil
}

// mergeOne returns what to store in a column of kind k whose stored value
// is stored (nil for NULL or a new row) when w is written.
func (m *merger) mergeOne(t *orm.Table, col string, k crdt.Kind, row string, stored any, w written, who writer) (any, error) {
	fail := func(side Side, err error) (any, error) {
		return nil, &Error{Table: t.Name(), Column: col, Row: row, Side: side, Err: err}
	}
	var sb []byte
	switch s := stored.(type) {
	case nil:
	case string:
		sb = []byte(s)
	case []byte:
		sb = s
	default:
		return fail(SideStored, &crdt.Error{Op: "read column", Msg: fmt.Sprintf("the column holds a %T, not JSON text", stored), Err: crdt.ErrMalformed})
	}
	switch {
	case w.op != nil:
		s, err := crdt.Decode(k, sb, m.lim)
		if err != nil {
			return fail(SideStored, err)
		}
		if side, err := w.op.apply(s, m.opKey(s, w.op, who), m.clock); err != nil {
			return fail(side, err)
		}
		out := s.Encode()
		if err := crdt.Validate(k, out, m.lim); err != nil {
			return fail(SideMerged, err)
		}
		return string(out), nil
	case w.null:
		if stored == nil {
			return nil, nil
		}
		out, err := crdt.Canonical(k, sb, m.lim)
		if err != nil {
			return fail(SideStored, err)
		}
		return string(out), nil
	}
	if err := m.checkQuota(k, sb, w.state, who); err != nil {
		return fail(SideWritten, err)
	}
	if stored == nil {
		return string(w.state), nil
	}
	out, err := crdt.Merge(k, sb, w.state, m.lim)
	if err != nil {
		if verr := crdt.Validate(k, sb, m.lim); verr != nil {
			return fail(SideStored, verr)
		}
		return fail(SideMerged, err)
	}
	return string(out), nil
}

// concurrent reports whether d's engine runs writers concurrently, so
// that rows read before a merge must be locked (SQLite runs one writer
// at a time).
func concurrent(d dialect.Dialect) bool { return d.Features().Has(dialect.ConcurrentWrites) }

func hasReturning(r orm.Returning) bool { return r.All || len(r.Columns) > 0 }

// query runs a read through the rest of the chain on db and returns its
// rows' values.
func query(ctx context.Context, next orm.Handler, db *orm.DB, text string, args []any) ([][]any, error) {
	res, err := next(ctx, &orm.Statement{Op: orm.OpSelect, SQL: text, Args: args, DB: db})
	if err != nil {
		return nil, err
	}
	if res.Rows == nil {
		return nil, nil
	}
	buf, err := rowbuf.Read(res.Rows)
	if err != nil {
		return nil, err
	}
	return buf.Values, nil
}

// lockRows reads cols of the rows of t matching where, ordered by the
// primary key, locking them on PostgreSQL.
func lockRows(ctx context.Context, next orm.Handler, db *orm.DB, t *orm.Table, cols []string, order []string, where []expr.Expr) ([][]any, error) {
	exprs := make([]expr.Expr, len(cols))
	for i, c := range cols {
		exprs[i] = t.Col(c)
	}
	sel := orm.Select(exprs...).From(t)
	if len(where) > 0 {
		sel = sel.Where(where...)
	}
	for _, c := range order {
		sel = sel.OrderBy(expr.Asc(t.Col(c)))
	}
	text, args, err := sel.Render(db.Dialect())
	if err != nil {
		return nil, err
	}
	if l, ok := db.Dialect().(dialect.RowLocker); ok && db.Dialect().Features().Has(dialect.RowLocking) {
		text = string(l.AppendForUpdate([]byte(text)))
	}
	return query(ctx, next, db, text, args)
}

// keyValue normalises a key value bound in a statement or read back from
// the database, so the two compare equal; ok is false for NULL.
func keyValue(v any) (string, bool) {
	if dv, isValuer := v.(driver.Valuer); isValuer {
		var err error
		if v, err = dv.Value(); err != nil {
			return "", false
		}
	}
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return "s" + x, true
	case []byte:
		return "s" + string(x), true
	case bool:
		return "b" + strconv.FormatBool(x), true
	case float64:
		return "f" + strconv.FormatFloat(x, 'g', -1, 64), true
	case float32:
		return "f" + strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case time.Time:
		return "t" + x.UTC().Format(time.RFC3339Nano), true
	}
	if n, ok := dialect.AsInt64(v); ok {
		return "i" + strconv.FormatInt(n, 10), true
	}
	return fmt.Sprintf("?%T:%v", v, v), true
}

// rowKey joins the normalised values of a key; ok is false if any is NULL.
func rowKey(vals []any) (string, bool) {
	var b strings.Builder
	for i, v := range vals {
		k, ok := keyValue(v)
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(k)
	}
	return b.String(), true
}

// rowName formats a primary key for errors.
func rowName(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case []byte:
			parts[i] = strconv.Quote(string(x))
		case string:
			parts[i] = strconv.Quote(x)
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return strings.Join(parts, ",")
}

// pkWhere is the predicate matching one row by its key values.
func pkWhere(t *orm.Table, cols []string, vals []any) []expr.Expr {
	w := make([]expr.Expr, len(cols))
	for i, c := range cols {
		v := vals[i]
		if b, ok := v.([]byte); ok {
			if col, _ := t.Column(c); col.Kind() != tabledef.KindBlob {
				v = string(b)
			}
		}
		w[i] = expr.Eq(t.Col(c), v)
	}
	return w
}

// update merges the CRDT columns an UPDATE sets into each matched row.
func (m *merger) update(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.UpdateQuery, info *tableInfo) (*orm.Result, error) {
	t := q.Parts().Table
	var sets []int // indexes into q.Parts().Set
	var cols []string
	var kinds []crdt.Kind
	var ws []written
	for i, a := range q.Parts().Set {
		k, ok := info.crdt[a.Column]
		if !ok {
			continue
		}
		w, err := m.incoming(t, a.Column, k, a.Value)
		if err != nil {
			return nil, err
		}
		sets, cols, kinds, ws = append(sets, i), append(cols, a.Column), append(kinds, k), append(ws, w)
	}
	if len(sets) == 0 {
		return next(ctx, st)
	}
	if len(info.pk) == 0 {
		return nil, &Error{Table: t.Name(), Column: cols[0], Err: ErrNoPrimaryKey}
	}
	// Report a statement the ORM refuses before reading anything.
	if _, _, err := q.Render(st.DB.Dialect()); err != nil {
		return nil, err
	}
	clientID, err := client(ctx, t, cols, ws)
	if err != nil {
		return nil, err
	}
	who := writerOf(ctx, clientID)
	return txrun.Run(ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
		read := append(slices.Clone(info.pk), cols...)
		rows, err := lockRows(ctx, next, db, t, read, info.pk, q.Parts().Where)
		if err != nil {
			return nil, err
		}
		npk := len(info.pk)
		// Merge every row before writing any, so a bad state writes nothing.
		merged := make([][]any, len(rows))
		for r, row := range rows {
			vals := make([]any, len(cols))
			name := rowName(row[:npk])
			for j := range cols {
				if vals[j], err = m.mergeOne(t, cols[j], kinds[j], name, row[npk+j], ws[j], who); err != nil {
					return nil, err
				}
			}
			merged[r] = vals
		}
		if len(rows) == 0 {
			if !hasReturning(q.Parts().Returning) {
				return &orm.Result{}, nil
			}
			// The caller expects a result set: run the statement so that
			// it matches nothing, for the columns and their kinds.
			c, cp := q.Rewrite()
			cp.Where = append(slices.Clip(cp.Where), expr.SQL("1 = 0"))
			return next(ctx, &orm.Statement{Op: orm.OpUpdate, Table: t, Query: c, DB: db})
		}
		var out collector
		for r, row := range rows {
			c, cp := q.Rewrite()
			for j, i := range sets {
				cp.Set[i].Value = merged[r][j]
			}
			cp.Where = pkWhere(t, info.pk, row[:npk])
			cp.AllRows = false
			res, err := next(ctx, &orm.Statement{Op: orm.OpUpdate, Table: t, Query: c, DB: db})
			if err != nil {
				out.close()
				return nil, err
			}
			if err := out.add(res, len(rows) == 1); err != nil {
				return nil, err
			}
		}
		return out.result(), nil
	})
}

// collector combines the results of the row-by-row writes of one
// statement into the result the caller's statement would have had.
type collector struct {
	single   *orm.Result
	affected int64
	buf      *rowbuf.Buffer
	kinds    []tabledef.Kind
}

func (c *collector) add(res *orm.Result, only bool) error {
	if only {
		c.single = res
		return nil
	}
	if res.Rows == nil {
		c.affected += res.RowsAffected
		return nil
	}
	b, err := rowbuf.Read(res.Rows)
	if err != nil {
		return err
	}
	if c.buf == nil {
		c.buf = &rowbuf.Buffer{Columns: b.Columns}
		c.kinds = res.Kinds
	}
	c.buf.Values = append(c.buf.Values, b.Values...)
	return nil
}

func (c *collector) result() *orm.Result {
	switch {
	case c.single != nil:
		return c.single
	case c.buf != nil:
		return c.buf.Result(len(c.buf.Columns), c.kinds)
	}
	return &orm.Result{RowsAffected: c.affected}
}

func (c *collector) close() {
	if c.single != nil && c.single.Rows != nil {
		c.single.Rows.Close()
	}
}

// icol is a CRDT column of an INSERT.
type icol struct {
	idx   int // in the INSERT's Columns
	name  string
	kind  crdt.Kind
	merge bool // the upsert's DO UPDATE sets it
}

// insert validates the CRDT states an INSERT writes and, for an upsert
// that updates CRDT columns, merges them with the existing rows'.
func (m *merger) insert(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.InsertQuery, info *tableInfo) (*orm.Result, error) {
	p := q.Parts()
	t := p.Table
	oc := p.OnConflict
	var update []string // the columns a conflicting row has set
	if oc != nil && !oc.DoNothing {
		update = oc.Update
		if len(update) == 0 {
			for _, c := range p.Columns {
				if !slices.Contains(oc.Target, c) {
					update = append(update, c)
				}
			}
		}
	}
	var ics []icol
	merging := false
	for i, c := range p.Columns {
		if k, ok := info.crdt[c]; ok {
			mg := slices.Contains(update, c)
			merging = merging || mg
			ics = append(ics, icol{idx: i, name: c, kind: k, merge: mg})
		}
	}
	if len(ics) == 0 {
		return next(ctx, st)
	}
	// Check every written value before any I/O.
	ws := make([][]written, len(p.Rows))
	names := make([]string, len(ics))
	for j, ic := range ics {
		names[j] = ic.name
	}
	var clientID string
	haveClient := false
	for r, row := range p.Rows {
		ws[r] = make([]written, len(ics))
		for j, ic := range ics {
			if ic.idx >= len(row) {
				continue // a ragged statement: rendering reports it
			}
			w, err := m.incoming(t, ic.name, ic.kind, row[ic.idx])
			if err != nil {
				return nil, err
			}
			ws[r][j] = w
		}
		if !haveClient {
			id, err := client(ctx, t, names, ws[r])
			if err != nil {
				return nil, err
			}
			if id != "" {
				clientID, haveClient = id, true
			}
		}
	}
	who := writerOf(ctx, clientID)
	c, cp := q.Rewrite()
	var lockCols []string // columns whose values key the advisory locks
	var target []string   // the upsert's conflict target, when merging
	if merging {
		target = oc.Target
		for _, tc := range target {
			if !slices.Contains(p.Columns, tc) {
				return nil, &Error{Table: t.Name(), Column: tc, Err: ErrUpsertTarget}
			}
		}
		if _, _, err := q.Render(st.DB.Dialect()); err != nil {
			return nil, err
		}
		lockCols = target
	} else if oc == nil && concurrent(st.DB.Dialect()) && len(info.pk) > 0 {
		lockCols = info.pk
		for _, pc := range info.pk {
			if !slices.Contains(p.Columns, pc) {
				lockCols = nil // the database assigns the key: no conflict to fear
				break
			}
		}
	}
	if !merging {
		for r, row := range p.Rows {
			nr := slices.Clone(row)
			for j, ic := range ics {
				if ic.idx >= len(row) {
					continue
				}
				v, err := m.mergeOne(t, ic.name, ic.kind, "", nil, ws[r][j], who)
				if err != nil {
					return nil, err
				}
				nr[ic.idx] = v
			}
			cp.Rows[r] = nr
		}
		run := *st
		run.Query = c
		if len(lockCols) == 0 {
			return next(ctx, &run)
		}
		return txrun.Run(ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
			if err := advisoryLock(ctx, next, db, t, lockCols, p.Columns, p.Rows); err != nil {
				return nil, err
			}
			run.DB = db
			return next(ctx, &run)
		})
	}
	return txrun.Run(ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
		if db.Dialect().Features().Has(dialect.AdvisoryLocks) {
			if err := advisoryLock(ctx, next, db, t, target, p.Columns, p.Rows); err != nil {
				return nil, err
			}
		}
		tidx := make([]int, len(target))
		for i, tc := range target {
			tidx[i] = slices.Index(p.Columns, tc)
		}
		keyOf := func(row []any) ([]any, string, bool) {
			vals := make([]any, len(tidx))
			for i, x := range tidx {
				vals[i] = row[x]
			}
			k, ok := rowKey(vals)
			return vals, k, ok
		}
		var mcols []string
		var mpos []int // index into ics of each merged column
		for j, ic := range ics {
			if ic.merge {
				mcols = append(mcols, ic.name)
				mpos = append(mpos, j)
			}
		}
		// The existing rows, and the states later rows of this statement
		// see: a row conflicting with an earlier row of the same statement
		// (SQLite applies them in turn) merges with what that row stored.
		base := map[string][]any{}
		var keys [][]any
		seen := map[string]bool{}
		for _, row := range p.Rows {
			if vals, k, ok := keyOf(row); ok && !seen[k] {
				seen[k] = true
				keys = append(keys, vals)
			}
		}
		for len(keys) > 0 {
			n := min(len(keys), maxKeysPerRead)
			chunk := keys[:n]
			keys = keys[n:]
			ors := make([]expr.Expr, len(chunk))
			for i, vals := range chunk {
				ors[i] = expr.And(pkWhere(t, target, vals)...)
			}
			order := info.pk
			if len(order) == 0 {
				order = target
			}
			rows, err := lockRows(ctx, next, db, t, append(slices.Clone(target), mcols...), order, []expr.Expr{expr.Or(ors...)})
			if err != nil {
				return nil, err
			}
			for _, row := range rows {
				if k, ok := rowKey(row[:len(target)]); ok {
					base[k] = row[len(target):]
				}
			}
		}
		for r, row := range p.Rows {
			vals, key, keyed := keyOf(row)
			stored, exists := base[key]
			if !keyed {
				exists = false
			}
			nr := slices.Clone(row)
			after := make([]any, len(mcols))
			name := ""
			if exists {
				name = rowName(vals)
			}
			for j, ic := range ics {
				var prev any
				mi := slices.Index(mpos, j)
				if exists && mi >= 0 {
					prev = stored[mi]
				}
				v, err := m.mergeOne(t, ic.name, ic.kind, name, prev, ws[r][j], who)
				if err != nil {
					return nil, err
				}
				nr[ic.idx] = v
				if mi >= 0 {
					after[mi] = v
				}
			}
			if keyed {
				base[key] = after
			}
			cp.Rows[r] = nr
		}
		return next(ctx, &orm.Statement{Op: orm.OpInsert, Table: t, Query: c, DB: db})
	})
}

// maxKeysPerRead bounds the keys one locking read looks up, to stay
// under both engines' parameter limits.
const maxKeysPerRead = 300

// advisoryLock takes, on PostgreSQL, a transaction-scoped advisory lock
// per distinct key of rows (the values of cols), in a fixed order, so
// writers of the same new row take turns.
func advisoryLock(ctx context.Context, next orm.Handler, db *orm.DB, t *orm.Table, cols, columns []string, rows [][]any) error {
	sorted := slices.Clone(cols)
	sort.Strings(sorted)
	idx := make([]int, len(sorted))
	for i, c := range sorted {
		idx[i] = slices.Index(columns, c)
	}
	var locks []int64
	vals := make([]any, len(idx))
	for _, row := range rows {
		for i, x := range idx {
			vals[i] = row[x]
		}
		k, ok := rowKey(vals)
		if !ok {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte("plasma/crdtcol\x00"))
		h.Write([]byte(t.Name()))
		h.Write([]byte{0})
		h.Write([]byte(strings.Join(sorted, "\x00")))
		h.Write([]byte{0})
		h.Write([]byte(k))
		locks = append(locks, int64(h.Sum64()))
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)
	for len(locks) > 0 {
		n := min(len(locks), maxKeysPerRead)
		b := dialect.GetBuilder(db.Dialect())
		db.Dialect().(dialect.AdvisoryLocker).AppendAdvisoryLocks(b, locks[:n])
		text, args := string(b.Buf), slices.Clone(b.Args)
		dialect.PutBuilder(b)
		locks = locks[n:]
		if _, err := query(ctx, next, db, text, args); err != nil {
			return fmt.Errorf("crdtcol: lock %s rows: %w", t.Name(), err)
		}
	}
	return nil
}
