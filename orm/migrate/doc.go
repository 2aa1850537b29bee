// Package migrate diffs a declared plasma schema against a live SQLite or
// PostgreSQL database and applies the safe part of the difference.
//
// Introspect reads what the database has: tables, columns, their types,
// nullability and defaults, UNIQUE constraints, foreign keys and their
// ON DELETE actions, primary keys and secondary indexes. Types and
// defaults are normalised before they are compared — "INT" and "INTEGER",
// 'x'::text and 'x', jsonb's reordered keys, '-1'::integer and -1 — so a
// database created from a schema diffs empty against that schema, run
// after run. (Other Go ORMs compare raw type names and re-issue ALTER on
// every start.)
//
// Diff and Run compute a SchemaDiff: the steps that would make the database
// match the schema. Additive steps (a table, column, index or UNIQUE
// constraint added, a NOT NULL relaxed, a default changed) are applied as
// they come. Destructive steps (a table or column dropped, a kind changed,
// NOT NULL tightened, a foreign key added, dropped or changed, a UNIQUE
// constraint or unique index dropped, a primary key changed) are refused:
// Run returns a *RefusedError carrying the diff and applies nothing,
// unless an Allowance names the step exactly. Renames are never guessed:
// a renamed column looks like a drop and an add, and is refused, unless
// AllowRenameColumn declares it.
//
//	diff, err := migrate.Run(ctx, app.Schema, db, migrate.Options{
//		Allow: []migrate.Allowance{
//			migrate.Allow(migrate.OpDropColumn, "todos", "legacy_flag"),
//			migrate.AllowRenameColumn("todos", "title", "name"),
//		},
//	})
//	var refused *migrate.RefusedError
//	if errors.As(err, &refused) {
//		log.Print(refused.Diff) // what was refused, and why
//	}
//
// Everything is applied in one transaction, under the schema lock
// (PostgreSQL's advisory lock, which EnsureSchema takes too; SQLite's
// write lock), so concurrent Runs take turns and the later ones find
// nothing to do. On PostgreSQL DDL is transactional. On SQLite, changes
// ALTER TABLE cannot make are applied by the table rebuild of
// sqlite.org/lang_altertable.html: foreign key enforcement is turned off
// on the migration's connection (it cannot change inside a transaction),
// the table is recreated and its rows copied, and PRAGMA foreign_key_check
// runs on the touched tables before the commit. A table that has features
// a plasma schema cannot declare (CHECK, COLLATE, multi-column constraints,
// generated columns, WITHOUT ROWID, STRICT) is never rebuilt: such steps
// are blocked instead.
//
// Adding a NOT NULL column without a default to a table that has rows is
// refused with a message saying so: the rows would have no value for it.
//
// On success Run records the schema's version, and a snapshot of its
// tables, column kinds and index names, in MetaTable (_plasma_meta).
// Version reports the recorded version against the declared one. The
// snapshot lets later runs tell kinds that share one SQL type apart (text
// and a CRDT counter are both TEXT) and recognise what plasma created.
//
// Tables the schema does not declare are handled with care for databases
// shared with other applications: plasma's own tables (named with
// orm.ReservedPrefix, such as _plasma_changes) are ignored; a table that
// an earlier Run recorded and the schema no longer declares is a
// destructive "drop table" step; any other table is untracked — listed in
// SchemaDiff.Untracked and left alone — unless Allow(OpDropTable, name, "")
// names it. Indexes of declared tables follow the same rule.
package migrate
