// Package realtime serves plasma's WebSocket endpoint, {basePath}/ws:
// it pokes clients after commits so that they pull, tells the members
// of a room who else is there (presence), and fans pokes out across the
// server processes that share one PostgreSQL database.
//
// Replicache has no poke channel of its own: the app calls pull() when a
// poke arrives. A Hub is an http.Handler for the endpoint and the sync
// server's Notifier:
//
//	hub, err := realtime.New(realtime.Options{DB: db, Schema: app.Schema, Auth: auth})
//	sync, err := server.NewHandler(server.Options[AppCtx]{..., Notifier: hub})
//	mux.Handle("/sync/", sync)
//	mux.Handle("/sync/ws", hub)
//
// # Connecting
//
// A client connects with
//
//	GET /sync/ws?clientGroupID=<g>&clientID=<c>[&room=<r>][&userInfo=<URL-encoded JSON>][&auth=<credentials>]
//
// and is authenticated by Options.Auth, the sync handler's
// authentication, from its Authorization header, or from the auth
// parameter, which carries exactly what the header would (browsers
// cannot set headers on a WebSocket; mind that URLs end up in access
// logs). These checks come before the upgrade, as HTTP answers with a
// JSON body {"error": "..."}, and a connection they refuse binds and
// stores nothing: 405 for a method other than GET; 400 for a missing
// parameter, an id (clientGroupID, clientID, room) over MaxIDBytes (128
// bytes), a bad or oversized userInfo, or a request that asks for no
// WebSocket upgrade; 401 when Auth refuses; 403 for a browser Origin
// that is neither the server's own nor in CORSOrigins (see
// CheckOrigin), a client group bound to another user, or a room
// AuthorizeRoom refuses; 409 for a clientID another user holds in the
// room; 429 when the user already holds MaxConnsPerUser (64)
// connections or the room MaxRoomMembers (1000); 503 once the hub is
// closed. The WebSocket upgrader (melody's) then checks the rest of the
// handshake, after the group is bound: 400, with the same kind of body,
// for a Sec-WebSocket-Version other than 13 or a missing
// Sec-WebSocket-Key. It applies CheckOrigin too.
//
// The first authenticated connection to a client group binds the group
// to its user (Options.BindGroup; by default the hub writes the binding
// to the sync server's tables, one write at a time on SQLite), as the
// first pull or push does: from
// then on another user can neither connect to it, and so neither join
// its presence room nor receive its pokes, nor push to it. The refusal
// reads the same whether or not the group existed before. Should a
// group still turn out to be another user's (it was collected and
// claimed again, say), that user's next push to it, served by this
// process or another one on the same PostgreSQL database, closes the
// open connections of anyone else to it (close code 1008).
//
// Messages are JSON text frames from the server. The hub ignores what
// clients send, but a message over 4 KiB closes the connection:
//
//	{"type":"poke"}
//	{"type":"presence","entries":[{"clientID":"c1","userInfo":{"name":"Ann"}}, ...]}
//
// # Whom a commit pokes
//
// A spurious poke costs one pull that finds nothing new; a missing one
// leaves a client stale until its next pull. So the hub decides from the
// change log, the client view records the sync server stores (which
// rows each client group's last pull left it with) and the tables' read
// rules, and pokes whenever it cannot rule a connection out. After a
// commit is signalled (Notify, a notification, a poll) and the
// coalescing window has passed, the hub reads the changes since its
// cursor (changelog.ChangesSince) and pokes every connection
//
//   - whose client group's view holds a changed row (one indexed query
//     per 500 connected groups and 500 changed rows, for the groups not
//     already poked). This is what brings a del: a row deleted, or updated out
//     of the group's view (a todo moved to a list the user cannot
//     read), pokes exactly the groups that have it;
//   - whose identity may read one of the rows put now: per changed
//     table, one query per 500 changed ids and per at most 200
//     distinct identities (fewer when many ids changed: a statement
//     binds at most 20,000 values) that reads the changed rows once and
//     evaluates each
//     identity's read rule, as row auth applies it, in a column of its
//     own: SELECT <rule of identity 1>, <rule of identity 2>, ... FROM t
//     WHERE id IN (the changed ids). A table without a read rule needs
//     no query; an identity's connections are poked as soon as its
//     query answers;
//   - whose identity's read rules may select other rows because of the
//     change. A rule that reads another table through a subquery bound
//     to the identity, one whose WHERE ANDs an equality between a column
//     and a value of the identity's (the memberOf shape:
//     list_id IN (SELECT m.list_id FROM members m WHERE m.user_id = <user>)),
//     is decided from the changed rows' values: the hub loads the rows
//     of members that match the bind once per identity and keeps them
//     up to date from the change log, and a change pokes an identity only
//     when it puts a row that matches its bind, or changes or deletes
//     one that did. So one user's new list pokes that user alone, and a
//     new member pokes the member and those who may read the member row.
//     A rule that is just such a subquery, "col IN (SELECT one column
//     FROM t WHERE <bind>)", is also checked without a query: the rows
//     of the bind, kept with the column they select, say whether the
//     identity may read a row put. (Extra conditions in the subquery
//     only make it select fewer rows, so this may poke spuriously and
//     never misses.)
//     A rule the hub cannot narrow down to rows (a subquery without such
//     an equality, a join, raw SQL, a rule that fails) pokes the
//     identity on any change to a table it reads: Stats.FallbackPokes
//     counts these pokes.
//
// A member removed from a list (its member row deleted) is poked once so
// that it pulls the removal. Until its client group pulls again, which
// stores a new view record since that view held the deleted row, the
// rows its stale view still holds no longer poke it: it already has a
// poke whose pull will delete them. Anything it may read still pokes it.
//
// Every connection is poked when a change is to a table the schema does
// not know or does not sync; when a round finds more changes than it looks at one by
// one; when the view records cannot be read; when, on PostgreSQL, a
// region the hub did not watch appears; and after the listener
// reconnects. The pushing client group is always poked after a push (its
// lastMutationIDs moved, even when no row did), and Poke pokes a client
// group for a backend job.
//
// A pull in progress, whose snapshot was read before a commit and whose
// view record is stored after the hub looked, is covered by the sync
// server itself, when the hub is its Notifier: such a pull sees the
// change-log heads move and pokes its own group through Hub.Poke.
//
// Known limits: read rules
// that consult tables outside the change log (ChangeLogSuppressed or
// External) are invisible, as they are to the pull's fast path, and so
// are rows changed by raw SQL on a database without capture triggers
// (changelog.EnsureCapture, which serverdb.New installs) and without
// changelog.Record. An identity's claims
// are the ones it connected with: reconnect when they change.
//
// Commits within Options.CoalesceWindow (5 ms) of the first one give one
// round, and a connection has at most one poke waiting to be written: a
// poke asked for while one waits is sent once the waiting one is
// written. A client connecting is poked once, so that it catches up
// with what it missed while it was not connected.
//
// # Across processes
//
// On PostgreSQL, Ensure installs a statement-level AFTER INSERT trigger
// on the change log that runs pg_notify('plasma_changes', region) for
// each region a statement logged. PostgreSQL delivers a notification
// only when its transaction commits, so this covers pushes handled by
// any process, writes made through a ServerDB outside a push, and the
// writes the capture triggers log (changelog.EnsureCapture) alike.
// Each hub with Options.Listener LISTENs on a dedicated connection
// (reconnecting with backoff between ListenerMinBackoff and
// ListenerMaxBackoff); on a notification it reads the change log and
// pokes as above. After the listener reconnects it pokes every
// connection once, since notifications may have been lost meanwhile.
// Poke and the pushing group's poke are sent to the other hubs on a
// second channel, plasma_pokes. Without Listener a hub on PostgreSQL
// polls the heads of its regions every PollInterval instead.
//
// On SQLite the hub works in memory: Notify wakes it after pushes, and a
// cheap check of the change-log head every PollInterval (200 ms) catches
// writes made through a ServerDB outside a push, and the writes the
// capture triggers log (changelog.EnsureCapture): raw SQL, another ORM,
// another process on the same database file.
//
// # Presence
//
// Each connection is a member of one room: by default its client
// group's, or the room it names (room=), which AuthorizeRoom must allow.
// Whenever the members change (a join, a leave, a reconnect with other
// userInfo) every member receives the room's full snapshot, sorted by
// clientID. Snapshots are throttled per room (PresenceThrottle): a change
// within the interval is sent when it ends, with the room's latest state,
// so the last snapshot is always delivered. A client reconnecting with
// the same clientID replaces its old connection. Presence is quadratic in
// a room's size, so a room over MaxPresenceMembers gets one snapshot
// with no entries and "truncated": true instead.
//
// # Metrics
//
// Hub.Stats returns the pokes written, the rounds run, the fallback
// pokes, and when the latest round that read changes started and had
// decided every poke.
//
// # Slow and dead clients
//
// Writes never block the hub: each connection has a bounded queue
// (SendQueue); a connection whose queue is full is closed, and its
// client reconnects and pulls. Pings every PingInterval and a
// PongTimeout close dead connections, and WriteTimeout bounds a write to
// a client that stopped reading.
package realtime
