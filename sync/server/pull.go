package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/sync/protocol"
)

// cvrMeta is what a client view record keeps besides its entries.
type cvrMeta struct {
	// Heads are the change-log heads read before the view's snapshot.
	Heads map[string]int64 `json:"heads"`
	// LMIDs are the group's clients' lastMutationIDs in the snapshot.
	LMIDs map[string]int64 `json:"lmids"`
	// FP fingerprints the schema and the identity the view was computed
	// for.
	FP string `json:"fp"`
	// Lines is set on the records whose view is kept in ViewRowsTable
	// (every record this plasma stores).
	Lines bool `json:"lines,omitempty"`
	// Inputs are the values of the read rules' inputs (readrule) the
	// view was computed with, by input key.
	Inputs map[string][]string `json:"inputs,omitempty"`
	// Size is the number of rows the group's view held then: what a
	// rescan would read, to compare with the changes since.
	Size int64 `json:"size,omitempty"`
}

// cvr is a stored client view record, without its entries.
type cvr struct {
	cookie protocol.Cookie
	meta   cvrMeta
}

const orderCounter = "cookie_order"

func (h *Handler[Ctx]) pull(ctx context.Context, w http.ResponseWriter, ident rowauth.Identity, body []byte) {
	req, err := protocol.DecodePull(body)
	var schemaVersion, group string
	if req != nil {
		schemaVersion, group = req.SchemaVersion, req.ClientGroupID
	}
	if !h.checkVersion(ctx, w, "pull", ident.UserID, group, schemaVersion, err) {
		return
	}
	resp, kind, err := h.computePull(ctx, ident, req)
	if err != nil {
		h.fail(ctx, w, &Error{Kind: kind, Endpoint: "pull", UserID: ident.UserID, ClientGroupID: group, Err: err})
		return
	}
	h.touchGroup(ctx, "pull", ident.UserID, group)
	notePull(ctx, resp.writeTo(w), resp.reset)
}

// computePull answers a pull: the response, ready to be written, or the
// kind of error. Everything that can fail, the view record stored
// included, happens here, before the response's first byte is written.
// It is a little over 80 lines: the pull's steps in order, each using
// what the one before computed (the fast path and the stores are split
// out already).
func (h *Handler[Ctx]) computePull(ctx context.Context, ident rowauth.Identity, req *protocol.PullRequest) (*pullResponse, Kind, error) {
	group := req.ClientGroupID
	if err := h.checkIDs(group, req.ProfileID); err != nil {
		return nil, KindBadRequest, err
	}
	fp := h.fingerprint(ident)
	// Only a cookie this server issued to this group and user names a
	// view (loadPullState checks both); any other cookie is answered as
	// null, with a reset. Its order is never used: the counter is global
	// and only grows, so the next order outranks every order it issued,
	// whichever group it went to (a forked tab's cookie included).
	c, hasCookie := protocol.ParseCookie(req.Cookie)
	ps, err := h.loadPullState(ctx, group, ident.UserID, c, hasCookie)
	if err != nil {
		return nil, internal(err), err
	}
	if kind, err := h.checkPullOwner(ctx, group, ident.UserID, ps); err != nil {
		return nil, kind, err
	}
	prev, heads := ps.prev, ps.heads
	if !ps.partial && h.fastPath(prev, fp, heads, ps.lmids) {
		h.stats.unchanged.Add(1)
		return unchanged(prev.cookie), "", nil
	}
	fallback := ""
	actx := rowauth.WithIdentity(ctx, ident)
	rules, analysable := h.rules(actx)
	switch {
	case prev == nil || !prev.meta.Lines:
		prev, fallback = nil, fallbackReset
	case prev.meta.FP != fp:
		fallback = fallbackFingerprint
	case h.opts.DisableFastPath:
		fallback = fallbackUncaptured
	case !analysable:
		fallback = fallbackRule
	case h.cheaper(prev, heads, rules):
		fallback = fallbackCheaper
	}
	// Pulls of one group in this process take turns: each then starts
	// from the view the one before stored. Pulls in other processes may
	// still store first; then the pull computes its answer again.
	unlock := h.groupLocks.lock(group)
	defer unlock()
	for attempt := 1; ; attempt++ {
		start := time.Now()
		resp, err := h.answerPull(ctx, ident, group, prev, fallback, rules, heads, ps.partial, fp)
		if errors.Is(err, errOrderRecovered) && attempt < maxPullAttempts {
			prev, fallback = nil, fallbackReset
			continue
		}
		if errors.Is(err, errViewMoved) && attempt < maxPullAttempts {
			// Back off, at random, up to as long as the attempt took
			// times the attempts so far, so that pulls in several
			// processes stop meeting.
			wait := time.Duration(attempt) * max(time.Since(start), time.Millisecond)
			select {
			case <-time.After(time.Duration(mrand.Int64N(int64(wait)) + 1)):
			case <-ctx.Done():
				return nil, internal(ctx.Err()), ctx.Err()
			}
			continue
		}
		if err != nil {
			return nil, internal(err), err
		}
		return resp, "", nil
	}
}

