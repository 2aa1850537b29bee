package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf16"

	"github.com/plasma-go/plasma/internal/jsonx"
)

// MaxSafeOrder is the largest cookie order plasma hands out: JavaScript
// compares cookie orders as float64 numbers, which hold integers exactly
// up to 2^53-1.
const MaxSafeOrder = 1<<53 - 1

// Cookie is plasma's cookie: {"order":<Order>,"cvr":"<CVR>"}. Clients
// compare only Order; the server finds the client view record the cookie
// was issued with by CVR (and the client group the request names).
type Cookie struct {
	// Order is a global counter value, 1 to MaxSafeOrder.
	Order int64
	// CVR is the id of the client view record, 1 to 64 bytes.
	CVR string
}

// maxCVRBytes bounds Cookie.CVR.
const maxCVRBytes = 64

// AppendJSON appends the cookie as JSON to dst.
func (c Cookie) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"order":`...)
	dst = strconv.AppendInt(dst, c.Order, 10)
	dst = append(dst, `,"cvr":`...)
	dst = jsonx.AppendString(dst, c.CVR)
	return append(dst, '}')
}

// MarshalJSON encodes the cookie; see AppendJSON.
func (c Cookie) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil), nil }

// JSON returns the cookie as JSON text.
func (c Cookie) JSON() json.RawMessage { return c.AppendJSON(nil) }

// ParseCookie recognises a plasma cookie: a JSON object with exactly an
// integer "order" from 1 to MaxSafeOrder and a non-empty "cvr" string of
// at most 64 printable ASCII characters. Anything else — null, a number, a string, another
// server's cookie, invalid JSON — returns false; it is never an error.
func ParseCookie(raw json.RawMessage) (Cookie, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '{' || len(raw) > 256 {
		return Cookie{}, false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || len(fields) != 2 {
		return Cookie{}, false
	}
	var c Cookie
	if json.Unmarshal(fields["order"], &c.Order) != nil || c.Order < 1 || c.Order > MaxSafeOrder {
		return Cookie{}, false
	}
	if bytes.Equal(fields["cvr"], []byte("null")) || json.Unmarshal(fields["cvr"], &c.CVR) != nil ||
		c.CVR == "" || len(c.CVR) > maxCVRBytes || !printable(c.CVR) {
		return Cookie{}, false
	}
	return c, true
}

// printable reports whether s is printable ASCII: a CVR id the server
// issued, never text a database could refuse (NUL) or mangle.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// CookieOrder returns the order of any client cookie as an integer no
// smaller than it, when the order is a number: a cookie that is a number,
// or an object whose "order" is a number. A response with an order above
// it is sure to be "greater" for the client. (plasma's server never
// raises its own counter to a client's order: a client could then
// exhaust it. A cookie it did not issue is answered as null.) It returns
// false
// for null, strings (a string order cannot be outranked by a number),
// negative or non-finite numbers, orders above MaxSafeOrder, and
// anything that is not JSON.
func CookieOrder(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	if raw[0] == '{' {
		var obj struct {
			Order json.RawMessage `json:"order"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return 0, false
		}
		raw = bytes.TrimSpace(obj.Order)
		if len(raw) == 0 {
			return 0, false
		}
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > MaxSafeOrder {
		return 0, false
	}
	return int64(math.Ceil(f)), true
}

// ErrBadCookie is returned by CompareCookies for a value that is not a
// cookie: not JSON, or neither null, a number, a string nor an object
// with a number or string "order".
var ErrBadCookie = errors.New("plasma: sync: not a cookie")

// CompareCookies compares two cookies as the Replicache client does:
// null is below everything; a cookie's value is itself if it is a number
// or a string, else its "order"; if either value is a string both are
// compared as strings, by UTF-16 code units, else as numbers. It returns
// -1, 0 or +1. (The client treats deep-equal cookies as "no change";
// cookies with equal orders that differ otherwise compare as 0 here.)
func CompareCookies(a, b json.RawMessage) (int, error) {
	va, err := cookieValue(a)
	if err != nil {
		return 0, err
	}
	vb, err := cookieValue(b)
	if err != nil {
		return 0, err
	}
	switch {
	case va == nil && vb == nil:
		return 0, nil
	case va == nil:
		return -1, nil
	case vb == nil:
		return 1, nil
	}
	sa, aStr := va.(string)
	sb, bStr := vb.(string)
	if aStr || bStr {
		if !aStr {
			sa = jsString(va.(float64))
		}
		if !bStr {
			sb = jsString(vb.(float64))
		}
		return compareUTF16(sa, sb), nil
	}
	fa, fb := va.(float64), vb.(float64)
	switch {
	case fa < fb:
		return -1, nil
	case fa > fb:
		return 1, nil
	}
	return 0, nil
}

// cookieValue returns nil, a float64 or a string.
func cookieValue(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, ErrBadCookie
	}
	switch t := v.(type) {
	case float64, string:
		return t, nil
	case map[string]any:
		switch o := t["order"].(type) {
		case float64, string:
			return o, nil
		}
	}
	return nil, ErrBadCookie
}

// jsString formats a number as JavaScript's String() does for the
// integers and ordinary fractions cookies hold.
func jsString(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func compareUTF16(a, b string) int {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			if ua[i] < ub[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(ua) < len(ub):
		return -1
	case len(ua) > len(ub):
		return 1
	}
	return 0
}
