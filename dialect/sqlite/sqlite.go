// Package sqlite is plasma's SQLite dialect, on the pure-Go
// modernc.org/sqlite driver (no cgo).
//
// The driver is modernc.org/sqlite itself rather than its older fork
// github.com/glebarez/go-sqlite: the same SQLite build and the same DSN
// parameters, but a prepared statement is compiled once and reused, where
// the fork compiles the SQL again on every execution (see orm's
// per-transaction statement cache, which relies on this).
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
package sqlite

import (
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// Dialect is SQLite's dialect.
var Dialect dialect.Dialect = sqliteDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string { return "sqlite" }

func (sqliteDialect) AppendPlaceholder(b []byte, _ int) []byte { return append(b, '?') }

func (sqliteDialect) ColumnType(c *tabledef.Column) string {
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

func (sqliteDialect) AutoIncrementType() (string, bool) {
	return "INTEGER PRIMARY KEY AUTOINCREMENT", true
}

func (sqliteDialect) AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, '1')
	}
	return append(b, '0')
}

func (sqliteDialect) AppendBytes(b []byte, v []byte) []byte {
	b = append(b, "X'"...)
	return append(dialect.HexBlob(b, v), '\'')
}

func (sqliteDialect) TablesQuery() string {
	return "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
}

// LockSchema is empty: plasma opens SQLite with immediate transactions,
// which already serialise writers.
func (sqliteDialect) LockSchema() string { return "" }

// ReusesStatements is true: compiling a statement costs about as much as
// running a small one, and modernc.org/sqlite keeps a prepared statement
// compiled (see dialect.StatementReuser).
func (sqliteDialect) ReusesStatements() bool { return true }

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

var memorySeq atomic.Uint64

// Open opens the SQLite database file at path, creating it if need be.
// The path ":memory:" opens a private in-memory database; it lives as long
// as the returned *sql.DB, on a single connection (SQLite gives every
// connection its own memory database).
func Open(path string) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("plasma: sqlite.Open: empty path (use \":memory:\" for an in-memory database)")
	}
	if path == ":memory:" {
		db, err := sql.Open("sqlite", "file:plasma-mem-"+strconv.FormatUint(memorySeq.Add(1), 10)+
			"?mode=memory&_pragma=foreign_keys(1)&_pragma=temp_store(memory)&_txlock=immediate")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		return db, nil
	}
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("plasma: open sqlite %q: %w", path, err)
	}
	return db, nil
}
