package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
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
}

// cvr is a stored client view record, without its entries.
type cvr struct {
	cookie protocol.Cookie
	meta   cvrMeta
}

// snapshot is the visible state of the database for one identity and
// client group, read in one transaction and diffed, as it is read,
// against the view record the pull starts from (none for a reset). It
// keeps every row's view entry but the JSON only of the rows the patch
// puts.
type snapshot struct {
	lmids   map[string]int64
	prior   *priorView // nil for a reset: every row is put
	entries chunks     // each row's entry (snapshot.appendEntry)
	puts    chunks     // the patch's puts (chunks.appendPut)
	nputs   int
	// scratch, reused from row to row
	key, keyJSON, value []byte
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
	// The heads are read before the group's lastMutationIDs (fastPath):
	// a push of this group that commits in between shows in the ids.
	heads, err := h.heads(ctx)
	if err != nil {
		return nil, internal(err), err
	}
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
	prev := ps.prev
	if h.fastPath(prev, fp, heads, ps.lmids) {
		return unchanged(prev.cookie), "", nil
	}

	var prior *priorView
	if prev != nil {
		if prior, err = h.loadView(ctx, group, prev.cookie); err != nil {
			return nil, internal(err), err
		}
		if prior == nil { // pruned since loadCVR: start over
			prev = nil
		}
	}
	snap, err := h.snapshot(ctx, ident, group, prior)
	if err != nil {
		return nil, internal(err), err
	}
	// The response holds the puts, not the snapshot: the prior view and
	// the scratch buffers are garbage once it is written.
	resp := &pullResponse{lmids: map[string]int64{}, reset: prev == nil, puts: snap.puts}
	if prev == nil {
		maps.Copy(resp.lmids, snap.lmids)
	} else {
		resp.dels = prior.unseen()
		for c, n := range snap.lmids {
			if prev.meta.LMIDs[c] != n {
				resp.lmids[c] = n
			}
		}
		if snap.nputs == 0 && len(resp.dels) == 0 && len(resp.lmids) == 0 {
			// Nothing changed for this group: remember the newer heads so
			// the next pull takes the fast path, and answer the same
			// cookie.
			if !maps.Equal(prev.meta.Heads, heads) || prev.meta.FP != fp {
				meta := cvrMeta{Heads: heads, LMIDs: prev.meta.LMIDs, FP: fp}
				if err := h.touchCVR(ctx, group, prev.cookie, meta); err != nil {
					return nil, internal(err), err
				}
				h.pokeIfMoved(ctx, group, heads)
			}
			return unchanged(prev.cookie), "", nil
		}
	}
	entries := snap.entries.bytes()
	snap.entries = chunks{} // only the joined copy is kept, until it is stored

	meta := cvrMeta{Heads: heads, LMIDs: snap.lmids, FP: fp}
	cookie, err := h.storeCVR(ctx, group, ident.UserID, meta, entries)
	if err != nil {
		return nil, internal(err), err
	}
	h.pokeIfMoved(ctx, group, heads)
	resp.cookie = cookie.JSON()
	return resp, "", nil
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
func (h *Handler[Ctx]) pokeIfMoved(ctx context.Context, group string, heads map[string]int64) {
	gp, ok := h.opts.Notifier.(store.GroupPoker)
	if !ok {
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

func groupLMIDs(ctx context.Context, db *orm.DB, group string) (map[string]int64, error) {
	rows, err := db.Query(ctx, `SELECT "id", "last_mutation_id" FROM "`+ClientsTable+`" WHERE "group_id" = ?`, group)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// snapshot reads the group's lastMutationIDs and every row of the synced
// tables that ident may read, in one read-only transaction (REPEATABLE
// READ on PostgreSQL), so the rows show exactly the effects of the
// mutations up to those ids. Rows are diffed against prior as they are
// read (see snapshot).
func (h *Handler[Ctx]) snapshot(ctx context.Context, ident rowauth.Identity, group string, prior *priorView) (*snapshot, error) {
	actx := rowauth.WithIdentity(ctx, ident)
	snap := &snapshot{prior: prior}
	read := func(db *orm.DB) error {
		var err error
		if snap.lmids, err = groupLMIDs(ctx, db, group); err != nil {
			return err
		}
		for _, p := range h.plans {
			if err := h.scan(actx, db, p, snap); err != nil {
				return err
			}
		}
		return nil
	}
	if h.begin == nil {
		err := h.db.Tx(ctx, func(tx *orm.Tx) error { return read(tx.DB) })
		return snap, err
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if h.perRegion {
		opts.Isolation = sql.LevelRepeatableRead
	}
	// One snapshot for the lmids and every table, on the handler's DB so
	// that row auth and the application's own middlewares see the reads.
	tx, err := h.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := read(tx.DB); err != nil {
		return nil, err
	}
	return snap, tx.Commit()
}

// scan reads the rows of one table that the context's identity may read.
func (h *Handler[Ctx]) scan(ctx context.Context, db *orm.DB, p *tablePlan, snap *snapshot) error {
	res, err := db.Select().From(p.table).Rows(ctx)
	if err != nil {
		return err
	}
	rows := res.Rows
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if len(cols) != len(p.Columns) {
		return fmt.Errorf("plasma: sync: %s: read %d columns, the schema declares %d", p.table.Name(), len(cols), len(p.Columns))
	}
	for i, c := range cols {
		if c != p.Columns[i].Name {
			return fmt.Errorf("plasma: sync: %s: column %d is %q, the schema declares %q", p.table.Name(), i, c, p.Columns[i].Name)
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := snap.add(p, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// add records one row read: its view entry, and its JSON if the patch
// puts it.
func (s *snapshot) add(p *tablePlan, vals []any) error {
	var err error
	if s.value, err = p.appendRow(s.value[:0], vals); err != nil {
		return err
	}
	sum := sha256.Sum256(s.value)
	hash := binary.LittleEndian.Uint64(sum[:8])
	id := idString(vals[p.ID])
	s.key = append(append(s.key[:0], p.prefix...), id...)
	s.appendEntry(s.key, hash)
	if s.prior == nil || s.prior.changed(s.key, hash) {
		s.keyJSON = appendKeyJSON(s.keyJSON[:0], p.prefixJSON, id)
		s.puts.appendPut(s.keyJSON, s.value)
		s.nputs++
	}
	return nil
}

// appendEntry appends a row's view entry: the key's length (uvarint),
// the key, and the first 8 bytes of the SHA-256 of the row's JSON. A
// view record's entries are its rows' entries one after the other.
func (s *snapshot) appendEntry(key []byte, hash uint64) {
	var n [binary.MaxVarintLen64]byte
	var h [8]byte
	binary.LittleEndian.PutUint64(h[:], hash)
	s.entries.appendRecord(n[:binary.PutUvarint(n[:], uint64(len(key)))], key, h[:])
}

var errCorruptCVR = store.ErrCorruptCVR

func decodeEntries(b []byte) (map[string]uint64, error) {
	out := make(map[string]uint64, len(b)/40)
	err := store.EachEntry(b, func(key []byte, hash uint64) bool {
		out[string(key)] = hash
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

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
}

// loadPullState reads the group's owner, the view record cookie c names
// if it has one (hasCookie) stored for this group under userID, and the
// group's lastMutationIDs, in one statement: a pull that finds nothing
// changed costs it and the heads' read.
func (h *Handler[Ctx]) loadPullState(ctx context.Context, group, userID string, c protocol.Cookie, hasCookie bool) (*pullState, error) {
	q := `SELECT 1, "user_id", 0 FROM "` + GroupsTable + `" WHERE "id" = ?
UNION ALL SELECT 2, "meta", 0 FROM "` + CVRsTable + `" WHERE "group_id" = ? AND "ord" = ? AND "cvr" = ? AND "user_id" = ? AND ?
UNION ALL SELECT 3, "id", "last_mutation_id" FROM "` + ClientsTable + `" WHERE "group_id" = ?`
	rows, err := h.base.Query(ctx, q, group, group, c.Order, c.CVR, userID, hasCookie, group)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ps := &pullState{lmids: map[string]int64{}}
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

// loadView loads a view record's entries; nil if it is gone.
func (h *Handler[Ctx]) loadView(ctx context.Context, group string, c protocol.Cookie) (*priorView, error) {
	var blob []byte
	found, err := queryRow(ctx, h.base, `SELECT "entries" FROM "`+CVRsTable+`" WHERE "group_id" = ? AND "ord" = ? AND "cvr" = ?`,
		[]any{group, c.Order, c.CVR}, &blob)
	if err != nil || !found {
		return nil, err
	}
	return decodeView(blob)
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

func bumpOrder(ctx context.Context, db *orm.DB) (int64, error) {
	var order int64
	found, err := queryRow(ctx, db, `INSERT INTO "`+CountersTable+`" ("name", "value") VALUES (?, 1)
ON CONFLICT ("name") DO UPDATE SET "value" = "`+CountersTable+`"."value" + 1
RETURNING "value"`, []any{orderCounter}, &order)
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
	if _, err := db.Exec(ctx, `UPDATE "`+CountersTable+`" SET "value" = (SELECT COALESCE(MAX("ord"), 0) FROM "`+CVRsTable+`" WHERE "ord" <= ?)
WHERE "name" = ? AND "value" > ?`, int64(maxHonestOrder), orderCounter, int64(maxHonestOrder)); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `DELETE FROM "`+CVRsTable+`" WHERE "ord" > ?`, int64(maxHonestOrder))
	return err
}

// storeCVR takes a new cookie order, stores a new view record under it
// and prunes the group's oldest records, keeping Options.KeepCVRs. On
// PostgreSQL the counter is bumped in a statement of its own, so its row
// lock is held only for that statement; gaps in the orders are harmless.
// SQLite has one writer at a time anyway: one transaction does it all.
func (h *Handler[Ctx]) storeCVR(ctx context.Context, group, userID string, meta cvrMeta, entries []byte) (protocol.Cookie, error) {
	b, err := json.Marshal(meta)
	if err != nil {
		return protocol.Cookie{}, err
	}
	c := protocol.Cookie{CVR: newCVRID()}
	if h.perRegion {
		if c.Order, err = nextOrder(ctx, h.base); err != nil {
			return c, err
		}
	}
	unlock, err := h.lockWrites(ctx)
	if err != nil {
		return c, err
	}
	defer unlock()
	if h.perRegion && h.base.Dialect().Features().Has(dialect.WritesInWith) {
		return c, h.insertCVR(ctx, group, userID, c, b, entries)
	}
	err = h.base.Tx(ctx, func(tx *orm.Tx) error {
		if !h.perRegion {
			var err error
			if c.Order, err = nextOrder(ctx, tx.DB); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO "`+CVRsTable+`" ("group_id", "ord", "cvr", "user_id", "meta", "entries", "created_at") VALUES (?, ?, ?, ?, ?, ?, ?)`,
			group, c.Order, c.CVR, userID, string(b), entries, time.Now().UnixMilli()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM "`+CVRsTable+`" WHERE "group_id" = ? AND "ord" < (SELECT "ord" FROM "`+CVRsTable+`" WHERE "group_id" = ? ORDER BY "ord" DESC LIMIT 1 OFFSET ?)`,
			group, group, h.opts.KeepCVRs-1)
		return err
	})
	return c, err
}

// insertCVR stores a view record under the order c names and prunes the
// group's older ones, keeping Options.KeepCVRs with it, in one statement
// (PostgreSQL: the INSERT in a WITH, which the DELETE does not see). The
// records pruned are those below c's order but the KeepCVRs-1 newest:
// with no newer record of the group, what the INSERT and DELETE of
// storeCVR's transaction prune; a record a concurrent pull of the group
// stored above c's order is left to the next pull to prune.
func (h *Handler[Ctx]) insertCVR(ctx context.Context, group, userID string, c protocol.Cookie, meta, entries []byte) error {
	_, err := h.base.Exec(ctx, `WITH "ins" AS (INSERT INTO "`+CVRsTable+`" ("group_id", "ord", "cvr", "user_id", "meta", "entries", "created_at") VALUES (?, ?, ?, ?, ?, ?, ?))
DELETE FROM "`+CVRsTable+`" WHERE "group_id" = ? AND "ord" < ? AND "ord" NOT IN (SELECT "ord" FROM "`+CVRsTable+`" WHERE "group_id" = ? AND "ord" < ? ORDER BY "ord" DESC LIMIT ?)`,
		group, c.Order, c.CVR, userID, string(meta), entries, time.Now().UnixMilli(),
		group, c.Order, group, c.Order, h.opts.KeepCVRs-1)
	return err
}
