package crdt

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Canonical JSON values.
//
// LWW values and OR-set elements are arbitrary JSON, but equality and order
// must not depend on how a client happened to format them, so every value
// is rewritten into one canonical form before it is stored or compared:
//
//   - no insignificant whitespace;
//   - object keys sorted by their UTF-8 bytes; duplicate keys are rejected;
//   - strings escaped minimally (only '"', '\\' and control characters);
//     invalid UTF-8 and lone surrogates become U+FFFD, as in encoding/json;
//   - integers (no fraction, no exponent) kept digit for digit, so values
//     beyond 2^53 survive; "-0" becomes "0";
//   - other numbers parsed as IEEE-754 doubles and printed the way
//     JavaScript's JSON.stringify prints them (1.0 -> 1, 1e3 -> 1000);
//   - numbers beyond the range of a double are refused.

// valueError is a problem found inside one JSON value; the caller adds the
// operation and path when it turns it into an *Error.
type valueError struct {
	err error // the sentinel
	msg string
}

// CanonicalJSON returns the canonical form of one JSON value (see the
// package documentation), or an error wrapping ErrMalformed or ErrTooLarge.
// Two values are the same LWW value or set element exactly when their
// canonical forms are equal.
func CanonicalJSON(value []byte, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	out, verr := canonicalValue(value, lim)
	if verr != nil {
		return nil, &Error{Op: "canonicalise JSON value", Msg: verr.msg, Err: verr.err}
	}
	return out, nil
}

// canonicalValue canonicalises a standalone value and checks its size.
func canonicalValue(value []byte, lim Limits) ([]byte, *valueError) {
	if len(value) > lim.MaxStateBytes {
		return nil, &valueError{ErrTooLarge, "value of " + strconv.Itoa(len(value)) + " bytes"}
	}
	sc := &scanner{data: value}
	out, verr := appendCanonical(nil, sc, lim.MaxDepth)
	if verr != nil {
		return nil, verr
	}
	if !sc.atEnd() {
		return nil, sc.errAt("trailing data after JSON value")
	}
	if len(out) > lim.MaxValueBytes {
		return nil, &valueError{ErrTooLarge, "value of " + strconv.Itoa(len(out)) + " bytes exceeds MaxValueBytes"}
	}
	return out, nil
}

// appendCanonical reads one value and appends its canonical form. depth is
// how many more levels of nesting are allowed.
func appendCanonical(dst []byte, sc *scanner, depth int) ([]byte, *valueError) {
	switch c := sc.peek(); {
	case c == '{' || c == '[':
		if depth <= 0 {
			return nil, &valueError{ErrTooLarge, "JSON value nested deeper than MaxDepth"}
		}
		sc.pos++
		if c == '{' {
			return appendObject(dst, sc, depth-1)
		}
		return appendArray(dst, sc, depth-1)
	case c == '"':
		str, verr := sc.str()
		if verr != nil {
			return nil, verr
		}
		return appendQuoted(dst, str), nil
	case c == '-' || (c >= '0' && c <= '9'):
		lit, verr := sc.number()
		if verr != nil {
			return nil, verr
		}
		return appendNumber(dst, lit)
	}
	for _, word := range [...]string{"true", "false", "null"} {
		if sc.literal(word) {
			return append(dst, word...), nil
		}
	}
	return nil, sc.unexpected()
}

