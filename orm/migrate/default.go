package migrate

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/tabledef"
)

// DefaultValue returns the default of c, a column of one of db's tables,
// as the Go value orm.Column.Default takes for a column of c's Kind: a
// string for text and id, an int64 for int and bigint, a bool for
// boolean, []byte for blob and json.RawMessage for the JSON-valued kinds.
// It reads the default as Diff compares it, so a column declared with the
// value diffs equal. ok is false when c has no default or DEFAULT NULL.
// The error says why the default is no value of the kind: an expression
// such as CURRENT_TIMESTAMP, a number on a text column, a default on an
// encrypted column.
func (db *Database) DefaultValue(c *ColumnInfo) (v any, ok bool, err error) {
	if !c.HasDefault {
		return nil, false, nil
	}
	lit := parseDefault(c.Default)
	canon := canonicalDefault(lit, typeClass(db.Dialect, c.Type))
	form, text, _ := strings.Cut(canon, ":")
	switch {
	case canon == "null":
		return nil, false, nil
	case form == "expr":
		return nil, false, fmt.Errorf("the default %q is an expression, not a value", c.Default)
	case c.Kind == 0:
		return nil, false, fmt.Errorf("the default %q is on a column of type %q, which no plasma kind has", c.Default, c.Type)
	case c.Encrypted:
		return nil, false, fmt.Errorf("the default %q is on an encrypted column, which cannot have one", c.Default)
	}
	if c.Kind.IsJSONText() && lit.kind == litString {
		text = lit.text // the JSON as written: the canonical form is for comparing only
	}
	if v, ok := defaultOfKind(c.Kind, form, text); ok {
		return v, true, nil
	}
	return nil, false, fmt.Errorf("the default %q is no %s value", c.Default, c.Kind)
}

// defaultOfKind converts a canonical default (form and text, as
// canonicalDefault writes them) to a value of kind k.
func defaultOfKind(k tabledef.Kind, form, text string) (any, bool) {
	switch {
	case k.IsJSONText():
		if (form == "json" || form == "str") && json.Valid([]byte(text)) {
			return json.RawMessage(text), true
		}
	case k == tabledef.KindID || k == tabledef.KindText:
		if form == "str" {
			return text, true
		}
	case k == tabledef.KindInt || k == tabledef.KindBigInt:
		if form == "int" {
			n, err := strconv.ParseInt(text, 10, 64)
			return n, err == nil && (k == tabledef.KindBigInt || n >= -1<<31 && n < 1<<31)
		}
	case k == tabledef.KindBool:
		if form == "bool" {
			return text == "true", true
		}
	case k == tabledef.KindBlob:
		if form == "blob" {
			p, err := hex.DecodeString(text)
			return p, err == nil
		}
	}
	return nil, false
}
