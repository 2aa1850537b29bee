// Package pgx opens plasma's PostgreSQL databases on
// github.com/jackc/pgx/v5 through its database/sql adapter (pgx/v5/stdlib),
// and listens for notifications on a dedicated pgx connection.
//
// SQL is rendered by the same dialect as on lib/pq (postgres.Dialect), and
// column kinds map to the same types (see dialect/postgres). pgx keeps a
// per-connection cache of prepared statements keyed by SQL text (512 by
// default), so a statement plasma runs again costs one round trip and no
// parsing or planning on the server; values travel in pgx's binary
// formats.
//
// The package name is that of the driver; a program that imports
// github.com/jackc/pgx/v5 too names one of them, e.g.
//
//	import plasmapgx "github.com/plasma-go/plasma/dialect/pgx"
package pgx

import (
	"context"
	"database/sql"
	"fmt"

	pgxv5 "github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
)

// Dialect is PostgreSQL's dialect, the same value as postgres.Dialect.
var Dialect dialect.Dialect = postgres.Dialect

// Open opens a PostgreSQL database on pgx, for example
// "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" (pgx also
// takes libpq's key=value form), and checks that it answers. URL
// parameters pgx does not know, such as search_path, are sent to the
// server as run-time settings. The pool is sized as postgres.Open sizes
// lib/pq's (postgres.SizePool): change it on the *sql.DB.
func Open(dsn string) (*sql.DB, error) {
	cfg, err := pgxv5.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("plasma: open postgres (pgx): %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	postgres.SizePool(db)
	if err := db.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("plasma: open postgres (pgx): %w", err)
	}
	return db, nil
}
