package sqlitedialect

import "errors"

// sqliteError is the error type of the pure-Go SQLite drivers
// (modernc.org/sqlite's and github.com/glebarez/go-sqlite's *Error): it
// reports SQLite's extended result code.
type sqliteError interface {
	error
	Code() int
}

// The primary result codes IsTemporary treats as passing conditions.
const (
	codeBusy   = 5  // SQLITE_BUSY: another connection holds the lock
	codeLocked = 6  // SQLITE_LOCKED: a conflict inside one connection
	codeIOErr  = 10 // SQLITE_IOERR: the operating system failed a read or write
	codeFull   = 13 // SQLITE_FULL: the disk is full
)

// ResultCode returns the primary SQLite result code of the first SQLite
// error in err's chain (the low byte of its extended code), or 0 when
// there is none.
func ResultCode(err error) int {
	var se sqliteError
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// IsTemporary reports whether err is SQLite saying the database is
// unavailable for now rather than that the statement is wrong: busy or
// locked by another writer, or an I/O error or full disk that the
// operator can clear. Running the transaction again later may succeed.
func IsTemporary(err error) bool {
	switch ResultCode(err) {
	case codeBusy, codeLocked, codeIOErr, codeFull:
		return true
	}
	return false
}

// The extended result codes of unique and primary key violations.
const (
	codeConstraintPrimaryKey = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	codeConstraintUnique     = 2067 // SQLITE_CONSTRAINT_UNIQUE
)

// IsUniqueViolation reports whether err is SQLite refusing a row that
// breaks a unique or primary key constraint.
func IsUniqueViolation(err error) bool {
	var se sqliteError
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == codeConstraintPrimaryKey || c == codeConstraintUnique
}
