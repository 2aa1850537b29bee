package server

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// WritesTable records, per client group, the content hash each row of a
// table with a ConflictResolver had after the group's last write to it,
// so that a group's own unpulled writes never count as conflicts.
const WritesTable = orm.ReservedPrefix + "group_writes"

type conflictKey struct{}

// conflictState is what a push knows for conflict detection.
type conflictState struct {
	group string
}

// known reports whether the group has seen a row's content: in its view
// (the row as its latest pull sent it, ViewRowsTable), or as its own
// last write.
func (cs *conflictState) known(ctx context.Context, db *orm.DB, key string, hash uint64) (bool, error) {
	var one int
	return queryRow(ctx, db, `SELECT 1 FROM "`+ViewRowsTable+`" WHERE "group_id" = ? AND "row_key" = ? AND "live" = 1 AND "hash" = ?
UNION ALL SELECT 1 FROM "`+WritesTable+`" WHERE "group_id" = ? AND "row_key" = ? AND "hash" = ?`,
		[]any{cs.group, key, int64(hash), cs.group, key, int64(hash)}, &one)
}

// storedRow is a row as read before a write.
type storedRow struct {
	id   string
	key  string
	hash uint64
	row  orm.Row
}

// conflictMiddleware implements TableOptions.ResolveConflict for the
// mutations of a push; see the package documentation for the rules. It
// sits before row auth, so the statements it adds are authorised and
// logged like the mutator's own.
func (h *Handler[Ctx]) conflictMiddleware() orm.Middleware {
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if st.Query == nil || st.Table == nil || !st.Op.IsWrite() || !st.DB.IsTx() {
				return next(ctx, st)
			}
			p := h.resolvers[st.Table.Name()]
			cs, _ := ctx.Value(conflictKey{}).(*conflictState)
			if p == nil || cs == nil || p.table != st.Table {
				return next(ctx, st)
			}
			switch q := st.Query.(type) {
			case *orm.UpdateQuery:
				return h.resolveUpdate(ctx, next, st, q, p, cs)
			case *orm.InsertQuery:
				res, err := next(ctx, st)
				if err != nil {
					return nil, err
				}
				var ids []string
				if i := slicesIndex(q.Parts().Columns, "id"); i >= 0 {
					for _, r := range q.Parts().Rows {
						ids = append(ids, idString(r[i]))
					}
				}
				if err := h.recordWrites(ctx, st.DB, p, cs, ids); err != nil {
					closeResult(res)
					return nil, err
				}
				return res, nil
			}
			return next(ctx, st)
		}
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func closeResult(r *orm.Result) {
	if r != nil && r.Rows != nil {
		r.Rows.Close()
	}
}

// resolveUpdate runs an UPDATE of a table with a resolver: the caller's
// statement as it is, then, for each row it matched whose stored content
// the group had not seen, the resolver's row.
func (h *Handler[Ctx]) resolveUpdate(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.UpdateQuery, p *tablePlan, cs *conflictState) (*orm.Result, error) {
	stored, err := h.readRows(ctx, st.DB, p, q.Parts().Where)
	if err != nil {
		return nil, err
	}
	computable := true // incoming rows can be computed in Go
	for _, a := range q.Parts().Set {
		if _, isExpr := a.Value.(expr.Expr); isExpr {
			computable = false
		}
	}
	var conflicts []storedRow
	if computable {
		for _, r := range stored {
			ok, err := cs.known(ctx, st.DB, r.key, r.hash)
			if err != nil {
				return nil, err
			}
			if !ok {
				conflicts = append(conflicts, r)
			}
		}
	}
	res, err := next(ctx, st)
	if err != nil {
		return nil, err
	}
	// The caller's result is buffered by the change log (a synced table),
	// so more statements can run on the transaction now.
	resolve := p.table.Options().ResolveConflict
	for _, c := range conflicts {
		incoming := make(orm.Row, len(c.row))
		for k, v := range c.row {
			incoming[k] = v
		}
		for _, a := range q.Parts().Set {
			incoming[a.Column] = normalizeValue(p.col(a.Column), a.Value)
		}
		resolved, err := resolve(ctx, cloneRow(c.row), incoming)
		if err != nil {
			closeResult(res)
			return nil, fmt.Errorf("plasma: sync: %s: resolving a conflict on row %q: %w", p.table.Name(), c.id, err)
		}
		set := orm.Row{}
		for k, v := range resolved {
			if k != "id" && !reflect.DeepEqual(v, incoming[k]) {
				set[k] = v
			}
		}
		if len(set) == 0 {
			continue
		}
		fix := orm.Update(p.table).Set(set).Where(expr.Eq(p.table.Col("id"), c.id))
		fr, err := next(ctx, &orm.Statement{Op: orm.OpUpdate, Table: p.table, Query: fix, DB: st.DB})
		if err != nil {
			closeResult(res)
			return nil, err
		}
		closeResult(fr)
	}
	ids := make([]string, len(stored))
	for i, r := range stored {
		ids[i] = r.id
	}
	if err := h.recordWrites(ctx, st.DB, p, cs, ids); err != nil {
		closeResult(res)
		return nil, err
	}
	return res, nil
}

