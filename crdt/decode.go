package crdt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parser reads one encoded state strictly: one JSON object, no unknown or
// duplicate keys, nothing after it, every cap in lim enforced while reading
// so that an oversized input is refused before it is fully allocated.
type parser struct {
	sc  scanner
	lim Limits
	op  string
}

// newParser checks the total size and reports whether data is an empty
// input (no bytes, only whitespace, or JSON null), which every decoder
// reads as the empty state: that is what a NULL column holds.
func newParser(op string, data []byte, lim Limits) (p *parser, empty bool, err error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxStateBytes {
		return nil, false, newError(ErrTooLarge, op, "", "state of %d bytes exceeds MaxStateBytes %d", len(data), lim.MaxStateBytes)
	}
	p = &parser{sc: scanner{data: data}, lim: lim, op: op}
	if p.sc.atEnd() || (p.sc.literal("null") && p.sc.atEnd()) {
		return nil, true, nil
	}
	p.sc.pos = 0
	return p, false, nil
}

// fail builds an error at path.
func (p *parser) fail(sentinel error, path, format string, args ...any) error {
	return newError(sentinel, p.op, path, format, args...)
}

// wrap turns a valueError found at path into an *Error.
func (p *parser) wrap(verr *valueError, path string) error {
	return &Error{Op: p.op, Path: path, Msg: verr.msg, Err: verr.err}
}

// open requires the next byte to be want ('{' or '[') and consumes it.
func (p *parser) open(path string, want byte, what string) error {
	if c := p.sc.peek(); c != want {
		return p.fail(ErrMalformed, path, "want %s, got %s", what, describe(&p.sc))
	}
	p.sc.pos++
	return nil
}

// object reads an object and calls member for each key, positioned before
// the member's value; member must consume that value. Duplicate keys are
// refused: encoding/json would silently keep the last one.
func (p *parser) object(path string, member func(key string) error) error {
	if err := p.open(path, '{', "an object"); err != nil {
		return err
	}
	var seen keySet
	for first := true; ; first = false {
		if first && p.sc.peek() == '}' {
			break
		}
		if p.sc.peek() != '"' {
			return p.wrap(p.sc.unexpected(), path)
		}
		key, verr := p.sc.str()
		if verr == nil {
			verr = p.sc.consume(':')
		}
		if verr != nil {
			return p.wrap(verr, path)
		}
		if !seen.add(key) {
			return p.fail(ErrMalformed, pointer(path, key), "duplicate key")
		}
		if err := member(key); err != nil {
			return err
		}
		if p.sc.peek() != ',' {
			break
		}
		p.sc.pos++
	}
	if verr := p.sc.consume('}'); verr != nil {
		return p.wrap(verr, path)
	}
	return nil
}

// array reads an array and calls item for each element, positioned before
// it; item must consume it.
func (p *parser) array(path string, item func(i int) error) error {
	if err := p.open(path, '[', "an array"); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if i == 0 && p.sc.peek() == ']' {
			break
		}
		if err := item(i); err != nil {
			return err
		}
		if p.sc.peek() != ',' {
			break
		}
		p.sc.pos++
	}
	if verr := p.sc.consume(']'); verr != nil {
		return p.wrap(verr, path)
	}
	return nil
}

// end requires that nothing but whitespace follows the state.
func (p *parser) end() error {
	if !p.sc.atEnd() {
		return p.fail(ErrMalformed, "", "trailing data after the state")
	}
	return nil
}

// unknown is the error for a key a state kind does not have.
func (p *parser) unknown(path, key string) error {
	return p.fail(ErrMalformed, pointer(path, key), "unknown key")
}

// value reads one JSON value and returns its canonical form.
func (p *parser) value(path string) ([]byte, error) {
	out, verr := appendCanonical(nil, &p.sc, p.lim.MaxDepth)
	if verr != nil {
		return nil, p.wrap(verr, path)
	}
	if len(out) > p.lim.MaxValueBytes {
		return nil, p.fail(ErrTooLarge, path, "value of %d bytes exceeds MaxValueBytes %d", len(out), p.lim.MaxValueBytes)
	}
	return out, nil
}

// str reads a JSON string; what names it in the error for another type.
func (p *parser) str(path, what string) (string, error) {
	if p.sc.peek() != '"' {
		return "", p.fail(ErrMalformed, path, "%s must be a string, got %s", what, describe(&p.sc))
	}
	s, verr := p.sc.str()
	if verr != nil {
		return "", p.wrap(verr, path)
	}
	return s, nil
}

// keySet detects duplicate keys. Most objects in a state have one to three
// keys, so it scans a small inline array and only switches to a map for
// large objects.
type keySet struct {
	few  [8]string
	n    int
	many map[string]struct{}
}

