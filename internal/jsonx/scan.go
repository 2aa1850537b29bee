package jsonx

import "unicode/utf8"

// Scan walks a JSON text already known to be valid (the Args of a
// mutation protocol.DecodePush returned, say) in one pass, without decoding it,
// and returns its nesting depth — 0 for a scalar, 1 for {"a":1} or [1],
// 2 for [[1]] — and whether its strings are well-formed Unicode: valid
// UTF-8, with no escaped lone surrogate ("\ud800" without its low half).
// Go strings cannot hold a lone surrogate (encoding/json turns it into
// U+FFFD) nor carry invalid UTF-8 through encoding/json unchanged, so a
// text that is not well-formed would not round-trip byte for byte.
// Scan does not check the syntax: on text that is not JSON its
// results mean nothing.
func Scan(raw []byte) (depth int, wellFormed bool) {
	wellFormed = utf8.Valid(raw)
	d := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{', '[':
			d++
			depth = max(depth, d)
		case '}', ']':
			d--
		case '"':
			var ok bool
			i, ok = skipString(raw, i+1)
			wellFormed = wellFormed && ok
		}
	}
	return depth, wellFormed
}

// skipString skips the rest of a string whose opening quote is before
// raw[i]; it returns the index of the closing quote and whether every
// \u escape in it that is a surrogate is half of a pair.
func skipString(raw []byte, i int) (int, bool) {
	ok := true
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			return i, ok
		case '\\':
			if i+1 < len(raw) && raw[i+1] == 'u' {
				r := hex4(raw, i+2)
				switch {
				case r >= 0xd800 && r <= 0xdbff: // high half: the low one must follow
					if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
						if lo := hex4(raw, i+8); lo >= 0xdc00 && lo <= 0xdfff {
							i += 6
						} else {
							ok = false
						}
					} else {
						ok = false
					}
				case r >= 0xdc00 && r <= 0xdfff: // a low half on its own
					ok = false
				}
				i += 5
			} else {
				i++
			}
		}
	}
	return i, ok
}

// hex4 decodes the four hex digits at raw[i:], or returns -1.
func hex4(raw []byte, i int) int {
	if i+4 > len(raw) {
		return -1
	}
	r := 0
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | int(c)
	}
	return r
}