// maxPullAttempts bounds how many times a pull computes its answer when
// pulls of its group in other processes keep storing their views first.
const maxPullAttempts = 10

// groupLocks make the pulls of one client group in a process take
// turns. Each group has a lock of its own, held in the map only while
// pulls of the group are running or waiting, so one user pulling without
// pause delays no other group and the map holds no more entries than
// pulls in flight.
type groupLocks struct {
	mu sync.Mutex
	m  map[string]*groupLock
}

type groupLock struct {
	sync.Mutex
	users int // pulls holding or waiting for the lock; guarded by groupLocks.mu
}

// lock locks group's lock and returns its unlock.
func (l *groupLocks) lock(group string) (unlock func()) {
	l.mu.Lock()
	g := l.m[group]
	if g == nil {
		if l.m == nil {
			l.m = map[string]*groupLock{}
		}
		g = &groupLock{}
		l.m[group] = g
	}
	g.users++
	l.mu.Unlock()
	g.Lock()
	return func() {
		g.Unlock()
		l.mu.Lock()
		if g.users--; g.users == 0 {
			delete(l.m, group)
		}
		l.mu.Unlock()
	}
}

// held is the number of groups with pulls running or waiting.
func (l *groupLocks) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// answerPull reads what the pull needs (readPull), stores the new view
// and returns the response; errViewMoved if another pull of the group
// stored its view first.
func (h *Handler[Ctx]) answerPull(ctx context.Context, ident rowauth.Identity, group string, prev *cvr, fallback string, rules []ruleInput, heads map[string]int64, partial bool, fp string) (*pullResponse, error) {
	r, err := h.readPull(ctx, ident, group, prev, fallback, rules)
	if err != nil {
		return nil, err
	}
	h.stats.count(r.fallback)
	// The response holds the puts, not the read: the scratch buffers are
	// garbage once it is written.
	resp := &pullResponse{lmids: map[string]int64{}, reset: prev == nil, puts: r.puts, dels: r.dels}
	if prev == nil {
		maps.Copy(resp.lmids, r.lmids)
	} else {
		for c, n := range r.lmids {
			if prev.meta.LMIDs[c] != n {
				resp.lmids[c] = n
			}
		}
		if r.nputs == 0 && len(resp.dels) == 0 && len(resp.lmids) == 0 && len(r.writes) == 0 {
			// Nothing changed for this group: remember the newer heads
			// (and inputs) so the next pull takes the fast path, and
			// answer the same cookie.
			if !maps.Equal(prev.meta.Heads, heads) || prev.meta.FP != fp || !sameInputs(prev.meta.Inputs, r.inputs) {
				meta := cvrMeta{Heads: heads, LMIDs: prev.meta.LMIDs, FP: fp, Lines: true, Inputs: r.inputs, Size: r.size}
				if err := h.touchCVR(ctx, group, prev.cookie, meta); err != nil {
					return nil, err
				}
				h.pokeIfMoved(ctx, group, heads, partial)
			}
			return unchanged(prev.cookie), nil
		}
	}
	meta, err := json.Marshal(cvrMeta{Heads: heads, LMIDs: r.lmids, FP: fp, Lines: true, Inputs: r.inputs, Size: r.size})
	if err != nil {
		return nil, err
	}
	cookie, err := h.storeView(ctx, group, ident.UserID, r.base, meta, r.writes)
	if err != nil {
		return nil, err
	}
	h.pokeIfMoved(ctx, group, heads, partial)
	resp.cookie = cookie.JSON()
	return resp, nil
}

// sameInputs reports whether two views' rule inputs are equal.
func sameInputs(a, b map[string][]string) bool {
	return maps.EqualFunc(a, b, slices.Equal)
}

// fastPath reports whether nothing the cookie's view prev depends on
// has moved since it was stored: the identity's fingerprint fp, the
// change-log heads and the group's last mutation ids (lmids, read after
// heads). Then the pull is answered with the same cookie, without
// reading a snapshot.
func (h *Handler[Ctx]) fastPath(prev *cvr, fp string, heads, lmids map[string]int64) bool {
	if prev == nil || h.opts.DisableFastPath || prev.meta.FP != fp || !maps.Equal(prev.meta.Heads, heads) {
		return false
	}
	return maps.Equal(lmids, prev.meta.LMIDs)
}

