// Package changelog records every write to a synced table in the
// _plasma_changes table, in the same transaction as the write, and reads
// the log back in version order. The sync server builds pulls from it.
//
// # What is logged
//
// Install Middleware on a DB (serverdb does it for you) and create the
// log's tables with Ensure. Then every INSERT, UPDATE, upsert and
// DELETE built with the ORM on a synced table logs one change per row it
// touched:
//
//	version      orders the region's changes (below)
//	region       WithRegion's region, else Options.Region, else "default"
//	table_name   the table
//	row_id       the row's id
//	op           "put" (the row exists) or "del" (it does not)
//	data         for a put, the row after the write as a JSON object keyed
//	             by column name, in declaration order; JSON, file, CRDT and
//	             encrypted columns are embedded as the JSON they hold
//	client_id    WithOrigin's client, else NULL
//	mutation_id  WithOrigin's mutation, else NULL
//	scope        PostgreSQL only: the row's value of its table's SyncScope
//	             column (orm.TableOptions), as text; NULL for a table
//	             without one and for a write that may have moved the row
//	             from another value: an UPDATE setting the column, an
//	             upsert whose update may set it, a DELETE, a cascade, a
//	             write the capture triggers or Record log
//
// An upsert logs the row as it ended up, inserted or updated; an INSERT
// that did nothing logs nothing. A write outside a transaction runs in one
// the middleware opens, so the write and its change rows commit or roll
// back together; a rolled-back transaction leaves no change rows. On an
// executor that can begin no transaction and is not one (a custom
// dialect.Executor) a logged write is refused with orm.ErrNoBeginner
// before anything is written: hand plasma a *sql.DB, or the *sql.Tx itself.
//
// The images come from the write itself. On PostgreSQL the statement is
// rewritten to RETURN every column (a DELETE its ids). A caller that asked
// for RETURNING gets exactly the columns it asked for: the middleware
// reads the rows first and hands on a buffered copy. On SQLite, where a
// RETURNING clause costs several times the write (the engine collects the
// rows in an ephemeral table), a statement without one of its own is not
// rewritten: the ids come from the VALUES, from an id = value in the
// WHERE, or from a SELECT with the same WHERE just before, and the images
// from one SELECT by id just after. SQLite runs one writer at a time, so
// nothing can change in between. A plain INSERT of values that are stored
// exactly as given (text, integers, booleans, blobs, NULL, and such
// declared defaults) needs no SELECT: its images are made from the values,
// with the encoder the read would use. So a middleware installed after
// the change log must not change the values an INSERT writes.
//
// Not logged by the middleware: tables with ChangeLogSuppressed or
// External; raw SQL (DB.Exec, DB.Query), which plasma cannot see into.
// The capture triggers log raw SQL (below); on a database without them,
// call Record with the ids such a statement touched. With Options.Schema
// set, a DELETE follows ON DELETE CASCADE and SET NULL into synced tables
// and logs those rows too. An UPDATE may not change a synced row's id
// (ErrIDUpdate).
//
// # Writes made outside plasma
//
// EnsureCapture (serverdb.New calls it) installs triggers on every synced
// table, so that a write that never passes through the middleware — raw
// SQL through database/sql, another ORM such as GORM or bun on the same
// database, another process, a psql or sqlite3 shell — is logged too, in
// its own transaction: a put with the row's image for each row an INSERT
// or UPDATE writes (and a del of the old id when an UPDATE changes it), a
// del for each row a DELETE removes, under the region EnsureCapture was
// given, with no origin. So it reaches pokes (on PostgreSQL the log's
// NOTIFY trigger fires for it; on SQLite the realtime hub's check of the
// log's head sees it) and moves the heads that a pull's fast path
// compares. Migrations run by package migrate drop and reinstall the
// triggers in the migration's transaction, so they follow added, dropped
// and renamed tables and columns; EnsureCapture also drops those of tables
// no longer synced.
//
// A write through the middleware is still logged by the middleware, with
// its origin, region and batch, and passes the triggers unlogged, so it is
// logged exactly once, also in a transaction it shares with outside
// writes:
//
//   - On PostgreSQL the rewritten statement's RETURNING also calls
//     set_config('plasma.capture_skip', statement_timestamp()::text, true).
//     RETURNING is computed as each row is written, before the AFTER
//     triggers run at the end of the statement, and the mark names this
//     statement alone, so a later statement of the transaction (another
//     ORM's) is captured. Rows that foreign-key actions write belong to the
//     same statement and pass too; the middleware logs them (Options.Schema).
//     It costs no statement.
//   - On SQLite the middleware first sets the "skip" column of
//     _plasma_capture to the log's highest version; a trigger lets a row
//     pass while the two are equal. The write's own change rows, inserted
//     just after it, raise the version, so the mark lapses by itself; a
//     write that logs nothing clears it. The writes of one Batch share one
//     mark until Flush. It costs one statement per write (per push with a
//     Batch).
//
// Measured in BenchmarkWrite (bench/write_bench_test.go): "trigger" is a
// write logged by the triggers alone, "changelog" one logged by the
// middleware, "changelog_captured" the middleware on a captured database.
// On PostgreSQL the middleware's writes cost nothing more. On SQLite they
// do: a trigger is compiled into every statement that can fire it, each
// time the statement is prepared, even when it then lets the write pass;
// and a table with a trigger makes every write to it inside a transaction
// keep a statement journal (a copy of each page it changes). With the
// temp_store(memory) that sqlite.DSN sets, a push of 100 mutations spends
// about a quarter more CPU (BenchmarkPush); with temporary files on disk,
// twice as much. SkipEnsure on serverdb (and on the sync server) leaves
// the triggers out for a database no one else writes.
//
// The triggers' images hold the values as the change log encodes them
// (booleans, numbers, JSON columns embedded), in declaration order, but
// not byte for byte as the middleware writes them (string escapes, JSON
// spacing); on SQLite a blob column is null, SQLite having no base64
// encoder. Text that is not JSON in a JSON, CRDT, file or encrypted
// column is logged as a JSON string on SQLite; on PostgreSQL it fails the
// outside write (JSON and file columns are JSONB, which refuses it
// anyway). Pulls read rows from the tables, not from the images.
//
// PostgreSQL logical decoding was the other route: it sees every commit
// without triggers, but needs wal_level=logical, a replication slot that
// holds WAL until it is read (a stalled reader fills the disk), a
// connection per reader, and an output plugin (wal2json, or decoding
// pgoutput's binary protocol), and it has no SQLite counterpart. The
// triggers log in the writing transaction, on both engines, with the
// same version rules as the middleware.
//
// # Versions
//
// A reader asks ChangesSince for the changes of a region above its cursor
// and must never skip a committed change, however many writers run at
// once. The hazard is a transaction that is numbered early but commits
// late: a reader that has moved its cursor past a later, already
// committed number would never see it. Versions are therefore only handed
// out, or only become readable, in an order no commit can undercut.
//
// SQLite has a single writer: a transaction holds the database's write
// lock from its first write to its commit. The version is the log row's
// AUTOINCREMENT key, taken under that lock, so version order is commit
// order; a reader's snapshot always holds a prefix of the versions; and
// AUTOINCREMENT never reuses a number, even after the newest rows are
// compacted. Versions are shared by all regions: increasing within each,
// with gaps.
//
// PostgreSQL runs writers in parallel, and the straightforward remedy — a
// per-region counter row bumped inside the writing transaction (the
// "global version" strategy of the Replicache documentation) — holds the
// counter's row lock from the first write to the commit, so every writer
// of a region waits for every other one, commit flush included. plasma
// numbers changes after they commit instead, so writers never wait for
// each other:
//
//   - A writer inserts its change rows with a NULL version. Their identity
//     id records the order in which they were written.
//   - Readers publish before reading (ChangesSince and Head do it): the
//     function _plasma_publish locks the region's row of
//     _plasma_region_versions, then, in a statement whose snapshot starts
//     after the lock is held, numbers the committed, unnumbered rows of the
//     region consecutively in id order, continuing from the region's
//     highest version, and commits.
//
// A transaction still running when a publication takes its snapshot is
// invisible to it; it is numbered by a later publication, above every
// version handed out before. So a late committer can never land below a
// reader's cursor: it is numbered when it becomes visible. Publications
// are serialised by the lock and each commits atomically, so readers see
// the versions 1..N of a region with no holes, and each row is numbered
// exactly once.
//
// Versions follow commit order from one publication to the next: every
// change committed before a publication is numbered by it (or earlier),
// below every change committed after it. Within one publication, changes
// are numbered in the order their rows were written. So a transaction that
// ended before another began always has the lower versions, and two writes
// of the same row are always in write order, since the second writer waits
// for the first one's commit before it writes. Nothing depends on other
// transactions in the cluster: a long-running transaction delays only its
// own changes.
//
// Readers do not take turns for the lock. Each passes the xmax of its own
// snapshot, and a complete publication records the xmax of the snapshot
// it numbered under: a reader whose snapshot is older than a publication's
// (smaller xmax) is covered by it, since every transaction it saw
// committed was committed when that publication looked. A reader that is
// not covered takes the lock if it is free and publishes; if a publisher
// holds it, the reader waits a millisecond and looks again (after 100 ms
// it queues for the lock). Under load one publication thus serves every
// reader that arrived before it, and those readers write nothing. A
// reader that need not wait (PeekHeadSQL, what a sync pull reads) takes,
// when a publisher holds the lock, the head as it stands instead: a sound
// cursor, since every change it leaves out is numbered above it, but
// not proof that nothing changed.
//
// The cost: a read that finds unpublished changes and no publication that
// covers it performs a short write transaction (one round trip, through
// the function). Throughput with 16 concurrent writers is measured in the
// repository's bench/README.md.
//
// # Compaction
//
// The log grows with every write. CompactChangeLog folds a region's
// changes at or below a bound: of each row's changes there it keeps only
// the latest (the last put, or the del if the row was deleted last), and
// deletes the others. It never touches changes above the bound, never
// renumbers, never removes a row's newest change, and reads and deletes
// only published rows, so it can run while writers write and readers
// read. A reader whose cursor predates the compaction still converges
// exactly: for each row with a change above its cursor, the row's latest
// change is still there with its version, and that change alone decides
// the row's state. Dels are kept, also for rows whose whole life lies
// below the bound, since a reader that saw the put still needs the del.
// On PostgreSQL a row whose changes are folded loses the scope of the
// changes it keeps: a folded change may have moved the row, and the kept
// one must then reach every reader, as the move did.
package changelog
