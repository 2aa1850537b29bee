package changelog

import (
	"fmt"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/rowjson"
	"github.com/plasma-go/plasma/orm"
)

// plan is what the log needs to know about a table, computed once: how
// its rows encode (shared with sync pulls, so a put value is byte for byte
// the logged image) and its columns as expressions for RETURNING and
// SELECT.
type plan struct {
	*rowjson.Plan
	exprs []expr.Expr
	scope int // the index of the SyncScope column, or -1
}

// planKey keeps a table's plan in its Memo.
var planKey = orm.NewMemoKey[*plan]("changelog.plan")

func planFor(t *orm.Table) *plan {
	return orm.MemoLoad(t.Memo(), planKey, func() *plan {
		p := &plan{Plan: rowjson.For(t), scope: -1}
		for i, c := range t.Columns() {
			p.exprs = append(p.exprs, t.Col(c.Name()))
			if c.Name() == t.Options().SyncScope {
				p.scope = i
			}
		}
		return p
	})
}

// image encodes a row's values, in column order, as a JSON object.
func (p *plan) image(vals []any) ([]byte, error) {
	dst, err := p.AppendRow(make([]byte, 0, 64+16*len(p.Columns)), vals)
	if err != nil {
		return nil, fmt.Errorf("plasma: change log: %w", err)
	}
	return dst, nil
}

// idString turns a driver value of an id column into the row id.
func idString(v any) string { return rowjson.IDString(v) }
