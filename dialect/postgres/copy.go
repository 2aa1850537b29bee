package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/lib/pq"

	"github.com/plasma-go/plasma/dialect"
)

// CopiesWith reports whether COPY ... FROM STDIN works through drv
// (dialect.Copier): lib/pq's driver, under database/sql. pgx's COPY needs
// its own connection API, which a database/sql transaction does not
// expose.
func (pgDialect) CopiesWith(drv driver.Driver) bool {
	_, ok := drv.(*pq.Driver)
	return ok
}

// CopyFrom loads rows into table by COPY ... FROM STDIN in tx, in lib/pq's
// text format: the statement is prepared on the transaction, each row is
// sent by an Exec, and a final Exec without arguments ends the copy
// (dialect.Copier).
func (pgDialect) CopyFrom(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) (int64, error) {
	b := []byte("COPY ")
	b = dialect.AppendIdent(b, table)
	b = append(b, " ("...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = dialect.AppendIdent(b, c)
	}
	b = append(b, ") FROM STDIN"...)
	stmt, err := tx.PrepareContext(ctx, string(b))
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i, r := range rows {
		r = nullBytes(r)
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return 0, fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	res, err := stmt.ExecContext(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

var _ dialect.Copier = pgDialect{}

// nullBytes returns row with each nil []byte replaced by nil: an INSERT
// binds a nil []byte as NULL, and lib/pq's COPY would write it as an
// empty bytea. row itself is left alone.
func nullBytes(row []any) []any {
	copied := false
	for i, v := range row {
		if b, ok := v.([]byte); ok && b == nil {
			if !copied {
				row, copied = append([]any(nil), row...), true
			}
			row[i] = nil
		}
	}
	return row
}
