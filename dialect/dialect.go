// Package dialect renders plasma's expression trees and table definitions
// to SQL for one database engine, and defines how statements reach the
// database (Executor).
//
// The two implementations live in sub-packages so that an application links
// only the driver it uses: dialect/sqlite (embedded, pure Go) and
// dialect/postgres (PostgreSQL, opened on lib/pq); dialect/pgx opens
// PostgreSQL on pgx instead, with the same dialect. dialect/bunexec adapts
// a bun database.
//
// The layers above branch on an engine's capabilities, never its Name:
// Features reports them (row locks, advisory locks, notify/listen,
// concurrent writers, ...), optional interfaces render them (RowLocker,
// AdvisoryLocker, Notifier), open a pool (Opener) and classify errors
// (ErrorClassifier). Upserts need neither: both engines spell them
// INSERT ... ON CONFLICT (cols) DO UPDATE SET ... excluded.col / DO
// NOTHING, so plasma writes that SQL once for both.
//
// Identifiers are always quoted; values are always bound parameters. The
// only values ever written into SQL text are column DEFAULTs in DDL, which
// have no parameter form; they are rendered as escaped literals.
package dialect

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/plasma-go/plasma/tabledef"
)

// Dialect is one SQL engine's spelling of the things plasma renders.
type Dialect interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// AppendPlaceholder appends the placeholder for the n-th parameter,
	// counting from 1 over the whole statement.
	AppendPlaceholder(b []byte, n int) []byte
	// ColumnType is the SQL type of a column in CREATE TABLE.
	ColumnType(c *tabledef.Column) string
	// AutoIncrementType is the complete column type of an auto-increment
	// integer primary key, and whether it already declares PRIMARY KEY.
	AutoIncrementType() (typ string, inlinePK bool)
	// AppendBool appends a boolean literal, for DEFAULT clauses.
	AppendBool(b []byte, v bool) []byte
	// AppendBytes appends a blob literal, for DEFAULT clauses.
	AppendBytes(b []byte, v []byte) []byte
	// TablesQuery returns a query listing the names of the tables in the
	// current database (SQLite) or schema (PostgreSQL), one per row.
	TablesQuery() string
	// LockSchema returns a statement that takes a lock held until the end
	// of the current transaction, serialising schema changes across
	// processes, or "" where transactions already serialise them.
	LockSchema() string
	// Features reports the engine's capabilities (see Feature).
	Features() Feature
}

// ReferenceChecker is an optional interface of a Dialect. A dialect whose
// CREATE TABLE refuses a foreign key to a table that does not exist yet
// (PostgreSQL) returns true; schema creation then adds a reference that
// closes a cycle between tables with AddForeignKey once both exist.
// SQLite resolves references only when rows are written (and cannot add a
// foreign key to an existing table), so it does not implement it.
type ReferenceChecker interface {
	ChecksReferences() bool
}

// AppendIdent appends name as a quoted identifier. Both engines quote with
// double quotes and escape an embedded quote by doubling it, so any name,
// reserved words and unicode included, round-trips. Names containing NUL
// are refused earlier, by schema and statement validation.
func AppendIdent(b []byte, name string) []byte {
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, name[i])
	}
	return append(b, '"')
}

// QuoteIdent returns name quoted as an identifier.
func QuoteIdent(name string) string { return string(AppendIdent(nil, name)) }

// Executor runs SQL. *sql.DB, *sql.Tx and *sql.Conn implement it, and so
// does what bunexec.From returns for a bun database.
type Executor interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Beginner is an Executor that can start a transaction, such as *sql.DB.
type Beginner interface {
	Executor
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Copier is an optional interface of a Dialect whose engine loads rows
// faster by a bulk protocol (PostgreSQL's COPY ... FROM STDIN) than by a
// multi-row INSERT. plasma uses it for a plain INSERT (no ON CONFLICT, no
// RETURNING) of many rows, inside the write's transaction, when the
// driver under the pool supports it (CopiesWith).
type Copier interface {
	// CopiesWith reports whether the bulk protocol works through drv.
	CopiesWith(drv driver.Driver) bool
	// CopyFrom loads rows, each a value per column of cols, into table
	// inside tx and returns the number of rows loaded.
	CopyFrom(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) (int64, error)
}

// ArrayInserter is an optional interface of a Dialect whose engine can
// take a multi-row INSERT's values as one array parameter per column
// (PostgreSQL: INSERT INTO t (cols) SELECT unnest($1::text[]), ...).
// The statement then has one parameter per column whatever the number of
// rows, so the server binds a handful of arrays instead of one parameter
// per value, and its text (and the plan the server keeps prepared for it)
// is the same for any number of rows. plasma uses it for a multi-row
// INSERT without RETURNING, when every value is one the binder encodes
// exactly; anything else runs as INSERT ... VALUES.
type ArrayInserter interface {
	// ArrayBinder returns how to bind arrays through drv, the driver under
	// the pool, or nil when the dialect does not know that driver's array
	// encoding.
	ArrayBinder(drv driver.Driver) ArrayBinder
}

// ArrayBinder binds one column's values as one array parameter, for
// ArrayInserter.
type ArrayBinder interface {
	// ArrayType returns the SQL type of an array of c's values, as the
	// parameter's cast ("text[]"), or false when c's kind is not one the
	// binder encodes exactly.
	ArrayType(c *tabledef.Column) (string, bool)
	// BindArray returns the argument that binds n values of c as one
	// array, the i-th being vals[at+i*stride] as plasma binds it for c's
	// kind (nil for NULL). It returns false, and the insert runs as
	// VALUES, when a value is not of a Go type it encodes exactly.
	BindArray(c *tabledef.Column, vals []any, at, stride, n int) (any, bool)
	// ColumnsMatch reports whether table's columns cols, as exec sees the
	// table in the database, have the types ArrayType casts them to. A
	// table plasma did not create may not (a uuid or timestamptz column
	// declared as text, a varchar, a smallint), and the server takes an
	// element of the array's type only where it casts to the column's
	// type on assignment; VALUES, whose parameters take the column's
	// type, then stays exact.
	ColumnsMatch(ctx context.Context, exec Executor, table string, cols []*tabledef.Column) (bool, error)
}
