package changelog

import (
	"context"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
	"github.com/plasma-go/plasma/tabledef"
)

// cascade lists, before a DELETE runs, the rows of synced tables that its
// foreign keys will delete (ON DELETE CASCADE) or change (SET NULL).
type cascade struct {
	hits   []*hit
	byName map[string]*hit
}

type hit struct {
	table *orm.Table
	ids   []string
	seen  map[string]bool
}

func (c *cascade) add(t *orm.Table, ids []any) {
	h := c.byName[t.Name()]
	if h == nil {
		h = &hit{table: t, seen: map[string]bool{}}
		c.byName[t.Name()] = h
		c.hits = append(c.hits, h)
	}
	for _, v := range ids {
		id := idString(v)
		if !h.seen[id] {
			h.seen[id] = true
			h.ids = append(h.ids, id)
		}
	}
}

// level is a set of rows about to be deleted: those of table matching
// where (the statement's own rows, root), or those whose column col holds
// one of vals.
type level struct {
	table *orm.Table
	root  bool
	where []expr.Expr
	col   string
	vals  []any
}

// maxInList bounds the values bound in one IN list.
const maxInList = 500

// beforeDelete follows the foreign keys into the rows a DELETE of t's rows
// matching where will reach, breadth first, each referenced value once, so
// that self-references and cycles end.
func (l *logger) beforeDelete(ctx context.Context, next orm.Handler, db *orm.DB, t *orm.Table, where []expr.Expr) (*cascade, error) {
	c := &cascade{byName: map[string]*hit{}}
	followed := map[string]map[any]bool{} // "table.column" -> values already followed
	queue := []level{{table: t, root: true, where: where}}
	for len(queue) > 0 {
		lv := queue[0]
		queue = queue[1:]
		for _, e := range l.edges[lv.table.Name()] {
			vals, err := selectColumn(ctx, next, db, lv, e.ref)
			if err != nil {
				return nil, err
			}
			key := lv.table.Name() + "." + e.ref
			seen := followed[key]
			if seen == nil {
				seen = map[any]bool{}
				followed[key] = seen
			}
			fresh := vals[:0:0]
			for _, v := range vals {
				k := v
				if b, ok := v.([]byte); ok {
					k = string(b)
				}
				if v != nil && !seen[k] {
					seen[k] = true
					fresh = append(fresh, v)
				}
			}
			if len(fresh) == 0 {
				continue
			}
			child := level{table: e.child, col: e.fk, vals: fresh}
			if e.child.Synced() {
				ids, err := selectColumn(ctx, next, db, child, "id")
				if err != nil {
					return nil, err
				}
				c.add(e.child, ids)
			}
			if !e.setNull {
				queue = append(queue, child)
			}
		}
	}
	if len(c.hits) == 0 {
		return nil, nil
	}
	return c, nil
}

// selectColumn returns column col of the rows of lv.
func selectColumn(ctx context.Context, next orm.Handler, db *orm.DB, lv level, col string) ([]any, error) {
	kind := tabledef.KindText
	if c, ok := lv.table.Column(col); ok {
		kind = c.Kind()
	}
	var out []any
	run := func(where ...expr.Expr) error {
		q := orm.Select(lv.table.Col(col)).From(lv.table).Where(where...)
		res, err := next(ctx, &orm.Statement{Op: orm.OpSelect, Table: lv.table, Query: q, DB: db})
		if err != nil {
			return err
		}
		buf, err := rowbuf.Read(res.Rows)
		if err != nil {
			return err
		}
		for _, row := range buf.Values {
			v := row[0]
			if b, ok := v.([]byte); ok && kind != tabledef.KindBlob {
				v = string(b)
			}
			out = append(out, v)
		}
		return nil
	}
	if lv.root {
		return out, run(lv.where...)
	}
	for vals := lv.vals; len(vals) > 0; {
		n := min(len(vals), maxInList)
		if err := run(expr.InArray(lv.table.Col(lv.col), vals[:n])); err != nil {
			return nil, err
		}
		vals = vals[n:]
	}
	return out, nil
}

// afterDelete reads, after the DELETE, the rows beforeDelete listed: a
// row still there was changed (SET NULL) and is logged as a put, a row
// gone is logged as a del.
func (l *logger) afterDelete(ctx context.Context, next orm.Handler, db *orm.DB, c *cascade) ([]change, error) {
	var out []change
	for _, h := range c.hits {
		found, err := readImages(ctx, next, db, h.table, h.ids)
		if err != nil {
			return nil, err
		}
		for _, id := range h.ids {
			if img, ok := found[id]; ok {
				out = append(out, change{table: h.table.Name(), id: id, op: OpPut, data: img})
			} else {
				out = append(out, change{table: h.table.Name(), id: id, op: OpDel})
			}
		}
	}
	return out, nil
}

// readImages returns the current image of each of t's rows with one of
// ids, by id.
func readImages(ctx context.Context, next orm.Handler, db *orm.DB, t *orm.Table, ids []string) (map[string][]byte, error) {
	p := planFor(t)
	found := make(map[string][]byte, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), maxInList)
		q := orm.Select().From(t).Where(expr.InArray(t.Col("id"), ids[:n]))
		ids = ids[n:]
		res, err := next(ctx, &orm.Statement{Op: orm.OpSelect, Table: t, Query: q, DB: db})
		if err != nil {
			return nil, err
		}
		buf, err := rowbuf.Read(res.Rows)
		if err != nil {
			return nil, err
		}
		for _, row := range buf.Values {
			img, err := p.image(row)
			if err != nil {
				return nil, err
			}
			found[idString(row[p.ID])] = img
		}
	}
	return found, nil
}
