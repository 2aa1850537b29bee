// Package client is plasma's Go client: what Replicache gives web apps,
// for Go desktop, CLI, edge and service-to-service programs, over the
// same sync server and wire protocol (Replicache push/pull v1) and with
// the same mutator code the server runs.
//
//	c, err := client.Open(ctx, client.Options[todo.AppCtx]{
//		Server:   "https://app.example.com/sync",
//		Schema:   todo.Schema, Mutators: todo.Mutators,
//		Replica:  "todo-replica.db", // "" keeps it in memory
//		Auth:     client.Bearer(func(ctx context.Context) (string, error) { return token, nil }),
//		Ctx:      todo.AppCtx{UserID: "alice"},
//	})
//	defer c.Close()
//	c.Start(ctx) // push, pull, pokes, retries in the background
//	err = c.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: id, ListID: lid, Title: "milk"})
//	rows, err := orm.All[Todo](ctx, c.DB().Select().From(todo.Todos))
//
// # The replica
//
// The replica is one SQLite database (a file, or memory). Each synced
// table of the schema exists twice in it:
//
//   - the app's table under its own name holds the optimistic view: the
//     server's state with the pending mutations applied on top. This is
//     what c.DB() reads, with the ordinary query builder;
//   - _plasma_srv_<table> holds the server's state as of the last pull.
//
// Triggers on the app's tables record in _plasma_dirty the id of every
// row a local write touches. The outbox (_plasma_outbox) holds the
// pending mutations (name, JSON arguments) in id order, and
// _plasma_client the client group id, client id, cookie,
// lastMutationID and the next mutation id. Everything the client knows
// is in the file, so a crash or a restart loses nothing committed. On
// unix the file is locked (an advisory lock on <file>.lock) while a
// client has it open: a second Open fails with ErrReplicaInUse.
//
// Mutate runs the mutator through the same mutator.Set the server runs,
// in one local transaction that also appends the mutation to the outbox;
// a mutator that fails changes nothing and is not queued.
//
// # Rebase
//
// A pull's answer is applied in one local transaction, so readers never
// see a half-rebased state:
//
//  1. the patch is written to the server-state tables, and the keys it
//     touched are marked dirty;
//  2. the outbox drops the mutations at or below the pulled
//     lastMutationID;
//  3. every dirty row of the app's tables is replaced by its server
//     state (after a clear, the whole tables are);
//  4. the still-pending mutations run again, in order, each in a
//     savepoint: one that fails on the new state leaves no trace
//     locally and stays queued for the server to judge.
//
// The cost of a rebase is thus the patch plus the rows the pending
// mutations touched, not the size of the replica: the rows no pending
// mutation touched are already equal to the server's state.
// DiscardMutation rebases the same way without a patch. Writes to the
// app's tables outside Mutate are undone at the next rebase; and
// mutators should only write synced tables, since local-only tables are
// not rebased.
//
// Pull answers are checked before anything is written: a malformed
// patch, a cookie going backwards (or changing type), a lastMutationID
// going back or beyond the mutations the client made are refused with
// an error matching ErrBadResponse, and the replica stays as it was.
//
// # The loop
//
// Start runs the loop: it pushes after each Mutate (batches of PushBatch
// mutations, at most PushBytes, halved at once if the server refuses a
// push as over its limits), pulls after each push (a push always starts at
// the first unconfirmed mutation, so that pull is what lets the next
// batch go), on every poke of the WebSocket at {Server}/ws and, while no
// socket is up, every PullInterval. Network errors and 5xx answers are
// retried with capped exponential backoff and jitter; other 4xx answers
// are not retried and go to OnError, with the server's error kind
// (ServerError.Kind). PushOnce, PullOnce and Flush work with or without
// the loop. SetOffline (and the
// Offline option) stop all traffic; mutations keep queueing and go out
// when the client is back online.
//
// A schema version mismatch (the server answers VersionNotSupported for
// the schema, or the replica was written under another version) is
// handled as OnSchemaMismatch says: SchemaReset wipes the replica (once)
// and starts a new client group; SchemaStay keeps the local data and stops
// syncing until ResetLocalState. ClientStateNotFound resets, as
// Replicache does.
//
// # Files
//
// Files travel by upload, then ref (package files): Upload streams a
// file to the server's {Server}/files/ endpoint for a file column and
// returns the files.Ref a mutator writes into a row; Download fetches a
// ref's bytes and checks their size and hash. Neither is queued or
// retried: they need the network, and a ServerError's Temporary says
// whether trying again later may help (a quota full for now, a 503).
//
// # Presence
//
// JoinRoom (or Options.Room and UserInfo) joins a presence room over the
// same socket; snapshots arrive on OnPresence and PresenceUpdates.
//
// # Live queries
//
// live.Subscribe and live.SubscribeFunc work on c.DB():
//
//	sub, err := live.Subscribe[Todo](ctx, c.DB(), c.DB().Select().From(todo.Todos).Where(...))
//	<-sub.Ready()
//	for d := range sub.Deltas() { ... } // d.Added, d.Changed, d.Removed by primary key
//
// The replica has no change log, so Open configures the live engine of
// c.DB() (live.Options.Changes and NoRowAuth) to hear Watch instead: after
// every committed change of the replica's visible state — a local
// mutation, a rebase, a discard, a reset — the client announces the tables
// it may have changed (a rebase: the tables of its patch and those whose
// rows it put back or a replayed mutation wrote; a mutation, a discard or
// a reset: all), and each subscription reading one of them re-runs,
// debounced by 5 ms, and delivers the difference keyed by primary key
// (when the result has the key column; else by the row's values). A rebase is
// one local transaction and is announced after its commit, so a live
// query never sees a half-rebased replica. No identity is needed: the
// replica holds only what its user may read and runs no row auth. Do not
// call live.Configure on c.DB() yourself (it would replace the client's
// wiring). Close the subscriptions before the client: after Close they
// hear of nothing more.
//
// # Tests
//
// Package plasmatest runs an in-process server on SQLite or PostgreSQL
// with N clients of this package, networks that can be cut, a fake
// clock, and a convergence check against what the server says each user
// may read.
package client
