// Package crdtcol merges CRDT columns on every write made through the ORM.
//
// A column declared with orm.CRDTCounter, orm.CRDTPNCounter,
// orm.CRDTLWWRegister or orm.CRDTORSet holds the canonical JSON state of a
// crdt value. With Middleware in a DB's chain, a write never overwrites
// such a column blindly: the value stored is merge(stored, written),
// computed in Go with the crdt package inside the write's transaction, so
// concurrent writers that each write their full state (two clients
// incrementing one counter, two devices adding to one set) all count, and
// a stale state written late never lowers what is stored.
//
//	db, err := orm.Open(postgres.Dialect, dsn,
//		rowauth.Middleware(...),              // outermost: narrows what a write may touch
//		crdtcol.Middleware(crdtcol.Options{}), // merges CRDT columns
//		changelog.Middleware(...),            // innermost: logs what is written
//	)
//
// # Chain order
//
// Install crdtcol after row auth and before the change log: rowauth →
// crdtcol → changelog → execute. Row auth then narrows an UPDATE's WHERE
// before crdtcol reads the rows it matches, and the change log, which sits
// inside crdtcol, sees the statements crdtcol writes, so it records the
// merged value and never the value the caller wrote. (Field encryption is
// unaffected: an encrypted CRDT column holds envelopes the server cannot
// read, so crdtcol leaves it alone.)
//
// # What each write does
//
//   - UPDATE that sets a CRDT column: in the statement's transaction (one
//     is opened through the statement's DB if it has none), the matched
//     rows' primary keys and CRDT columns are read — with SELECT … FOR
//     UPDATE on PostgreSQL; SQLite's immediate transactions already
//     serialise writers — the written state is merged into each row's
//     stored state, and each row is written by its own UPDATE … WHERE
//     pk = ?, keeping the caller's other SET columns and RETURNING
//     clause. The rows affected and the rows returned are those of the
//     caller's statement.
//   - INSERT … ON CONFLICT DO UPDATE (an upsert) whose update list holds a
//     CRDT column: the existing rows with the same conflict-target values
//     are read (and locked) the same way, and the value proposed for each
//     row becomes the merge of the existing state and the written one, so
//     the DO UPDATE stores the merge. On PostgreSQL a transaction-scoped
//     advisory lock on the conflict key makes concurrent upserts of a row
//     that does not exist yet take turns too.
//   - Plain INSERT (and ON CONFLICT DO NOTHING): each state is validated
//     and stored in canonical form.
//
// Every state read or written is checked against Options.Limits. A
// malformed or oversized state, stored or written, or a merge that would
// overflow or exceed a cap, fails the statement with an *Error naming the
// table, column, row and side (written, stored or merged) and wrapping the
// crdt package's error, so errors.Is(err, crdt.ErrMalformed) and the like
// work. All rows are merged before any is written, so a failed statement
// writes nothing; a transaction the middleware opened is rolled back. On
// an executor that can begin no transaction and is not one (a custom
// dialect.Executor) a merging write is refused with orm.ErrNoBeginner
// before anything is written, as it always was: merges outside a
// transaction would lose each other's increments.
//
// A written LWW register's timestamp goes through Options.Clock
// (Clock.Update), so a client whose clock runs far ahead is refused with
// crdt.ErrClockSkew rather than allowed to win every later write.
//
// # Operations
//
// Instead of a full state, a CRDT column may be set to an Op: Incr, Decr,
// Assign, Add or Remove. The middleware applies it to each row's stored
// state, under the same lock, for the client the context names with
// changelog.WithOrigin:
//
//	db.Update(Posts).Set(orm.Row{"likes": crdtcol.Incr(1)}).Where(expr.Eq(Posts.Col("id"), id))
//
// Increment, Decrement, SetRegister, AddToSet and RemoveFromSet wrap that
// for one row. An Op that reaches the database without the middleware
// (or on a column that is not a CRDT column) fails with ErrNoMiddleware.
//
// # Per-user quota
//
// A counter's totals and an OR-set's version vector keep one entry per
// client, and a state holds at most Limits.MaxClients of them (4,096 by
// default). So that one user cannot fill a row's map with fresh client
// IDs and make everyone else's writes fail, the entries a user's clients
// hold in one row's map are capped by Options.ClientsPerUser
// (DefaultClientsPerUser, 8). The user is the rowauth identity of the
// context; trusted code (no identity, or rowauth.AsSystem) is not held to
// the quota and writes under the plain client ID, as before.
//
//   - An Op run for a user writes the entry ClientKey(user, client) — not
//     the bare client ID — while the user holds fewer than its quota of
//     entries in that map. Past the quota, its further clients share the
//     user's overflow entry ClientKey(user, "*"). And if the map has no
//     room for a new entry (the last one is always kept free), the Op
//     writes the one shared entry "*". So an Op is never refused for
//     capacity, every increment and add counts, and a user holds at most
//     ClientsPerUser+1 entries of a map. This keeps merges convergent: an
//     Op is applied to the stored state under the row's lock, so the
//     entries it writes are only ever advanced in one place, in turn, and
//     several clients folded into one entry just add to it.
//   - A full state written for a user may raise any entry the stored
//     state already has (a merge takes the maximum), but the entries it
//     adds must be the user's own (ClientKey(user, …)) and stay within the
//     quota; otherwise the statement fails with ErrClientQuota and writes
//     nothing. A client that builds full states names its own entry with
//     ClientKey.
//
// Read a user's client's entry with ClientKey: for example
// GCounter.Count(crdtcol.ClientKey(user, client)).
//
// # What is not merged
//
// Raw SQL (DB.Exec), statements prepared with orm.PrepareUnchained (which
// run outside the chain), and SQL expressions assigned to a CRDT column
// (refused with ErrExpression) are not seen by the middleware. On PostgreSQL a plain
// INSERT takes the same advisory lock on its primary key as an upsert
// targeting the primary key, so the two cannot interleave; an upsert
// whose conflict target is another unique column is not serialised
// against a concurrent plain INSERT of the same new row.
package crdtcol
