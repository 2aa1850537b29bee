package postgres

import (
	"database/sql"

	"github.com/plasma-go/plasma/dialect"
)

func init() { dialect.RegisterClassifier(pgDialect{}) }

// Features: PostgreSQL locks rows and advisory keys, notifies listeners,
// runs writers concurrently, returns rows cheaply, alters columns in
// place and makes primary key columns NOT NULL.
func (pgDialect) Features() dialect.Feature {
	return dialect.RowLocking | dialect.AdvisoryLocks | dialect.NotifyListen |
		dialect.ConcurrentWrites | dialect.CheapReturning | dialect.AlterColumn |
		dialect.PrimaryKeyNotNull | dialect.WritesInWith
}

// AppendForUpdate appends " FOR UPDATE".
func (pgDialect) AppendForUpdate(b []byte) []byte { return append(b, " FOR UPDATE"...) }

// AppendAdvisoryLocks appends a SELECT of pg_advisory_xact_lock over the
// keys, bound as bigint.
func (pgDialect) AppendAdvisoryLocks(b *dialect.Builder, keys []int64) {
	b.WriteString("SELECT pg_advisory_xact_lock(k) FROM (VALUES ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		b.Bind(k)
		b.WriteString("::bigint)")
	}
	b.WriteString(") AS v(k)")
}

// AppendNotify appends a SELECT of pg_notify(channel, payload).
func (pgDialect) AppendNotify(b *dialect.Builder, channel, payload string) {
	b.WriteString("SELECT pg_notify(")
	b.Bind(channel)
	b.WriteString(", ")
	b.Bind(payload)
	b.WriteString(")")
}

// Open opens dsn on lib/pq, as the package's Open does.
func (pgDialect) Open(dsn string) (*sql.DB, error) { return Open(dsn) }

func (pgDialect) IsRetryable(err error) bool            { return IsRetryable(err) }
func (pgDialect) IsTemporary(err error) bool            { return IsTemporary(err) }
func (pgDialect) IsUniqueViolation(err error) bool      { return IsUniqueViolation(err) }
func (pgDialect) IsSerializationFailure(err error) bool { return IsSerializationFailure(err) }
func (pgDialect) IsAbortedTx(err error) bool            { return IsAbortedTx(err) }
