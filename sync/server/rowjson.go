package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/internal/jsonx"
)

// tablePlan is how a synced table's rows become patch values: JSON
// objects keyed by column name, in declaration order, encoded as the
// change log encodes its row images (JSON, file, CRDT and encrypted
// columns embedded as the JSON they hold; blobs as base64 strings).
type tablePlan struct {
	table  *orm.Table
	prefix string // "<table>/"
	cols   []colPlan
	id     int // index of the id column
}

type colPlan struct {
	name string
	key  []byte // "name": as JSON
	kind orm.Kind
	raw  bool // holds JSON text: embedded as it is
}

func newTablePlan(t *orm.Table) (*tablePlan, error) {
	p := &tablePlan{table: t, prefix: t.Name() + "/", id: -1}
	encrypted := map[string]bool{}
	if def := t.Def(); def != nil {
		for _, c := range def.Columns {
			encrypted[c.Name] = c.Encrypted
		}
	}
	for i, c := range t.Columns() {
		key := jsonx.AppendString(nil, c.Name())
		key = append(key, ':')
		p.cols = append(p.cols, colPlan{name: c.Name(), key: key, kind: c.Kind(), raw: encrypted[c.Name()] || c.Kind().IsJSONText()})
		if c.Name() == "id" {
			p.id = i
		}
	}
	if p.id < 0 {
		return nil, fmt.Errorf("plasma: sync: synced table %q has no id column", t.Name())
	}
	return p, nil
}

// appendRow appends the row's JSON object to dst.
func (p *tablePlan) appendRow(dst []byte, vals []any) ([]byte, error) {
	dst = append(dst, '{')
	for i := range p.cols {
		c := &p.cols[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.key...)
		var err error
		if dst, err = appendValue(dst, c, vals[i]); err != nil {
			return nil, fmt.Errorf("plasma: sync: %s.%s: %w", p.table.Name(), c.name, err)
		}
	}
	return append(dst, '}'), nil
}

func appendValue(dst []byte, c *colPlan, v any) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	if c.raw {
		var text []byte
		switch t := v.(type) {
		case []byte:
			text = t
		case string:
			text = []byte(t)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			text = b
		}
		if !json.Valid(text) {
			return nil, fmt.Errorf("stored value is not valid JSON")
		}
		return append(dst, text...), nil
	}
	switch c.kind {
	case orm.KindBool:
		switch b := v.(type) {
		case bool:
			return strconv.AppendBool(dst, b), nil
		case int64:
			return strconv.AppendBool(dst, b != 0), nil
		}
	case orm.KindInt, orm.KindBigInt:
		switch n := v.(type) {
		case int64:
			return strconv.AppendInt(dst, n, 10), nil
		case float64:
			if n == math.Trunc(n) && !math.IsInf(n, 0) {
				return strconv.AppendFloat(dst, n, 'f', -1, 64), nil
			}
		}
	case orm.KindBlob:
		if b, ok := v.([]byte); ok {
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, b)
			return append(dst, '"'), nil
		}
	}
	switch s := v.(type) {
	case string:
		return jsonx.AppendString(dst, s), nil
	case []byte:
		return jsonx.AppendString(dst, string(s)), nil
	case int64:
		return strconv.AppendInt(dst, s, 10), nil
	case bool:
		return strconv.AppendBool(dst, s), nil
	case time.Time:
		return jsonx.AppendString(dst, s.UTC().Format(time.RFC3339Nano)), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// idString turns a driver value of an id column into the row id.
func idString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []byte:
		return string(t)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
