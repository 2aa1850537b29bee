package sqlite

import (
	"database/sql"

	"github.com/plasma-go/plasma/dialect"
)

func init() { dialect.RegisterClassifier(sqliteDialect{}) }

// Features: SQLite runs one writer at a time, needs a LIMIT before an
// OFFSET and sorts NULL first; it has no row or advisory locks (its
// immediate transactions lock the whole database), no notifications, no
// in-place column changes, and RETURNING costs an ephemeral table.
func (sqliteDialect) Features() dialect.Feature {
	return dialect.OffsetNeedsLimit | dialect.NullsSortFirst
}

// Open opens the database at path, as the package's Open does.
func (sqliteDialect) Open(path string) (*sql.DB, error) { return Open(path) }

// IsRetryable is false: SQLite's errors are never the serialization
// conflicts that succeed when run again at once (busy and locked are
// IsTemporary).
func (sqliteDialect) IsRetryable(error) bool { return false }

func (sqliteDialect) IsTemporary(err error) bool { return IsTemporary(err) }

func (sqliteDialect) IsUniqueViolation(err error) bool { return IsUniqueViolation(err) }

// IsSerializationFailure is false: SQLite serialises writers instead.
func (sqliteDialect) IsSerializationFailure(error) bool { return false }

// IsAbortedTx is false: a failed statement leaves a SQLite transaction
// usable.
func (sqliteDialect) IsAbortedTx(error) bool { return false }
