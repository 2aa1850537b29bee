package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/protocol"
)

// PullOnce pulls once and applies the answer: the server state is
// replaced by the patch and the still-pending mutations are re-run on it,
// in one local transaction. It reports whether the replica changed. A
// refused answer (ErrBadResponse) leaves the replica as it was.
func (c *Client[C]) PullOnce(ctx context.Context) (changed bool, err error) {
	changed, err = c.pull(ctx)
	return changed, c.handle(ctx, err)
}

// PushOnce pushes one batch of pending mutations (up to PushBatch, in
// order) and returns how many it sent. They stay queued until a pull
// reports them processed.
func (c *Client[C]) PushOnce(ctx context.Context) (int, error) {
	n, err := c.push(ctx)
	return n, c.handle(ctx, err)
}

// Flush pushes every pending mutation and pulls until the server has
// confirmed them all. It does not retry: the first error stops it (the
// loop, if started, retries on its own).
func (c *Client[C]) Flush(ctx context.Context) error {
	stuck := 0
	for {
		before := c.LastMutationID()
		if _, err := c.PushOnce(ctx); err != nil {
			return err
		}
		if _, err := c.PullOnce(ctx); err != nil {
			return err
		}
		if c.pendingCount() == 0 {
			return nil
		}
		if c.LastMutationID() == before {
			if stuck++; stuck > 3 {
				return fmt.Errorf("plasma: client: Flush: the server confirms none of the %d pending mutations", c.pendingCount())
			}
		} else {
			stuck = 0
		}
	}
}

func (c *Client[C]) pendingCount() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.next - 1 - c.st.lmid
}

// ready refuses to sync when closed, offline or halted.
func (c *Client[C]) ready() error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.offline.Load() {
		return ErrOffline
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halted
}

// handle reacts to the errors that change the client's course, and
// reports every error to OnError.
func (c *Client[C]) handle(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrSchemaMismatch) && !errors.Is(err, errHalted):
		if c.opts.OnSchemaMismatch == SchemaReset {
			// Wipe once: a fresh replica (no cookie, nothing pending) has
			// nothing to reset, and resetting it again on every refusal
			// would spin. The loop tries again on its interval or a poke.
			if c.hasLocalState() {
				if rerr := c.reset(ctx, false); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
		} else {
			c.mu.Lock()
			c.halted = fmt.Errorf("%w: %w", errHalted, err)
			c.mu.Unlock()
		}
	case isClientStateNotFound(err):
		if rerr := c.reset(ctx, true); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if !errors.Is(err, ErrOffline) && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
		c.report(err)
	}
	return err
}

func (c *Client[C]) hasLocalState() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.cookie != nil || c.st.next > 1
}

// errHalted marks the stored mismatch error, so it is not handled twice.
var errHalted = errors.New("syncing stopped")

func (c *Client[C]) pull(ctx context.Context) (bool, error) {
	c.pullMu.Lock()
	defer c.pullMu.Unlock()
	if err := c.ready(); err != nil {
		return false, err
	}
	c.mu.Lock()
	before := c.st
	c.mu.Unlock()
	body, err := json.Marshal(protocol.PullRequest{PullVersion: protocol.PullVersion, SchemaVersion: c.opts.Schema.Version(),
		ProfileID: c.opts.ProfileID, ClientGroupID: before.group, Cookie: before.cookie})
	if err != nil {
		return false, err
	}
	data, err := c.post(ctx, "pull", body, c.opts.MaxResponseBytes)
	if err != nil {
		return false, err
	}
	r, err := decodePull(data, c.tables)
	if err != nil {
		return false, err
	}
	return c.applyPull(ctx, before.group, r)
}

// applyPull checks a decoded answer against the state and applies it.
func (c *Client[C]) applyPull(ctx context.Context, group string, r *pullResult) (bool, error) {
	c.mu.Lock()
	changed, err := c.applyPullLocked(ctx, group, r)
	c.mu.Unlock()
	if changed {
		c.changed(Change{Kind: ChangeRebase, Tables: r.tableNames()})
	}
	return changed, err
}

func (c *Client[C]) applyPullLocked(ctx context.Context, group string, r *pullResult) (bool, error) {
	if c.closed.Load() {
		return false, ErrClosed
	}
	if c.st.group != group {
		return false, nil // reset meanwhile: the answer is for the old group
	}
	cmp, err := protocol.CompareCookies(r.cookie, c.st.cookie)
	if err != nil {
		return false, badPull("cookie: %v", err)
	}
	if a, b := cookieKind(r.cookie), cookieKind(c.st.cookie); a != 0 && b != 0 && a != b {
		return false, badPull("cookie order changed type: %.60s after %.60s", r.cookie, c.st.cookie)
	}
	if cmp < 0 {
		return false, badPull("cookie went back: %.60s after %.60s", r.cookie, c.st.cookie)
	}
	if cmp == 0 {
		return false, nil // as replicache: an unchanged cookie means no changes
	}
	lmid, ok := r.lmids[c.st.clientID]
	if !ok {
		lmid = c.st.lmid
	}
	if lmid < c.st.lmid {
		return false, badPull("lastMutationID went back from %d to %d", c.st.lmid, lmid)
	}
	if lmid >= c.st.next {
		return false, badPull("lastMutationID %d is beyond the %d mutations this client made", lmid, c.st.next-1)
	}
	st := c.st
	st.cookie, st.lmid = append(json.RawMessage(nil), r.cookie...), lmid
	err = c.db.Tx(ctx, func(tx *orm.Tx) error { return c.rebase(ctx, tx, r, st) })
	if err != nil {
		return false, fmt.Errorf("plasma: client: apply pull: %w", err)
	}
	c.st = st
	c.maybeCheckpoint(int64(r.nops) + 1)
	return true, nil
}

