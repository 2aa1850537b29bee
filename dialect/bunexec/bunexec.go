// Package bunexec lets a bun application hand its database to plasma, so
// it can adopt plasma table by table.
//
// bun interpolates arguments into the SQL text when a query goes through
// its own query methods. plasma keeps bound parameters by running on the
// *sql.DB, *sql.Tx or *sql.Conn that the bun value wraps.
package bunexec

import (
	"fmt"

	"github.com/uptrace/bun"

	"github.com/plasma-go/plasma/dialect"
)

// From returns the database/sql executor under a *bun.DB, bun.Tx or
// bun.Conn (any bun.IDB). For a *bun.DB the result is a *sql.DB, which
// also implements dialect.Beginner.
func From(db bun.IDB) (dialect.Executor, error) {
	switch v := db.(type) {
	case *bun.DB:
		return v.DB, nil
	case bun.Tx:
		return v.Tx, nil
	case *bun.Tx:
		return v.Tx, nil
	case bun.Conn:
		return v.Conn, nil
	case *bun.Conn:
		return v.Conn, nil
	case nil:
		return nil, fmt.Errorf("plasma: bunexec.From: nil database")
	}
	return nil, fmt.Errorf("plasma: bunexec.From: unsupported bun.IDB %T", db)
}
