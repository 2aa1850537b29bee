package crdt

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with errors.Is without parsing messages.
var (
	// ErrMalformed reports input that is not a valid state or value: broken
	// JSON, a wrong shape, an unknown or duplicate key, a count that is not
	// a canonical decimal string, a negative G-counter entry, an empty
	// client ID, an OR-set dot beyond its version vector, and so on.
	ErrMalformed = errors.New("malformed CRDT state")

	// ErrTooLarge reports input beyond a cap in Limits: too many bytes,
	// clients, elements, or a value nested or sized beyond the maximum.
	ErrTooLarge = errors.New("CRDT state too large")

	// ErrOverflow reports a count that does not fit in an int64: a decoded
	// entry, an increment, or a sum (on read, increment, merge or decode).
	ErrOverflow = errors.New("CRDT counter overflows int64")

	// ErrConflict reports two LWW register states that carry the same
	// marker (timestamp and client ID) but different values. Picking one
	// silently would make merge depend on order, so it is refused.
	ErrConflict = errors.New("conflicting CRDT marker")

	// ErrInvalidArgument reports a bad argument to an operation: a negative
	// delta, an empty or invalid client ID, an out-of-range timestamp, an
	// unknown Kind.
	ErrInvalidArgument = errors.New("invalid CRDT argument")

	// ErrClockSkew reports a remote HLC timestamp further ahead of the local
	// wall clock than Clock.MaxSkew allows.
	ErrClockSkew = errors.New("HLC timestamp too far ahead of local clock")
)

// Error is the concrete error type returned by this package. It names the
// operation, where in the state the problem was found, and what was wrong;
// Err is one of the sentinel errors above.
type Error struct {
	Op   string // e.g. "decode G-counter", "merge LWW register"
	Path string // a JSON Pointer (RFC 6901) into the input, "" for the whole
	Msg  string // what was wrong, for humans
	Err  error  // the sentinel: ErrMalformed, ErrTooLarge, ...
}

// Error formats the error as "crdt: op: at path: msg (sentinel)".
func (e *Error) Error() string {
	s := "crdt: " + e.Op
	if e.Path != "" {
		s += ": at " + e.Path
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

// Unwrap returns the sentinel error, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// newError builds an *Error; msg is a fmt format.
func newError(sentinel error, op, path, format string, args ...any) *Error {
	return &Error{Op: op, Path: path, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
