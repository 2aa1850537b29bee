package crdt

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small strict JSON lexer over a byte slice. The states are
// read with it rather than with encoding/json's token API because that API
// allocates per token and was ~20x slower on a 1,000-element OR-set, and
// because the decoders need what encoding/json does not give: duplicate
// keys and number literals kept as written.
//
// Strings follow encoding/json: invalid UTF-8 bytes and lone surrogate
// escapes become U+FFFD, so every decoded string is valid UTF-8.
type scanner struct {
	data []byte
	pos  int
}

// skipSpace skips JSON whitespace.
func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// atEnd reports whether only whitespace is left.
func (s *scanner) atEnd() bool { return s.peek() == 0 && s.pos >= len(s.data) }

// errAt describes a syntax error at the current position.
func (s *scanner) errAt(what string) *valueError {
	return &valueError{ErrMalformed, "invalid JSON at offset " + strconv.Itoa(s.pos) + ": " + what}
}

// unexpected describes the byte at the current position.
func (s *scanner) unexpected() *valueError {
	if s.pos >= len(s.data) {
		return &valueError{ErrMalformed, "unexpected end of JSON input"}
	}
	return s.errAt("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])))
}

// consume skips whitespace and requires c.
func (s *scanner) consume(c byte) *valueError {
	if s.peek() != c {
		return s.unexpected()
	}
	s.pos++
	return nil
}

// literal consumes word (true, false or null) if it comes next.
func (s *scanner) literal(word string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return false
	}
	s.pos += len(word)
	return true
}

// number reads a number literal and returns it as written.
func (s *scanner) number() (string, *valueError) {
	start := s.pos
	if s.pos < len(s.data) && s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.digits() == 0:
		return "", s.unexpected()
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return "", s.unexpected()
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return "", s.unexpected()
		}
	}
	return string(s.data[start:s.pos]), nil
}

// digits skips ASCII digits and returns how many.
func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

// str reads a string; the scanner must be at its opening quote.
func (s *scanner) str() (string, *valueError) {
	s.pos++ // '"'
	start := s.pos
	// Fast path: plain ASCII without escapes is copied as is.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			out := string(s.data[start:s.pos])
			s.pos++
			return out, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		s.pos++
	}
	return s.strSlow(append([]byte(nil), s.data[start:s.pos]...))
}

// strSlow finishes a string with escapes, control characters or non-ASCII
// bytes; buf holds what was read so far.
func (s *scanner) strSlow(buf []byte) (string, *valueError) {
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return string(buf), nil
		case c == '\\':
			var verr *valueError
			if buf, verr = s.escape(buf); verr != nil {
				return "", verr
			}
		case c < 0x20:
			return "", s.errAt("control character in string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			buf = utf8.AppendRune(buf, r) // RuneError for a bad byte
			s.pos += size
		}
	}
	return "", &valueError{ErrMalformed, "unexpected end of JSON input in string"}
}

// escape decodes one backslash escape, appending it to buf.
func (s *scanner) escape(buf []byte) ([]byte, *valueError) {
	s.pos++ // '\\'
	if s.pos >= len(s.data) {
		return nil, s.unexpected()
	}
	c := s.data[s.pos]
	s.pos++
	switch c {
	case '"', '\\', '/':
		return append(buf, c), nil
	case 'b':
		return append(buf, '\b'), nil
	case 'f':
		return append(buf, '\f'), nil
	case 'n':
		return append(buf, '\n'), nil
	case 'r':
		return append(buf, '\r'), nil
	case 't':
		return append(buf, '\t'), nil
	case 'u':
		r, ok := s.hex4()
		if !ok {
			return nil, s.errAt(`bad \u escape`)
		}
		if utf16.IsSurrogate(r) {
			r = s.lowSurrogate(r)
		}
		return utf8.AppendRune(buf, r), nil
	}
	s.pos--
	return nil, s.errAt("bad escape")
}

// lowSurrogate completes a surrogate pair if a \uDC00-\uDFFF escape follows
// the high surrogate hi, else returns U+FFFD and leaves the input alone.
func (s *scanner) lowSurrogate(hi rune) rune {
	save := s.pos
	if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
		s.pos += 2
		if lo, ok := s.hex4(); ok {
			if r := utf16.DecodeRune(hi, lo); r != utf8.RuneError {
				return r
			}
		}
	}
	s.pos = save
	return utf8.RuneError
}

// hex4 reads four hex digits.
func (s *scanner) hex4() (rune, bool) {
	if len(s.data)-s.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.pos += 4
	return r, true
}