// pokeIfMoved closes a race between a pull and the realtime layer. A
// commit that lands after this pull read its snapshot, but before its view
// record was stored, is checked by the poker against the group's previous
// view, which may not hold the changed row: the group would miss a poke
// and keep the row until something else made it pull. So when the change
// log has moved past the heads this pull read before its snapshot, the
// group is poked: at worst a spurious poke, one empty pull.
//
// Heads that may leave changes out (partial) cannot tell: the group is
// poked without reading them again, which would wait for a publication.
func (h *Handler[Ctx]) pokeIfMoved(ctx context.Context, group string, heads map[string]int64, partial bool) {
	gp, ok := h.opts.Notifier.(store.GroupPoker)
	if !ok {
		return
	}
	if partial {
		gp.Poke(group)
		return
	}
	now, err := h.heads(ctx)
	if err != nil || !maps.Equal(now, heads) {
		gp.Poke(group)
	}
}

// heads reads the change-log head of every region the handler watches.
func (h *Handler[Ctx]) heads(ctx context.Context) (map[string]int64, error) {
	out := make(map[string]int64, len(h.regions))
	for _, r := range h.regions {
		v, err := changelog.Head(ctx, h.base, r)
		if err != nil {
			return nil, err
		}
		out[r] = v
	}
	return out, nil
}

var errCorruptCVR = store.ErrCorruptCVR

func newCVRID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pullState is what a pull reads of the group before its snapshot, in
// one query (loadPullState): the group's owner, the view record the
// cookie names and the group's clients' lastMutationIDs.
type pullState struct {
	owner string
	bound bool             // the group has an owner
	prev  *cvr             // the cookie's view record, nil if none
	lmids map[string]int64 // the group's clients' lastMutationIDs
	heads map[string]int64 // the change-log heads (Handler.heads)
	// partial: a head may leave out changes committed before the
	// statement's snapshot (changelog.PeekHeadSQL), so it cannot tell
	// that nothing changed.
	partial bool
}

