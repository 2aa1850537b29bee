package encrypt

import (
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/orm"
)

// Errors wrapped by [Error] (besides the envelope package's own sentinels),
// to be matched with errors.Is.
var (
	// ErrNotEnvelope reports a value written to an encrypted column that
	// is not an envelope at all, such as plaintext. The envelope package's
	// reason (envelope.ErrMalformed, envelope.ErrTruncated) is wrapped too.
	ErrNotEnvelope = errors.New("encrypt: value is not an envelope")

	// ErrNoRowID reports an envelope written to a row whose id is not
	// known: an INSERT that leaves out the "id" column, or a table that
	// has none.
	ErrNoRowID = errors.New("encrypt: the row id of an encrypted cell is not known")

	// ErrUnverifiable reports a write the middleware cannot check before
	// it runs: an SQL expression assigned to an encrypted column or to the
	// id of a table with encrypted columns, or an upsert whose conflict
	// target is not among the inserted columns.
	ErrUnverifiable = errors.New("encrypt: the value cannot be checked before it is written")

	// ErrNull is returned by OpenCell and OpenCellPQ for a NULL value.
	ErrNull = errors.New("encrypt: the cell is NULL")
)

// Error is a write refused by the [Middleware]. Nothing of the statement
// was written.
type Error struct {
	// Op is the refused statement's operation: orm.OpInsert or
	// orm.OpUpdate.
	Op orm.Op
	// Table and Column name the encrypted column.
	Table, Column string
	// RowID is the id of the row concerned, when known.
	RowID string
	// Err is the reason: ErrNotEnvelope, ErrNoRowID, ErrUnverifiable or
	// one of the envelope package's errors (envelope.ErrCellMismatch,
	// envelope.ErrTooLarge, envelope.ErrUnknownKey, ...).
	Err error
}

// Error describes the refusal, naming the cell.
func (e *Error) Error() string {
	cell := e.Table + "." + e.Column
	if e.RowID != "" {
		cell = envelope.Cell{Table: e.Table, RowID: e.RowID, Column: e.Column}.String()
	}
	return fmt.Sprintf("encrypt: %s refused for encrypted cell %s: %v", e.Op, cell, e.Err)
}

// Unwrap returns the reason, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }
