package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/protocol"
)

// retries is how many times a batch that hit a PostgreSQL serialization
// failure or deadlock is run again before the push gives up.
const retries = 4

// pushState is one push being processed.
type pushState[Ctx any] struct {
	req     *protocol.PushRequest
	ident   rowauth.Identity
	appCtx  Ctx
	results []MutationResult
	stopped map[string]bool // clients whose remaining mutations are not processed
	// conflict is set when a table has a ConflictResolver.
	conflict *conflictState
}

// batchOutcome is what one batch transaction did; it is merged into the
// push's state only once the transaction has committed.
type batchOutcome struct {
	results map[int]MutationResult
	stopped []string
	lost    int // index of the mutation that revealed lost client state, or -1
}

// errForbidden carries a KindForbidden error out of a transaction.
type errForbidden struct{ err error }

func (e *errForbidden) Error() string { return e.err.Error() }
func (e *errForbidden) Unwrap() error { return e.err }

func (h *Handler[Ctx]) push(ctx context.Context, w http.ResponseWriter, ident rowauth.Identity, appCtx Ctx, body []byte) {
	req, err := protocol.DecodePush(body)
	var schemaVersion, group string
	if req != nil {
		schemaVersion, group = req.SchemaVersion, req.ClientGroupID
	}
	if !h.checkVersion(ctx, w, "push", ident.UserID, group, schemaVersion, err) {
		return
	}
	base := Error{Endpoint: "push", UserID: ident.UserID, ClientGroupID: group}
	failWith := func(kind Kind, err error) {
		e := base
		e.Kind, e.Err = kind, err
		h.fail(ctx, w, &e)
	}
	if n := len(req.Mutations); n > h.opts.MaxMutationsPerPush {
		failWith(KindTooManyMutations, fmt.Errorf("%d mutations, over the limit of %d", n, h.opts.MaxMutationsPerPush))
		return
	}
	if err := h.checkPush(req); err != nil {
		failWith(KindBadRequest, err)
		return
	}
	if err := h.precheck(ctx, req, ident.UserID); err != nil {
		var fe *errForbidden
		if errors.As(err, &fe) {
			failWith(KindForbidden, fe.err)
		} else {
			failWith(internal(err), err)
		}
		return
	}
	h.touchGroup(ctx, "push", ident.UserID, req.ClientGroupID)

	st := &pushState[Ctx]{req: req, ident: ident, appCtx: appCtx,
		results: make([]MutationResult, len(req.Mutations)), stopped: map[string]bool{}}
	for i, m := range req.Mutations {
		st.results[i] = MutationResult{ClientID: m.ClientID, ID: m.ID, Name: m.Name}
	}
	if len(h.resolvers) > 0 {
		st.conflict = &conflictState{group: req.ClientGroupID}
	}
	abort, lost := h.runBatches(ctx, st, base)
	h.reportCommitted(ctx, st, base)

	switch {
	case abort != nil:
		h.fail(ctx, w, abort)
	case lost >= 0:
		m := req.Mutations[lost]
		e := base
		e.Kind, e.ClientID, e.MutationID, e.Mutator = KindClientStateNotFound, m.ClientID, m.ID, m.Name
		e.Err = fmt.Errorf("no record of client %q, whose first mutation pushed is %d: its earlier ones were acknowledged by a database that no longer has them (restored from a backup, or its group idle for GroupTTL and collected)", m.ClientID, m.ID)
		h.failBody(ctx, w, &e, protocol.ClientStateNotFound())
	default:
		writeRaw(w, http.StatusOK, []byte("{}"))
	}
}

