package files

import (
	"errors"
	"strings"
)

// Sentinel errors. Storage adapters return ErrNotFound, ErrHashMismatch
// and ErrSizeMismatch; the write check reports the others inside a
// *WriteError; the HTTP endpoints map each to a status.
var (
	// ErrMalformed reports a hash, ref or MIME type that does not parse.
	ErrMalformed = errors.New("files: malformed")
	// ErrNotFound reports a blob the storage does not hold.
	ErrNotFound = errors.New("files: blob not found")
	// ErrHashMismatch reports bytes whose SHA-256 is not the hash they
	// were sent under.
	ErrHashMismatch = errors.New("files: content does not match its hash")
	// ErrSizeMismatch reports a body longer or shorter than its declared
	// size, or a ref whose size is not its blob's.
	ErrSizeMismatch = errors.New("files: size does not match")
	// ErrTooLarge reports a file over its column's MaxSize.
	ErrTooLarge = errors.New("files: file too large for the column")
	// ErrMIMENotAllowed reports a MIME type outside the column's
	// MIMEAllowList.
	ErrMIMENotAllowed = errors.New("files: MIME type not allowed for the column")
	// ErrNotStored reports a ref to a blob that is not stored, or that
	// the writer has not shown it holds (it neither uploaded the blob nor
	// may read a row referencing it). The two are one error on purpose:
	// a writer learns nothing about other users' blobs from it.
	ErrNotStored = errors.New("files: blob not stored (upload it first)")
	// ErrImmutable reports a change to a set ref in an Immutable column.
	ErrImmutable = errors.New("files: the column is immutable and already holds another ref")
	// ErrExpression reports a file column assigned a SQL expression: a
	// ref is checked in Go, so it must be a value.
	ErrExpression = errors.New("files: a file column takes a ref, not a SQL expression")
	// ErrUnknownStorage reports a TableOptions.Blobs name with no storage
	// registered under it.
	ErrUnknownStorage = errors.New("files: unknown storage name")
	// ErrCollected reports an upload of content already stored that GC
	// collected while the upload verified it: upload it again.
	ErrCollected = errors.New("files: the blob was collected during the upload; upload it again")
	// ErrUnknownColumn reports a table.column that is not a file column.
	ErrUnknownColumn = errors.New("files: not a file column of the schema")
)

// WriteError is a write to a file column that the middleware refused;
// nothing of the statement was written. errors.Is(err, ErrTooLarge) and
// the like tell why.
type WriteError struct {
	// Table and Column name the file column.
	Table, Column string
	// Hash is the ref's hash, when the ref parsed.
	Hash string
	// Err is a sentinel of this package, possibly wrapped with details.
	Err error
}

// Error formats the error as "files: table.column (hash): err".
func (e *WriteError) Error() string {
	var b strings.Builder
	b.WriteString("files: ")
	b.WriteString(e.Table)
	b.WriteByte('.')
	b.WriteString(e.Column)
	if e.Hash != "" {
		b.WriteString(" (")
		b.WriteString(e.Hash)
		b.WriteByte(')')
	}
	b.WriteString(": ")
	b.WriteString(strings.ReplaceAll(e.Err.Error(), "files: ", ""))
	return b.String()
}

// Unwrap returns the underlying error.
func (e *WriteError) Unwrap() error { return e.Err }
