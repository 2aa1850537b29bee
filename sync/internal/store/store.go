// Package store holds the sync tables' names and the reads and writes of
// them that both sync/server and sync/realtime make: group ownership,
// the client view records a poke decision consults. It is internal
// because apps never call these directly: they bind groups through
// server.Handler.BindGroup and poke through the realtime hub.
package store

import (
	"context"
	"errors"

	"github.com/plasma-go/plasma/orm"
)

// The names of the sync server's tables. They start with
// orm.ReservedPrefix, so no declared table can clash with them.
// sync/server re-exports them for applications' own migrations.
const (
	GroupsTable   = orm.ReservedPrefix + "client_groups"
	ClientsTable  = orm.ReservedPrefix + "clients"
	CVRsTable     = orm.ReservedPrefix + "cvrs"
	CountersTable = orm.ReservedPrefix + "sync_counters"
	// OrderSequence is, on PostgreSQL, the sequence cookie orders come
	// from (on SQLite, a row of CountersTable).
	OrderSequence = orm.ReservedPrefix + "cookie_order"
	// ViewRowsTable holds each client group's view, one row per row the
	// group holds or recently stopped holding (see sync/server).
	ViewRowsTable = orm.ReservedPrefix + "view_rows"
	// ViewHeadsTable holds the order of each group's latest view, which
	// a pull that stores a view moves from the one it read.
	ViewHeadsTable = orm.ReservedPrefix + "view_heads"
)

// ErrForbiddenGroup is returned for a client group that belongs to
// another user; sync/server exports it as server.ErrForbiddenGroup.
var ErrForbiddenGroup = errors.New("the client group belongs to another user")

// ErrCorruptCVR is returned for a client view record whose metadata
// does not decode.
var ErrCorruptCVR = errors.New("plasma: sync: corrupt client view record")

// GroupPoker pokes the connections of one client group. A server
// Notifier that also implements it (the realtime Hub does) is asked to
// poke a group whose pull raced a commit.
type GroupPoker interface {
	Poke(groupID string)
}

// QueryRow runs a raw query on db and scans its first row into dest;
// found is false when there is none.
func QueryRow(ctx context.Context, db *orm.DB, query string, args []any, dest ...any) (found bool, err error) {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, rows.Close()
}
