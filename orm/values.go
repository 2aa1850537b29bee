package orm

import (
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unicode/utf8"
	"unsafe"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// bindValue checks that v suits a column of kind k and returns the value
// to bind for it, identical on both engines:
//
//   - text and id take a string;
//   - int and bigint take any Go integer (int within 32 bits);
//   - boolean takes a bool;
//   - blob takes []byte;
//   - json takes json.RawMessage or []byte as JSON text, and encodes any
//     other value (so a Go string becomes a JSON string);
//   - file and CRDT kinds take JSON text (string, []byte or
//     json.RawMessage) or a value to encode;
//   - an encrypted column takes its envelope as JSON text or a value to
//     encode, whatever its kind.
//
// JSON is bound as text: PostgreSQL casts it to JSONB. nil is NULL, and a
// driver.Valuer is trusted to produce a suitable value.
func bindValue(k tabledef.Kind, encrypted bool, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if !encrypted && bindsAsIs(k, v) {
		return v, nil // the caller's interface as it is: no re-boxing
	}
	if _, ok := v.(driver.Valuer); ok {
		return v, nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, nil
		}
		return bindValue(k, encrypted, rv.Elem().Interface())
	}
	if encrypted {
		return jsonText(v, true)
	}
	switch k {
	case tabledef.KindID, tabledef.KindText:
		if s, ok := v.(string); ok {
			if !validUTF8(s) {
				return nil, fmt.Errorf("text is not valid UTF-8")
			}
			return s, nil
		}
	case tabledef.KindInt:
		if n, ok := dialect.AsInt64(v); ok {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("%d overflows a 32-bit int column", n)
			}
			return n, nil
		}
	case tabledef.KindBigInt:
		if n, ok := dialect.AsInt64(v); ok {
			return n, nil
		}
	case tabledef.KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kindFloat: // a result such as AVG, compared from an outer query
		switch v.(type) {
		case float32, float64:
			return v, nil
		}
		if n, ok := dialect.AsInt64(v); ok {
			return n, nil
		}
	case tabledef.KindBlob:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	case tabledef.KindJSON:
		return jsonText(v, false)
	case tabledef.KindFile, tabledef.KindCounter, tabledef.KindPNCounter, tabledef.KindLWWRegister, tabledef.KindORSet:
		return jsonText(v, true)
	}
	return nil, fmt.Errorf("%T %s is not a %s value", v, preview(v), k)
}

// jsonText returns v as JSON text. Text forms ([]byte, json.RawMessage
// and, when stringIsJSON, string) are taken as JSON and checked; anything
// else is encoded.
func jsonText(v any, stringIsJSON bool) (any, error) {
	var raw []byte
	switch t := v.(type) {
	case json.RawMessage:
		raw = t
	case []byte:
		raw = t
	case string:
		if !stringIsJSON {
			p, _ := json.Marshal(t)
			return string(p), nil
		}
		raw = []byte(t)
	default:
		p, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("cannot encode %T as JSON: %v", v, err)
		}
		return string(p), nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("invalid JSON text %s", preview(string(raw)))
	}
	return string(raw), nil
}

// preview shows a value in an error without flooding it.
func preview(v any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(v))
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// bindsAsIs reports whether v, of one of the common Go types, is bound
// unchanged to a column of kind k: the fast path of bindValue, which
// returns the interface it was given instead of boxing the value again.
func bindsAsIs(k tabledef.Kind, v any) bool {
	switch x := v.(type) {
	case string:
		return (k == tabledef.KindText || k == tabledef.KindID) && validUTF8(x)
	case int64:
		return k == tabledef.KindBigInt || (k == tabledef.KindInt && x >= math.MinInt32 && x <= math.MaxInt32)
	case bool:
		return k == tabledef.KindBool
	}
	return false
}

// validUTF8 is utf8.ValidString, faster for the short ASCII strings most
// values are: eight bytes at a time, then byte by byte, it settles those
// without a call, and hands anything else to the general decoder.
func validUTF8(s string) bool {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&0x8080808080808080 != 0 {
			return utf8.ValidString(s[i:])
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// inStatement fills in the statement name of a *QueryError made without
// one, so hot paths build the name only when there is an error.
func inStatement(err error, stmt string) error {
	var qe *QueryError
	if errors.As(err, &qe) && qe.Statement == "" {
		qe.Statement = stmt
	}
	return err
}