// rebase is one pull's local transaction: patch the server state, drop
// the confirmed mutations, put the view back to the server state where
// it differs, re-run what is still pending, save the state.
func (c *Client[C]) rebase(ctx context.Context, tx *orm.Tx, r *pullResult, st state) error {
	ex := tx.Executor()
	if err := c.applyPatch(ctx, ex, r); err != nil {
		return err
	}
	if _, err := ex.ExecContext(ctx, `DELETE FROM `+outboxTable+` WHERE id <= ?`, st.lmid); err != nil {
		return err
	}
	if err := dirtyTables(ctx, ex, r); err != nil {
		return err
	}
	if err := c.restore(ctx, ex, r.clear); err != nil {
		return err
	}
	if st.lmid < st.next-1 {
		if err := c.replay(ctx, tx, st.lmid); err != nil {
			return err
		}
		if err := c.sealPending(ctx, ex); err != nil {
			return err
		}
		if err := dirtyTables(ctx, ex, r); err != nil {
			return err
		}
	}
	return saveState(ctx, ex, st)
}

// dirtyTables adds to r.touched the tables that have dirty rows: before
// the restore, the rows it puts back; after the replay, the rows the
// replayed mutations wrote. They tell watchers (live queries) which
// tables the rebase changed.
func dirtyTables(ctx context.Context, ex dialect.Executor, r *pullResult) error {
	rows, err := ex.QueryContext(ctx, `SELECT DISTINCT tbl FROM `+dirtyTable)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return err
		}
		if r.touched == nil {
			r.touched = map[string]bool{}
		}
		r.touched[t] = true
	}
	return rows.Err()
}

func (r *pullResult) tableNames() []string {
	if r.clear {
		return nil
	}
	out := make([]string, 0, len(r.tables)+len(r.touched))
	for ti := range r.tables {
		out = append(out, ti.name)
	}
	for t := range r.touched {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

func (c *Client[C]) push(ctx context.Context) (int, error) {
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	if err := c.ready(); err != nil {
		return 0, err
	}
	for {
		n, err := c.pushBatch(ctx)
		if !tooBig(err) || c.pushLimits.shrink(n) {
			return n, err
		}
		// The server's limits are below ours: a smaller batch goes now.
	}
}

// tooBig reports the server's refusals of a push over its limits.
func tooBig(err error) bool {
	var se *ServerError
	return errors.As(err, &se) && (se.Kind == "TooManyMutations" || se.Status == http.StatusRequestEntityTooLarge)
}

// pushLimits is the batch size the server accepts, learnt from its
// refusals: it starts at PushBatch/PushBytes and halves on each.
type pushLimits struct {
	mu           sync.Mutex
	count, bytes int
}

// shrink halves the limits below a refused batch of n mutations; it
// reports whether they cannot shrink further.
func (l *pushLimits) shrink(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n <= 1 {
		return true
	}
	l.count = max(1, min(l.count, n)/2)
	l.bytes = max(1, l.bytes/2)
	return false
}

func (l *pushLimits) get() (count, bytes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count, l.bytes
}

// pushBatch sends the first batch of pending mutations; it returns the
// number sent (or attempted, with an error).
func (c *Client[C]) pushBatch(ctx context.Context) (int, error) {
	limit, limitBytes := c.pushLimits.get()
	c.mu.Lock()
	st := c.st
	ps, err := loadPending(ctx, c.sqldb, st.lmid, limit)
	c.mu.Unlock()
	if err != nil || len(ps) == 0 {
		return 0, err
	}
	req := protocol.PushRequest{PushVersion: protocol.PushVersion, SchemaVersion: c.opts.Schema.Version(),
		ProfileID: c.opts.ProfileID, ClientGroupID: st.group}
	size := 0
	for _, p := range ps {
		if size += len(p.args) + len(p.name) + 100; size > limitBytes && len(req.Mutations) > 0 {
			break
		}
		req.Mutations = append(req.Mutations, protocol.Mutation{ClientID: st.clientID, ID: p.id, Name: p.name,
			Args: json.RawMessage(p.args), Timestamp: p.ts})
	}
	if err := c.markSent(ctx, req.Mutations[len(req.Mutations)-1].ID); err != nil {
		return 0, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	if _, err := c.post(ctx, "push", body, 1<<20); err != nil {
		return len(req.Mutations), err
	}
	return len(req.Mutations), nil
}

// markSent records, before the request, that the mutations up to id were
// handed to the server: from then on the server may apply them, so they
// can no longer be discarded.
func (c *Client[C]) markSent(ctx context.Context, id int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id <= c.st.sentThrough {
		return nil
	}
	if _, err := c.sqldb.ExecContext(ctx, `UPDATE `+metaTable+` SET sent_through = ? WHERE k = 1`, id); err != nil {
		return err
	}
	c.st.sentThrough = id
	return nil
}

// cookieKind is 0 for a null cookie, 1 for a numeric order, 2 for a
// string one: the protocol never compares the two.
func cookieKind(raw json.RawMessage) int {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return 0
	}
	if m, ok := v.(map[string]any); ok {
		v = m["order"]
	}
	switch v.(type) {
	case float64:
		return 1
	case string:
		return 2
	}
	return 0
}
