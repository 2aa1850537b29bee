package dialect

import (
	"fmt"

	"github.com/plasma-go/plasma/tabledef"
)

// AddColumn renders ALTER TABLE table ADD COLUMN for c, with the column's
// type, NOT NULL, DEFAULT, UNIQUE and, if it has one, its foreign key as
// an inline REFERENCES clause, spelled as CreateTable spells them so that
// a column added later introspects like one created with its table.
//
// Neither engine can add a primary key column this way, and SQLite can
// add neither a UNIQUE column nor a NOT NULL column without a non-NULL
// default: the caller decides when ALTER TABLE can do the job.
func AddColumn(d Dialect, table string, c *tabledef.Column) (string, error) {
	b := make([]byte, 0, 128)
	b = append(b, "ALTER TABLE "...)
	b = AppendIdent(b, table)
	b = append(b, " ADD COLUMN "...)
	b, err := appendColumnDef(d, b, c)
	if err != nil {
		return "", fmt.Errorf("plasma: table %q: %w", table, err)
	}
	return string(b), nil
}

// appendColumnDef appends c's definition as CREATE TABLE spells it (name,
// type, NOT NULL, DEFAULT, UNIQUE), followed by its foreign key as an
// inline REFERENCES clause. An auto-increment column is spelled with the
// dialect's AutoIncrementType.
func appendColumnDef(d Dialect, b []byte, c *tabledef.Column) ([]byte, error) {
	b, _, err := appendColumn(d, b, c)
	if err != nil {
		return nil, err
	}
	if fk := c.References; fk != nil {
		b = AppendReferences(b, fk)
	}
	return b, nil
}

// AppendReferences appends " REFERENCES table (column) ON DELETE action".
func AppendReferences(b []byte, fk *tabledef.ForeignKey) []byte {
	b = append(b, " REFERENCES "...)
	b = AppendIdent(b, fk.Table)
	b = append(b, " ("...)
	b = AppendIdent(b, fk.Column)
	b = append(b, ") ON DELETE "...)
	return append(b, fk.OnDelete.String()...)
}

// BaseType is the bare SQL type of c as CreateTable declares it: the
// dialect's ColumnType, or for an auto-increment column the type word of
// AutoIncrementType without its PRIMARY KEY or identity clause ("INTEGER"
// on SQLite, "BIGINT" on PostgreSQL). Schema-diff tools compare it with
// the type a live database reports.
func BaseType(d Dialect, c *tabledef.Column) string {
	if !c.AutoIncrement {
		return d.ColumnType(c)
	}
	typ, _ := d.AutoIncrementType()
	for i := 0; i < len(typ); i++ {
		if typ[i] == ' ' {
			return typ[:i]
		}
	}
	return typ
}
