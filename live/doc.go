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
// A database without a change log — the Go client's replica
// (sync/client), or any store whose writes an application can announce —
// gets its changes from Options.Changes instead: an outside source calls
// the engine's announce function after each commit with the tables the
// commit may have changed. Without row images the engine maintains
// nothing there: every subscription is re-run, debounced, when a table it
// reads is announced (its Class is None; a Select-class query keeps the
// primary key as its ORDER BY tie-break, a join both tables' keys, its
// rows then keyed by their values), and only then. Since announce
// comes after the commit and the re-run is one query, a subscriber sees
// only committed states (the client's rebase is one transaction, so never
// half of one). Options.NoRowAuth says such a database runs no row auth:
// the replica holds only what its user may read, so subscriptions need no
// identity there. sync/client configures its replica this way when it
// opens, so live.Subscribe(ctx, c.DB(), q) just works.
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
//
//     A Select query may also join one other table, inner on a column
//     equality across the tables (todos JOIN lists ON todos.list_id =
//     lists.id) or left on the joined table's primary key. The state
//     then holds joined images (both tables' columns). A change to
//     either table drops the kept rows holding that row and joins its
//     new image with the other table's matching rows: from a kept row
//     when the key is the joined table's primary key, else by one query
//     on the key (as the system: both tables' read rules are evaluated
//     in Go, the FROM table's with WHERE, the joined table's with ON as
//     row auth folds it). ON and WHERE are evaluated in Go on each
//     joined image, NULL keys joining nothing; a left join's FROM row
//     that no row matches gets NULLs. The result is keyed by the FROM
//     table's primary key when ON equates the joined table's primary key
//     (a FROM row joins at most one row), else by JoinKey of both keys;
//     ties are broken by the same keys. A lookup may read past the
//     commits applied so far: the subscription then publishes once the
//     engine has applied every commit up to what it read. A left join
//     on another column (a change would need its old key, which the log
//     does not carry), several joins, self joins, aggregates over joins
//     and joins without a projection are None. A join subscription is
//     not in the engine's equality index: it looks at every change to
//     either table, and finding the kept rows that hold a changed row of
//     the joined table scans the kept rows.
//
//   - Aggregate: COUNT(*), COUNT, SUM, AVG, MIN and MAX (aliased) over the
//     Select class's WHERE, GROUP BY plain columns, HAVING on grouped
//     columns and aggregates other than AVG, ORDER BY grouped columns.
//     COUNT, SUM and AVG move in O(1) per change; MIN and MAX recompute
//     only a group whose extreme left it, from the group's rows kept in
//     memory (the engine keeps each counted row's inputs: memory grows
//     with the rows aggregated). A SUM that leaves int64 turns the
//     subscription into a re-run one, so the engine's own arithmetic
//     decides.
//
//   - None: everything else (joins other than the above, subqueries,
//     raw SQL, expressions, JSON and CRDT columns, text ordering under a
//     collation that is not byte order). The query is re-run, debounced
//     (Options.Debounce), when a table it reads changes, and only then.
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
