package mutator

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"

	"github.com/plasma-go/plasma/dialect"
)

// ErrUnknownMutator is matched (errors.Is) by the error for a mutation
// whose name is not in the Set. It is permanent: a client that recorded
// it keeps it until the server counts it as processed.
var ErrUnknownMutator = errors.New("unknown mutator")

// ErrInvalidArgs is matched (errors.Is) by every *ArgsError.
var ErrInvalidArgs = errors.New("invalid mutator arguments")

// ErrIllFormedString is the error of the *ArgsError for arguments holding
// a string that is not well-formed Unicode: invalid UTF-8, or an escaped
// lone surrogate ("\ud800"). Decoding would silently turn it into U+FFFD,
// so it could not round-trip; Set.Run refuses it instead.
var ErrIllFormedString = errors.New("a string is not well-formed Unicode (invalid UTF-8 or a lone surrogate)")

// Error is a permanent mutator failure, naming the mutator. Its Err is
// what the mutator returned (an *AuthorizationError of row auth, an
// orm.QueryError, an application error ...), an *ArgsError, a *PanicError
// or ErrUnknownMutator.
type Error struct {
	// Mutator is the mutator's name.
	Mutator string
	// Err is the failure.
	Err error
}

// Error describes the failure, naming the mutator.
func (e *Error) Error() string {
	return fmt.Sprintf("plasma: mutator %q: %v", e.Mutator, e.Err)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// ArgsError is a mutation whose arguments do not fit the mutator: JSON of
// the wrong shape, or a failed Validate (Invalid).
type ArgsError struct {
	// Mutator names the mutator, when known.
	Mutator string
	// Err is the decoding or validation error.
	Err error
	// Invalid is true when the arguments decoded but Validate refused
	// them.
	Invalid bool
}

// Error describes the problem with the arguments.
func (e *ArgsError) Error() string {
	what := "cannot decode the arguments"
	if e.Invalid {
		what = "invalid arguments"
	}
	if e.Mutator != "" {
		return fmt.Sprintf("plasma: mutator %q: %s: %v", e.Mutator, what, e.Err)
	}
	return fmt.Sprintf("plasma: mutator: %s: %v", what, e.Err)
}

// Unwrap returns ErrInvalidArgs and the underlying error.
func (e *ArgsError) Unwrap() []error { return []error{ErrInvalidArgs, e.Err} }

// PanicError is a mutator that panicked. It is permanent: a mutation that
// panics once will panic again.
type PanicError struct {
	// Value is what the mutator panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error describes the panic.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

type temporary struct{ err error }

func (t *temporary) Error() string { return t.err.Error() }
func (t *temporary) Unwrap() error { return t.err }

// Temporary marks err as temporary: the mutation did not happen because
// of a passing condition (a service it needs is down), and the client
// should retry it later. The server then aborts the push without
// advancing the client's lastMutationID. Temporary(nil) is nil.
func Temporary(err error) error {
	if err == nil {
		return nil
	}
	return &temporary{err: err}
}

// IsTemporary reports whether err is temporary: marked with Temporary, or
// a database that is unavailable or asked for a retry — a broken or
// closed connection (driver.ErrBadConn, sql.ErrConnDone), a network
// error, an expired or cancelled context, SQLite busy, locked, full or
// failing I/O, and PostgreSQL serialization failures (40001), deadlocks
// (40P01), connection exceptions (class 08), insufficient resources
// (class 53), operator intervention (class 57: shutdown, cancelled
// statement) and system errors (class 58). Anything else is permanent.
// Database errors are classified by the dialects the program links (each
// registers its dialect.ErrorClassifier), so this package links no
// engine.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var t *temporary
	if errors.As(err, &t) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return dialect.IsTemporary(err)
}

// IsRetryable reports whether err is a PostgreSQL serialization failure
// (40001) or deadlock (40P01): a transaction that would very likely
// succeed if run again at once. The sync server retries such a mutation a
// few times before giving up with a temporary error.
func IsRetryable(err error) bool { return dialect.IsRetryable(err) }
