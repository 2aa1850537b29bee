package postgres

import (
	"database/sql"
	"time"
)

// The pool settings Open, OpenWith and dialect/pgx's Open give a
// PostgreSQL pool (SizePool), sized for a sync server: database/sql's
// own defaults keep only 2 idle connections, so a server under
// concurrent pushes and pulls opens and closes a connection (a TCP
// handshake, authentication and a new backend process on the server)
// for most requests, and loses every connection's prepared statements
// with it. Keeping the connections it opened is what lets the statement
// caches pay off. Change them on the *sql.DB (SetMaxOpenConns and so on).
const (
	// DefaultMaxOpenConns bounds the pool's connections: requests past
	// it wait for one to come free instead of failing with "too many
	// clients" (PostgreSQL's max_connections is 100 by default, shared
	// by every process on the database). Size it to max_connections
	// divided by the number of server processes, less a few for
	// administration and listeners.
	DefaultMaxOpenConns = 64
	// DefaultMaxIdleConns keeps every connection the pool opened for the
	// next request, as many as DefaultMaxOpenConns.
	DefaultMaxIdleConns = DefaultMaxOpenConns
	// DefaultConnMaxIdleTime closes a connection left unused that long,
	// so that the pool shrinks back after a burst.
	DefaultConnMaxIdleTime = 5 * time.Minute
)

// SizePool gives db the default pool settings (DefaultMaxOpenConns,
// DefaultMaxIdleConns, DefaultConnMaxIdleTime). Open and OpenWith call
// it; call it on a pool opened another way. A connection's lifetime
// stays unbounded.
func SizePool(db *sql.DB) {
	db.SetMaxOpenConns(DefaultMaxOpenConns)
	db.SetMaxIdleConns(DefaultMaxIdleConns)
	db.SetConnMaxIdleTime(DefaultConnMaxIdleTime)
}
