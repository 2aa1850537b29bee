package migrate

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// Type classes: the normalised form of a SQL type. Two columns whose types
// have the same class store the same values the same way, whatever the
// spelling ("INT" and "INTEGER", "text" and "character varying(20)").
const (
	classText    = "text"
	classInteger = "integer"
	classBigInt  = "bigint"
	classBool    = "boolean"
	classBlob    = "blob"
	classJSONB   = "jsonb"
)

// typeClass normalises a SQL type as dialect dialectName reports or
// declares it. A type it does not know is returned lower-cased, so it only
// ever equals itself.
func typeClass(dialectName, typ string) string {
	t := strings.ToLower(strings.Join(strings.Fields(typ), " "))
	base := t
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = strings.TrimSpace(base[:i])
	}
	switch base {
	case "text", "varchar", "character varying", "clob", "nvarchar", "varying character",
		"native character", "nchar", "national varying character":
		return classText
	case "integer", "int", "int4":
		return classInteger
	case "bigint", "int8":
		return classBigInt
	case "boolean", "bool":
		return classBool
	case "blob", "bytea":
		return classBlob
	case "jsonb", "json":
		if dialectName == "postgres" {
			return classJSONB
		}
	}
	return t
}

// kindOfClass is the kind a column of the class is taken for when nothing
// recorded says otherwise.
func kindOfClass(class string) tabledef.Kind {
	switch class {
	case classText:
		return tabledef.KindText
	case classInteger:
		return tabledef.KindInt
	case classBigInt:
		return tabledef.KindBigInt
	case classBool:
		return tabledef.KindBool
	case classBlob:
		return tabledef.KindBlob
	case classJSONB:
		return tabledef.KindJSON
	}
	return 0
}

// declaredClass is the class of the type CreateTable gives c.
func declaredClass(d dialect.Dialect, c *tabledef.Column) string {
	return typeClass(d.Name(), dialect.BaseType(d, c))
}

// literal is a default expression, parsed.
type literal struct {
	kind litKind
	text string // string value, number text, or expression text
	blob []byte
	b    bool
}

type litKind uint8

const (
	litNull litKind = iota // no default, or DEFAULT NULL
	litString
	litNumber
	litBool
	litBlob
	litExpr // anything else: a function call, an operator, ...
)

// parseDefault parses a default expression as SQLite's table_info or
// PostgreSQL's pg_get_expr reports it, or as AppendDefault renders it:
// outer parentheses and trailing "::type" casts are dropped, and quoted
// strings ('..', E'..'), blobs (X'..'), numbers, TRUE, FALSE and NULL are
// recognised. Anything else is an expression, kept as text.
func parseDefault(expr string) literal {
	s := stripParens(strings.TrimSpace(expr))
	if s == "" {
		return literal{kind: litNull}
	}
	// A quoted literal, possibly cast.
	if q, prefix := quoteStart(s); q >= 0 {
		val, rest, ok := readQuoted(s[q:], prefix == 'e')
		if ok && onlyCasts(rest) {
			if prefix == 'x' {
				if p, err := hex.DecodeString(val); err == nil {
					return literal{kind: litBlob, blob: p}
				}
			}
			return literal{kind: litString, text: val}
		}
	}
	head := s
	if i := topLevelCast(s); i >= 0 && onlyCasts(s[i:]) {
		head = stripParens(strings.TrimSpace(s[:i]))
	}
	switch strings.ToLower(head) {
	case "null":
		return literal{kind: litNull}
	case "true":
		return literal{kind: litBool, b: true}
	case "false":
		return literal{kind: litBool, b: false}
	}
	if isNumber(head) {
		return literal{kind: litNumber, text: head}
	}
	if head != s {
		// A cast of something that is itself a literal, such as ('x')::text.
		if inner := parseDefault(head); inner.kind != litExpr {
			return inner
		}
	}
	return literal{kind: litExpr, text: strings.Join(strings.Fields(s), " ")}
}