// readRows reads the rows of p's table matching where that the context's
// identity may read, with their keys and content hashes as pulls compute
// them.
func (h *Handler[Ctx]) readRows(ctx context.Context, db *orm.DB, p *tablePlan, where []expr.Expr) ([]storedRow, error) {
	res, err := db.Select().From(p.table).Where(where...).Rows(ctx)
	if err != nil {
		return nil, err
	}
	defer res.Rows.Close()
	vals := make([]any, len(p.Columns))
	ptrs := make([]any, len(p.Columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []storedRow
	var buf []byte
	for res.Rows.Next() {
		if err := res.Rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		if buf, err = p.appendRow(buf[:0], vals); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(buf)
		r := storedRow{id: idString(vals[p.ID]), hash: binary.LittleEndian.Uint64(sum[:8]), row: make(orm.Row, len(p.Columns))}
		r.key = p.prefix + r.id
		for i := range p.Columns {
			r.row[p.Columns[i].Name] = normalizeValue(&p.Columns[i], vals[i])
		}
		out = append(out, r)
	}
	if err := res.Rows.Err(); err != nil {
		return nil, err
	}
	return out, res.Rows.Close()
}

// recordWrites stores the content hash the rows ids now have as the
// group's own writes.
func (h *Handler[Ctx]) recordWrites(ctx context.Context, db *orm.DB, p *tablePlan, cs *conflictState, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := h.readRows(ctx, db, p, []expr.Expr{expr.InArray(p.table.Col("id"), ids)})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := db.Exec(ctx, `INSERT INTO "`+WritesTable+`" ("group_id", "row_key", "hash") VALUES (?, ?, ?)
ON CONFLICT ("group_id", "row_key") DO UPDATE SET "hash" = excluded."hash"`, cs.group, r.key, int64(r.hash)); err != nil {
			return err
		}
	}
	return nil
}

func (p *tablePlan) col(name string) *colPlan {
	for i := range p.Columns {
		if p.Columns[i].Name == name {
			return &p.Columns[i]
		}
	}
	return &colPlan{Name: name}
}

func cloneRow(r orm.Row) orm.Row {
	c := make(orm.Row, len(r))
	for k, v := range r {
		c[k] = v
	}
	return c
}

// normalizeValue turns a driver value, or a value bound for a column,
// into the Go value a ConflictResolver sees: string for text and id,
// int64 for integers, bool, []byte for blobs, json.RawMessage for JSON,
// file, CRDT and encrypted columns, nil for NULL.
func normalizeValue(c *colPlan, v any) any {
	if dv, ok := v.(driver.Valuer); ok {
		var err error
		if v, err = dv.Value(); err != nil {
			return v
		}
	}
	if v == nil {
		return nil
	}
	if c.Raw {
		switch t := v.(type) {
		case []byte:
			return json.RawMessage(append([]byte(nil), t...))
		case string:
			return json.RawMessage(t)
		}
		return v
	}
	switch c.Kind {
	case tabledef.KindBool:
		if n, ok := v.(int64); ok {
			return n != 0
		}
	case tabledef.KindInt, tabledef.KindBigInt:
		switch t := v.(type) {
		case []byte:
			if n, err := strconv.ParseInt(string(t), 10, 64); err == nil {
				return n
			}
		case string:
			if n, err := strconv.ParseInt(t, 10, 64); err == nil {
				return n
			}
		}
	case tabledef.KindBlob:
		if b, ok := v.([]byte); ok {
			return append([]byte{}, b...)
		}
		return v
	}
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}
