package changelog

import (
	"context"
	"slices"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
)

// On SQLite a RETURNING clause is costly: the engine collects the rows in
// an ephemeral table, and with the pure-Go build allocating its page cache
// on every statement it cost five times the write itself in
// BenchmarkWriteMemory. SQLite also runs one writer at a time, so the rows
// a write will touch can be found before it runs and read back after it
// without any other writer in between. writeDirect does that when the
// caller asked for no RETURNING of its own:
//
//   - INSERT: the ids are in the VALUES; ON CONFLICT DO NOTHING first
//     notes which of them already exist; ON CONFLICT (id) DO UPDATE
//     touches them all. Another conflict target falls back to RETURNING.
//   - UPDATE and DELETE: a WHERE with id = value touches that row if the
//     statement reports one row affected; otherwise a SELECT of the ids
//     with the same WHERE runs first.
//
// The images are then read with one SELECT by id, except for a plain
// INSERT whose values are stored as given: its images are made from the
// values (see valueImages).

// writeDirect logs a write without RETURNING. It reports false when the
// statement needs the RETURNING path.
func (l *logger) writeDirect(ctx context.Context, next orm.Handler, st *orm.Statement, p *plan) (*orm.Result, []change, bool, error) {
	t := st.Table
	var ids []string
	var single bool
	switch q := st.Query.(type) {
	case *orm.InsertQuery:
		col := slices.Index(q.Parts().Columns, "id")
		if col < 0 {
			return nil, nil, false, nil
		}
		ids = make([]string, 0, len(q.Parts().Rows))
		for _, row := range q.Parts().Rows {
			v, ok := row[col].(string)
			if !ok {
				return nil, nil, false, nil
			}
			ids = append(ids, v)
		}
		if oc := q.Parts().OnConflict; oc != nil {
			switch {
			case oc.DoNothing:
				existing := map[string]bool{}
				for rest := ids; len(rest) > 0; {
					n := min(len(rest), maxInList)
					found, err := selectIDs(ctx, next, st.DB, t, expr.InArray(t.Col("id"), rest[:n]))
					if err != nil {
						return nil, nil, true, err
					}
					for _, id := range found {
						existing[id] = true
					}
					rest = rest[n:]
				}
				ids = slices.DeleteFunc(ids, func(id string) bool { return existing[id] })
			case len(oc.Target) != 1 || oc.Target[0] != "id":
				return nil, nil, false, nil
			}
		}
	case *orm.UpdateQuery:
		ids, single = singleID(q.Parts().Where, t)
		if !single {
			var err error
			if ids, err = selectIDs(ctx, next, st.DB, t, q.Parts().Where...); err != nil {
				return nil, nil, true, err
			}
		}
	case *orm.DeleteQuery:
		ids, single = singleID(q.Parts().Where, t)
		if !single {
			var err error
			if ids, err = selectIDs(ctx, next, st.DB, t, q.Parts().Where...); err != nil {
				return nil, nil, true, err
			}
		}
	default:
		return nil, nil, false, nil
	}
	res, err := next(ctx, st)
	if err != nil {
		return nil, nil, true, err
	}
	if single && res.RowsAffected == 0 {
		return res, nil, true, nil
	}
	changes := make([]change, 0, len(ids))
	if st.Op == orm.OpDelete {
		for _, id := range ids {
			changes = append(changes, change{table: t.Name(), id: id, op: OpDel})
		}
		return res, changes, true, nil
	}
	if q, ok := st.Query.(*orm.InsertQuery); ok {
		if images, ok := valueImages(t, p, q); ok {
			for i, id := range ids {
				changes = append(changes, change{table: t.Name(), id: id, op: OpPut, data: images[i]})
			}
			return res, changes, true, nil
		}
	}
	images, err := readImages(ctx, next, st.DB, t, ids)
	if err != nil {
		return nil, nil, true, err
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if img, ok := images[id]; ok && !seen[id] {
			seen[id] = true
			changes = append(changes, change{table: t.Name(), id: id, op: OpPut, data: img})
		}
	}
	return res, changes, true, nil
}

// singleID finds, among a WHERE's ANDed predicates, id = value: the
// statement touches that row or none.
func singleID(where []expr.Expr, t *orm.Table) ([]string, bool) {
	for _, w := range where {
		c, ok := w.(*expr.Compare)
		if !ok || c.Op != expr.OpEq {
			continue
		}
		col, val := c.Left, c.Right
		if _, isCol := col.(*expr.Column); !isCol {
			col, val = val, col
		}
		cr, ok := col.(*expr.Column)
		if !ok || cr.Name != "id" || (cr.Table != t.Name() && cr.Table != "") {
			continue
		}
		if p, ok := val.(*expr.Param); ok {
			if id, ok := p.Value.(string); ok {
				return []string{id}, true
			}
		}
	}
	return nil, false
}

// selectIDs returns the ids of t's rows matching where.
func selectIDs(ctx context.Context, next orm.Handler, db *orm.DB, t *orm.Table, where ...expr.Expr) ([]string, error) {
	q := orm.Select(t.Col("id")).From(t).Where(where...)
	res, err := next(ctx, &orm.Statement{Op: orm.OpSelect, Table: t, Query: q, DB: db})
	if err != nil {
		return nil, err
	}
	buf, err := rowbuf.Read(res.Rows)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(buf.Values))
	for i, row := range buf.Values {
		ids[i] = idString(row[0])
	}
	return ids, nil
}
