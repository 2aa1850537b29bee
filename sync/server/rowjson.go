package server

import (
	"fmt"

	"github.com/plasma-go/plasma/internal/jsonx"
	"github.com/plasma-go/plasma/internal/rowjson"
	"github.com/plasma-go/plasma/orm"
)

// tablePlan is how a synced table's rows become patch values: the change
// log's row images (internal/rowjson), so a put value is byte for byte
// what the log records.
type tablePlan struct {
	*rowjson.Plan
	table  *orm.Table
	prefix string // "<table>/"
	// prefixJSON is the prefix as a JSON string without its closing
	// quote: how a patch key starts (see appendKeyJSON).
	prefixJSON []byte
}

// colPlan is how one column's values are encoded.
type colPlan = rowjson.Column

func newTablePlan(t *orm.Table) (*tablePlan, error) {
	p := &tablePlan{Plan: rowjson.For(t), table: t, prefix: t.Name() + "/"}
	p.prefixJSON = jsonx.AppendString(nil, p.prefix)
	p.prefixJSON = p.prefixJSON[:len(p.prefixJSON)-1]
	if p.ID < 0 {
		return nil, fmt.Errorf("plasma: sync: synced table %q has no id column", t.Name())
	}
	return p, nil
}

// appendRow appends the row's JSON object to dst.
func (p *tablePlan) appendRow(dst []byte, vals []any) ([]byte, error) {
	dst, err := p.AppendRow(dst, vals)
	if err != nil {
		return nil, fmt.Errorf("plasma: sync: %s: %w", p.table.Name(), err)
	}
	return dst, nil
}

// idString turns a driver value of an id column into the row id.
func idString(v any) string { return rowjson.IDString(v) }
