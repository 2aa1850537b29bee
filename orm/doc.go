// Package orm is plasma's data layer: a declared schema, statement
// builders that render the same statement for SQLite and PostgreSQL, a DB
// that runs them through a middleware chain, transactions, and scanning
// into structs and maps. The repository's README.md has a longer tour and
// the layout of the other packages.
//
// # Schema
//
// Tables are declared once, as package variables, from column kinds (ID,
// Text, Int, BigInt, Boolean, Blob, JSON, File, the CRDT kinds, and
// AutoIncrement for mapping existing tables) and modifiers (Nullable,
// Default, Unique, Encrypted, PrimaryKey, References). DefineSchema checks
// the tables together and reports every problem as a *SchemaError:
//
//	var Notes = orm.NewTable("notes",
//		orm.ID(),
//		orm.Text("owner_id"),
//		orm.Text("body"),
//		orm.Boolean("done").Default(false),
//	).With(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_owner", Columns: []string{"owner_id"}}}})
//
//	var Schema = orm.MustDefineSchema("1", Notes)
//
// Synced tables have exactly one primary key, the text column "id";
// TableOptions.External and ChangeLogSuppressed mark tables that are not
// synced, which may use any key. The SQL type of each kind on each engine
// is tabled in the dialect/sqlite and dialect/postgres package docs. The
// engine-neutral model a declaration resolves to (Table.Def: kinds,
// columns, foreign keys, indexes) lives in package tabledef, which the
// dialects render and orm/migrate compares.
//
// # Open
//
// Open opens a pool through a dialect package (orm.Open(sqlite.Dialect,
// "app.db"), orm.Open(postgres.Dialect, dsn)); package orm links no
// driver itself, so a program links only the engines whose dialect
// packages it imports. New wraps a pool the caller opened (or another
// dialect.Executor, such as a bun database through dialect/bunexec) with
// the dialect to render for.
// EnsureSchema creates the tables and indexes that are missing and never
// alters anything; orm/migrate diffs a schema against a live database and
// applies the additive part, and orm/migrate/migratecli puts that behind
// an application's command line.
//
//	pool, err := postgres.Open("postgres://user@127.0.0.1:5432/app?sslmode=disable") // or sqlite.Open("app.db")
//	db := orm.New(pool, postgres.Dialect)
//	err = orm.EnsureSchema(ctx, Schema, db)
//
// # Query
//
// Select, Insert, Update and Delete build statements from expressions of
// package expr. Values are always bound parameters and identifiers always
// quoted; a statement is checked against the schema before any SQL runs,
// and a mistake is a *QueryError naming the column. All, One, Scalar and
// Maps run a statement that returns rows and scan them: a struct by
// column name, any other type from a single column. A field's column is
// the first of these that says: its `db:"name"` tag; its
// `gorm:"column:name"` tag; the first part of its bun tag (`bun:"name,pk"`)
// when that part is not empty or a bun option; else the field's name in
// snake_case. `db:"-"`, `gorm:"-"` (or "-:all"), `bun:"-"` and GORM's and
// bun's relation fields are no columns; embedded structs, and structs
// tagged `gorm:"embedded"` or `bun:"embed:prefix_"`, give their fields'
// columns (with GORM's embeddedPrefix or bun's prefix). Fields GORM may
// only read (`gorm:"->"`) or bun only scans (`bun:",scanonly"`) are
// scanned and never written. So models written for GORM or bun scan and
// write unchanged. Insert's Model and Update's Set map a struct's fields
// the same way.
//
//	notes, err := orm.All[Note](ctx, db.Select().From(Notes).
//		Where(expr.Eq(Notes.Col("owner_id"), uid), expr.Not(expr.Eq(Notes.Col("done"), true))).
//		Limit(20))
//
// # Write
//
// Insert takes rows as Row maps and can upsert (OnConflictDoNothing,
// OnConflictDoUpdate); Update and Delete refuse to run without Where
// unless told AllRows; all three take Returning, whose rows All scans.
// Exec returns the number of rows affected.
//
//	_, err = db.Insert(Notes).Values(orm.Row{"id": id, "owner_id": uid, "body": "milk"}).Exec(ctx)
//	_, err = db.Update(Notes).Set(orm.Row{"done": true}).Where(expr.Eq(Notes.Col("id"), id)).Exec(ctx)
//
// # Transactions
//
// DB.Tx runs a function in a transaction, committing when it returns nil
// and rolling back on an error or a panic; the *Tx it hands over is a DB
// bound to the transaction. Begin, Commit and Rollback are the manual
// form. A DB made with New on a caller's *sql.Tx runs inside that
// transaction.
//
// # Middleware
//
// Every statement the DB runs — reads, writes, DDL and raw SQL — passes
// through its middleware chain, in the shape of net/http middleware: a
// Middleware wraps a Handler that takes the *Statement and returns a
// *Result. A middleware can log, refuse, add statements to a write's
// transaction, or replace the statement's builder with a changed copy;
// SQL is rendered only at the end of the chain. DB.Use returns a DB with
// more middleware. The plugins under plugin/ (change log, row auth, CRDT
// columns, field encryption) are middleware of this kind.
package orm
