package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/mutator"
)

// Client is plasma's Go client: a local SQLite replica of what the user
// may read, mutators applied to it at once and queued in a persistent
// outbox, and a loop that pushes them and pulls the server's state. It is
// safe for concurrent use.
type Client[C any] struct {
	opts      Options[C]
	sqldb     *sql.DB
	db        *orm.DB
	tables    map[string]*tableInfo
	tableList []*tableInfo
	seal      func(ti *tableInfo, row []any) ([]any, error)
	lock      *os.File // the replica file's lock, if any
	started   time.Time

	// mu serializes the writes to the replica and guards st and halted.
	mu     sync.Mutex
	st     state
	halted error // set when a schema mismatch stopped syncing (SchemaStay)
	closed atomic.Bool

	keys          atomic.Pointer[envelope.Keyset] // at-rest keys, nil when off
	commits       atomic.Int64                    // local commits, for checkpoints
	checkpointing atomic.Bool

	pushMu     sync.Mutex // one push at a time
	pushLimits pushLimits
	pullMu     sync.Mutex // one pull at a time

	offline  atomic.Bool
	socketUp atomic.Bool
	kickPush chan struct{}
	kickPull chan struct{}
	online   chan struct{} // closed and replaced when going online
	loopMu   sync.Mutex
	loop     *loop
	presence presenceState

	watchMu  sync.Mutex
	watchers map[*watcher]struct{}
}

// Open opens (or creates) the replica and returns a client on it. The
// sync loop does not run until Start: Mutate, PushOnce, PullOnce and
// Flush work without it.
func Open[C any](ctx context.Context, opts Options[C]) (*Client[C], error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	byName, list, err := planTables(opts.Schema)
	if err != nil {
		return nil, err
	}
	var lock *os.File
	if opts.Replica != "" {
		if lock, err = lockReplica(opts.Replica); err != nil {
			return nil, err
		}
	}
	sqldb, err := openSQLite(opts.Replica, opts.AtRest != nil)
	if err != nil {
		closeLock(lock)
		return nil, err
	}
	c := &Client[C]{opts: opts, sqldb: sqldb, lock: lock, db: orm.New(sqldb, sqlite.Dialect), tables: byName, tableList: list,
		started: time.Now(), kickPush: make(chan struct{}, 1), kickPull: make(chan struct{}, 1), online: make(chan struct{})}
	c.offline.Store(opts.Offline)
	c.pushLimits = pushLimits{count: opts.PushBatch, bytes: opts.PushBytes}
	st, mismatch, err := prepareReplica(ctx, c.db, opts.Schema, list, opts.OnSchemaMismatch)
	if err != nil {
		c.abort()
		return nil, err
	}
	if opts.AtRest != nil {
		c.keys.Store(opts.AtRest.Keys)
		c.seal = c.sealRow
	}
	if err := ensureAtRest(ctx, sqldb, list, opts.AtRest != nil); err != nil {
		c.abort()
		return nil, err
	}
	c.st = st
	if mismatch {
		c.halted = fmt.Errorf("%w: the replica holds schema %q, the client has %q", ErrSchemaMismatch, st.schemaVersion, opts.Schema.Version())
	}
	c.presence.init(opts.Room, opts.UserInfo)
	if err := live.Configure(c.db, c.liveOptions()); err != nil {
		c.abort()
		return nil, err
	}
	return c, nil
}

// liveDebounce is how long a live query on the replica waits after a
// change before it re-runs (live's default is 20 ms, for servers).
const liveDebounce = 5 * time.Millisecond

// liveOptions let live queries run on DB(): the replica has no change
// log, so the client announces the tables each committed change touched
// (Watch, after the commit: a rebase is one transaction, so a re-run
// never reads half of one), and the replica runs no row auth (it holds
// only what the user may read). Local queries are cheap, so the re-run
// waits only liveDebounce for more changes of a burst.
func (c *Client[C]) liveOptions() live.Options {
	return live.Options{
		NoRowAuth: true,
		Debounce:  liveDebounce,
		Changes: func(announce func(tables []string)) func() {
			return c.Watch(func(ch Change) { announce(ch.Tables) })
		},
	}
}

// abort undoes a failed Open.
func (c *Client[C]) abort() {
	c.sqldb.Close()
	closeLock(c.lock)
}

func closeLock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// DB returns the replica as an *orm.DB for the query builder. Read
// through it; write only through Mutate, since a rebase puts back the
// server's state of every row a write touched outside a mutator.
func (c *Client[C]) DB() *orm.DB { return c.db }

// ClientID returns the client's id (it changes on ResetLocalState).
func (c *Client[C]) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.clientID
}

// ClientGroupID returns the client group's id (one per replica; it
// changes on ResetLocalState).
func (c *Client[C]) ClientGroupID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.group
}

// LastMutationID returns the highest of the client's mutation ids the
// server reported processed.
func (c *Client[C]) LastMutationID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.lmid
}

