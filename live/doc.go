// Package live keeps query results up to date as the database changes:
// live queries maintained incrementally, for servers and backend jobs.
//
//	q := db.Select(Todos.Col("id"), Todos.Col("title")).From(Todos).
//		Where(expr.Eq(Todos.Col("list_id"), lid), expr.Eq(Todos.Col("done"), false)).
//		OrderBy(expr.Asc(Todos.Col("title"))).Limit(50)
//	sub, err := live.Subscribe[Todo](ctx, db, q) // under ctx's identity
//	<-sub.Ready()
//	rows := sub.Snapshot()
//	for d := range sub.Deltas() { // d.Added, d.Changed, d.Removed by primary key
//		...
//	}
//
// # Where changes come from
//
// The change log (plugin/changelog) records every write to a synced table
// with its row image in the write's transaction. The live engine of a
// database (one per orm Memo, started with the first subscription and
// stopped with the last) reads the log in version order, which is commit
// order, and applies each image to every subscription that reads the
// table. It is woken in-process after each commit by changelog.OnCommit
// (orm's DB.AfterCommit), on PostgreSQL by the LISTEN/NOTIFY channel
// plasma_changes that sync/realtime's trigger feeds (Options.Listener),
// and else every PollInterval. Writes the change log does not see (raw
// SQL without changelog.Record, tables with ChangeLogSuppressed or
// External) are invisible to live queries as they are to sync.
//
// # Classes
//
// Classify says how a query is kept:
//
//   - Select: one table with a single-column primary key; a WHERE that
//     Go evaluates exactly as the engine does; a projection of plain
//     columns; ORDER BY plain columns; LIMIT and OFFSET. Each change is
//     evaluated in Go on its image. The engine keeps the first
//     OFFSET+LIMIT rows; when a row leaves a window whose further rows it
//     does not know, it reads the window again (one query, for that
//     subscription only). Ties are broken by the primary key, which is
//     appended to ORDER BY, so windows are well defined.
//   - Aggregate: COUNT(*), COUNT, SUM, AVG, MIN and MAX (aliased) over the
//     Select class's WHERE, GROUP BY plain columns, HAVING on grouped
//     columns and aggregates other than AVG, ORDER BY grouped columns.
//     COUNT, SUM and AVG move in O(1) per change; MIN and MAX recompute
//     only a group whose extreme left it, from the group's rows kept in
//     memory (the engine keeps each counted row's inputs: memory grows
//     with the rows aggregated). A SUM that leaves int64 turns the
//     subscription into a re-run one, so the engine's own arithmetic
//     decides.
//   - None: everything else (joins, subqueries, raw SQL, expressions,
//     JSON and CRDT columns, text ordering under a collation that is not
//     byte order). The query is re-run, debounced (Options.Debounce),
//     when a table it reads changes, and only then.
//
// Go evaluation is internal/sqleval, which sync/realtime can share for its
// poke decisions: NULL's three-valued logic, comparisons only between
// values of one type (a comparison across types is None), text compared
// byte by byte (SQLite's BINARY; on PostgreSQL only under a C, POSIX or
// C.UTF-8 database collation, which Subscribe reads), LIKE case-blind for
// ASCII on SQLite and exact on PostgreSQL (a pattern with PostgreSQL's
// escape character, the backslash, is None), a constant outside int32
// against an int column on PostgreSQL None (the engine would fail the
// statement).
//
// # Row auth
//
// A subscription runs under its context's identity and sees what the same
// query returns under it. The FROM table's read rule is evaluated in Go
// with the WHERE when Go can evaluate it (Owner rules and the like); a
// rule that reads other tables (a membership subquery), whose inputs may
// change on their own, makes that subscription a re-run one that runs
// again on a change to any table, so a member removed sees the list's
// rows leave. The database must run row auth (serverdb installs it) for
// the snapshot and refills to apply the rule as the Go side does.
//
// # Delivery
//
// A subscription is published only after the engine has applied every
// commit up to the snapshot its last query read, so a result is always a
// state some transaction left, never a mix. Delivery never blocks the
// engine or writers: a consumer that does not keep up gets one delta from
// what it was last told to the latest result (deltas coalesce). An idle
// subscription holds no goroutine: the context's end closes it through
// context.AfterFunc, and a delivery goroutine runs only while a delta
// waits. SubscribeFunc takes a callback instead of a channel.
//
// ServerSelect is the backend job's form: it runs a fetch function again
// when named tables change (or every poll) and hands changed results to a
// callback.
package live
