// Package sqleval evaluates expr predicates in Go with the semantics the
// SQL engines give them: three-valued logic with NULL, comparisons only
// between values of one type (integers, text, booleans), text ordered
// byte by byte, LIKE with each engine's case and escape rules, empty IN
// lists false.
//
// It is shared by the live package (maintaining query results from row
// images) and by sync/realtime (deciding whom a change pokes), so both
// read a predicate the same way. Compile refuses, with ErrUnsupported,
// every predicate whose Go evaluation could differ from the engine's:
// subqueries, raw SQL, parameters of other types, text ordering under a
// collation that is not byte order, a PostgreSQL LIKE pattern with its
// escape character, an out-of-range integer against a 32-bit column on
// PostgreSQL. A caller that gets ErrUnsupported must ask the database.
package sqleval
