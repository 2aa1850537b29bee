package server

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/tabledef"
)

// The names of the sync server's tables. They start with
// orm.ReservedPrefix, so no declared table can clash with them, and they
// are plasma's bookkeeping: never synced, never in the change log. They
// stay exported for applications that manage these tables with their own
// migrations (Options.SkipEnsure) or inspect them.
const (
	// GroupsTable holds one row per client group: its id and the user it
	// is bound to.
	GroupsTable = store.GroupsTable
	// ClientsTable holds one row per client: its group and the id of the
	// last mutation processed.
	ClientsTable = store.ClientsTable
	// CVRsTable holds the client view records: what each pull response
	// left a client group with.
	CVRsTable = store.CVRsTable
	// CountersTable holds the global cookie order counter (SQLite).
	CountersTable = store.CountersTable
	// OrderSequence is the global cookie order counter on PostgreSQL: a
	// sequence, which hands out orders without a row lock that every
	// pull storing a view would take turns for.
	OrderSequence = store.OrderSequence
	// ViewRowsTable holds each client group's view, one row per row key:
	// the hash of the row the group was last sent, the cookie order that
	// sent it, and whether the group holds it (0 for a del not yet
	// known to every kept cookie).
	ViewRowsTable = store.ViewRowsTable
	// ViewHeadsTable holds the cookie order of each group's latest view:
	// a pull stores its view only if the head is still the one it read.
	ViewHeadsTable = store.ViewHeadsTable
)

// textCol, bigintCol and blobCol declare the bookkeeping tables' columns,
// all NOT NULL.
func textCol(name string) tabledef.Column {
	return tabledef.Column{Name: name, Kind: tabledef.KindText}
}
func bigintCol(name string) tabledef.Column {
	return tabledef.Column{Name: name, Kind: tabledef.KindBigInt}
}
func blobCol(name string) tabledef.Column {
	return tabledef.Column{Name: name, Kind: tabledef.KindBlob}
}

// bookkeeping declares the sync server's tables; Ensure renders
// them through the dialect's DDL, so each engine gets its own types
// (BLOB or BYTEA). Their keys are NOT NULL on both engines.
var bookkeeping = []*tabledef.Table{
	{
		Name:       GroupsTable,
		Columns:    []tabledef.Column{textCol("id"), textCol("user_id"), bigintCol("created_at")},
		PrimaryKey: []string{"id"},
		Indexes:    []tabledef.Index{{Name: GroupsTable + "_user", Columns: []string{"user_id"}}},
	},
	{
		Name:       ClientsTable,
		Columns:    []tabledef.Column{textCol("id"), textCol("group_id"), bigintCol("last_mutation_id"), bigintCol("updated_at")},
		PrimaryKey: []string{"id"},
		Indexes:    []tabledef.Index{{Name: ClientsTable + "_group", Columns: []string{"group_id"}}},
	},
	{
		Name: CVRsTable,
		Columns: []tabledef.Column{textCol("group_id"), bigintCol("ord"), textCol("cvr"), textCol("user_id"), textCol("meta"),
			blobCol("entries"), bigintCol("created_at")},
		PrimaryKey: []string{"group_id", "ord"},
	},
	{
		Name: ViewRowsTable,
		Columns: []tabledef.Column{textCol("group_id"), textCol("row_key"), bigintCol("hash"), bigintCol("ord"),
			bigintCol("live")},
		PrimaryKey: []string{"group_id", "row_key"},
		// By group, live and order: the lines written after a cookie
		// (live IN (0, 1)), and the del lines of pruned records, without
		// reading the live lines the records wrote.
		Indexes: []tabledef.Index{{Name: ViewRowsTable + "_ord", Columns: []string{"group_id", "live", "ord"}}},
	},
	{
		Name:       ViewHeadsTable,
		Columns:    []tabledef.Column{textCol("group_id"), bigintCol("ord")},
		PrimaryKey: []string{"group_id"},
	},
	{
		Name:       CountersTable,
		Columns:    []tabledef.Column{textCol("name"), bigintCol("value")},
		PrimaryKey: []string{"name"},
	},
	{
		// WritesTable: each group's last write per row, for conflicts.
		Name:       WritesTable,
		Columns:    []tabledef.Column{textCol("group_id"), textCol("row_key"), bigintCol("hash")},
		PrimaryKey: []string{"group_id", "row_key"},
	},
	{
		// SeenTable: when each group was last seen, for collection.
		Name:       SeenTable,
		Columns:    []tabledef.Column{textCol("group_id"), bigintCol("seen_at")},
		PrimaryKey: []string{"group_id"},
		Indexes:    []tabledef.Index{{Name: SeenTable + "_seen_at", Columns: []string{"seen_at"}}},
	},
}

// orderSequenceDDL creates OrderSequence on PostgreSQL. A database whose
// orders came from CountersTable (older plasma) has the sequence start
// above the counter, in the transaction that creates it, so no order is
// handed out twice.
const orderSequenceDDL = `DO $plasma$
BEGIN
	CREATE SEQUENCE "` + OrderSequence + `";
	PERFORM setval('"` + OrderSequence + `"', "value") FROM "` + CountersTable + `" WHERE "name" = '` + orderCounter + `' AND "value" > 0;
EXCEPTION WHEN duplicate_table THEN
	NULL;
END
$plasma$`

// tablesKey names the sync server's tables for DB.EnsureOnce.
type tablesKey struct{}

// Ensure creates the sync server's tables (GroupsTable,
// ClientsTable, CVRsTable, ViewRowsTable, ViewHeadsTable, CountersTable,
// WritesTable, SeenTable, and on PostgreSQL OrderSequence) where
// they do not exist yet, in one transaction. It is idempotent and cheap
// to call again (orm.DB.EnsureOnce). NewHandler calls it, with
// orm.EnsureSchema and changelog.Ensure, unless Options.SkipEnsure is
// set.
func Ensure(ctx context.Context, db *orm.DB) error {
	if db == nil {
		return fmt.Errorf("plasma: sync: Ensure: nil database")
	}
	err := db.EnsureOnce(ctx, tablesKey{}, func(tx *orm.DB) error {
		for _, def := range bookkeeping {
			stmts, err := dialect.CreateTable(tx.Dialect(), def, true)
			if err != nil {
				return err
			}
			for _, stmt := range stmts {
				if err := tx.ExecDDL(ctx, nil, stmt); err != nil {
					return err
				}
			}
		}
		if tx.Dialect().Features().Has(dialect.ConcurrentWrites) {
			return tx.ExecDDL(ctx, nil, orderSequenceDDL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("plasma: sync: Ensure: %w", err)
	}
	return nil
}

// queryRow runs a raw query on db and scans its first row into dest;
// found is false when there is none.
func queryRow(ctx context.Context, db *orm.DB, query string, args []any, dest ...any) (found bool, err error) {
	return store.QueryRow(ctx, db, query, args, dest...)
}
