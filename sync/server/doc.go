// Package server is plasma's sync server: an http.Handler that speaks the
// Replicache push/pull protocol version 1 (package sync/protocol) over a
// plasma database, so that the replicache npm client (15.3.0, unmodified),
// or any other client of that protocol, can sync with it.
//
//	h, err := server.NewHandler(server.Options[User]{
//		Schema: app.Schema, DB: db, Mutators: app.Mutators, Auth: auth,
//	})
//	mux.Handle("/sync/", h) // POST /sync/push, POST /sync/pull
//	srv := server.HTTPServer(mux) // read, write and idle timeouts, a header cap
//	srv.Addr = ":8080"
//	err = srv.ListenAndServe()
//
// Or mount each endpoint on its own pattern (BasePath plays no part),
// next to the realtime Hub, and let browsers on other origins call them
// through the CORS middleware:
//
//	mux.Handle("POST /sync/push", h.PushHandler())
//	mux.Handle("POST /sync/pull", h.PullHandler())
//	mux.Handle("GET /sync/ws", hub) // package sync/realtime
//	srv := server.HTTPServer(server.CORS("https://app.example.com")(mux))
//
// Package sync/synctest has a strict client simulator for testing an
// application's handler.
//
// NewHandler installs row auth and the change log on Options.DB (see
// package serverdb) and creates the tables it needs. Every request is
// authenticated by Options.Auth, which returns the rowauth.Identity the
// request acts for — its tables' read and write rules apply to everything
// the request reads and writes — and the application context mutators
// receive.
//
// # Push
//
// A push carries mutations of one client group's clients. The handler
// refuses, before applying anything: an unauthenticated request (401), a
// body over Options.MaxPayloadBytes (413, not read past the limit), a
// malformed body (400), more than Options.MaxMutationsPerPush mutations
// (400), an id over Options.MaxIDBytes or arguments nested deeper than
// Options.MaxArgsDepth (400), a schema version other than the schema's (409, or 200 with
// Options.SchemaVersionMismatchStatus; the body is
// {"error":"VersionNotSupported","versionType":"schema"}), a pushVersion
// other than 1 (200 with versionType "push", which makes the client ask
// for an update), a client group bound to another user, and a client that
// belongs to another group (403, with one body for both, whether or not
// the id exists, so that it is no oracle of other users' ids).
//
// Then the mutations are processed in order, in one database transaction
// per push (Options.MutationsPerTransaction can split a push into several
// batches, down to a transaction per mutation), as the protocol requires:
//
//   - The client group is created on first use and bound to the pushing
//     user; the client is created with lastMutationID 0 and its row is
//     locked (SELECT … FOR UPDATE on PostgreSQL; SQLite transactions are
//     serialised), so concurrent pushes of one client, even through
//     different servers, take turns.
//   - With next = lastMutationID + 1: a mutation id below next was
//     processed before and is skipped — re-pushes are normal, and this is
//     what makes them harmless. An id above next is "from the future": it
//     and that client's later mutations in the push are not processed
//     (KindMutationOutOfOrder, reported through OnError), other clients'
//     are, and the push still answers 200 — the client keeps the mutations
//     pending, as Replicache's own reference servers do. Otherwise the
//     mutator runs.
//   - The mutator runs with a context that carries the identity
//     (rowauth.WithIdentity) and the mutation's origin
//     (changelog.WithOrigin), on a transaction-scoped DB. Its effects and
//     the client's new lastMutationID commit together: a pull that
//     reports lastMutationID 42 shows the effects of 1..42 and none of
//     43+.
//   - A permanent failure (see package mutator: an application error,
//     arguments that do not fit, an authorization error, a refused
//     statement, a panic, an unknown mutator name) is rolled back, and
//     lastMutationID still advances, so the client is not stuck; it is
//     reported as KindMutatorFailed, and the push goes on. A batch runs
//     optimistically without a savepoint per mutation (on SQLite a
//     SAVEPOINT/RELEASE pair costs about as much as an INSERT): when a
//     mutation fails permanently the batch's transaction is rolled back
//     and the batch replayed — the mutations before the failing one run
//     again, the failing one is counted as failed without running, the
//     rest follow. After two failures in one batch, or when a mutator
//     left a PostgreSQL transaction aborted (it ignored a failed
//     statement) or went on after row auth refused one of its writes,
//     the batch is replayed with a savepoint around each mutation
//     instead. In the optimistic run row auth's own savepoints are spared
//     (rowauth.WithCallerUndo) and the mutations' change-log rows are
//     written in one INSERT at the end of the batch, which on PostgreSQL
//     also carries the lastMutationID updates (changelog.Batch): a push
//     of one mutation costs six statements there, BEGIN and COMMIT
//     included. In the optimistic run the mutators' plain INSERTs (no
//     ON CONFLICT, no RETURNING) are also held back and run as one
//     multi-row INSERT per run of consecutive INSERTs into one table, just
//     before the transaction's next statement of another kind: a push of
//     20 createTodo costs the same six statements as a push of one. Each
//     held row is logged as its own mutation's change. A held INSERT is
//     answered at once (its rows counted as written), so when a merged
//     INSERT fails, or a mutation fails after one of its INSERTs was held,
//     the batch is replayed with every INSERT run as it comes. Tables with
//     a foreign key to themselves, CRDT columns, or a write rule that
//     reads their own rows are never held (see rowauth.InsertsJudgedAlone).
//     Mutators may therefore run more than once per push (as they already
//     do on PostgreSQL serialization retries): they must act only through
//     the transaction, and every statement of theirs must go through the
//     DB they are given (not its Executor), so that it runs after the
//     INSERTs held before it.
//   - A temporary failure (mutator.IsTemporary: the database unavailable
//     or busy) rolls the transaction back and aborts the push with 500
//     (KindUnavailable); the client retries later. Mutations of earlier
//     batches (with Options.MutationsPerTransaction below the push's
//     size) committed and stay applied — the client's re-push skips them.
//     PostgreSQL serialization failures and deadlocks are retried a few
//     times first.
//
// After the transactions commit, Options.OnPushed and Options.Notifier
// hear about the push (if it changed anything): the realtime layer pokes
// clients from there. Handler.Invoke runs a mutator for a backend job and
// notifies the same way.
//
// ClientStateNotFound, which makes a Replicache client drop its client
// group for good and start over, is sent for exactly one condition: a
// push whose first mutation for a client the server has no record of has
// an id above 1. A client only ever pushes from its lowest pending
// mutation, and a mutation stops being pending only when a pull reported
// it processed, so mutations 1..id-1 were processed by a database that
// no longer has their record: the server lost that client's state
// (restored from a backup, client records deleted, or its group collected
// by Handler.Collect: see "Collection"). A brand-new client starts at 1
// and is simply created. A pull never answers ClientStateNotFound: an
// unknown group or cookie is answered with a reset.
//
// # Pull: row versioning with client view records
//
// The handler uses the "row versioning" strategy of the Replicache
// documentation. A client group's view is what its pulls sent it: for
// each row key ("<table>/<id>") a version, kept one line per key in
// ViewRowsTable, plus, per cookie, a client view record (CVR, in
// CVRsTable) with the change-log heads, the lastMutationIDs and the rule
// inputs the response was computed from. plasma's row version is a
// content hash: the first 8 bytes of the SHA-256 of the row's JSON,
// exactly the value a put sends. A line also holds the order of the
// cookie that sent it: a client holding cookie c holds what a line at or
// below c says, and a line above c (written by a later pull of another
// tab) is unknown to it, so that row is sent again.
//
// A pull, for a group and a cookie:
//
//  1. Refuses a group bound to another user (403), and binds a group no
//     user holds yet to the pulling user: the first authenticated pull,
//     push or WebSocket connection makes a group its user's for good.
//     The owner is read first, so only a group's first pull writes.
//  2. Finds the CVR the cookie names (its "cvr" id, in this group, for
//     this user). A cookie that names none — null, another server's
//     cookie, another group's (a forked tab), a pruned one, a forged one —
//     means a reset: the response starts with a clear and puts every
//     visible row. A value that is no cookie at all (an array, true, an
//     object without a number or string "order") is refused with 400.
//  3. Fast path: if the change-log heads of the watched regions (read
//     with the group's state, in one query), the group's lastMutationIDs
//     and the fingerprint of schema and identity are what the CVR
//     recorded, nothing the view depends on can have changed: it answers
//     the same cookie without reading the tables.
//  4. Otherwise it reads, in one read-only transaction (REPEATABLE READ on
//     PostgreSQL, a WAL snapshot on SQLite), the group's lastMutationIDs
//     and the rows that may have changed for the group: those the change
//     log has above the CVR's heads, and those a changed rule input lets
//     in or out (see "Incremental pulls"), always through row auth, so
//     permissions follow the data: a row that is no longer readable,
//     whatever the reason, is simply absent, and becomes a del. When it
//     cannot be sure to find every such row, it reads every row the
//     identity may read instead (a rescan).
//  5. Diffs those rows against the view's lines: a put for each row that
//     is new or whose hash changed, a del for each row that is gone, and
//     the clients whose lastMutationID changed.
//  6. If nothing changed it answers the same cookie (the client then
//     ignores the empty patch) and records the newer heads on the CVR,
//     so the next pull takes the fast path. Otherwise it stores a new CVR
//     under a new cookie with the lines its patch changed (and no
//     others), and prunes the group's oldest CVRs, keeping
//     Options.KeepCVRs, so that a client whose last response was lost, or
//     another tab of the group with an older cookie, still gets a diff.
//     Pulls of one group store one after the other: in one process they
//     take turns; across processes a pull stores only if the group's view
//     has not moved since it read it (ViewHeadsTable), and else computes
//     its answer again.
//
// Pulls never write client records (pushes create them); a pull for a
// group that does not exist yet binds it, is a reset and stores a CVR. Pushes and
// pulls both record the group's last-seen time (see "Collection").
//
// # Incremental pulls
//
// A pull reads what changed since its cookie: the keys of the change log
// above the CVR's heads (compaction keeps every row's latest change, so
// a cookie below the compaction bound still finds them), and the rows a
// read rule may now let in or out without changing themselves. For the
// second, each synced table's read rule is analysed for the identity
// (sync/internal/readrule): a rule over the row's own columns and
// subqueries of the shape col IN (SELECT sel FROM m WHERE ...), nested
// or not, is followed input by input. For "list_id IN (SELECT list_id
// FROM members WHERE user_id = <the user>)" the CVR keeps the user's list
// ids; when members changed, the pull reads them again and re-reads only
// the rows whose list_id entered or left the set. A subquery selecting
// ids (todo_id IN (SELECT id FROM todos WHERE ...)) needs no set: the
// rows of changed todos, and of todos whose own inputs changed, are the
// ones re-read. So a pull costs what changed for the group, not what it
// can read.
//
// A pull rescans — reads every row the identity may read and diffs
// against the whole view, writing only the lines that differ — exactly
// when it cannot be sure: the cookie names no view ("reset"), the schema
// or identity changed ("fingerprint"), a read rule is not analysable or
// its inputs differ from the CVR's ("rule"), Options.DisableFastPath
// says rows change outside the change log ("uncaptured"), or more rows
// changed than an incremental pull reads ("changes"). It also rescans by
// choice when the change log since the cookie — every user's changes —
// is longer than twice the group's view plus 256 ("cheaper"), as the
// change-log heads tell before the snapshot is read; for a pull that
// reads scoped tables (below), which passes over the changes outside its
// scopes at a quarter of the cost, four times that. An incremental pull
// reads the change log in the database: it counts the changes by table,
// looks up a view line for each changed key, and sends back only the
// lines the group's view holds; then it reads each changed table's rows
// through a semi-join of the change log with the table, under row auth,
// so the changed rows the identity may not read (with many users
// writing, most of them) never leave the database. Handler.PullStats
// counts the pulls of each kind.
//
// # Scoped tables
//
// With many users, most changes since a cookie are other users'. A
// synced table whose rows are partitioned among readers (todos by list,
// documents by tenant) can name the partitioning column in
// orm.TableOptions.SyncScope. On PostgreSQL the change log then records
// each change's value of it, and a pull whose read rule for the table is
// exactly "that column IN (subquery)" reads only the table's changes
// whose value the subquery returns, in the pull's snapshot. A change
// that may move a row from one value to another (an UPDATE or upsert
// setting the column, a DELETE, a write the capture triggers log, a
// cascade, or a change compaction folded others into) is logged without
// a value, and every pull reads it. A rule input that reads the table
// (another table's rule selecting its ids, say tags by their todo's list)
// keeps it scoped only if it selects the table's ids and requires the
// same "column IN (subquery)" in its WHERE; otherwise the pull reads all
// of the table's changes, as it does on SQLite, whose log has no scope.
// PullStats.Changes and PullStats.Scoped show the effect: 32 users
// pushing 20 todos each between pulls, each pull reads its own 20 changes
// instead of all 640.
//
// A pull keeps in memory the JSON of the rows its patch puts, not of the
// rows the client already has, and the lines it changes (a rescan: the
// group's whole view). The CVR is stored before
// the response's first byte is written, so every database error is still
// answered with a 5xx; the response is then written in pieces of about 32 KiB
// (chunked, without a Content-Length, when it does not fit in one) rather
// than built whole, byte for byte what protocol.PullResponse.AppendJSON
// would make. A write error (the client went away) drops the rest of the
// response; the client's next pull, from its old cookie, gets the same
// diff again.
//
// # Cookies
//
// The cookie is {"order":<integer>,"cvr":"<id>"} (protocol.Cookie). The
// order comes from one counter in the database, drawn only when a pull
// stores a new CVR: on PostgreSQL a sequence (OrderSequence), whose draws
// take no lock, so pulls of different groups never wait for each other's
// commits; on SQLite a row of CountersTable, bumped under the one
// writer's lock. A PostgreSQL database that older plasma versions served
// from the counter row gets the sequence started above it; while older
// and newer processes serve one database together, a group pulled from
// both may be answered a lower cookie once, and reset. A client's cookie never moves it:
// the counter is global and only grows, so the next order is above every
// order this database issued, to any group — the cookie a pull answers, a
// forked tab's cookie from another group of the user — and a cookie it
// did not issue is answered as null. So: a response that changes
// anything has a strictly greater cookie; one that changes nothing has
// the equal cookie; and orders are monotonic across client groups, users
// and server instances, whatever any client sends. The cvr id is random,
// so a cookie can never name another snapshot's record, even after a
// database restore reissues an order. (A client that forges a cookie
// above the counter gets a lower one back, which its Replicache client
// refuses: only the forger is hurt.) A counter that a client raised past
// 2^52 under an older plasma (which caught up to numeric client cookies)
// is recovered at the next pull that stores a CVR: it restarts above the
// largest stored order below 2^52, and the raised CVRs are dropped.
// Clients that pulled between the raise and the recovery hold a raised
// cookie; their next pull is a reset under a lower cookie, which their
// Replicache client refuses, until they start a new client group.
//
// # Hostile input
//
// No request makes the handler answer 5xx because of what it carries.
// Ids with NUL are malformed (PostgreSQL's TEXT cannot hold NUL); mutation
// arguments with a string that is not well-formed Unicode (invalid UTF-8,
// an escaped lone surrogate) fail the mutation with
// mutator.ErrIllFormedString, since they could not round-trip; a NUL in
// an argument string round-trips on SQLite and fails the mutation on
// PostgreSQL. Bodies are read through http.MaxBytesReader into a buffer
// that grows as bytes arrive; a body cut off by the server's ReadTimeout
// is answered 408. Serve the handler with HTTPServer's settings (or your
// own ReadTimeout, WriteTimeout, IdleTimeout and MaxHeaderBytes) so that a
// slow client cannot hold a connection.
//
// On SQLite, which has one writer at a time, the handler's write
// transactions (push batches, CVRs, group binding, Invoke) take turns in
// the process, in order, instead of spinning in SQLite's busy handler,
// where under load some would wait past busy_timeout and fail. Writers
// outside the handler still meet busy_timeout.
//
// # Conflicts: TableOptions.ResolveConflict
//
// By default the last write wins: a mutator's UPDATE overwrites what it
// sets, whatever happened to the row since the client last saw it. A
// synced table may set orm.TableOptions.ResolveConflict. Then, for each
// row an UPDATE built with the ORM matches in a mutation of a push, the
// handler compares the row's content as stored with the content the
// pushing client group has seen: the row's hash in the group's latest
// CVR (its last pull), or the hash the row had after the group's own
// last write to it (so that a group editing its own unpulled writes has
// no conflict). If neither matches, the row changed since the client last
// saw it — by another group, a backend job, or anything else — and after
// the UPDATE ran, ResolveConflict(ctx, stored, incoming) is called with
// the row as it was stored and as the UPDATE left it, and the row it
// returns is written (its id excluded; columns it leaves out keep the
// incoming value). An error fails the mutation permanently. The values
// are normalised: string for text and id columns, int64 for integers,
// bool, []byte for blobs, json.RawMessage for JSON, file, CRDT and
// encrypted columns, nil for NULL.
//
// The rule is approximate in one direction: the server does not know
// which snapshot a mutation was made on, so it compares with the group's
// latest pull — a conflict is only detected with what changed after it.
// Not resolved (last writer wins): INSERT … ON CONFLICT DO UPDATE,
// DELETE, UPDATEs whose SET uses SQL expressions (the incoming row is not
// computed in Go), rows the identity may write but not read, raw SQL,
// and writes outside a push (Handler.Invoke, backend jobs). The
// mutator's own RETURNING sees the incoming row; the change log records
// both writes, in one transaction. Tables without a resolver cost
// nothing.
//
// # Tables
//
// Ensure creates the handler's bookkeeping tables: GroupsTable,
// ClientsTable, CVRsTable, ViewRowsTable, ViewHeadsTable, CountersTable,
// WritesTable and SeenTable. They
// start with orm.ReservedPrefix and are never synced or logged.
//
// # Collection
//
// Every client group leaves state behind: its group and client records,
// its view (a line per row the group holds, about key length + 30 bytes,
// plus the lines of dels until every kept CVR is newer), up to
// Options.KeepCVRs view records, and its WritesTable rows. A browser makes a
// new group whenever its storage is cleared or its schema changes, so
// without collection the tables only grow. The rule: a client group for
// which no push or pull has been served for Options.GroupTTL (default 30
// days) is forgotten. Handler.Collect deletes such groups with all their
// state, in transactions of Options.CollectBatch groups; run it on a
// schedule (the demo in cmd/plasma runs it, with change-log compaction,
// every hour). The application's own rows are never touched.
//
// Between collections, Options.MaxGroupsPerUser (default 1,000) bounds
// what one account can hold: a push or pull that binds a new group past
// it drops that user's least recently seen groups, just as Collect would,
// so fresh group ids from one client cannot grow the tables for others.
//
// Pushes and pulls write the group's last-seen time to SeenTable, at
// most once per GroupTTL/30 (capped at 20 minutes) per group and handler
// process, so a busy group costs one small write per interval; the
// stored time lags by at most three intervals. Groups that have state but
// no last-seen time (created before SeenTable existed, or bound only over
// a WebSocket) are given the time of the Collect that finds them.
//
// When a collected group's client comes back:
//
//   - A pull (any cookie) answers a reset: a clear, every row the user
//     may read, and no lastMutationID for the forgotten clients.
//   - A push whose first mutation for a forgotten client is above 1
//     answers {"error":"ClientStateNotFound"} and applies nothing.
//     Replicache then disables the client group for good and starts a new
//     one (onClientStateNotFound reloads the page by default): the
//     mutations that group had not seen confirmed by a pull are dropped,
//     never applied. A client idle for a whole GroupTTL rarely has any:
//     Replicache itself drops clients idle for 24 hours to 7 days,
//     depending on its version, with the same callback.
//   - The group id is free again: the next request binds it to its user.
//
// # Pokes and pulls
//
// The realtime layer pokes a client group when a committed change touches
// a row its identity may read now or its view holds. A
// commit that lands while a pull is between reading its snapshot and
// storing its view record could slip between the two checks, so such a
// pull, when the handler's Notifier also has a Poke(groupID string)
// method (the realtime Hub does), compares the change-log heads after
// storing its record with those it read before its snapshot and pokes
// its own group if they moved. On PostgreSQL a pull that did not wait for
// a publication (its heads may leave changes out) pokes its group
// without comparing.
//
// # Costs and limits
//
// An incremental pull reads the change log above its cookie's heads (all
// users' changes, one index lookup of the view per changed key; of a
// scoped table, its scopes' changes, still found by reading the log's
// range above the heads, about a quarter of a microsecond per change on
// PostgreSQL) and the
// rows that may have changed for its group; it writes the lines its
// patch changed. A rescan reads every row the identity may read and the
// group's whole view. Pulls are not paged: a first pull's memory is
// about its response's size plus its view's. The fast path and
// incremental pulls miss a change the change log does not show: see
// Options.DisableFastPath. A pull's snapshot reads run in one read-only
// transaction (REPEATABLE READ on PostgreSQL) on the handler's DB, through
// row auth and the base DB's own middlewares.
//
// # Observability and devtools
//
// Instrumentation enters the handler through one seam, Options.Observer:
// it is told when each push, pull, mutation run and Collect starts and
// ends (an Event: user, client group, the error answered, a push's
// mutation outcomes, a pull's patch size and bytes), and the context it
// returns at the start is the one the work runs under. Package
// sync/otelsync implements it with OpenTelemetry (spans and metrics);
// with plugin/otelorm on the DB, one push is one trace down to its SQL.
// Options.Logger logs the reported errors; LogHandler puts the request's
// user and client group on every slog record logged with its context.
// Without an Observer, a Logger or the devtools, a request makes no
// Event.
//
// Options.Devtools serves a page and a JSON API at {BasePath}/devtools/
// to the requests its Admin function accepts (403 for the others, 404
// for everyone when the option is off; a browser origin other than the
// page's and not listed gets 403): the client groups with their users,
// clients, lastMutationIDs and view records, the change log's tail, the
// realtime hub's connections and rooms (RealtimeInspector), the recent
// errors by kind, and commands to poke a group, drop its views (its next
// pull is a reset) or close its WebSockets. Every message carries
// "source":"plasma-devtools"; the types are in package sync/protocol.
// See docs/observability.md.
package server
