package crdtcol

import (
	"context"
	"slices"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
)

// icol is a CRDT column of an INSERT.
type icol struct {
	idx   int // in the INSERT's Columns
	name  string
	kind  crdt.Kind
	merge bool // the upsert's DO UPDATE sets it
}

// insertPlan is what insert works out about an INSERT before any I/O:
// its CRDT columns and the checked values each row writes to them.
type insertPlan struct {
	t       *orm.Table
	p       orm.InsertParts
	ics     []icol
	merging bool        // an upsert whose DO UPDATE sets a CRDT column
	ws      [][]written // per row, per ics
	who     writer
}

// insert validates the CRDT states an INSERT writes and, for an upsert
// that updates CRDT columns, merges them with the existing rows'.
func (m *merger) insert(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.InsertQuery, info *tableInfo) (*orm.Result, error) {
	p := q.Parts()
	ics, merging := insertColumns(info, p)
	if len(ics) == 0 {
		return next(ctx, st)
	}
	pl := &insertPlan{t: p.Table, p: p, ics: ics, merging: merging}
	if err := m.checkRows(ctx, pl); err != nil {
		return nil, err
	}
	if !merging {
		return m.insertNew(ctx, next, st, q, pl, newRowLockColumns(st, info, p))
	}
	if err := checkUpsertTarget(st, q, pl); err != nil {
		return nil, err
	}
	return m.upsertMerge(ctx, next, st, q, info, pl)
}

// upsertSets returns the columns an upsert's DO UPDATE sets on a
// conflicting row: those it names, or else every inserted column outside
// the conflict target. A plain INSERT or DO NOTHING sets none.
func upsertSets(p orm.InsertParts) []string {
	oc := p.OnConflict
	if oc == nil || oc.DoNothing {
		return nil
	}
	if len(oc.Update) > 0 {
		return oc.Update
	}
	var update []string
	for _, c := range p.Columns {
		if !slices.Contains(oc.Target, c) {
			update = append(update, c)
		}
	}
	return update
}

// insertColumns returns the CRDT columns p inserts, and whether any of
// them is one an upsert merges with a conflicting row.
func insertColumns(info *tableInfo, p orm.InsertParts) (ics []icol, merging bool) {
	update := upsertSets(p)
	for i, c := range p.Columns {
		if k, ok := info.crdt[c]; ok {
			mg := slices.Contains(update, c)
			merging = merging || mg
			ics = append(ics, icol{idx: i, name: c, kind: k, merge: mg})
		}
	}
	return ics, merging
}

// checkRows checks every value the rows write to a CRDT column, and
// finds the writing client if an Op needs one, before any I/O.
func (m *merger) checkRows(ctx context.Context, pl *insertPlan) error {
	pl.ws = make([][]written, len(pl.p.Rows))
	names := make([]string, len(pl.ics))
	for j, ic := range pl.ics {
		names[j] = ic.name
	}
	var clientID string
	for r, row := range pl.p.Rows {
		ws, err := m.checkRow(pl, row)
		if err != nil {
			return err
		}
		pl.ws[r] = ws
		if clientID == "" {
			if clientID, err = client(ctx, pl.t, names, ws); err != nil {
				return err
			}
		}
	}
	pl.who = writerOf(ctx, clientID)
	return nil
}

// checkRow checks the values one row writes to the CRDT columns.
func (m *merger) checkRow(pl *insertPlan, row []any) ([]written, error) {
	ws := make([]written, len(pl.ics))
	for j, ic := range pl.ics {
		if ic.idx >= len(row) {
			continue // a ragged statement: rendering reports it
		}
		w, err := m.incoming(pl.t, ic.name, ic.kind, row[ic.idx])
		if err != nil {
			return nil, err
		}
		ws[j] = w
	}
	return ws, nil
}

// newRowLockColumns returns the columns whose values key the advisory
// locks a plain INSERT takes, so writers of the same new row take turns:
// the primary key, on an engine with concurrent writers, when the
// statement sets all of it. A key the database assigns has no conflict
// to fear, and an upsert that merges nothing leaves the engine to settle
// its conflicts.
func newRowLockColumns(st *orm.Statement, info *tableInfo, p orm.InsertParts) []string {
	if p.OnConflict != nil || !concurrent(st.DB.Dialect()) || len(info.pk) == 0 {
		return nil
	}
	for _, pc := range info.pk {
		if !slices.Contains(p.Columns, pc) {
			return nil
		}
	}
	return info.pk
}

// insertNew runs an INSERT that merges with no stored row: each CRDT
// value is stored as written (an Op applied to the empty state), under
// advisory locks keyed by lockCols when there are any.
func (m *merger) insertNew(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.InsertQuery, pl *insertPlan, lockCols []string) (*orm.Result, error) {
	c, cp := q.Rewrite()
	for r, row := range pl.p.Rows {
		nr := slices.Clone(row)
		for j, ic := range pl.ics {
			if ic.idx >= len(row) {
				continue
			}
			v, err := m.mergeOne(pl.t, ic.name, ic.kind, "", nil, pl.ws[r][j], pl.who)
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
		if err := advisoryLock(ctx, next, db, pl.t, lockCols, pl.p.Columns, pl.p.Rows); err != nil {
			return nil, err
		}
		run.DB = db
		return next(ctx, &run)
	})
}