// appendObject canonicalises the members of an object whose '{' was read.
// Members are written straight into dst in input order; only if their keys
// are out of order (or repeated) is the object rewritten sorted, so input
// that is already canonical costs no extra copies.
func appendObject(dst []byte, sc *scanner, depth int) ([]byte, *valueError) {
	type member struct {
		key        string
		start, end int // `"key":value` in dst
	}
	var members []member
	base := len(dst)
	dst = append(dst, '{')
	inOrder := true
	for first := true; ; first = false {
		if first && sc.peek() == '}' {
			break
		}
		if !first {
			dst = append(dst, ',')
		}
		if sc.peek() != '"' {
			return nil, sc.unexpected()
		}
		key, verr := sc.str()
		if verr == nil {
			verr = sc.consume(':')
		}
		start := len(dst)
		dst = append(appendQuoted(dst, key), ':')
		if verr == nil {
			dst, verr = appendCanonical(dst, sc, depth)
		}
		if verr != nil {
			return nil, verr
		}
		if n := len(members); n > 0 && key <= members[n-1].key {
			inOrder = false
		}
		members = append(members, member{key, start, len(dst)})
		if sc.peek() != ',' {
			break
		}
		sc.pos++
	}
	if verr := sc.consume('}'); verr != nil {
		return nil, verr
	}
	if inOrder {
		return append(dst, '}'), nil
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	written := slices.Clone(dst[base:])
	dst = append(dst[:base], '{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				return nil, &valueError{ErrMalformed, "duplicate object key " + strconv.Quote(m.key)}
			}
			dst = append(dst, ',')
		}
		dst = append(dst, written[m.start-base:m.end-base]...)
	}
	return append(dst, '}'), nil
}

// appendArray canonicalises the items of an array whose '[' was read.
func appendArray(dst []byte, sc *scanner, depth int) ([]byte, *valueError) {
	dst = append(dst, '[')
	for first := true; ; first = false {
		if first && sc.peek() == ']' {
			break
		}
		if !first {
			dst = append(dst, ',')
		}
		var verr *valueError
		if dst, verr = appendCanonical(dst, sc, depth); verr != nil {
			return nil, verr
		}
		if sc.peek() != ',' {
			break
		}
		sc.pos++
	}
	if verr := sc.consume(']'); verr != nil {
		return nil, verr
	}
	return append(dst, ']'), nil
}

// appendNumber appends the canonical form of a JSON number literal that the
// decoder has already checked for syntax.
func appendNumber(dst []byte, lit string) ([]byte, *valueError) {
	f, inRange := 0.0, true
	isInt := !strings.ContainsAny(lit, ".eE")
	// Integers are kept as written, but one beyond the largest double
	// (309 digits) would be Infinity to every other JSON reader.
	if !isInt || len(lit) >= 309 {
		var err error
		f, err = strconv.ParseFloat(lit, 64)
		inRange = err == nil && !math.IsInf(f, 0)
	}
	if !inRange {
		return nil, &valueError{ErrMalformed, "number out of the range of a double"}
	}
	if isInt {
		if lit == "-0" {
			lit = "0"
		}
		return append(dst, lit...), nil
	}
	if f == 0 {
		return append(dst, '0'), nil // also turns -0 into 0
	}
	// The same rule as encoding/json and ECMAScript Number.prototype.toString.
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Go prints e-07 where JavaScript prints e-7.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// appendQuoted appends s as a JSON string with minimal escaping. s must be
// valid UTF-8 (decoded strings are; client IDs are checked before use).
func appendQuoted(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
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
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// checkClientID validates a client ID given to an operation. Operations
// have no Limits, so they apply the default length cap; decoders apply the
// caller's.
func checkClientID(op, clientID string) error {
	if clientID == "" {
		return newError(ErrInvalidArgument, op, "", "empty client ID")
	}
	if len(clientID) > DefaultMaxClientIDBytes {
		return newError(ErrInvalidArgument, op, "", "client ID of %d bytes exceeds %d", len(clientID), DefaultMaxClientIDBytes)
	}
	if !utf8.ValidString(clientID) {
		return newError(ErrInvalidArgument, op, "", "client ID is not valid UTF-8")
	}
	return nil
}

// canonicalArg canonicalises a value given to an operation (Set, Add).
func canonicalArg(op string, value []byte) ([]byte, error) {
	out, verr := canonicalValue(value, DefaultLimits())
	if verr != nil {
		return nil, &Error{Op: op, Path: "", Msg: verr.msg, Err: verr.err}
	}
	return out, nil
}

// sortedKeys returns the keys of m in byte order, for canonical output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// appendCounts appends a {clientID: "n"} map with sorted keys, skipping
// zero entries.
func appendCounts(dst []byte, m map[string]int64) []byte {
	dst = append(dst, '{')
	first := true
	for _, id := range sortedKeys(m) {
		if m[id] == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendQuoted(dst, id)
		dst = append(dst, ':', '"')
		dst = strconv.AppendInt(dst, m[id], 10)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
