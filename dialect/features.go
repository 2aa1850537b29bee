package dialect

import (
	"database/sql"
	"strconv"
	"sync"

	"github.com/plasma-go/plasma/tabledef"
)

// Feature is a set of engine capabilities that the layers above dialect
// branch on, instead of on the engine's Name (bun's feature flags are the
// model). A Dialect reports its own with Features.
type Feature uint64

const (
	// RowLocking: SELECT ... FOR UPDATE locks the rows it reads until the
	// transaction ends (the dialect implements RowLocker).
	RowLocking Feature = 1 << iota
	// AdvisoryLocks: transaction-scoped locks on int64 keys (the dialect
	// implements AdvisoryLocker).
	AdvisoryLocks
	// NotifyListen: a statement notifies a channel that other connections
	// listen on (the dialect implements Notifier).
	NotifyListen
	// ConcurrentWrites: write transactions run concurrently. Without it
	// (SQLite) one write transaction runs at a time, so a writer sees no
	// other in flight and numbers handed out in order commit in order.
	ConcurrentWrites
	// CheapReturning: RETURNING costs little beyond the statement. SQLite
	// collects RETURNING rows in an ephemeral table, which the pure-Go
	// build allocates afresh for every statement.
	CheapReturning
	// AlterColumn: ALTER TABLE changes a column's type, nullability or
	// default in place. Without it a migration rebuilds the table, with
	// foreign keys checked afterwards.
	AlterColumn
	// PrimaryKeyNotNull: primary key columns are NOT NULL whatever their
	// declaration says.
	PrimaryKeyNotNull
	// OffsetNeedsLimit: OFFSET is allowed only after a LIMIT.
	OffsetNeedsLimit
	// NullsSortFirst: NULL sorts before every value in ascending order.
	NullsSortFirst
	// WritesInWith: a WITH may hold INSERT, UPDATE and DELETE, run with
	// the statement that follows it (PostgreSQL), so that several writes
	// cost one statement.
	WritesInWith
)

// Has reports whether every feature of g is in f.
func (f Feature) Has(g Feature) bool { return f&g == g }

// RowLocker renders row locks; a dialect with RowLocking implements it.
type RowLocker interface {
	// AppendForUpdate appends the clause that locks a SELECT's rows.
	AppendForUpdate(b []byte) []byte
}

// AdvisoryLocker renders advisory locks; a dialect with AdvisoryLocks
// implements it.
type AdvisoryLocker interface {
	// AppendAdvisoryLocks appends a statement that takes a lock on each
	// key, held until the transaction ends, binding the keys on b.
	AppendAdvisoryLocks(b *Builder, keys []int64)
}

// Notifier renders notifications; a dialect with NotifyListen implements
// it.
type Notifier interface {
	// AppendNotify appends a statement that sends payload to channel
	// when the transaction commits (at once outside one), binding both
	// on b.
	AppendNotify(b *Builder, channel, payload string)
}

// InsertNotifier is an optional interface of a Dialect with NotifyListen
// whose engine notifies from inside the database, so that writes made by
// any process are announced.
type InsertNotifier interface {
	// NotifyOnInsert returns the statements that install, where they are
	// not installed yet, a trigger named trigger, running a function
	// named function, after every statement that inserts into table: it
	// notifies channel once with each distinct value of column among the
	// inserted rows, when the transaction commits (and not at all if it
	// rolls back).
	NotifyOnInsert(table, column, channel, function, trigger string) []string
}

// GeneratedKeyer is an optional interface of a Dialect whose engine can
// generate an integer key that no statement may write (see
// tabledef.Column.AlwaysGenerated).
type GeneratedKeyer interface {
	// GeneratedKeyType returns such a column's type and, as
	// AutoIncrementType does, whether it carries PRIMARY KEY inline.
	GeneratedKeyType() (typ string, inlinePK bool)
}

// Opener is an optional interface of a Dialect that opens a pool on its
// engine's default driver; orm.Open uses it. dsn is the engine's: a file
// path for SQLite, a URL or key=value string for PostgreSQL.
type Opener interface {
	Open(dsn string) (*sql.DB, error)
}

// ErrorClassifier is an optional interface of a Dialect that tells what
// its engine's errors mean (pgconn's SafeToRetry is the model). Both
// dialects implement it; callers holding a dialect ask it rather than
// inspecting driver types.
type ErrorClassifier interface {
	// IsRetryable: the transaction would very likely succeed if run
	// again from its start (serialization failure, deadlock).
	IsRetryable(err error) bool
	// IsTemporary: the database is unavailable for now rather than the
	// statement wrong; running it later may succeed.
	IsTemporary(err error) bool
	// IsUniqueViolation: a unique or primary key constraint refused a row.
	IsUniqueViolation(err error) bool
	// IsSerializationFailure: the transaction conflicted with another.
	IsSerializationFailure(err error) bool
	// IsAbortedTx: the engine refuses statements in a transaction that
	// an earlier failed statement aborted.
	IsAbortedTx(err error) bool
}

