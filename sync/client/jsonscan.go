package client

import (
	"encoding/json"
	"unicode/utf8"
)

// The pull answer is parsed once by encoding/json (which validates all of
// it); the row values, kept as json.RawMessage, are then split into their
// members by the small scanner below instead of a second json.Unmarshal
// into a map per row, which was a third of a first sync's client time.
// It relies on its input being valid JSON.

// eachMember calls fn with each member of the JSON object raw, in order;
// it returns false if raw is not an object.
func eachMember(raw []byte, fn func(key string, val []byte) error) (bool, error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false, nil
	}
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] != '}' {
		end := skipValue(raw, i) // the key, a string
		key, ok := jsonString(raw[i:end])
		if !ok {
			return false, nil
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return false, nil
		}
		i = skipSpace(raw, i+1)
		end = skipValue(raw, i)
		if err := fn(key, raw[i:end]); err != nil {
			return true, err
		}
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return true, nil
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the value that starts at i.
func skipValue(raw []byte, i int) int {
	if i >= len(raw) {
		return i
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for i < len(raw) {
			switch raw[i] {
			case '"':
				i = skipString(raw, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(raw) && raw[i] != ',' && raw[i] != '}' && raw[i] != ']' && raw[i] != ' ' &&
		raw[i] != '\t' && raw[i] != '\n' && raw[i] != '\r' {
		i++
	}
	return i
}

func skipString(raw []byte, i int) int {
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// jsonString decodes a JSON string: directly when it has no escapes and
// is valid UTF-8, else through encoding/json (which also replaces
// invalid UTF-8, as a map decode would).
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	clean := utf8.Valid(body)
	for _, c := range body {
		if c == '\\' || c < 0x20 {
			clean = false
			break
		}
	}
	if clean {
		return string(body), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
