package orm

import (
	"errors"
	"fmt"
	"strings"
)

// The problems a statement can have before any SQL runs. Each error a
// builder reports is a *QueryError wrapping one of them.
var (
	ErrUnknownColumn    = errors.New("unknown column")
	ErrUnknownTable     = errors.New("table is neither in FROM nor joined")
	ErrAmbiguousColumn  = errors.New("ambiguous column")
	ErrUngrouped        = errors.New("column is neither grouped nor aggregated")
	ErrBadLimit         = errors.New("LIMIT and OFFSET must not be negative")
	ErrValueKind        = errors.New("value of the wrong kind for the column")
	ErrUnsafeWrite      = errors.New("UPDATE or DELETE without WHERE: call AllRows() to mean every row")
	ErrNoTable          = errors.New("statement has no table")
	ErrNoValues         = errors.New("nothing to write")
	ErrDuplicateAlias   = errors.New("table appears twice under one name: give one an alias with As")
	ErrRaggedRows       = errors.New("rows of a multi-row insert name different columns")
	ErrBadIdentifier    = errors.New("invalid identifier")
	ErrNotNullViolation = errors.New("NULL for a NOT NULL column")
	ErrNoDB             = errors.New("statement is not bound to a database: start it from a DB")
)

// QueryError is a statement refused before it reached the database.
type QueryError struct {
	Statement string // the statement, such as "SELECT FROM users" or "UPDATE todos"
	Column    string // the column concerned, qualified where known
	Err       error  // one of the Err* statement problems
	Detail    string // specifics
}

func (e *QueryError) Error() string {
	var b strings.Builder
	b.WriteString("plasma: ")
	b.WriteString(e.Statement)
	b.WriteString(": ")
	if e.Column != "" {
		fmt.Fprintf(&b, "column %s: ", e.Column)
	}
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *QueryError) Unwrap() error { return e.Err }

// ErrNotFound is returned by One when the query matched no row.
var ErrNotFound = errors.New("plasma: no rows")