// Cookie returns the cookie of the last applied pull (nil before any).
func (c *Client[C]) Cookie() json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append(json.RawMessage(nil), c.st.cookie...)
}

// Close stops the loop and closes the replica. Pending mutations stay in
// a file replica for the next Open; an in-memory replica is lost.
func (c *Client[C]) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.checkpointing.Load() {
		time.Sleep(time.Millisecond)
	}
	err := c.sqldb.Close()
	closeLock(c.lock)
	return err
}

func (c *Client[C]) appCtx(ctx context.Context) (C, error) {
	if c.opts.CtxFunc != nil {
		return c.opts.CtxFunc(ctx)
	}
	return c.opts.Ctx, nil
}

// run runs a queued mutation on db (a transaction).
func (c *Client[C]) run(ctx context.Context, db *orm.DB, p pending) error {
	app, err := c.appCtx(ctx)
	if err != nil {
		return err
	}
	return c.opts.Mutators.Run(ctx, p.name, mutator.Call[C]{DB: db, Ctx: app, ClientID: c.st.clientID, MutationID: p.id}, json.RawMessage(p.args))
}

// Mutate runs the named mutator on the replica at once, in a local
// transaction, and queues it for the server. A mutator that fails
// locally changes nothing and is not queued; its error is returned.
// args is the mutator's argument value (a struct, marshalled to JSON as
// it will be pushed), or its JSON as a json.RawMessage or []byte.
func (c *Client[C]) Mutate(ctx context.Context, name string, args any) error {
	_, err := c.MutateID(ctx, name, args)
	return err
}

// MutateID is Mutate that also returns the mutation's id (for
// DiscardMutation).
func (c *Client[C]) MutateID(ctx context.Context, name string, args any) (int64, error) {
	raw, err := marshalArgs(args)
	if err != nil {
		return 0, &mutator.Error{Mutator: name, Err: &mutator.ArgsError{Mutator: name, Err: err}}
	}
	if c.opts.Mutators[name] == nil {
		return 0, &mutator.Error{Mutator: name, Err: mutator.ErrUnknownMutator}
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	p := pending{id: c.st.next, name: name, args: string(raw), ts: float64(time.Since(c.started).Microseconds()) / 1000}
	err = c.db.Tx(ctx, func(tx *orm.Tx) error {
		if err := c.run(ctx, tx.DB, p); err != nil {
			return err
		}
		ex := tx.Executor()
		if err := c.sealPending(ctx, ex); err != nil {
			return err
		}
		if _, err := ex.ExecContext(ctx, `INSERT INTO `+outboxTable+` (id, name, args, ts) VALUES (?, ?, ?, ?)`, p.id, p.name, p.args, p.ts); err != nil {
			return err
		}
		_, err := ex.ExecContext(ctx, `UPDATE `+metaTable+` SET next_mutation_id = ? WHERE k = 1`, p.id+1)
		return err
	})
	if err == nil {
		c.st.next = p.id + 1
	}
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	c.maybeCheckpoint(1)
	c.changed(Change{Kind: ChangeMutate})
	poke(c.kickPush)
	return p.id, nil
}

// checkpointEvery is the number of local commits between WAL
// checkpoints of a file replica.
const checkpointEvery = 256

// maybeCheckpoint counts commits and, every checkpointEvery, copies the
// WAL back into the file in the background. SQLite's automatic
// checkpoint is off (see openSQLite): it would run inside whichever
// commit crosses the threshold and make that Mutate slow.
func (c *Client[C]) maybeCheckpoint(commits int64) {
	if c.opts.Replica == "" {
		return
	}
	if n := c.commits.Add(commits); n/checkpointEvery == (n-commits)/checkpointEvery {
		return // no multiple of checkpointEvery crossed
	}
	if !c.checkpointing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.checkpointing.Store(false)
		if c.closed.Load() {
			return
		}
		_, _ = c.sqldb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}()
}

func marshalArgs(args any) (json.RawMessage, error) {
	switch a := args.(type) {
	case json.RawMessage:
		if !json.Valid(a) {
			return nil, fmt.Errorf("arguments are not valid JSON")
		}
		return a, nil
	case []byte:
		return marshalArgs(json.RawMessage(a))
	case nil:
		return json.RawMessage("null"), nil
	}
	return json.Marshal(args)
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *Client[C]) changed(ch Change) {
	if c.opts.OnChange != nil {
		c.opts.OnChange(ch)
	}
	c.watchMu.Lock()
	ws := make([]*watcher, 0, len(c.watchers))
	for w := range c.watchers {
		ws = append(ws, w)
	}
	c.watchMu.Unlock()
	for _, w := range ws {
		w.fn(ch)
	}
}

type watcher struct{ fn func(Change) }

