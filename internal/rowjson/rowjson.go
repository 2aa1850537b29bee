// Package rowjson encodes a row of a plasma table as the JSON object that
// both the change log stores and sync pulls send: keyed by column name in
// declaration order; JSON, file, CRDT and encrypted columns embedded as the
// JSON they hold; booleans and integers as JSON literals; blobs as base64
// strings. One encoder serves both so the two can never drift apart: a
// pull's put value is byte for byte the change log's row image.
package rowjson

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/plasma-go/plasma/internal/jsonx"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// Column is how one column's values are encoded.
type Column struct {
	Name string
	Key  []byte // the name as a JSON string, then ':'
	Kind tabledef.Kind
	Raw  bool // holds JSON text: embedded as it is
}

// Plan is how a table's rows are encoded, computed once per table.
type Plan struct {
	Columns []Column
	ID      int // index of the id column, -1 if the table has none
}

// planKey keeps a table's plan in its Memo, which DefineSchema empties:
// a plan made before it, not knowing the encrypted columns, is not kept.
var planKey = orm.NewMemoKey[*Plan]("rowjson.Plan")

// For returns t's plan, made once per table. t must have been through
// orm.DefineSchema, so that encrypted columns are known.
func For(t *orm.Table) *Plan {
	return orm.MemoLoad(t.Memo(), planKey, func() *Plan { return newPlan(t) })
}

func newPlan(t *orm.Table) *Plan {
	p := &Plan{ID: -1}
	encrypted := map[string]bool{}
	if def := t.Def(); def != nil {
		for _, c := range def.Columns {
			encrypted[c.Name] = c.Encrypted
		}
	}
	for i, c := range t.Columns() {
		key := append(jsonx.AppendString(nil, c.Name()), ':')
		p.Columns = append(p.Columns, Column{Name: c.Name(), Key: key, Kind: c.Kind(), Raw: encrypted[c.Name()] || c.Kind().IsJSONText()})
		if c.Name() == "id" {
			p.ID = i
		}
	}
	return p
}

// AppendRow appends the JSON object of a row whose values, as the driver
// returned them, are in column order.
func (p *Plan) AppendRow(dst []byte, vals []any) ([]byte, error) {
	dst = append(dst, '{')
	for i := range p.Columns {
		c := &p.Columns[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.Key...)
		var err error
		if dst, err = AppendValue(dst, c, vals[i]); err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
	}
	return append(dst, '}'), nil
}

// AppendValue appends one driver value of column c as JSON.
func AppendValue(dst []byte, c *Column, v any) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	if c.Raw {
		return appendRaw(dst, v)
	}
	switch c.Kind {
	case tabledef.KindBool:
		switch b := v.(type) {
		case bool:
			return strconv.AppendBool(dst, b), nil
		case int64: // SQLite
			return strconv.AppendBool(dst, b != 0), nil
		}
	case tabledef.KindInt, tabledef.KindBigInt:
		switch n := v.(type) {
		case int64:
			return strconv.AppendInt(dst, n, 10), nil
		case float64:
			if n == math.Trunc(n) && !math.IsInf(n, 0) {
				return strconv.AppendFloat(dst, n, 'f', -1, 64), nil
			}
		}
	case tabledef.KindBlob:
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

// appendRaw embeds stored JSON text, refusing text that is not JSON.
func appendRaw(dst []byte, v any) ([]byte, error) {
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

// IDString turns a driver value of an id column into the row id.
func IDString(v any) string {
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
