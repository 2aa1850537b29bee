package crdtcol

import (
	"context"
	"slices"

	"github.com/plasma-go/plasma/tabledef"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
)

// updateSet is a CRDT column an UPDATE sets, with its checked value.
type updateSet struct {
	idx  int // in the UPDATE's Set
	col  string
	kind crdt.Kind
	w    written
}

// update merges the CRDT columns an UPDATE sets into each matched row.
func (m *merger) update(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.UpdateQuery, info *tableInfo) (*orm.Result, error) {
	t := q.Parts().Table
	sets, err := m.updateSets(t, info, q.Parts().Set)
	if err != nil {
		return nil, err
	}
	if len(sets) == 0 {
		return next(ctx, st)
	}
	if len(info.pk) == 0 {
		return nil, &Error{Table: t.Name(), Column: sets[0].col, Err: ErrNoPrimaryKey}
	}
	// Report a statement the ORM refuses before reading anything.
	if _, _, err := q.Render(st.DB.Dialect()); err != nil {
		return nil, err
	}
	cols := make([]string, len(sets))
	ws := make([]written, len(sets))
	for j, s := range sets {
		cols[j], ws[j] = s.col, s.w
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
		merged, err := m.mergeMatched(t, len(info.pk), sets, rows, who)
		if err != nil {
			return nil, err
		}
		return writeMerged(ctx, next, db, q, info.pk, sets, rows, merged)
	})
}

// updateSets returns the CRDT columns set, with their values checked.
func (m *merger) updateSets(t *orm.Table, info *tableInfo, set []orm.Assignment) ([]updateSet, error) {
	var sets []updateSet
	for i, a := range set {
		k, ok := info.crdt[a.Column]
		if !ok {
			continue
		}
		w, err := m.incoming(t, a.Column, k, a.Value)
		if err != nil {
			return nil, err
		}
		sets = append(sets, updateSet{idx: i, col: a.Column, kind: k, w: w})
	}
	return sets, nil
}

// mergeMatched merges the written values into every matched row (its
// first npk values its key, then the stored states of sets) before any
// is written, so that a bad state writes nothing.
func (m *merger) mergeMatched(t *orm.Table, npk int, sets []updateSet, rows [][]any, who writer) ([][]any, error) {
	merged := make([][]any, len(rows))
	for r, row := range rows {
		vals := make([]any, len(sets))
		name := rowName(row[:npk])
		for j, s := range sets {
			v, err := m.mergeOne(t, s.col, s.kind, name, row[npk+j], s.w, who)
			if err != nil {
				return nil, err
			}
			vals[j] = v
		}
		merged[r] = vals
	}
	return merged, nil
}

// writeMerged writes the merged states row by row, each UPDATE matching
// one row by its key, and combines the results into the one the caller's
// statement would have had.
func writeMerged(ctx context.Context, next orm.Handler, db *orm.DB, q *orm.UpdateQuery, pk []string, sets []updateSet, rows, merged [][]any) (*orm.Result, error) {
	t := q.Parts().Table
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
		for j, s := range sets {
			cp.Set[s.idx].Value = merged[r][j]
		}
		cp.Where = pkWhere(t, pk, row[:len(pk)])
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
