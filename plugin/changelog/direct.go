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
	ids, single, direct, err := directIDs(ctx, next, st)
	if !direct || err != nil {
		return nil, nil, direct, err
	}
	res, err := next(ctx, st)
	if err != nil {
		return nil, nil, true, err
	}
	if single && res.RowsAffected == 0 {
		return res, nil, true, nil
	}
	changes, err := directChanges(ctx, next, st, p, ids)
	if err != nil {
		return nil, nil, true, err
	}
	return res, changes, true, nil
}

// directIDs returns the ids of the rows st will write, found before it
// runs; single reports that the WHERE names one id (the statement touches
// that row or none). direct is false for a statement whose ids cannot be
// known in advance: an INSERT without a string id for every row, or an
// upsert whose conflict target is not the id.
func directIDs(ctx context.Context, next orm.Handler, st *orm.Statement) (ids []string, single, direct bool, err error) {
	t := st.Table
	var where []expr.Expr
	switch q := st.Query.(type) {
	case *orm.InsertQuery:
		ids, direct, err = insertIDs(ctx, next, st, q.Parts())
		return ids, false, direct, err
	case *orm.UpdateQuery:
		where = q.Parts().Where
	case *orm.DeleteQuery:
		where = q.Parts().Where
	default:
		return nil, false, false, nil
	}
	if ids, single = singleID(where, t); single {
		return ids, true, true, nil
	}
	ids, err = selectIDs(ctx, next, st.DB, t, where...)
	return ids, false, true, err
}

// insertIDs returns the ids an INSERT writes: every row's, less those
// already stored for ON CONFLICT DO NOTHING.
func insertIDs(ctx context.Context, next orm.Handler, st *orm.Statement, parts orm.InsertParts) ([]string, bool, error) {
	t := st.Table
	col := slices.Index(parts.Columns, "id")
	if col < 0 {
		return nil, false, nil
	}
	ids := make([]string, 0, len(parts.Rows))
	for _, row := range parts.Rows {
		v, ok := row[col].(string)
		if !ok {
			return nil, false, nil
		}
		ids = append(ids, v)
	}
	oc := parts.OnConflict
	switch {
	case oc == nil:
		return ids, true, nil
	case oc.DoNothing:
		existing := map[string]bool{}
		for rest := ids; len(rest) > 0; {
			n := min(len(rest), maxInList)
			found, err := selectIDs(ctx, next, st.DB, t, expr.InArray(t.Col("id"), rest[:n]))
			if err != nil {
				return nil, true, err
			}
			for _, id := range found {
				existing[id] = true
			}
			rest = rest[n:]
		}
		return slices.DeleteFunc(ids, func(id string) bool { return existing[id] }), true, nil
	case len(oc.Target) != 1 || oc.Target[0] != "id":
		return nil, false, nil
	}
	return ids, true, nil
}

// directChanges makes the changes of a write that ran, to the rows ids:
// deletions, images made from an INSERT's values, or images read back.
func directChanges(ctx context.Context, next orm.Handler, st *orm.Statement, p *plan, ids []string) ([]change, error) {
	t := st.Table
	changes := make([]change, 0, len(ids))
	if st.Op == orm.OpDelete {
		for _, id := range ids {
			changes = append(changes, change{table: t.Name(), id: id, op: OpDel})
		}
		return changes, nil
	}
	if q, ok := st.Query.(*orm.InsertQuery); ok {
		if images, ok := valueImages(t, p, q); ok {
			for i, id := range ids {
				changes = append(changes, change{table: t.Name(), id: id, op: OpPut, data: images[i]})
			}
			return changes, nil
		}
	}
	images, err := readImages(ctx, next, st.DB, t, ids)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if img, ok := images[id]; ok && !seen[id] {
			seen[id] = true
			changes = append(changes, change{table: t.Name(), id: id, op: OpPut, data: img})
		}
	}
	return changes, nil
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