// stripParens removes parentheses that enclose the whole of s.
func stripParens(s string) string {
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' && closingParen(s) == len(s)-1 {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// closingParen returns the index of the parenthesis closing s[0], skipping
// quoted text, or -1.
func closingParen(s string) int {
	return scanSQL(s, func(i, depth int) bool { return s[i] == ')' && depth == 0 })
}

// scanSQL returns the first index i of s outside quoted text for which
// at(i, depth) holds, depth being the parentheses open there (counting the
// one at i, and not one that closes at i), or -1, also for an unclosed
// quote.
func scanSQL(s string, at func(i, depth int) bool) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'', '"':
			end := skipQuoted(s, i)
			if end < 0 {
				return -1
			}
			i = end
			continue
		case '(':
			depth++
		case ')':
			depth--
		}
		if at(i, depth) {
			return i
		}
	}
	return -1
}

// skipQuoted returns the index of the quote closing the one at s[i]
// (doubled quotes are part of the text), or -1.
func skipQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return -1
}

// quoteStart reports where a quoted literal starts in s: 0 for '..', 1 for
// E'..' or X'..' (prefix 'e' or 'x'), or -1.
func quoteStart(s string) (int, byte) {
	if s[0] == '\'' {
		return 0, 0
	}
	if len(s) > 1 && s[1] == '\'' {
		switch s[0] {
		case 'e', 'E':
			return 1, 'e'
		case 'x', 'X':
			return 1, 'x'
		}
	}
	return -1, 0
}

// readQuoted reads the quoted string at the start of s, returning its
// value and what follows it. With backslashes set, C-style escapes are
// decoded too (PostgreSQL's E'..' strings).
func readQuoted(s string, backslashes bool) (val, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			return b.String(), strings.TrimSpace(s[i+1:]), true
		case c == '\\' && backslashes && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// onlyCasts reports whether s is empty or a chain of "::type" casts.
func onlyCasts(s string) bool {
	for s != "" {
		if !strings.HasPrefix(s, "::") {
			return false
		}
		s = s[2:]
		end := strings.Index(s, "::")
		if end < 0 {
			end = len(s)
		}
		typ := strings.TrimSpace(s[:end])
		if typ == "" || strings.ContainsAny(typ, "'();") && !typeWithParams(typ) {
			return false
		}
		s = strings.TrimSpace(s[end:])
	}
	return true
}

// typeWithParams accepts type names like "character varying(20)" or
// "numeric(10,2)" in a cast.
func typeWithParams(t string) bool {
	i := strings.IndexByte(t, '(')
	return i > 0 && strings.HasSuffix(t, ")") && !strings.ContainsAny(t, "';") &&
		strings.Count(t, "(") == 1 && strings.Count(t, ")") == 1
}

// topLevelCast returns the index of the first "::" outside quotes and
// parentheses, or -1.
func topLevelCast(s string) int {
	return scanSQL(s, func(i, depth int) bool {
		return depth == 0 && s[i] == ':' && i+1 < len(s) && s[i+1] == ':'
	})
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' || s[0] == '+' {
		s = strings.TrimSpace(s[1:])
	}
	digits, dot, exp := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && !exp:
			dot = true
		case (c == 'e' || c == 'E') && digits > 0 && !exp:
			exp = true
			if i+1 < len(s) && (s[i+1] == '-' || s[i+1] == '+') {
				i++
			}
			digits = 0
		default:
			return false
		}
	}
	return digits > 0
}