// runBatches applies the push's mutations in batches of
// MutationsPerTransaction, each in its own transaction, until one fails
// (abort) or reveals lost client state (lost, the mutation's index, else
// -1); the results of the batches that committed are kept in st.
func (h *Handler[Ctx]) runBatches(ctx context.Context, st *pushState[Ctx], base Error) (abort *Error, lost int) {
	lost = -1
	muts := st.req.Mutations
	for i := 0; i < len(muts) && lost < 0; i += h.opts.MutationsPerTransaction {
		j := min(i+h.opts.MutationsPerTransaction, len(muts))
		out, err := h.runBatch(ctx, st, i, j)
		if err != nil {
			e := base
			e.Err = err
			var fe *errForbidden
			var me *mutationError
			switch {
			case errors.As(err, &fe):
				e.Kind, e.Err = KindForbidden, fe.err
			case errors.As(err, &me):
				e.Kind, e.Err = KindUnavailable, me.err
				e.ClientID, e.MutationID, e.Mutator = me.m.ClientID, me.m.ID, me.m.Name
			default:
				e.Kind = internal(err)
			}
			return &e, lost
		}
		for k, r := range out.results {
			st.results[k] = r
		}
		for _, c := range out.stopped {
			st.stopped[c] = true
		}
		lost = out.lost
	}
	return nil, lost
}

// reportCommitted reports each mutation that committed as failed or out
// of order, and tells the Pushed hook about a push that committed any.
func (h *Handler[Ctx]) reportCommitted(ctx context.Context, st *pushState[Ctx], base Error) {
	notePushed(ctx, st.results)
	for _, r := range st.results {
		e := base
		e.ClientID, e.MutationID, e.Mutator = r.ClientID, r.ID, r.Name
		switch r.Status {
		case StatusFailed:
			e.Kind, e.Err = KindMutatorFailed, r.Err
			h.report(ctx, &e)
		case StatusOutOfOrder:
			e.Kind, e.Err = KindMutationOutOfOrder, r.Err
			h.report(ctx, &e)
		}
	}
	info := PushInfo{UserID: st.ident.UserID, ClientGroupID: st.req.ClientGroupID, Mutations: st.results}
	if info.Committed() {
		h.pushed(ctx, info)
	}
}

