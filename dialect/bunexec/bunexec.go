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
	var exec dialect.Executor
	switch v := db.(type) {
	case *bun.DB:
		if v != nil && v.DB != nil {
			exec = v.DB
		}
	case bun.Tx:
		if v.Tx != nil {
			exec = v.Tx
		}
	case *bun.Tx:
		if v != nil && v.Tx != nil {
			exec = v.Tx
		}
	case bun.Conn:
		if v.Conn != nil {
			exec = v.Conn
		}
	case *bun.Conn:
		if v != nil && v.Conn != nil {
			exec = v.Conn
		}
	case nil:
	default:
		return nil, fmt.Errorf("plasma: bunexec.From: unsupported bun.IDB %T", db)
	}
	if exec == nil {
		// A nil *bun.DB, or a bun value with nothing under it, would
		// otherwise panic at the first statement.
		return nil, fmt.Errorf("plasma: bunexec.From: nil database (%T)", db)
	}
	return exec, nil
}
