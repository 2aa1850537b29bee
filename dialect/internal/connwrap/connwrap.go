// Package connwrap holds what the dialects' driver-connection wrappers
// (their per-connection statement caches) forward unchanged to the
// driver's own connection.
package connwrap

import (
	"context"
	"database/sql/driver"
)

// Conn forwards the optional interfaces database/sql asks a connection
// for to the driver's connection, which must implement them. A wrapper
// embeds it and overrides what it changes.
type Conn struct {
	driver.Conn
}

// The interfaces forwarded.
var (
	_ driver.ConnBeginTx     = Conn{}
	_ driver.Pinger          = Conn{}
	_ driver.SessionResetter = Conn{}
	_ driver.Validator       = Conn{}
)

// BeginTx begins a transaction on the driver's connection.
func (c Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// Ping pings through the driver's connection.
func (c Conn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

// ResetSession resets the driver's connection for its next use.
func (c Conn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

// IsValid reports whether the driver's connection may be reused.
func (c Conn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Unwrap returns the driver's own connection, for a caller of
// sql.Conn.Raw that needs its other methods.
func (c Conn) Unwrap() driver.Conn { return c.Conn }
