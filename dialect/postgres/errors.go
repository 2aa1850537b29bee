package postgres

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/lib/pq"
)

// The SQLSTATE codes plasma classifies errors by.
const (
	CodeUniqueViolation      = "23505"
	CodeForeignKeyViolation  = "23503"
	CodeNotNullViolation     = "23502"
	CodeCheckViolation       = "23514"
	CodeSerializationFailure = "40001"
	CodeDeadlockDetected     = "40P01"
	CodeInFailedTransaction  = "25P02"
)

// sqlStater is what both drivers' server errors implement: lib/pq's
// *pq.Error and pgx's *pgconn.PgError.
type sqlStater interface{ SQLState() string }

// SQLState returns the SQLSTATE code of the PostgreSQL server error in
// err's chain, from either driver (lib/pq's *pq.Error, pgx's
// *pgconn.PgError, or any error with a SQLState() string method), or ""
// when there is none.
func SQLState(err error) string {
	var s sqlStater
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}

// IsUniqueViolation reports whether err is a unique or primary-key
// violation (23505).
func IsUniqueViolation(err error) bool { return SQLState(err) == CodeUniqueViolation }

// IsForeignKeyViolation reports whether err is a foreign key violation
// (23503).
func IsForeignKeyViolation(err error) bool { return SQLState(err) == CodeForeignKeyViolation }

// IsSerializationFailure reports whether err is a serialization failure
// (40001): a serializable or repeatable-read transaction that conflicted
// with another.
func IsSerializationFailure(err error) bool { return SQLState(err) == CodeSerializationFailure }

// IsRetryable reports whether err is a serialization failure (40001) or a
// deadlock (40P01): a transaction that would very likely succeed if run
// again from its start.
func IsRetryable(err error) bool {
	c := SQLState(err)
	return c == CodeSerializationFailure || c == CodeDeadlockDetected
}

// IsAbortedTx reports whether err is PostgreSQL refusing a statement in a
// transaction that an earlier failed statement aborted (25P02), as
// either driver reports it.
func IsAbortedTx(err error) bool {
	return SQLState(err) == CodeInFailedTransaction || errors.Is(err, pq.ErrInFailedTransaction)
}

// IsTemporary reports whether err says the database is unavailable for
// now rather than that the statement is wrong: IsRetryable, a connection
// exception (class 08), insufficient resources (53), operator
// intervention (57: shutdown, cancelled statement) or a system error
// (58), a broken or closed connection (driver.ErrBadConn,
// sql.ErrConnDone), or an error the driver marks safe to retry because
// nothing reached the server (SafeToRetry).
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	if IsRetryable(err) || SafeToRetry(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	switch c := SQLState(err); {
	case strings.HasPrefix(c, "08"), strings.HasPrefix(c, "53"),
		strings.HasPrefix(c, "57"), strings.HasPrefix(c, "58"):
		return true
	}
	return false
}

// SafeToRetry reports whether err's chain holds an error that says the
// statement never reached the server, so running it again cannot apply
// it twice: pgx's errors answer through their SafeToRetry method (as
// pgconn.SafeToRetry reads them), and driver.ErrBadConn is returned by
// both drivers only before anything was sent.
func SafeToRetry(err error) bool {
	var s interface{ SafeToRetry() bool }
	if errors.As(err, &s) && s.SafeToRetry() {
		return true
	}
	return errors.Is(err, driver.ErrBadConn)
}
