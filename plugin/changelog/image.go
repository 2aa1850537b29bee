package changelog

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// plan is what the log needs to know about a table, computed once.
type plan struct {
	cols  []colPlan
	exprs []expr.Expr // the table's columns, for RETURNING and SELECT
	id    int         // index of the id column, -1 if none
}

type colPlan struct {
	name string
	key  []byte // "name": as JSON
	kind orm.Kind
	raw  bool // stored as JSON text: embedded as it is
}

var plans sync.Map // *orm.Table -> *plan

func planFor(t *orm.Table) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{id: -1}
	encrypted := map[string]bool{}
	if def := t.Def(); def != nil {
		for _, c := range def.Columns {
			encrypted[c.Name] = c.Encrypted
		}
	}
	for i, c := range t.Columns() {
		key := appendJSONString(nil, c.Name())
		key = append(key, ':')
		p.cols = append(p.cols, colPlan{name: c.Name(), key: key, kind: c.Kind(), raw: encrypted[c.Name()] || c.Kind().IsJSONText()})
		p.exprs = append(p.exprs, t.Col(c.Name()))
		if c.Name() == "id" {
			p.id = i
		}
	}
	plans.Store(t, p)
	return p
}

// image encodes a row's values, in column order, as a JSON object.
func (p *plan) image(vals []any) ([]byte, error) {
	dst := make([]byte, 0, 64+16*len(p.cols))
	dst = append(dst, '{')
	for i := range p.cols {
		c := &p.cols[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.key...)
		var err error
		if dst, err = appendValue(dst, c, vals[i]); err != nil {
			return nil, fmt.Errorf("plasma: change log: column %q: %w", c.name, err)
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
		if n, ok := v.(int64); ok {
			return strconv.AppendInt(dst, n, 10), nil
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
		return appendJSONString(dst, s), nil
	case []byte:
		return appendJSONString(dst, string(s)), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does; HTML characters are left as they are.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
