// Package schemagen writes Go source that declares a live database's
// tables with plasma's schema DSL: drizzle-kit's "pull", for moving an
// existing SQLite or PostgreSQL database onto plasma. The migrate CLI
// runs it as the pull command:
//
//	plasma pull -sqlite app.db -package schema -o schema/schema_gen.go
//
// Generate reads the database with migrate.Introspect (on PostgreSQL, the
// connection's current schema) and declares every table (but plasma's own) with its columns' kinds, nullability, literal
// defaults, UNIQUE constraints, single-column foreign keys and their ON
// DELETE actions, secondary indexes and primary key. A table whose key is
// one text column named "id" is declared with orm.ID(), ready to sync;
// any other key — an integer key assigned by the database
// (orm.AutoIncrement), a composite key — makes an External table, mapped
// but not synced. Kinds that share one SQL type (text and a CRDT counter,
// an encrypted column) come back as declared when a migrate.Run recorded
// them; otherwise a column gets the kind its type maps to.
//
// The generated schema is checked before it is written: it must define
// (orm.DefineSchema) and diff empty against the database it came from
// (migrate.Diff), so migrate.Run on it changes nothing. What the DSL
// cannot declare is never dropped silently:
//
//   - What the database keeps and migrate leaves alone — CHECK and
//     multi-column UNIQUE or FOREIGN KEY constraints, ON UPDATE actions,
//     generated columns, partial and expression indexes, WITHOUT ROWID —
//     is described in a comment on the table.
//   - What would make the declaration differ from the database — a
//     column type no kind maps to (timestamp, numeric, uuid, ...), a
//     default that is an expression (CURRENT_TIMESTAMP), ON DELETE SET
//     DEFAULT, a table without a primary key, a name plasma refuses — is
//     an error, an *UnsupportedError listing every such problem. With
//     Options.Lossy, Generate declares the rest and describes each problem
//     in a comment where it was left out; migrate.Diff then reports the
//     differences, and Run refuses the destructive ones.
//
// Table names become exported Go names (order_items → OrderItems); names
// that are not Go identifiers, or that collide once converted, get a
// prefix or a number. Every table, column and index name is written as a
// quoted Go string, so any name the database accepts round-trips.
package schemagen