// canonicalDefault is the comparable form of a parsed default for a column
// of the given type class: two defaults are the same exactly when their
// canonical forms are equal.
func canonicalDefault(l literal, class string) string {
	if l.kind == litNull {
		return "null"
	}
	if l.kind == litExpr {
		return "expr:" + strings.ToLower(l.text)
	}
	switch class {
	case classBool:
		switch l.kind {
		case litBool:
			return "bool:" + strconv.FormatBool(l.b)
		case litNumber, litString:
			switch strings.ToLower(strings.TrimSpace(l.text)) {
			case "1", "t", "true", "y", "yes", "on":
				return "bool:true"
			case "0", "f", "false", "n", "no", "off":
				return "bool:false"
			}
		}
	case classInteger, classBigInt:
		switch l.kind {
		case litNumber, litString:
			if n, err := strconv.ParseInt(strings.TrimSpace(l.text), 10, 64); err == nil {
				return "int:" + strconv.FormatInt(n, 10)
			}
		case litBool:
			if l.b {
				return "int:1"
			}
			return "int:0"
		}
	case classBlob:
		switch l.kind {
		case litBlob:
			return "blob:" + hex.EncodeToString(l.blob)
		case litString:
			if strings.HasPrefix(l.text, `\x`) {
				if p, err := hex.DecodeString(l.text[2:]); err == nil {
					return "blob:" + hex.EncodeToString(p)
				}
			}
			return "blob:" + hex.EncodeToString([]byte(l.text))
		}
	case classJSONB:
		if l.kind == litString {
			if c, ok := canonicalJSON(l.text); ok {
				return "json:" + c
			}
		}
	}
	switch l.kind {
	case litString:
		return "str:" + l.text
	case litNumber:
		return "num:" + l.text
	case litBool:
		return "bool:" + strconv.FormatBool(l.b)
	case litBlob:
		return "blob:" + hex.EncodeToString(l.blob)
	}
	return "?"
}

// canonicalJSON re-encodes JSON text with sorted keys, no spaces and
// numbers in lowest terms, as PostgreSQL's jsonb would compare it.
func canonicalJSON(text string) (string, bool) {
	if !json.Valid([]byte(text)) {
		return "", false
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	var b bytes.Buffer
	writeCanonicalJSON(&b, v)
	return b.String(), true
}

func writeCanonicalJSON(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			writeCanonicalJSON(b, v[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonicalJSON(b, e)
		}
		b.WriteByte(']')
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok {
			b.WriteString(r.RatString())
		} else {
			b.WriteString(string(v))
		}
	default:
		p, _ := json.Marshal(v)
		b.Write(p)
	}
}

// declaredDefault is the canonical default of a declared column.
func declaredDefault(d dialect.Dialect, c *tabledef.Column) string {
	class := declaredClass(d, c)
	if !c.HasDefault || c.Default == nil {
		return "null"
	}
	text, err := dialect.AppendDefault(d, nil, c)
	if err != nil {
		return "invalid:" + err.Error()
	}
	return canonicalDefault(parseDefault(string(text)), class)
}

// liveDefault is the canonical default of a live column.
func liveDefault(dialectName string, c *ColumnInfo) string {
	if !c.HasDefault {
		return "null"
	}
	return canonicalDefault(parseDefault(c.Default), typeClass(dialectName, c.Type))
}

// sqliteKeywords returns the upper-cased bare words of a SQLite CREATE
// statement, skipping quoted identifiers and strings, so that a name
// containing "AUTOINCREMENT" or "CHECK" is not taken for the keyword.
func sqliteKeywords(sql string) map[string]bool {
	words := make(map[string]bool)
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			if end := skipQuoted(sql, i); end >= 0 {
				i = end
			} else {
				return words
			}
		case c == '[':
			if end := strings.IndexByte(sql[i:], ']'); end >= 0 {
				i += end
			} else {
				return words
			}
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			if end := strings.IndexByte(sql[i:], '\n'); end >= 0 {
				i += end
			} else {
				return words
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			if end := strings.Index(sql[i+2:], "*/"); end >= 0 {
				i += end + 3
			} else {
				return words
			}
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			words[strings.ToUpper(sql[i:j])] = true
			i = j - 1
		}
	}
	return words
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
