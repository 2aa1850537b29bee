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
// Not logged: tables with ChangeLogSuppressed or External; raw SQL
// (DB.Exec, DB.Query), which plasma cannot see into — call Record with the
// ids such a statement touched. With Options.Schema set, a DELETE follows
// ON DELETE CASCADE and SET NULL into synced tables and logs those rows
// too. An UPDATE may not change a synced row's id (ErrIDUpdate).
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
// The cost: a read that finds unpublished changes performs a short write
// transaction (one round trip, through the function); concurrent readers
// of a region take turns for it. Throughput with 16 concurrent writers is
// measured in the repository's bench/README.md.
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
package changelog
