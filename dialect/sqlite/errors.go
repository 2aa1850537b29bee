package sqlite

import "github.com/plasma-go/plasma/dialect/sqlitedialect"

// ResultCode returns the primary SQLite result code of the first SQLite
// error in err's chain (the low byte of its extended code), or 0 when
// there is none.
func ResultCode(err error) int { return sqlitedialect.ResultCode(err) }

// IsTemporary reports whether err is SQLite saying the database is
// unavailable for now rather than that the statement is wrong: busy or
// locked by another writer, or an I/O error or full disk that the
// operator can clear. Running the transaction again later may succeed.
func IsTemporary(err error) bool { return sqlitedialect.IsTemporary(err) }

// IsUniqueViolation reports whether err is SQLite refusing a row that
// breaks a unique or primary key constraint.
func IsUniqueViolation(err error) bool { return sqlitedialect.IsUniqueViolation(err) }