// precheck refuses, before anything is applied, a push to another user's
// client group or with a client of another group. The group's owner and
// the push's clients' groups are read in one query.
func (h *Handler[Ctx]) precheck(ctx context.Context, req *protocol.PushRequest, userID string) error {
	seen := map[string]bool{}
	args := []any{req.ClientGroupID}
	for _, m := range req.Mutations {
		if !seen[m.ClientID] {
			seen[m.ClientID] = true
			args = append(args, m.ClientID)
		}
	}
	q := `SELECT 1, "user_id", '' FROM "` + GroupsTable + `" WHERE "id" = ?`
	if n := len(args) - 1; n > 0 {
		q += `
UNION ALL SELECT 2, "id", "group_id" FROM "` + ClientsTable + `" WHERE "id" IN (?` + strings.Repeat(", ?", n-1) + `)`
	}
	rows, err := h.base.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var foreign error // the group's refusal comes first, whatever the rows' order
	for rows.Next() {
		var k int
		var a, g string
		if err := rows.Scan(&k, &a, &g); err != nil {
			return err
		}
		switch {
		case k == 1 && a != userID:
			return &errForbidden{fmt.Errorf("%w: group %q", ErrForbiddenGroup, req.ClientGroupID)}
		case k == 2 && g != req.ClientGroupID && foreign == nil:
			foreign = &errForbidden{fmt.Errorf("%w: client %q", ErrForeignClient, a)}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return foreign
}

// mutationError is a temporary error of a mutator, carried out of the
// batch transaction with the mutation.
type mutationError struct {
	m   protocol.Mutation
	err error
}

func (e *mutationError) Error() string { return e.err.Error() }
func (e *mutationError) Unwrap() error { return e.err }

// replayError rolls back a batch run without savepoints in which
// mutation k failed permanently: the batch is run again with k counted
// as failed and not run.
type replayError struct {
	k   int
	err error
}

func (e *replayError) Unwrap() error { return e.err }

func (e *replayError) Error() string {
	return fmt.Sprintf("plasma: sync: mutation %d of the push failed (%v); replaying its batch", e.k, e.err)
}

// errSwallowedRefusal rolls back a batch run without savepoints in which
// a mutator went on after row auth refused one of its writes, whose row
// is then in the transaction: the batch is run again with savepoints,
// under which row auth undoes the refused write alone.
var errSwallowedRefusal = errors.New("plasma: sync: a mutator ignored a refused write; replaying its batch with savepoints")

// maxReplays is how many permanent failures a batch replays without
// savepoints before it runs every mutation under one.
const maxReplays = 2

// batchPlan is how runBatch runs a batch: the mutations found to fail
// permanently by earlier runs, whether each mutation runs under a
// savepoint, and whether the mutators' INSERTs run one at a time rather
// than held back and merged (holdinserts.go).
type batchPlan struct {
	failed map[int]error
	safe   bool
	apart  bool
}

// runBatch processes mutations [i, j) of the push in one transaction,
// running it again on serialization failures and deadlocks.
//
// The batch runs optimistically, without a savepoint per mutation (on
// SQLite a SAVEPOINT/RELEASE pair costs about as much as an INSERT). A
// permanent failure is rare; when one happens, the transaction is rolled
// back and the batch is run again from its start: the mutations before
// the failing one are applied again, the failing one is not run but
// counted as failed (processed, its lastMutationID advanced, no effects),
// and the rest follow. After maxReplays failures, or when a mutator left
// a PostgreSQL transaction aborted (it swallowed a failed statement, so
// the failure cannot be pinned on a mutation without savepoints), the
// batch is run again with a savepoint around each mutation. Either way
// the batch's effects and its lastMutationIDs commit in one transaction.
func (h *Handler[Ctx]) runBatch(ctx context.Context, st *pushState[Ctx], i, j int) (*batchOutcome, error) {
	var out *batchOutcome
	var err error
	plan := &batchPlan{failed: map[int]error{}}
	for attempt := 0; ; attempt++ {
		out = &batchOutcome{results: map[int]MutationResult{}, lost: -1}
		err = h.writing(ctx, func() error {
			return h.db.Tx(ctx, func(tx *orm.Tx) error { return h.batchTx(ctx, tx.DB, st, i, j, out, plan) })
		})
		if !plan.safe && err != nil {
			// A replay is not a retry: it does not count as an attempt.
			var re *replayError
			switch {
			case errors.Is(err, errHeldInserts) && !h.errs.IsRetryable(err):
				// A merged INSERT failed: run each INSERT on its own, to
				// find the mutation that fails.
				plan.apart = true
				attempt--
				continue
			case h.errs.IsAbortedTx(err), errors.Is(err, errSwallowedRefusal):
				// An earlier mutator swallowed a failed statement: only
				// savepoints tell which one.
				plan.safe = true
				attempt--
				continue
			case errors.As(err, &re):
				plan.failed[re.k] = re.err
				plan.safe = len(plan.failed) >= maxReplays
				attempt--
				continue
			}
		}
		if err == nil || attempt >= retries || !h.errs.IsRetryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(1<<attempt) * 5 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

const savepoint = "plasma_mutation"

// batchTx is the body of one batch transaction.
// Mutations in plan.failed are counted as failed without running; the
// others run under a savepoint if plan.safe, and otherwise without one,
// the first permanent failure returning a replayError.
func (h *Handler[Ctx]) batchTx(ctx context.Context, tx *orm.DB, st *pushState[Ctx], i, j int, out *batchOutcome, plan *batchPlan) error {
	lmids := map[string]int64{} // the clients locked so far, with their lastMutationID
	advanced := map[string]bool{}
	var batch *changelog.Batch
	if !plan.safe {
		// A failed mutation rolls the whole transaction back, so the
		// change rows can wait for one INSERT at the end. Under
		// savepoints a rolled-back mutation's rows would stay in it.
		batch = changelog.NewBatch(tx)
	}
	var held *insertBuffer
	if batch != nil && !plan.apart && st.conflict == nil {
		// Merged INSERTs run with what a mutator's writes carry, less
		// their origin, which the buffer gives each row.
		wctx := changelog.WithBatch(rowauth.WithCallerUndo(rowauth.WithIdentity(ctx, st.ident), &rowauth.CallerUndo{}), batch)
		held = newInsertBuffer(wctx, tx, func(t *orm.Table) bool { return h.holdable[t.Name()] })
		ctx = withInsertBuffer(ctx, held)
	}
	stopped := map[string]bool{}
	for k := i; k < j; k++ {
		m := st.req.Mutations[k]
		if st.stopped[m.ClientID] || stopped[m.ClientID] {
			continue
		}
		lmid, known := lmids[m.ClientID]
		if !known {
			var found bool
			var err error
			lmid, found, err = h.lockClient(ctx, tx, st, m)
			if err != nil {
				return err
			}
			if !found {
				// Commit what the batch did so far, with its clients'
				// lastMutationIDs below.
				out.lost = k
				break
			}
		}
		res := MutationResult{ClientID: m.ClientID, ID: m.ID, Name: m.Name}
		next := lmid + 1
		switch {
		case m.ID < next:
			res.Status = StatusSkipped
			out.results[k] = res
			lmids[m.ClientID] = lmid
			continue
		case m.ID > next:
			res.Status = StatusOutOfOrder
			res.Err = fmt.Errorf("mutation %d of client %q is from the future: the next one is %d", m.ID, m.ClientID, next)
			out.results[k] = res
			stopped[m.ClientID] = true
			out.stopped = append(out.stopped, m.ClientID)
			continue
		}
		failed, known := plan.failed[k]
		if !known {
			var err error
			n := held.count()
			failed, err = h.observeMutation(ctx, tx, st, m, batch)
			if herr := held.failed(); herr != nil {
				// The mutation saw a merged INSERT fail: its outcome says
				// nothing of its own.
				return herr
			}
			if (failed != nil || err != nil) && held.count() > n {
				// It failed after an INSERT it made was answered without
				// running: it may have failed on that answer (a mutator
				// that expects a refusal), so only its INSERTs run for
				// real tell.
				return fmt.Errorf("%w: mutation %d failed after an INSERT was held back: %w", errHeldInserts, k, errors.Join(failed, err))
			}
			if err != nil {
				return err
			}
			if failed != nil && !plan.safe {
				return &replayError{k: k, err: failed}
			}
		}
		res.Status = StatusApplied
		if failed != nil {
			res.Status, res.Err = StatusFailed, failed
		}
		out.results[k] = res
		lmids[m.ClientID] = m.ID
		advanced[m.ClientID] = true
	}
	// The clients' new lastMutationIDs commit with the effects: on
	// PostgreSQL in the statement of the change rows.
	updates := make([]changelog.RawWrite, 0, len(advanced))
	for c := range advanced {
		updates = append(updates, changelog.RawWrite{
			SQL:  `UPDATE "` + ClientsTable + `" SET "last_mutation_id" = ?, "updated_at" = ? WHERE "id" = ?`,
			Args: []any{lmids[c], time.Now().UnixMilli(), c},
		})
	}
	if held != nil {
		if err := held.flush(); err != nil {
			return err
		}
	}
	if batch != nil {
		return batch.FlushWith(ctx, tx, updates...)
	}
	for _, u := range updates {
		if _, err := tx.Exec(ctx, u.SQL, u.Args...); err != nil {
			return err
		}
	}
	return nil
}

// lockClient loads the mutation's client, locking its row, and creates
// it (and its group) if it is new and the mutation is its first. found is
// false for an unknown client whose mutation is not its first: lost state.
func (h *Handler[Ctx]) lockClient(ctx context.Context, tx *orm.DB, st *pushState[Ctx], m protocol.Mutation) (lmid int64, found bool, err error) {
	sel := `SELECT "group_id", "last_mutation_id" FROM "` + ClientsTable + `" WHERE "id" = ?` + h.forUpdate
	var group string
	found, err = queryRow(ctx, tx, sel, []any{m.ClientID}, &group, &lmid)
	if err != nil {
		return 0, false, err
	}
	if !found {
		if m.ID > 1 {
			return 0, false, nil
		}
		if err := h.ensureGroup(ctx, tx, st.req.ClientGroupID, st.ident.UserID); err != nil {
			return 0, false, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO "`+ClientsTable+`" ("id", "group_id", "last_mutation_id", "updated_at") VALUES (?, ?, 0, ?) ON CONFLICT ("id") DO NOTHING`,
			m.ClientID, st.req.ClientGroupID, time.Now().UnixMilli()); err != nil {
			return 0, false, err
		}
		if found, err = queryRow(ctx, tx, sel, []any{m.ClientID}, &group, &lmid); err != nil {
			return 0, false, err
		} else if !found {
			return 0, false, fmt.Errorf("plasma: sync: client %q vanished after it was created", m.ClientID)
		}
	}
	if group != st.req.ClientGroupID {
		return 0, false, &errForbidden{fmt.Errorf("%w: client %q", ErrForeignClient, m.ClientID)}
	}
	return lmid, true, nil
}

// ensureGroup creates the client group for userID if it does not exist,
// and refuses one that belongs to another user.
func (h *Handler[Ctx]) ensureGroup(ctx context.Context, tx *orm.DB, group, userID string) error {
	created, err := store.BindGroupCreated(ctx, tx, group, userID)
	switch {
	case errors.Is(err, ErrForbiddenGroup):
		return &errForbidden{err}
	case err != nil || !created:
		return err
	}
	return h.capGroups(ctx, tx, userID, group)
}

// runMutation runs one mutation, under a savepoint if safe (no batch:
// otherwise its change rows wait in batch). A permanent
// failure is rolled back to the savepoint and returned as failed (the
// caller still advances the lastMutationID); a temporary one is returned
// as err, failing the transaction. Without safe, a permanent failure is
// returned as failed with its effects in place: the caller must roll the
// transaction back.
func (h *Handler[Ctx]) runMutation(ctx context.Context, tx *orm.DB, st *pushState[Ctx], m protocol.Mutation, batch *changelog.Batch) (failed, err error) {
	safe := batch == nil
	if safe {
		if _, err := tx.Exec(ctx, "SAVEPOINT "+savepoint); err != nil {
			return nil, err
		}
	}
	mctx := changelog.WithOrigin(rowauth.WithIdentity(ctx, st.ident), m.ClientID, m.ID)
	if st.conflict != nil {
		mctx = context.WithValue(mctx, conflictKey{}, st.conflict)
	}
	var undo *rowauth.CallerUndo
	if !safe {
		// A failed mutation rolls the batch back (replayError), so row
		// auth needs no savepoint around each write.
		undo = &rowauth.CallerUndo{}
		mctx = changelog.WithBatch(rowauth.WithCallerUndo(mctx, undo), batch)
	}
	call := mutator.Call[Ctx]{DB: tx, Ctx: st.appCtx, ClientID: m.ClientID, MutationID: m.ID}
	merr := h.opts.Mutators.Run(mctx, m.Name, call, m.Args)
	if merr != nil && mutator.IsTemporary(merr) {
		return nil, &mutationError{m: m, err: merr}
	}
	if !safe {
		if merr == nil && undo.Refused() {
			// The mutator swallowed a refused write, which is in the
			// transaction: only the savepoints undo it alone.
			return nil, errSwallowedRefusal
		}
		return merr, nil
	}
	if merr != nil {
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); err != nil {
			return nil, err
		}
	}
	_, err = tx.Exec(ctx, "RELEASE SAVEPOINT "+savepoint)
	if err != nil && merr == nil && h.errs.IsAbortedTx(err) {
		// The mutator swallowed a PostgreSQL error, leaving the
		// transaction unusable: count the mutation as failed.
		merr = fmt.Errorf("the mutator left the transaction aborted (it ignored a failed statement): %w", err)
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, "RELEASE SAVEPOINT "+savepoint)
	}
	if err != nil {
		return nil, err
	}
	return merr, nil
}
