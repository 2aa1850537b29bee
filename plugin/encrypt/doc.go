// Package encrypt enforces encrypted columns: a column declared
// .Encrypted() in the schema only ever stores an envelope (see package
// envelope) sealed for that very cell, and the server that enforces it
// never needs a key.
//
// # The middleware
//
// [Middleware] checks every INSERT (including an upsert's DO UPDATE) and
// every UPDATE built with the orm that writes an encrypted column. It
// refuses, before anything is written:
//
//   - a value that is not an envelope, such as plaintext ([ErrNotEnvelope]);
//   - an envelope that fails [envelope.Validate] under [Options.Limits]:
//     too large, an unknown key id or suite, a bad nonce ...;
//   - an envelope whose claimed cell (table, row id, column) is not the
//     cell being written ([envelope.ErrCellMismatch]).
//
// The row id of a cell is the value of the table's "id" column. For an
// INSERT it is the id given in the same row. For an UPDATE it is the id of
// each row the WHERE clause matches: the middleware looks those rows up
// with a SELECT in the statement's transaction (opening one if the
// statement runs outside a transaction), refuses the UPDATE if any
// matched row is not the row its envelopes name, and adds that check to
// the UPDATE's own WHERE so that a row that starts matching concurrently
// is left alone rather than written. An UPDATE that writes an envelope
// can therefore change at most the one row the envelope names. On an
// executor that can begin no transaction and is not one (a custom
// dialect.Executor) such an UPDATE is refused with orm.ErrNoBeginner
// before anything is written.
//
// NULL is accepted in a nullable encrypted column. Refusals are an
// [*Error] naming the table, column and row, wrapping the reason: match it
// with errors.As, and the reason with errors.Is ([ErrNotEnvelope],
// [ErrNoRowID], [ErrUnverifiable], or the envelope package's sentinels
// such as [envelope.ErrCellMismatch], [envelope.ErrTooLarge] and
// [envelope.ErrUnknownKey]).
//
// What the middleware cannot see it does not check: raw SQL run with
// DB.Exec or DB.Query, and statements run outside the chain (an
// orm.Prepared statement executed directly). Keep writes to encrypted
// columns on the builders. Tables must have been through
// orm.DefineSchema, which is where the middleware learns which columns are
// encrypted.
//
// # Trusted code that holds keys
//
// [SealCell] and [OpenCell] (and [SealCellPQ] and [OpenCellPQ] for the
// post-quantum hybrid) seal a value for a cell into the JSON text to store
// in an orm.Row, and open what is read back.
package encrypt