// Watch calls fn after every committed change of the replica's visible
// state, as Options.OnChange, until stop is called: the hook a live
// query over DB() re-evaluates from. fn runs on the goroutine that made
// the change and must not block.
func (c *Client[C]) Watch(fn func(Change)) (stop func()) {
	w := &watcher{fn: fn}
	c.watchMu.Lock()
	if c.watchers == nil {
		c.watchers = map[*watcher]struct{}{}
	}
	c.watchers[w] = struct{}{}
	c.watchMu.Unlock()
	return func() {
		c.watchMu.Lock()
		delete(c.watchers, w)
		c.watchMu.Unlock()
	}
}

func (c *Client[C]) report(err error) {
	if err != nil && c.opts.OnError != nil {
		c.opts.OnError(err)
	}
}

// Mutation is a queued mutation, as Pending lists it.
type Mutation struct {
	ID   int64
	Name string
	Args json.RawMessage
	// Sent reports whether the mutation was handed to the server
	// already (it may have been applied there).
	Sent bool
}

// Pending lists the mutations the server has not confirmed, in order.
func (c *Client[C]) Pending(ctx context.Context) ([]Mutation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	ps, err := loadPending(ctx, c.sqldb, c.st.lmid, -1)
	if err != nil {
		return nil, err
	}
	out := make([]Mutation, len(ps))
	for i, p := range ps {
		out[i] = Mutation{ID: p.id, Name: p.name, Args: json.RawMessage(p.args), Sent: p.id <= c.st.sentThrough}
	}
	return out, nil
}

// DiscardMutation removes a queued mutation that was not sent yet and
// re-runs the later ones on the server state without it (they are
// renumbered, since the server wants ids without gaps). A mutation that
// was sent may have been applied by the server: ErrMutationSent.
func (c *Client[C]) DiscardMutation(ctx context.Context, id int64) error {
	c.pushMu.Lock() // no push may pick the outbox up meanwhile
	c.mu.Lock()
	err := c.discardLocked(ctx, id)
	c.mu.Unlock()
	c.pushMu.Unlock()
	if err == nil {
		c.changed(Change{Kind: ChangeDiscard})
	}
	return err
}

func (c *Client[C]) discardLocked(ctx context.Context, id int64) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if id <= c.st.lmid || id >= c.st.next {
		return fmt.Errorf("%w: %d", ErrUnknownMutation, id)
	}
	if id <= c.st.sentThrough {
		return fmt.Errorf("%w: %d", ErrMutationSent, id)
	}
	err := c.db.Tx(ctx, func(tx *orm.Tx) error {
		ex := tx.Executor()
		for _, q := range []string{
			`DELETE FROM ` + outboxTable + ` WHERE id = ?`,
			`UPDATE ` + outboxTable + ` SET id = -(id - 1) WHERE id > ?`,
			`UPDATE ` + outboxTable + ` SET id = -id WHERE id < 0`,
			`UPDATE ` + metaTable + ` SET next_mutation_id = next_mutation_id - 1 WHERE k = 1 AND ? > 0`,
		} {
			if _, err := ex.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		if err := c.restore(ctx, ex, false); err != nil {
			return err
		}
		if err := c.replay(ctx, tx, c.st.lmid); err != nil {
			return err
		}
		return c.sealPending(ctx, ex)
	})
	if err == nil {
		c.st.next--
	}
	return err
}

// ResetLocalState wipes the replica (its data and the pending mutations)
// and starts over as a new client in a new client group; the next pull
// loads everything again.
func (c *Client[C]) ResetLocalState(ctx context.Context) error { return c.reset(ctx, true) }

// reset wipes the replica; with resync, the socket reconnects (under the
// new ids) and the loop pulls at once.
func (c *Client[C]) reset(ctx context.Context, resync bool) error {
	c.pushMu.Lock()
	c.mu.Lock()
	err := c.resetLocked(ctx)
	c.mu.Unlock()
	c.pushMu.Unlock()
	if err == nil {
		c.changed(Change{Kind: ChangeReset})
		if resync {
			c.presence.reconnect()
			poke(c.kickPull)
		}
	}
	return err
}

func (c *Client[C]) resetLocked(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	st := freshState(c.opts.Schema.Version())
	err := c.db.Tx(ctx, func(tx *orm.Tx) error {
		ex := tx.Executor()
		if c.halted != nil {
			if err := dropSchemaTables(ctx, ex, c.opts.Schema); err != nil {
				return err
			}
			orm.ForgetEnsured(c.db)
			if err := orm.EnsureSchema(ctx, c.opts.Schema, tx.DB); err != nil {
				return err
			}
			if err := ensureShadows(ctx, ex, c.tableList); err != nil {
				return err
			}
			if err := ensureAtRest(ctx, ex, c.tableList, c.atRest() != nil); err != nil {
				return err
			}
		}
		if err := wipe(ctx, ex, c.tableList); err != nil {
			return err
		}
		return saveState(ctx, ex, st)
	})
	if err != nil {
		return err
	}
	c.st, c.halted = st, nil
	return nil
}