// loadPullState reads the group's owner, the view record cookie c names
// if it has one (hasCookie) stored for this group under userID, the
// group's lastMutationIDs and the change-log heads, in one statement: a
// pull that finds nothing changed costs it alone. Each head is read
// (and, on PostgreSQL, published) after the statement's snapshot is
// taken, so a push of the group that commits in between moves the heads
// if not the ids, and either keeps the pull off the fast path; and the
// snapshot of the pull's reads, taken after, sees all the heads name.
//
// On PostgreSQL a pull does not wait for another reader's publication
// (changelog.PeekHeadSQL): it then takes the head as it stands, and
// stays off the fast path (pullState.partial). Its reads miss nothing
// for that: they take the changes above the cookie's heads and the
// unnumbered ones its snapshot sees, and every change the head leaves
// out is numbered above it, so the next pull from this cookie reads it
// again at worst. Under load most pulls follow a push of their own and
// could not take the fast path anyway; they no longer queue behind each
// other's publications.
func (h *Handler[Ctx]) loadPullState(ctx context.Context, group, userID string, c protocol.Cookie, hasCookie bool) (*pullState, error) {
	q := `SELECT 1, "user_id", 0 FROM "` + GroupsTable + `" WHERE "id" = ?
UNION ALL SELECT 2, "meta", 0 FROM "` + CVRsTable + `" WHERE "group_id" = ? AND "ord" = ? AND "cvr" = ? AND "user_id" = ? AND ?
UNION ALL SELECT 3, "id", "last_mutation_id" FROM "` + ClientsTable + `" WHERE "group_id" = ?`
	args := []any{group, group, c.Order, c.CVR, userID, hasCookie, group}
	for _, r := range h.regions {
		head, hargs := changelog.PeekHeadSQL(h.base.Dialect(), r)
		q += `
UNION ALL SELECT 4, CAST(? AS TEXT), ` + head
		args = append(append(args, r), hargs...)
	}
	rows, err := h.base.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ps := &pullState{lmids: map[string]int64{}, heads: make(map[string]int64, len(h.regions))}
	for rows.Next() {
		var k int
		var s string
		var n int64
		if err := rows.Scan(&k, &s, &n); err != nil {
			return nil, err
		}
		switch k {
		case 1:
			ps.owner, ps.bound = s, true
		case 2:
			rec := &cvr{cookie: c}
			if err := json.Unmarshal([]byte(s), &rec.meta); err != nil {
				return nil, fmt.Errorf("%w: %v", errCorruptCVR, err)
			}
			if rec.meta.LMIDs == nil {
				rec.meta.LMIDs = map[string]int64{}
			}
			ps.prev = rec
		case 3:
			ps.lmids[s] = n
		case 4:
			head, complete := changelog.PeekedHead(n)
			ps.heads[s] = head
			ps.partial = ps.partial || !complete
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ps, rows.Close()
}

// checkPullOwner refuses a pull of another user's group, and binds an
// unbound one to the pulling user, as a push does.
func (h *Handler[Ctx]) checkPullOwner(ctx context.Context, group, userID string, ps *pullState) (Kind, error) {
	switch {
	case !ps.bound:
		return h.bindPull(ctx, group, userID)
	case ps.owner != userID:
		return KindForbidden, fmt.Errorf("%w: group %q", ErrForbiddenGroup, group)
	}
	return "", nil
}

// touchCVR records newer heads (and fingerprint) on a view record whose
// rows and lastMutationIDs a later snapshot found unchanged.
func (h *Handler[Ctx]) touchCVR(ctx context.Context, group string, c protocol.Cookie, meta cvrMeta) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return h.writing(ctx, func() error {
		_, err := h.base.Exec(ctx, `UPDATE "`+CVRsTable+`" SET "meta" = ? WHERE "group_id" = ? AND "ord" = ? AND "cvr" = ?`,
			string(b), group, c.Order, c.CVR)
		return err
	})
}

// maxHonestOrder bounds the orders the counter reaches by honest use: a
// new view record a microsecond would take 142 years to pass it. A counter
// above it was raised by a client's cookie (an older plasma caught up to
// the order a client sent) and is recovered.
const maxHonestOrder = protocol.MaxSafeOrder / 2

// nextOrder takes the next value of the global cookie order counter. It
// is global, and only ever grows, so the order outranks every cookie this
// database issued, to any group. Clients' cookies never move it.
func nextOrder(ctx context.Context, db *orm.DB) (int64, error) {
	order, err := bumpOrder(ctx, db)
	if err != nil || order <= maxHonestOrder {
		return order, err
	}
	if err := recoverOrder(ctx, db); err != nil {
		return 0, err
	}
	if order, err = bumpOrder(ctx, db); err != nil {
		return 0, err
	}
	if order > maxHonestOrder {
		return 0, fmt.Errorf("plasma: sync: the cookie order counter is at %d after its recovery", order)
	}
	return order, nil
}

// nextOrderSQL draws the next order from OrderSequence (PostgreSQL).
const nextOrderSQL = `nextval('"` + OrderSequence + `"')`

// bumpOrder takes the next order: from OrderSequence where writers run
// concurrently (PostgreSQL), whose draws take no lock; else from the
// counter row, under the one writer's lock (SQLite).
func bumpOrder(ctx context.Context, db *orm.DB) (int64, error) {
	var order int64
	q, args := `INSERT INTO "`+CountersTable+`" ("name", "value") VALUES (?, 1)
ON CONFLICT ("name") DO UPDATE SET "value" = "`+CountersTable+`"."value" + 1
RETURNING "value"`, []any{orderCounter}
	if db.Dialect().Features().Has(dialect.ConcurrentWrites) {
		q, args = `SELECT `+nextOrderSQL, nil
	}
	found, err := queryRow(ctx, db, q, args, &order)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, errors.New("plasma: sync: the cookie order counter returned no row")
	}
	return order, nil
}

// recoverOrder brings back a counter a client's cookie raised past
// maxHonestOrder, to the largest honest order of a stored view record,
// and drops the records of the raised orders, which no later order could
// outrank: the clients holding them (the one that sent the cookie, and
// any that pulled after it under the older plasma) get a reset.
func recoverOrder(ctx context.Context, db *orm.DB) error {
	q, args := `UPDATE "`+CountersTable+`" SET "value" = (SELECT COALESCE(MAX("ord"), 0) FROM "`+CVRsTable+`" WHERE "ord" <= ?)
WHERE "name" = ? AND "value" > ?`, []any{int64(maxHonestOrder), orderCounter, int64(maxHonestOrder)}
	if db.Dialect().Features().Has(dialect.ConcurrentWrites) {
		q, args = `SELECT setval('"`+OrderSequence+`"', (SELECT GREATEST(COALESCE(MAX("ord"), 0), 1) FROM "`+CVRsTable+`" WHERE "ord" <= ?))
FROM "`+OrderSequence+`" WHERE "last_value" > ?`, []any{int64(maxHonestOrder), int64(maxHonestOrder)}
	}
	if _, err := db.Exec(ctx, q, args...); err != nil {
		return err
	}
	for _, t := range []string{ViewRowsTable, ViewHeadsTable} {
		if _, err := db.Exec(ctx, `DELETE FROM "`+t+`" WHERE "group_id" IN (SELECT "group_id" FROM "`+CVRsTable+`" WHERE "ord" > ?)`, int64(maxHonestOrder)); err != nil {
			return err
		}
	}
	_, err := db.Exec(ctx, `DELETE FROM "`+CVRsTable+`" WHERE "ord" > ?`, int64(maxHonestOrder))
	return err
}
