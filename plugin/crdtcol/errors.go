package crdtcol

import (
	"errors"
	"strings"
)

// Sentinel errors of this package. A failed merge is reported as an *Error
// wrapping either one of these or an error of the crdt package.
var (
	// ErrNoClient reports an operation (Incr, Add, Assign ...) run with a
	// context that names no client: set one with changelog.WithOrigin.
	ErrNoClient = errors.New("crdtcol: the context names no client (use changelog.WithOrigin)")

	// ErrExpression reports a CRDT column assigned a SQL expression. The
	// stored state is merged in Go, so the value must be a state or an Op.
	ErrExpression = errors.New("crdtcol: a CRDT column takes a state or an Op, not a SQL expression")

	// ErrValue reports a value for a CRDT column that is neither JSON text
	// nor an Op.
	ErrValue = errors.New("crdtcol: a CRDT column takes JSON text or an Op")

	// ErrOpKind reports an Op that does not fit the column's kind, such as
	// Decr on a grow-only counter or Add on a register.
	ErrOpKind = errors.New("crdtcol: operation does not fit the column's CRDT kind")

	// ErrNoMiddleware is what an Op reports if it reaches the database
	// unapplied: the DB has no crdtcol Middleware in its chain, or the
	// column is not a CRDT column.
	ErrNoMiddleware = errors.New("crdtcol: a CRDT operation reached the database unapplied (is crdtcol.Middleware in the DB's chain, and is the column a CRDT column?)")

	// ErrNoPrimaryKey reports a table whose rows cannot be addressed one
	// by one: merging needs a primary key.
	ErrNoPrimaryKey = errors.New("crdtcol: the table has no primary key to merge CRDT columns row by row")

	// ErrClientQuota reports a full state, written for a user, that adds
	// entries to a per-client map that are not the user's own
	// (ClientKey) or that take the user past Options.ClientsPerUser. Ops
	// are never refused for the quota: they fold (see Options).
	ErrClientQuota = errors.New("crdtcol: the state adds per-client entries beyond the writer's own quota")

	// ErrUpsertTarget reports an upsert that merges CRDT columns but does
	// not give a value for every column of its conflict target, so the
	// existing row cannot be found.
	ErrUpsertTarget = errors.New("crdtcol: an upsert that merges CRDT columns must insert every conflict-target column")
)

// Side says which state an *Error is about.
type Side uint8

// The sides of a merge.
const (
	// SideWritten is the state (or Op) the statement writes.
	SideWritten Side = iota + 1
	// SideStored is the state found in the row.
	SideStored
	// SideMerged is the result of the merge (an overflow, a state beyond
	// the limits, or conflicting LWW markers).
	SideMerged
)

// String returns "written", "stored" or "merged".
func (s Side) String() string {
	switch s {
	case SideWritten:
		return "written"
	case SideStored:
		return "stored"
	case SideMerged:
		return "merged"
	}
	return "invalid"
}

// Error is a CRDT column write the middleware refused. Err is either a
// sentinel of this package or the crdt package's *crdt.Error, so
// errors.Is(err, crdt.ErrMalformed), crdt.ErrTooLarge, crdt.ErrOverflow,
// crdt.ErrConflict or crdt.ErrClockSkew tells what was wrong.
type Error struct {
	// Table and Column name the CRDT column written.
	Table, Column string
	// Row is the row's primary key (its values, quoted if text, joined by
	// commas), for a state of an existing row; it is empty for a value
	// checked before any row is read.
	Row string
	// Side says which state was wrong; it is zero for an error about the
	// statement rather than a state (ErrNoPrimaryKey, ErrUpsertTarget).
	Side Side
	// Err is what was wrong: a sentinel of this package or a *crdt.Error.
	Err error
}

// Error formats the error as "crdtcol: table.column row R: side state: err".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("crdtcol: ")
	b.WriteString(e.Table)
	b.WriteByte('.')
	b.WriteString(e.Column)
	if e.Row != "" {
		b.WriteString(" row ")
		b.WriteString(e.Row)
	}
	if e.Side != 0 {
		b.WriteString(": ")
		b.WriteString(e.Side.String())
		b.WriteString(" state")
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }
