package dialect

// StatementReuser is an optional interface of a Dialect. A dialect whose
// driver compiles a prepared statement once and runs it many times, and
// for which compiling costs about as much as running a small statement
// (SQLite, in process), returns true: plasma then prepares each distinct
// SQL text once per transaction and reuses it, rather than having the
// driver compile it on every execution.
//
// PostgreSQL does not implement it: its drivers keep statements prepared
// per connection themselves (pgx's statement cache, and the one
// dialect/postgres.Open puts around lib/pq), across transactions, and a
// statement prepared per transaction would cost a round trip to close
// when the transaction ends.
type StatementReuser interface {
	ReusesStatements() bool
}
