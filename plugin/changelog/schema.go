package changelog

import (
	"context"
	"fmt"
	"sync"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
)

// The names of the change log's tables. Both start with orm.ReservedPrefix,
// so they can never clash with a declared table.
const (
	// LogTable holds one row per change.
	LogTable = orm.ReservedPrefix + "changes"
	// RegionTable holds each region's highest published version
	// (PostgreSQL only).
	RegionTable = orm.ReservedPrefix + "region_versions"
)

// sqliteDDL creates the log on SQLite. The version is the row's
// AUTOINCREMENT key: assigned while the writer holds SQLite's single write
// lock, so version order is commit order, and never reused, even after the
// newest rows are compacted away. There is no index on (region, version):
// a reader scans the key range above its cursor, and with the
// AUTOINCREMENT bookkeeping a second index more than doubled the cost of
// logging a change.
var sqliteDDL = []string{
	`CREATE TABLE IF NOT EXISTS "_plasma_changes" (
	"version" INTEGER PRIMARY KEY AUTOINCREMENT,
	"region" TEXT NOT NULL,
	"table_name" TEXT NOT NULL,
	"row_id" TEXT NOT NULL,
	"op" TEXT NOT NULL,
	"data" TEXT,
	"client_id" TEXT,
	"mutation_id" BIGINT
)`,
}

// postgresDDL creates the log on PostgreSQL. Writers insert rows with a
// NULL version; _plasma_publish numbers them after they commit (see the
// package documentation).
var postgresDDL = []string{
	`CREATE TABLE IF NOT EXISTS "_plasma_changes" (
	"id" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	"version" BIGINT,
	"region" TEXT NOT NULL,
	"table_name" TEXT NOT NULL,
	"row_id" TEXT NOT NULL,
	"op" TEXT NOT NULL,
	"data" TEXT,
	"client_id" TEXT,
	"mutation_id" BIGINT
)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS "_plasma_changes_region_version" ON "_plasma_changes" ("region", "version")`,
	`CREATE INDEX IF NOT EXISTS "_plasma_changes_pending" ON "_plasma_changes" ("region", "id") WHERE "version" IS NULL`,
	`CREATE TABLE IF NOT EXISTS "_plasma_region_versions" (
	"region" TEXT PRIMARY KEY,
	"version" BIGINT NOT NULL
)`,
	// _plasma_publish numbers the region's committed, unnumbered changes,
	// at most publishBatch of them, and returns the region's highest
	// version. The region row's lock serialises publishers, and the
	// numbering runs in a statement that starts after the lock is held, so
	// its snapshot sees every earlier publication and each row is numbered
	// once. Rows of transactions still running are invisible to it: they
	// are numbered by a later call, above everything numbered before.
	`CREATE OR REPLACE FUNCTION "_plasma_publish"(p_region text) RETURNS bigint
LANGUAGE plpgsql AS $plasma$
DECLARE
	base bigint;
	n bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM "_plasma_changes" WHERE "region" = p_region AND "version" IS NULL) THEN
		SELECT "version" INTO base FROM "_plasma_region_versions" WHERE "region" = p_region;
		RETURN coalesce(base, 0);
	END IF;
	INSERT INTO "_plasma_region_versions" ("region", "version") VALUES (p_region, 0)
		ON CONFLICT ("region") DO UPDATE SET "version" = "_plasma_region_versions"."version"
		RETURNING "version" INTO base;
	WITH p AS (
		SELECT "id", row_number() OVER (ORDER BY "id") AS k
		FROM "_plasma_changes"
		WHERE "region" = p_region AND "version" IS NULL
		ORDER BY "id" LIMIT 10000
	), u AS (
		UPDATE "_plasma_changes" c SET "version" = base + p.k FROM p WHERE c."id" = p."id" RETURNING 1
	)
	SELECT count(*) INTO n FROM u;
	IF n > 0 THEN
		UPDATE "_plasma_region_versions" SET "version" = base + n WHERE "region" = p_region;
	END IF;
	RETURN base + n;
END
$plasma$`,
}

var installed sync.Map // dialect.Executor -> struct{}

// EnsureLog creates the change log's tables (and, on PostgreSQL, its
// publishing function) where they do not exist yet, in one transaction.
// Like orm.EnsureSchema it is idempotent and cheap to call again: once it
// has succeeded for an executor, later calls return at once.
func EnsureLog(ctx context.Context, db *orm.DB) error {
	if db == nil {
		return fmt.Errorf("plasma: changelog.EnsureLog: nil database")
	}
	if _, done := installed.Load(db.Executor()); done {
		return nil
	}
	ddl := sqliteDDL
	if db.Dialect().Name() == "postgres" {
		ddl = postgresDDL
	}
	err := db.Tx(ctx, func(tx *orm.Tx) error {
		if lock := tx.Dialect().LockSchema(); lock != "" {
			if err := tx.ExecDDL(ctx, nil, lock); err != nil {
				return err
			}
		}
		for _, stmt := range ddl {
			if err := tx.ExecDDL(ctx, nil, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("plasma: changelog.EnsureLog: %w", err)
	}
	if !db.InTx() {
		installed.Store(db.Executor(), struct{}{})
	}
	return nil
}

// isPostgres reports whether d is PostgreSQL's dialect.
func isPostgres(d dialect.Dialect) bool { return d.Name() == "postgres" }
