// Package gormtest holds plasma's tests against GORM, in a Go module of
// its own: GORM's pure-Go SQLite driver, github.com/glebarez/sqlite,
// registers the database/sql driver name "sqlite" as modernc.org/sqlite
// (which plasma's dialect/sqlite links) does, so the two cannot share a
// binary. Here plasma runs on SQLite through dialect/sqlitedialect, which
// links no driver, on the *sql.DB GORM opened; and on PostgreSQL through
// gorm.io/driver/postgres (pgx).
//
// The tests run on both engines: SQLite always, PostgreSQL when
// PLASMA_TEST_POSTGRES holds a server's URL (in a schema of their own).
// The snippets of docs/migrating.md that use GORM are compiled and run
// here too (docs_test.go).
package gormtest
