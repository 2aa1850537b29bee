package changelog

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
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

// logColumns are the log's columns after its key, on both engines.
var logColumns = []tabledef.Column{
	{Name: "region", Kind: tabledef.KindText},
	{Name: "table_name", Kind: tabledef.KindText},
	{Name: "row_id", Kind: tabledef.KindText},
	{Name: "op", Kind: tabledef.KindText},
	{Name: "data", Kind: tabledef.KindText, Nullable: true},
	{Name: "client_id", Kind: tabledef.KindText, Nullable: true},
	{Name: "mutation_id", Kind: tabledef.KindBigInt, Nullable: true},
}

// sqliteLog is the log on SQLite. The version is the row's AUTOINCREMENT
// key: assigned while the writer holds SQLite's single write lock, so
// version order is commit order, and never reused, even after the newest
// rows are compacted away. There is no index on (region, version): a
// reader scans the key range above its cursor, and with the AUTOINCREMENT
// bookkeeping a second index more than doubled the cost of logging a
// change.
var sqliteLog = &tabledef.Table{
	Name:       LogTable,
	Columns:    append([]tabledef.Column{{Name: "version", Kind: tabledef.KindBigInt, AutoIncrement: true}}, logColumns...),
	PrimaryKey: []string{"version"},
}

// regionVersionIndex makes a version unique within its region.
var regionVersionIndex = tabledef.Index{Name: LogTable + "_region_version", Columns: []string{"region", "version"}, Unique: true}

// pgLog is the log where writers run concurrently (PostgreSQL). Writers
// insert rows with a NULL version; _plasma_publish numbers them after
// they commit (see the package documentation). The id is generated
// always, where the engine can refuse a written value, which keeps
// anyone from writing a log row's id by hand. The partial index finds a
// region's unnumbered rows.
var pgLog = &tabledef.Table{
	Name: LogTable,
	Columns: append(append([]tabledef.Column{
		{Name: "id", Kind: tabledef.KindBigInt, AutoIncrement: true, AlwaysGenerated: true},
		{Name: "version", Kind: tabledef.KindBigInt, Nullable: true},
	}, logColumns...), scopeColumnDef),
	PrimaryKey: []string{"id"},
	Indexes: []tabledef.Index{
		regionVersionIndex,
		{Name: LogTable + "_pending", Columns: []string{"region", "id"}, WhereNull: []string{"version"}},
	},
}

// scopeColumnDef is the log's scope on PostgreSQL: the changed row's
// value of its table's SyncScope column (orm.TableOptions), NULL when the
// change may have moved the row from another value or was logged
// without one (capture triggers, Record, cascades, older plasma). A pull
// reads a scoped table's changes whose scope is NULL or among the values
// its read rule admits.
var scopeColumnDef = tabledef.Column{Name: "scope", Kind: tabledef.KindText, Nullable: true}

// addScope brings a log made before scope existed up to date.
const addScope = `ALTER TABLE "` + LogTable + `" ADD COLUMN IF NOT EXISTS "scope" TEXT`

// regionVersions holds each region's highest published version and, in
// covered, the xmax of the snapshot its last complete publication
// numbered under (PostgreSQL): a reader whose own snapshot's xmax is
// below it is covered by that publication (see _plasma_publish).
var regionVersions = &tabledef.Table{
	Name: RegionTable,
	Columns: []tabledef.Column{
		{Name: "region", Kind: tabledef.KindText},
		{Name: "version", Kind: tabledef.KindBigInt},
		{Name: "covered", Kind: tabledef.KindBigInt, Nullable: true},
	},
	PrimaryKey: []string{"region"},
}

// addCovered brings a region table made before covered existed up to date.
const addCovered = `ALTER TABLE "` + RegionTable + `" ADD COLUMN IF NOT EXISTS "covered" BIGINT`

// _plasma_publish numbers the region's committed, unnumbered changes
// (10,000 at a time, _plasma_publish_try's attempts) and returns the
// region's highest version. Its
// caller passes p_seen, the xmax of the snapshot it read under (a
// statement's pg_current_snapshot()): every change committed before that
// snapshot must be numbered at or below the version returned.
//
// The region row's lock serialises publishers, and the numbering runs in
// a statement that starts after the lock is held, so its snapshot sees
// every earlier publication and each row is numbered once. Rows of
// transactions still running are invisible to it: they are numbered by a
// later call, above everything numbered before.
//
// Readers do not queue for the lock. A publication whose numbering
// snapshot was taken after the caller's covers it: xmax, the next
// transaction id to be handed out, only grows, so a snapshot with a
// greater xmax was taken later and sees every transaction the caller's
// saw commit. A complete publication records its snapshot's xmax in
// covered; a caller finds itself covered (covered > p_seen), or finds
// nothing left to number, or takes the lock if it is free (SKIP LOCKED)
// and publishes — one attempt, _plasma_publish_try — or else waits a
// millisecond for the publisher at work and tries again (for 100 ms at
// most, then it queues for the lock). Under load one publication serves
// every reader that arrived before it, and those readers write nothing.
//
// The one-argument form is the function of older plasma versions, kept
// for processes still running them: it is covered from its own call on.
//
// It stays written out here: it is the log's own numbering algorithm,
// not DDL a dialect could render, and only an engine with concurrent
// writers (dialect.ConcurrentWrites, which is what selects it) needs one.
const publishFunction = `CREATE OR REPLACE FUNCTION "_plasma_publish"(p_region text, p_seen bigint) RETURNS bigint
LANGUAGE plpgsql AS $plasma$
DECLARE
	v bigint;
	tries int := 0;
BEGIN
	LOOP
		v := "_plasma_publish_try"(p_region, p_seen);
		IF v >= 0 THEN
			RETURN v;
		END IF;
		tries := tries + 1;
		IF tries >= 100 THEN
			-- Polled for 100 ms: queue for the lock like any writer; the
			-- next try holds it.
			PERFORM 1 FROM "_plasma_region_versions" WHERE "region" = p_region FOR UPDATE;
		ELSE
			PERFORM pg_sleep(0.001);
		END IF;
	END LOOP;
END
$plasma$`

