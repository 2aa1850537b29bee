// Package sqlite is plasma's SQLite dialect, on the pure-Go
// modernc.org/sqlite driver (no cgo).
//
// The driver is modernc.org/sqlite itself rather than its older fork
// github.com/glebarez/go-sqlite: the same SQLite build and the same DSN
// parameters, but a prepared statement is compiled once and reused, where
// the fork compiles the SQL again on every execution (see orm's
// per-transaction statement cache, which relies on this).
//
// The dialect itself — column types, features, error classification — is
// package sqlitedialect's, which links no driver; see there for how column
// kinds map to SQLite types.
package sqlite

import (
	"database/sql"
	"fmt"
	"strconv"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/sqlitedialect"
)

// Dialect is SQLite's dialect (sqlitedialect's), able to open a database
// (dialect.Opener) on modernc.org/sqlite.
var Dialect dialect.Dialect = sqliteDialect{}

type sqliteDialect struct{ sqlitedialect.SQLite }

// Open opens the database at path, as the package's Open does.
func (sqliteDialect) Open(path string) (*sql.DB, error) { return Open(path) }

// DSN returns the data source name plasma opens path with: WAL journal, a
// busy timeout, foreign keys enforced on every pooled connection, and
// immediate transactions (see sqlitedialect.DSN).
func DSN(path string) string { return sqlitedialect.DSN(path) }

var memorySeq atomic.Uint64

// Open opens the SQLite database file at path, creating it if need be.
// Its connections keep up to StatementCache statements compiled, by SQL
// text, from one transaction to the next (see stmtcache.go).
// The path ":memory:" opens a private in-memory database; it lives as long
// as the returned *sql.DB, on a single connection (SQLite gives every
// connection its own memory database).
func Open(path string) (*sql.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("plasma: sqlite.Open: empty path (use \":memory:\" for an in-memory database)")
	}
	if path == ":memory:" {
		db := sql.OpenDB(&cachingConnector{size: StatementCache, dsn: "file:plasma-mem-" + strconv.FormatUint(memorySeq.Add(1), 10) +
			"?mode=memory&_pragma=foreign_keys(1)&_pragma=temp_store(memory)&_txlock=immediate"})
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		return db, nil
	}
	db := sql.OpenDB(&cachingConnector{dsn: DSN(path), size: StatementCache})
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("plasma: open sqlite %q: %w", path, err)
	}
	return db, nil
}