var classifiers struct {
	sync.RWMutex
	list []ErrorClassifier
}

// RegisterClassifier adds c to the classifiers IsTemporary and
// IsRetryable ask. A dialect package registers its own when it is
// linked, as database/sql drivers register themselves, so code without a
// dialect at hand classifies the errors of every engine the program
// links, and links no engine itself.
func RegisterClassifier(c ErrorClassifier) {
	classifiers.Lock()
	defer classifiers.Unlock()
	classifiers.list = append(classifiers.list, c)
}

func anyClassifier(f func(ErrorClassifier) bool) bool {
	classifiers.RLock()
	defer classifiers.RUnlock()
	for _, c := range classifiers.list {
		if f(c) {
			return true
		}
	}
	return false
}

// IsTemporary reports whether a registered classifier finds err
// temporary.
func IsTemporary(err error) bool {
	return err != nil && anyClassifier(func(c ErrorClassifier) bool { return c.IsTemporary(err) })
}

// IsRetryable reports whether a registered classifier finds err
// retryable.
func IsRetryable(err error) bool {
	return err != nil && anyClassifier(func(c ErrorClassifier) bool { return c.IsRetryable(err) })
}

// Classifier returns d's ErrorClassifier, or one that finds nothing when
// d has none.
func Classifier(d Dialect) ErrorClassifier {
	if c, ok := d.(ErrorClassifier); ok {
		return c
	}
	return noClassifier{}
}

type noClassifier struct{}

func (noClassifier) IsRetryable(error) bool            { return false }
func (noClassifier) IsTemporary(error) bool            { return false }
func (noClassifier) IsUniqueViolation(error) bool      { return false }
func (noClassifier) IsSerializationFailure(error) bool { return false }
func (noClassifier) IsAbortedTx(error) bool            { return false }

// Placeholders renders statements with '?' placeholders whatever the
// engine, for callers that want the text rather than a statement to run
// (squirrel's Sqlizer form, validation). It spells the rest as SQLite
// does, so the text it produces is what plasma always produced there.
var Placeholders Dialect = placeholders{}

type placeholders struct{}

func (placeholders) Name() string                             { return "placeholders" }
func (placeholders) AppendPlaceholder(b []byte, _ int) []byte { return append(b, '?') }
func (placeholders) ColumnType(*tabledef.Column) string       { return "TEXT" }
func (placeholders) AutoIncrementType() (string, bool)        { return "INTEGER PRIMARY KEY", true }
func (placeholders) AppendBool(b []byte, v bool) []byte       { return strconv.AppendBool(b, v) }
func (placeholders) AppendBytes(b []byte, v []byte) []byte {
	return append(HexBlob(append(b, "X'"...), v), '\'')
}
func (placeholders) TablesQuery() string { return "" }
func (placeholders) LockSchema() string  { return "" }
func (placeholders) Features() Feature   { return OffsetNeedsLimit | NullsSortFirst }

// Capture describes the capture of one table's writes into a change log:
// objects inside the database that log each row an INSERT, UPDATE or
// DELETE writes, whoever runs the statement.
type Capture struct {
	// Table is the captured table; it has a column named "id".
	Table *tabledef.Table
	// Name is the name of its capture objects (the dialect may add a
	// suffix per object); a short, plain identifier.
	Name string
	// Log is the change log the objects insert into, with the columns
	// region, table_name, row_id, op ("put" or "del") and data (the row
	// as a JSON object keyed by column name, for a put).
	Log string
	// Region is the region changes are logged under.
	Region string
	// Skip names what marks a write the application logs itself, which
	// the triggers let pass (see CaptureSkip): on SQLite a table with a
	// "skip" column, on PostgreSQL a setting.
	Skip string
}

// CaptureObject is one object a ChangeCapturer creates, or finds in the
// catalog.
type CaptureObject struct {
	// Name is the object's name; Table the table a trigger is on ("" for
	// a function).
	Name, Table string
	// Def is the object's definition as the catalog stores it: what
	// tells a stale object from a current one.
	Def string
	// Create creates the object, replacing one of the same name.
	Create []string
}

// ChangeCapturer is an optional interface of a Dialect whose engine can
// capture writes to a table into a change log with triggers, so that
// writes made outside the application (another program, a shell, another
// ORM) are logged too.
type ChangeCapturer interface {
	// CaptureObjects returns the objects that capture c.Table's writes.
	CaptureObjects(c Capture) []CaptureObject
	// CaptureCatalog returns a query listing the capture objects in the
	// current schema, whose names start with its one argument: rows of
	// (name, table, definition), as in CaptureObject.
	CaptureCatalog() string
	// DropCapture returns the statement that drops the object o found in
	// the catalog.
	DropCapture(o CaptureObject) string
	// CaptureSkip says how a write the application logs itself passes
	// the triggers unlogged: either set, run just before the write, marks
	// it, and clear, run after a write that logged no change row, unmarks
	// it; or returning is an expression to add to the write's RETURNING.
	CaptureSkip(c Capture) (set, clear, returning string)
}