// checkUpsertTarget refuses a merging upsert whose conflict target is
// not among the inserted columns (the stored row could not be found), or
// that the ORM would refuse, before anything is read.
func checkUpsertTarget(st *orm.Statement, q *orm.InsertQuery, pl *insertPlan) error {
	for _, tc := range pl.p.OnConflict.Target {
		if !slices.Contains(pl.p.Columns, tc) {
			return &Error{Table: pl.t.Name(), Column: tc, Err: ErrUpsertTarget}
		}
	}
	_, _, err := q.Render(st.DB.Dialect())
	return err
}

// upsert maps the rows of a merging upsert to the stored rows they
// conflict with.
type upsert struct {
	*insertPlan
	target []string // the conflict target
	tidx   []int    // the index in Columns of each target column
	mcols  []string // the CRDT columns DO UPDATE sets, read from stored rows
	mpos   []int    // the index into ics of each of mcols
}

func newUpsert(pl *insertPlan) *upsert {
	u := &upsert{insertPlan: pl, target: pl.p.OnConflict.Target}
	u.tidx = make([]int, len(u.target))
	for i, tc := range u.target {
		u.tidx[i] = slices.Index(pl.p.Columns, tc)
	}
	for j, ic := range pl.ics {
		if ic.merge {
			u.mcols = append(u.mcols, ic.name)
			u.mpos = append(u.mpos, j)
		}
	}
	return u
}

// keyOf returns a row's conflict-target values and their normalised key;
// ok is false if any of them is NULL.
func (u *upsert) keyOf(row []any) (vals []any, key string, ok bool) {
	vals = make([]any, len(u.tidx))
	for i, x := range u.tidx {
		vals[i] = row[x]
	}
	key, ok = rowKey(vals)
	return vals, key, ok
}

// upsertMerge runs a merging upsert: in one transaction it locks the
// conflict keys, reads the stored states and writes each row's CRDT
// values merged with them.
func (m *merger) upsertMerge(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.InsertQuery, info *tableInfo, pl *insertPlan) (*orm.Result, error) {
	u := newUpsert(pl)
	return txrun.Run(ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
		if db.Dialect().Features().Has(dialect.AdvisoryLocks) {
			if err := advisoryLock(ctx, next, db, u.t, u.target, u.p.Columns, u.p.Rows); err != nil {
				return nil, err
			}
		}
		base, err := u.readStored(ctx, next, db, info.pk)
		if err != nil {
			return nil, err
		}
		c, cp := q.Rewrite()
		for r, row := range u.p.Rows {
			if cp.Rows[r], err = m.mergeUpsertRow(u, base, r, row); err != nil {
				return nil, err
			}
		}
		return next(ctx, &orm.Statement{Op: orm.OpInsert, Table: u.t, Query: c, DB: db})
	})
}

// distinctKeys returns the distinct non-NULL conflict keys of the rows,
// in the rows' order.
func (u *upsert) distinctKeys() [][]any {
	var keys [][]any
	seen := map[string]bool{}
	for _, row := range u.p.Rows {
		if vals, k, ok := u.keyOf(row); ok && !seen[k] {
			seen[k] = true
			keys = append(keys, vals)
		}
	}
	return keys
}

// readStored reads, locking them, the merged columns of the stored rows
// the upsert's rows conflict with, by conflict key, in chunks of
// maxKeysPerRead keys ordered by pk (or the target if there is none).
func (u *upsert) readStored(ctx context.Context, next orm.Handler, db *orm.DB, pk []string) (map[string][]any, error) {
	base := map[string][]any{}
	order := pk
	if len(order) == 0 {
		order = u.target
	}
	read := append(slices.Clone(u.target), u.mcols...)
	for keys := u.distinctKeys(); len(keys) > 0; {
		n := min(len(keys), maxKeysPerRead)
		ors := make([]expr.Expr, n)
		for i, vals := range keys[:n] {
			ors[i] = expr.And(pkWhere(u.t, u.target, vals)...)
		}
		keys = keys[n:]
		rows, err := lockRows(ctx, next, db, u.t, read, order, []expr.Expr{expr.Or(ors...)})
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			if k, ok := rowKey(row[:len(u.target)]); ok {
				base[k] = row[len(u.target):]
			}
		}
	}
	return base, nil
}

// mergeUpsertRow returns row r with its CRDT values merged with the
// states stored under its key in base, and puts the merged states in
// base: a later row of the same statement conflicting with this one
// (SQLite applies them in turn) merges with what this one stored.
func (m *merger) mergeUpsertRow(u *upsert, base map[string][]any, r int, row []any) ([]any, error) {
	vals, key, keyed := u.keyOf(row)
	stored, exists := base[key]
	exists = exists && keyed
	name := ""
	if exists {
		name = rowName(vals)
	}
	nr := slices.Clone(row)
	after := make([]any, len(u.mcols))
	for j, ic := range u.ics {
		var prev any
		mi := slices.Index(u.mpos, j)
		if exists && mi >= 0 {
			prev = stored[mi]
		}
		v, err := m.mergeOne(u.t, ic.name, ic.kind, name, prev, u.ws[r][j], u.who)
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
	return nr, nil
}
