// Package sqlitedialect is plasma's SQLite dialect without a driver:
// SQL rendering, column types, features and error classification, for a
// program that opens SQLite with a driver of its own. Most programs use
// dialect/sqlite, which is this dialect on modernc.org/sqlite and opens
// the database too.
//
// It exists because every pure-Go SQLite driver registers the
// database/sql driver name "sqlite": modernc.org/sqlite, and
// github.com/glebarez/go-sqlite (under GORM's github.com/glebarez/sqlite),
// panic when both are linked. A GORM application on glebarez hands its
// *sql.DB to orm.New with this Dialect and links one driver, GORM's.
// Errors are classified by their SQLite result code, which both drivers'
// errors report (a Code() int method).
//
// Column kinds map to these SQLite types:
//
//	kind              SQLite type    stored as
//	id                TEXT           UUID text, the primary key
//	text              TEXT
//	int               INTEGER
//	bigint            BIGINT         INTEGER affinity, 64-bit
//	boolean           BOOLEAN        0 or 1 (NUMERIC affinity)
//	blob              BLOB
//	json              TEXT           JSON text
//	file              TEXT           FileRef JSON text
//	crdtCounter       TEXT           canonical CRDT JSON
//	crdtPnCounter     TEXT           canonical CRDT JSON
//	crdtLwwRegister   TEXT           canonical CRDT JSON
//	crdtOrSet         TEXT           canonical CRDT JSON
//	(encrypted)       TEXT           envelope JSON, whatever the kind
//	auto-increment    INTEGER PRIMARY KEY AUTOINCREMENT
//
// JSON is declared as TEXT too: SQLite gives an unknown type name NUMERIC
// affinity, which would turn the JSON text "1" into the integer 1.
package sqlitedialect

import (
	"net/url"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// Dialect is SQLite's dialect.
var Dialect dialect.Dialect = SQLite{}

func init() { dialect.RegisterClassifier(SQLite{}) }

// SQLite is the dialect's type. Dialect holds its value; dialect/sqlite
// embeds it and adds Open.
type SQLite struct{}

func (SQLite) Name() string { return "sqlite" }

func (SQLite) AppendPlaceholder(b []byte, _ int) []byte { return append(b, '?') }

func (SQLite) ColumnType(c *tabledef.Column) string {
	if c.Encrypted {
		return "TEXT"
	}
	switch c.Kind {
	case tabledef.KindInt:
		return "INTEGER"
	case tabledef.KindBigInt:
		return "BIGINT"
	case tabledef.KindBool:
		return "BOOLEAN"
	case tabledef.KindBlob:
		return "BLOB"
	default:
		return "TEXT"
	}
}

func (SQLite) AutoIncrementType() (string, bool) {
	return "INTEGER PRIMARY KEY AUTOINCREMENT", true
}

func (SQLite) AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, '1')
	}
	return append(b, '0')
}

func (SQLite) AppendBytes(b []byte, v []byte) []byte {
	b = append(b, "X'"...)
	return append(dialect.HexBlob(b, v), '\'')
}

func (SQLite) TablesQuery() string {
	return "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
}

// LockSchema is empty: plasma opens SQLite with immediate transactions,
// which already serialise writers.
func (SQLite) LockSchema() string { return "" }

// ReusesStatements is true: compiling a statement costs about as much as
// running a small one, and modernc.org/sqlite keeps a prepared statement
// compiled (see dialect.StatementReuser). A driver that compiles again on
// every execution (github.com/glebarez/go-sqlite) loses nothing by it.
func (SQLite) ReusesStatements() bool { return true }

// DSN returns the data source name plasma opens path with: WAL journal, a
// busy timeout, foreign keys enforced on every pooled connection, temporary
// storage in memory, and immediate transactions, without which concurrent
// read-then-write transactions fail at once with SQLITE_BUSY despite the
// busy timeout.
//
// temp_store(memory) matters for the change log's capture triggers: a
// write to a table with a trigger keeps a statement journal, which with
// temporary files on disk SQLite buffers in a 64 KiB chunk that the
// pure-Go build allocates and maps afresh for every statement (about
// twice the CPU of a sync push); in memory it uses small chunks. Its
// price: temporary tables and large sorts are held in memory.
func DSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=temp_store(memory)&_txlock=immediate"
}

// Features: SQLite runs one writer at a time, needs a LIMIT before an
// OFFSET and sorts NULL first; it has no row or advisory locks (its
// immediate transactions lock the whole database), no notifications, no
// in-place column changes, and RETURNING costs an ephemeral table.
func (SQLite) Features() dialect.Feature {
	return dialect.OffsetNeedsLimit | dialect.NullsSortFirst
}

// IsRetryable is false: SQLite's errors are never the serialization
// conflicts that succeed when run again at once (busy and locked are
// IsTemporary).
func (SQLite) IsRetryable(error) bool { return false }

func (SQLite) IsTemporary(err error) bool { return IsTemporary(err) }

func (SQLite) IsUniqueViolation(err error) bool { return IsUniqueViolation(err) }

// IsSerializationFailure is false: SQLite serialises writers instead.
func (SQLite) IsSerializationFailure(error) bool { return false }

// IsAbortedTx is false: a failed statement leaves a SQLite transaction
// usable.
func (SQLite) IsAbortedTx(error) bool { return false }
