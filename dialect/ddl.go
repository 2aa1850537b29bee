package dialect

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/plasma-go/plasma/tabledef"
)

// CreateTable renders CREATE TABLE for t, followed by one CREATE INDEX per
// declared index. With ifNotExists every statement is guarded, so running
// them on a database that has the table is a no-op.
func CreateTable(d Dialect, t *tabledef.Table, ifNotExists bool) ([]string, error) {
	b := make([]byte, 0, 256)
	b = append(b, "CREATE TABLE "...)
	if ifNotExists {
		b = append(b, "IF NOT EXISTS "...)
	}
	b = AppendIdent(b, t.Name)
	b = append(b, " ("...)
	inlinePK := false
	for i := range t.Columns {
		if i > 0 {
			b = append(b, ", "...)
		}
		var err error
		var inl bool
		if b, inl, err = appendColumn(d, b, &t.Columns[i]); err != nil {
			return nil, fmt.Errorf("plasma: table %q: %w", t.Name, err)
		}
		inlinePK = inlinePK || inl
	}
	if len(t.PrimaryKey) > 0 && !inlinePK {
		b = append(b, ", PRIMARY KEY ("...)
		b = appendIdentList(b, t.PrimaryKey)
		b = append(b, ')')
	}
	for i := range t.Columns {
		if fk := t.Columns[i].References; fk != nil {
			b = append(b, ", FOREIGN KEY ("...)
			b = AppendIdent(b, t.Columns[i].Name)
			b = append(b, ") REFERENCES "...)
			b = AppendIdent(b, fk.Table)
			b = append(b, " ("...)
			b = AppendIdent(b, fk.Column)
			b = append(b, ") ON DELETE "...)
			b = append(b, fk.OnDelete.String()...)
		}
	}
	b = append(b, ')')
	stmts := []string{string(b)}
	for _, ix := range t.Indexes {
		stmts = append(stmts, CreateIndex(t.Name, ix, ifNotExists))
	}
	return stmts, nil
}

// AddForeignKey renders ALTER TABLE ... ADD FOREIGN KEY for the reference
// of column c of table. It is for a dialect whose CREATE TABLE refuses a
// reference to a table that does not exist yet (see ReferenceChecker): a
// reference closing a cycle between tables is added once both exist.
func AddForeignKey(table string, c *tabledef.Column) string {
	fk := c.References
	if fk == nil {
		return ""
	}
	b := make([]byte, 0, 128)
	b = append(b, "ALTER TABLE "...)
	b = AppendIdent(b, table)
	b = append(b, " ADD FOREIGN KEY ("...)
	b = AppendIdent(b, c.Name)
	b = append(b, ") REFERENCES "...)
	b = AppendIdent(b, fk.Table)
	b = append(b, " ("...)
	b = AppendIdent(b, fk.Column)
	b = append(b, ") ON DELETE "...)
	b = append(b, fk.OnDelete.String()...)
	return string(b)
}

// CreateIndex renders CREATE [UNIQUE] INDEX for ix on table.
func CreateIndex(table string, ix tabledef.Index, ifNotExists bool) string {
	b := []byte("CREATE ")
	if ix.Unique {
		b = append(b, "UNIQUE "...)
	}
	b = append(b, "INDEX "...)
	if ifNotExists {
		b = append(b, "IF NOT EXISTS "...)
	}
	b = AppendIdent(b, ix.Name)
	b = append(b, " ON "...)
	b = AppendIdent(b, table)
	b = append(b, " ("...)
	b = appendIdentList(b, ix.Columns)
	b = append(b, ')')
	for i, c := range ix.WhereNull {
		if i == 0 {
			b = append(b, " WHERE "...)
		} else {
			b = append(b, " AND "...)
		}
		b = AppendIdent(b, c)
		b = append(b, " IS NULL"...)
	}
	return string(b)
}

func appendColumn(d Dialect, b []byte, c *tabledef.Column) (_ []byte, inlinePK bool, err error) {
	b = AppendIdent(b, c.Name)
	b = append(b, ' ')
	if c.AutoIncrement {
		typ, inl := d.AutoIncrementType()
		if g, ok := d.(GeneratedKeyer); ok && c.AlwaysGenerated {
			typ, inl = g.GeneratedKeyType()
		}
		return append(b, typ...), inl, nil
	}
	b = append(b, d.ColumnType(c)...)
	if !c.Nullable {
		b = append(b, " NOT NULL"...)
	}
	if c.HasDefault {
		b = append(b, " DEFAULT "...)
		if b, err = AppendDefault(d, b, c); err != nil {
			return nil, false, err
		}
	}
	if c.Unique {
		b = append(b, " UNIQUE"...)
	}
	return b, false, nil
}

// AppendDefault appends c's default as a SQL literal. A default has no
// bound-parameter form in DDL, so this is the one place a value is written
// into SQL text: strings are quoted with embedded quotes doubled, and every
// other value is a number, a boolean keyword or hex.
func AppendDefault(d Dialect, b []byte, c *tabledef.Column) ([]byte, error) {
	v := c.Default
	if v == nil {
		return append(b, "NULL"...), nil
	}
	if c.Encrypted {
		return nil, fmt.Errorf("column %q: an encrypted column cannot have a default", c.Name)
	}
	switch c.Kind {
	case tabledef.KindText, tabledef.KindID:
		if s, ok := v.(string); ok {
			return appendString(b, s), nil
		}
	case tabledef.KindInt, tabledef.KindBigInt:
		if n, ok := AsInt64(v); ok {
			return strconv.AppendInt(b, n, 10), nil
		}
	case tabledef.KindBool:
		if t, ok := v.(bool); ok {
			return d.AppendBool(b, t), nil
		}
	case tabledef.KindBlob:
		if p, ok := v.([]byte); ok {
			return d.AppendBytes(b, p), nil
		}
	default: // JSON-valued kinds: the default is JSON text or a value to encode
		text, err := jsonText(v)
		if err != nil {
			return nil, fmt.Errorf("column %q: default: %w", c.Name, err)
		}
		return appendString(b, text), nil
	}
	return nil, fmt.Errorf("column %q: default %#v is not a %s value", c.Name, v, c.Kind)
}

// jsonText returns v as JSON text: a json.RawMessage is checked and kept,
// anything else is encoded.
func jsonText(v any) (string, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return "", fmt.Errorf("invalid JSON %q", raw)
		}
		return string(raw), nil
	}
	p, err := json.Marshal(v)
	return string(p), err
}

// AsInt64 converts any Go integer type to int64.
func AsInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint:
		if uint64(n) <= 1<<63-1 {
			return int64(n), true
		}
	case uint64:
		if n <= 1<<63-1 {
			return int64(n), true
		}
	}
	return 0, false
}

func appendString(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			b = append(b, '\'')
		}
		b = append(b, s[i])
	}
	return append(b, '\'')
}

// HexBlob appends p as hex digits, for the dialects' blob literals.
func HexBlob(b []byte, p []byte) []byte { return hex.AppendEncode(b, p) }

func appendIdentList(b []byte, names []string) []byte {
	for i, n := range names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = AppendIdent(b, n)
	}
	return b
}