// publishTryFunction is one attempt of _plasma_publish, for a reader that
// need not wait: it returns the region's highest version when it finds
// the caller covered, nothing left to number, or the lock free (then it
// numbers up to 10,000 changes, and covers the caller if that was all);
// otherwise -1 minus the region's highest version as it stands (see
// PeekHeadSQL): a publisher holds the lock, or more changes are left.
const publishTryFunction = `CREATE OR REPLACE FUNCTION "_plasma_publish_try"(p_region text, p_seen bigint) RETURNS bigint
LANGUAGE plpgsql AS $plasma$
DECLARE
	base bigint;
	seen_by bigint;
	n bigint;
	snap bigint;
BEGIN
	SELECT "version", "covered" INTO base, seen_by FROM "_plasma_region_versions" WHERE "region" = p_region;
	IF seen_by > p_seen THEN
		RETURN base;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM "_plasma_changes" WHERE "region" = p_region AND "version" IS NULL) THEN
		-- Read after the check: every change it found numbered is at
		-- or below this version.
		SELECT "version" INTO base FROM "_plasma_region_versions" WHERE "region" = p_region;
		RETURN coalesce(base, 0);
	END IF;
	IF base IS NULL THEN
		INSERT INTO "_plasma_region_versions" ("region", "version") VALUES (p_region, 0) ON CONFLICT ("region") DO NOTHING;
	END IF;
	-- The numbering below starts its snapshot after the lock is held.
	SELECT "version" INTO base FROM "_plasma_region_versions" WHERE "region" = p_region FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		-- A publisher is at work: the version as it stands.
		SELECT "version" INTO base FROM "_plasma_region_versions" WHERE "region" = p_region;
		RETURN -1 - coalesce(base, 0);
	END IF;
	WITH s AS (
		SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x
	), p AS (
		SELECT "id", row_number() OVER (ORDER BY "id") AS k
		FROM "_plasma_changes"
		WHERE "region" = p_region AND "version" IS NULL
		ORDER BY "id" LIMIT 10000
	), u AS (
		UPDATE "_plasma_changes" c SET "version" = base + p.k FROM p WHERE c."id" = p."id" RETURNING 1
	)
	SELECT (SELECT count(*) FROM u), (SELECT x FROM s) INTO n, snap;
	UPDATE "_plasma_region_versions" SET "version" = base + n,
		"covered" = CASE WHEN n < 10000 THEN snap ELSE "covered" END
		WHERE "region" = p_region;
	IF n = 10000 THEN
		RETURN -1 - (base + n);
	END IF;
	RETURN base + n;
END
$plasma$`

// publishFunction1 is the one-argument form, for older callers.
const publishFunction1 = `CREATE OR REPLACE FUNCTION "_plasma_publish"(p_region text) RETURNS bigint
LANGUAGE sql AS $plasma$
	SELECT "_plasma_publish"(p_region, pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
$plasma$`

// publishCall is the call of _plasma_publish for the region bound to its
// placeholder, covering the snapshot of the statement it is part of.
const publishCall = `"_plasma_publish"(?, pg_snapshot_xmax(pg_current_snapshot())::text::bigint)`

// publishTryCall is the call of _plasma_publish_try for the region bound
// to its placeholder.
const publishTryCall = `"_plasma_publish_try"(?, pg_snapshot_xmax(pg_current_snapshot())::text::bigint)`

// logKey names the change log's objects for DB.EnsureOnce.
type logKey struct{}

// Ensure creates the change log's tables (and, on PostgreSQL, its
// publishing function) where they do not exist yet, in one transaction.
// Like orm.EnsureSchema it is idempotent and cheap to call again: once it
// has succeeded for a DB, later calls return at once (orm.DB.EnsureOnce).
func Ensure(ctx context.Context, db *orm.DB) error {
	if db == nil {
		return fmt.Errorf("plasma: changelog.Ensure: nil database")
	}
	err := db.EnsureOnce(ctx, logKey{}, func(tx *orm.DB) error {
		stmts, err := logDDL(tx.Dialect())
		if err != nil {
			return err
		}
		for _, stmt := range stmts {
			if err := tx.ExecDDL(ctx, nil, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("plasma: changelog.Ensure: %w", err)
	}
	return nil
}

// logDDL returns the statements that create the log on d's engine.
func logDDL(d dialect.Dialect) ([]string, error) {
	if !concurrentWrites(d) {
		return dialect.CreateTable(d, sqliteLog, true)
	}
	regions, err := dialect.CreateTable(d, regionVersions, true)
	if err != nil {
		return nil, err
	}
	stmts, err := dialect.CreateTable(d, pgLog, true)
	if err != nil {
		return nil, err
	}
	return append(append(stmts, regions...), addCovered, addScope, publishTryFunction, publishFunction, publishFunction1), nil
}

// concurrentWrites reports whether d's engine runs writers concurrently, as
// PostgreSQL does: the log then numbers versions per region at publish
// time. Where one writer runs at a time (SQLite) the versions are handed
// out in commit order as rows are written.
func concurrentWrites(d dialect.Dialect) bool { return d.Features().Has(dialect.ConcurrentWrites) }
