package server

import (
	"context"
	"fmt"
	"sync"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/internal/store"
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
	// CountersTable holds the global cookie order counter.
	CountersTable = store.CountersTable
)

func ddl(postgres bool) []string {
	blob, big := "BLOB", "BIGINT"
	if postgres {
		blob = "BYTEA"
	}
	return append([]string{
		`CREATE TABLE IF NOT EXISTS "` + GroupsTable + `" (
	"id" TEXT PRIMARY KEY,
	"user_id" TEXT NOT NULL,
	"created_at" ` + big + ` NOT NULL
)`,
		`CREATE TABLE IF NOT EXISTS "` + ClientsTable + `" (
	"id" TEXT PRIMARY KEY,
	"group_id" TEXT NOT NULL,
	"last_mutation_id" ` + big + ` NOT NULL,
	"updated_at" ` + big + ` NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS "` + GroupsTable + `_user" ON "` + GroupsTable + `" ("user_id")`,
		`CREATE INDEX IF NOT EXISTS "` + ClientsTable + `_group" ON "` + ClientsTable + `" ("group_id")`,
		`CREATE TABLE IF NOT EXISTS "` + CVRsTable + `" (
	"group_id" TEXT NOT NULL,
	"ord" ` + big + ` NOT NULL,
	"cvr" TEXT NOT NULL,
	"user_id" TEXT NOT NULL,
	"meta" TEXT NOT NULL,
	"entries" ` + blob + ` NOT NULL,
	"created_at" ` + big + ` NOT NULL,
	PRIMARY KEY ("group_id", "ord")
)`,
		`CREATE TABLE IF NOT EXISTS "` + CountersTable + `" (
	"name" TEXT PRIMARY KEY,
	"value" ` + big + ` NOT NULL
)`,
		writesDDL(),
	}, seenDDL()...)
}

var ensured sync.Map // dialect.Executor -> struct{}

// EnsureTables creates the sync server's tables (GroupsTable,
// ClientsTable, CVRsTable, CountersTable, WritesTable, SeenTable) where they do not exist yet, in
// one transaction. It is idempotent and cheap to call again. NewHandler
// calls it, with orm.EnsureSchema and changelog.EnsureLog, unless
// Options.SkipEnsure is set.
func EnsureTables(ctx context.Context, db *orm.DB) error {
	if db == nil {
		return fmt.Errorf("plasma: sync: EnsureTables: nil database")
	}
	if _, done := ensured.Load(db.Executor()); done {
		return nil
	}
	err := db.Tx(ctx, func(tx *orm.Tx) error {
		if lock := tx.Dialect().LockSchema(); lock != "" {
			if err := tx.ExecDDL(ctx, nil, lock); err != nil {
				return err
			}
		}
		for _, stmt := range ddl(tx.Dialect().Name() == "postgres") {
			if err := tx.ExecDDL(ctx, nil, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("plasma: sync: EnsureTables: %w", err)
	}
	if !db.InTx() {
		ensured.Store(db.Executor(), struct{}{})
	}
	return nil
}

// queryRow runs a raw query on db and scans its first row into dest;
// found is false when there is none.
func queryRow(ctx context.Context, db *orm.DB, query string, args []any, dest ...any) (found bool, err error) {
	return store.QueryRow(ctx, db, query, args, dest...)
}
