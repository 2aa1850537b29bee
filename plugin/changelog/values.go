package changelog

import (
	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/internal/rowjson"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// valueImages returns the images of the rows a plain INSERT (no ON
// CONFLICT) wrote, built from its values and the declared defaults of the
// columns it leaves out, saving the SELECT that would read them back.
// It reports false, and the rows are read back, unless every value is
// stored exactly as given, so that the image is byte for byte what the
// read would give: NULL, text, an integer, a boolean or a blob, in a
// column of that kind. JSON text is not (the database may respace it,
// PostgreSQL's JSONB reorders it), nor an encrypted column, an
// auto-increment id, or a driver.Valuer, whose stored form only the
// database knows.
//
// The values are those the change log sees: a middleware installed after
// it must not change what an INSERT writes.
func valueImages(t *orm.Table, p *plan, q *orm.InsertQuery) ([][]byte, bool) {
	parts := q.Parts()
	if parts.OnConflict != nil {
		return nil, false
	}
	def := t.Def()
	if def == nil || len(def.Columns) != len(p.Columns) {
		return nil, false
	}
	// from[i] is where the table's column i gets its value: an index into
	// the statement's columns, or -1 for the declared default.
	from := make([]int, len(p.Columns))
	defaults := make([]any, len(p.Columns))
	k := 0
	for i := range p.Columns {
		if k < len(parts.Columns) && parts.Columns[k] == p.Columns[i].Name {
			from[i] = k
			k++
			continue
		}
		cd := &def.Columns[i]
		if cd.AutoIncrement {
			return nil, false
		}
		from[i] = -1
		if cd.HasDefault {
			defaults[i] = cd.Default
			if n, ok := dialect.AsInt64(cd.Default); ok { // declared as any Go integer
				defaults[i] = n
			}
			if !storedAsGiven(&p.Columns[i], defaults[i]) {
				return nil, false
			}
		}
	}
	if k != len(parts.Columns) { // not in declaration order: read back
		return nil, false
	}
	images := make([][]byte, len(parts.Rows))
	vals := make([]any, len(p.Columns))
	for r, row := range parts.Rows {
		for i, c := range from {
			if c < 0 {
				vals[i] = defaults[i]
				continue
			}
			if !storedAsGiven(&p.Columns[i], row[c]) {
				return nil, false
			}
			vals[i] = row[c]
		}
		img, err := p.image(vals)
		if err != nil {
			return nil, false
		}
		images[r] = img
	}
	return images, true
}

// storedAsGiven reports whether v, bound to column c, reads back as the
// same value, so that its image can be made from v.
func storedAsGiven(c *rowjson.Column, v any) bool {
	if v == nil {
		return true
	}
	if c.Raw {
		return false
	}
	switch v.(type) {
	case string:
		return c.Kind == tabledef.KindText || c.Kind == tabledef.KindID
	case int64:
		return c.Kind == tabledef.KindInt || c.Kind == tabledef.KindBigInt
	case bool:
		return c.Kind == tabledef.KindBool
	case []byte:
		return c.Kind == tabledef.KindBlob
	}
	return false
}