// add records key and reports false if it was already there.
func (k *keySet) add(key string) bool {
	if k.many == nil {
		if slices.Contains(k.few[:k.n], key) {
			return false
		}
		if k.n < len(k.few) {
			k.few[k.n] = key
			k.n++
			return true
		}
		k.many = make(map[string]struct{}, 2*len(k.few))
		for _, s := range k.few {
			k.many[s] = struct{}{}
		}
	}
	if _, dup := k.many[key]; dup {
		return false
	}
	k.many[key] = struct{}{}
	return true
}

// checkID validates a client ID read from a state.
func (p *parser) checkID(id string) *valueError {
	switch {
	case id == "":
		return &valueError{ErrMalformed, "empty client ID"}
	case len(id) > p.lim.MaxClientIDBytes:
		return &valueError{ErrTooLarge, fmt.Sprintf("client ID of %d bytes exceeds MaxClientIDBytes %d", len(id), p.lim.MaxClientIDBytes)}
	case !utf8.ValidString(id):
		// Unreachable (the scanner replaces bad UTF-8), kept so the rule
		// does not depend on that detail.
		return &valueError{ErrMalformed, "client ID is not valid UTF-8"}
	}
	return nil
}

// clientCounts reads a {clientID: "n"} object, checks every entry (a valid
// client ID, a canonical decimal string, at least min) and passes it to
// add. Paths are only built for errors: this runs once per dot.
func (p *parser) clientCounts(path string, min int64, add func(id string, n int64)) error {
	entries := 0
	return p.object(path, func(id string) error {
		if entries++; entries > p.lim.MaxClients {
			return p.fail(ErrTooLarge, path, "more than MaxClients (%d) entries", p.lim.MaxClients)
		}
		n, verr := p.entry(id, min)
		if verr != nil {
			return p.wrap(verr, pointer(path, id))
		}
		add(id, n)
		return nil
	})
}

// entry checks one client ID and reads its count.
func (p *parser) entry(id string, min int64) (int64, *valueError) {
	if verr := p.checkID(id); verr != nil {
		return 0, verr
	}
	if p.sc.peek() != '"' {
		return 0, &valueError{ErrMalformed, "count must be a decimal string, got " + describe(&p.sc)}
	}
	str, verr := p.sc.str()
	if verr != nil {
		return 0, verr
	}
	n, verr := parseCount(str)
	if verr != nil {
		return 0, verr
	}
	if n < min {
		return 0, &valueError{ErrMalformed, fmt.Sprintf("count %d below %d", n, min)}
	}
	return n, nil
}

// counts reads a {clientID: "n"} map. Zero entries are dropped, because a
// missing client and a client at zero are the same state and must encode
// alike.
func (p *parser) counts(path string) (map[string]int64, error) {
	m := make(map[string]int64)
	err := p.clientCounts(path, 0, func(id string, n int64) {
		if n != 0 {
			m[id] = n
		}
	})
	return m, err
}

// dots reads an element's {clientID: "n"} dots (n >= 1), sorted by client.
func (p *parser) dots(path string) ([]dot, error) {
	var dots []dot
	err := p.clientCounts(path, 1, func(id string, n int64) {
		dots = append(dots, dot{id, n})
	})
	slices.SortFunc(dots, func(a, b dot) int { return strings.Compare(a.client, b.client) })
	return dots, err
}

// parseCount parses a canonical non-negative decimal: "0" or a digit string
// without leading zeros, sign, spaces, fraction or exponent.
func parseCount(s string) (int64, *valueError) {
	digits := strings.TrimPrefix(s, "-")
	if !isDecimal(digits) {
		return 0, &valueError{ErrMalformed, "count " + strconv.Quote(s) + " is not a canonical decimal string"}
	}
	if digits != s {
		return 0, &valueError{ErrMalformed, "negative count " + strconv.Quote(s)}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &valueError{ErrOverflow, "count " + strconv.Quote(s) + " does not fit in int64"}
	}
	return n, nil
}

// isDecimal reports whether s is "0" or [1-9][0-9]*.
func isDecimal(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// describe names the JSON value at the scanner's position, for errors.
func describe(sc *scanner) string {
	switch c := sc.peek(); {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	case sc.pos >= len(sc.data):
		return "the end of input"
	}
	return "invalid character " + strconv.QuoteRune(rune(sc.data[sc.pos]))
}

// pointer appends key to a JSON Pointer (RFC 6901).
func pointer(path, key string) string {
	key = strings.ReplaceAll(key, "~", "~0")
	key = strings.ReplaceAll(key, "/", "~1")
	return path + "/" + key
}

// index appends an array index to a JSON Pointer.
func index(path string, i int) string { return path + "/" + strconv.Itoa(i) }
