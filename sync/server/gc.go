package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/plasma-go/plasma/orm"
)

// SeenTable records, per client group, when a push or pull for it was
// last served: what Handler.Collect reads to find idle groups.
const SeenTable = orm.ReservedPrefix + "group_seen"

// The defaults of the collection options.
const (
	DefaultGroupTTL         = 30 * 24 * time.Hour
	DefaultCollectBatch     = 500
	DefaultMaxGroupsPerUser = 1000
)

// maxTouchEvery caps the interval at which a handler rewrites a group's
// last-seen time: once per touchEvery (GroupTTL/30, at most 20 minutes)
// per group at most. The stored time may lag by up to three intervals
// (see seenCache): an hour with the default TTL.
const maxTouchEvery = 20 * time.Minute

// collectDefaults fills in the collection options left zero.
func collectDefaults[Ctx any](o *Options[Ctx]) {
	if o.GroupTTL <= 0 {
		o.GroupTTL = DefaultGroupTTL
	}
	if o.CollectBatch <= 0 {
		o.CollectBatch = DefaultCollectBatch
	}
	if o.MaxGroupsPerUser <= 0 {
		o.MaxGroupsPerUser = DefaultMaxGroupsPerUser
	}
}

func (h *Handler[Ctx]) touchEvery() time.Duration {
	return min(h.opts.GroupTTL/30, maxTouchEvery)
}

// seenCache remembers the groups whose last-seen time this handler wrote
// recently, so that a busy group costs one write per interval, not one
// per request. It holds two generations: cur, written since the last
// rotation, and prev, the one before. A group in either was written less
// than three intervals ago.
type seenCache struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
	since     time.Time // when cur started
}

// due reports whether group's last-seen time should be written now.
func (c *seenCache) due(group string, now time.Time, every time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch age := now.Sub(c.since); {
	case age >= 2*every:
		c.cur, c.prev, c.since = nil, nil, now
	case age >= every:
		c.cur, c.prev, c.since = nil, c.cur, now
	}
	if _, ok := c.cur[group]; ok {
		return false
	}
	_, ok := c.prev[group]
	return !ok
}

func (c *seenCache) mark(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		c.cur = map[string]struct{}{}
	}
	c.cur[group] = struct{}{}
}

func (c *seenCache) forget(groups []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range groups {
		delete(c.cur, g)
		delete(c.prev, g)
	}
}

// touchGroup records that a push or pull for group was served, unless
// this handler did so less than touchEvery ago. A failure is reported
// through OnError and does not fail the request: it only leaves the
// group's last-seen time older, and the next request tries again.
func (h *Handler[Ctx]) touchGroup(ctx context.Context, endpoint, userID, group string) {
	now := time.Now()
	if !h.seen.due(group, now, h.touchEvery()) {
		return
	}
	// Never backwards, whatever another server's clock says.
	err := h.writing(ctx, func() error {
		_, err := h.base.Exec(ctx, `INSERT INTO "`+SeenTable+`" ("group_id", "seen_at") VALUES (?, ?)
ON CONFLICT ("group_id") DO UPDATE SET "seen_at" = excluded."seen_at" WHERE "`+SeenTable+`"."seen_at" < excluded."seen_at"`, group, now.UnixMilli())
		return err
	})
	if err != nil {
		h.report(ctx, &Error{Kind: internal(err), Endpoint: endpoint, UserID: userID, ClientGroupID: group,
			Err: fmt.Errorf("recording the group's last-seen time: %w", err)})
		return
	}
	h.seen.mark(group)
}

// CollectResult reports what Handler.Collect did.
type CollectResult struct {
	// Started is the number of client groups found without a last-seen
	// time (created before SeenTable existed, or bound by another
	// handler's WebSocket) and given the current time: their TTL starts
	// now.
	Started int64
	// Groups is the number of idle client groups collected, Clients,
	// CVRs and Writes the number of their clients, client view records
	// and WritesTable rows deleted with them.
	Groups, Clients, CVRs, Writes int64
	// Pruned is the number of view records deleted from groups that held
	// more than Options.KeepCVRs.
	Pruned int64
	// Batches is the number of delete transactions committed.
	Batches int
	// Duration is how long the run took.
	Duration time.Duration
}

// Collect deletes the state of the client groups that no push or pull
// has been served for in Options.GroupTTL: the group, its clients, its
// client view records and its WritesTable rows. It also prunes view
// records beyond Options.KeepCVRs (pulls prune their own group as they
// go; this catches a lowered KeepCVRs).
//
// A group's last-seen time is written by the pushes and pulls served for
// it (at most once per GroupTTL/30, capped at 20 minutes, per group and
// handler, so it lags by an hour at most with the default TTL), and kept
// in SeenTable. A group known to the other tables but not to SeenTable is
// given the current time by Collect: it is collected only after a whole
// TTL without a request.
//
// What a collected group's clients see: a pull answers a reset (a clear
// and every row the user may read), without lastMutationIDs for the
// forgotten clients; a push from a forgotten client whose first mutation
// is above 1 answers {"error":"ClientStateNotFound"}, after which
// Replicache disables the client group and starts a new one: mutations it
// had not pushed, or pushed but not seen confirmed by a pull, are dropped
// with it. The group id is free again: the next request binds it to its
// user.
//
// The deletes run in transactions of at most Options.CollectBatch groups,
// so a large collection never holds SQLite's write lock, or PostgreSQL's
// row locks, for long. A group whose last-seen time moves forward while
// Collect runs is kept: each transaction checks it again as it deletes.
// Collect is safe to run from several processes at once; an error or a
// cancelled ctx leaves what was committed so far, and the result counts
// it. Run it on a schedule (cmd/plasma's demo runs it every hour).
func (h *Handler[Ctx]) Collect(ctx context.Context) (CollectResult, error) {
	var ev *Event
	if h.observed() {
		ev = &Event{Kind: EventCollect}
		ctx = h.startEvent(ctx, ev)
	}
	start := time.Now()
	var res CollectResult
	err := h.collect(ctx, start, &res)
	res.Duration = time.Since(start)
	if err != nil {
		err = fmt.Errorf("plasma: sync: Collect: %w", err)
	}
	if ev != nil {
		ev.Collect = res
		if err != nil {
			ev.Err = &Error{Kind: internal(err), Err: err}
		}
		h.endEvent(ctx, ev)
	}
	return res, err
}

func (h *Handler[Ctx]) collect(ctx context.Context, now time.Time, res *CollectResult) error {
	if err := h.startClocks(ctx, now, res); err != nil {
		return err
	}
	cutoff := now.Add(-h.opts.GroupTTL).UnixMilli()
	for {
		var ids []string
		rows, err := h.base.Query(ctx, `SELECT "group_id" FROM "`+SeenTable+`" WHERE "seen_at" < ? ORDER BY "seen_at" LIMIT ?`, cutoff, h.opts.CollectBatch)
		if err != nil {
			return err
		}
		if ids, err = scanStrings(rows); err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		if err := h.collectGroups(ctx, ids, cutoff, res); err != nil {
			return err
		}
		if len(ids) < h.opts.CollectBatch {
			break
		}
	}
	return h.pruneCVRs(ctx, res)
}

// startClocks gives every group id found in the server's tables without
// a row in SeenTable the time now, in statements of at most CollectBatch
// rows.
func (h *Handler[Ctx]) startClocks(ctx context.Context, now time.Time, res *CollectResult) error {
	sources := []struct{ table, col string }{
		{GroupsTable, "id"}, {ClientsTable, "group_id"}, {CVRsTable, "group_id"}, {WritesTable, "group_id"},
		{ViewHeadsTable, "group_id"},
	}
	for _, src := range sources {
		q := `INSERT INTO "` + SeenTable + `" ("group_id", "seen_at")
SELECT DISTINCT x."` + src.col + `", CAST(? AS BIGINT) FROM "` + src.table + `" x
WHERE NOT EXISTS (SELECT 1 FROM "` + SeenTable + `" s WHERE s."group_id" = x."` + src.col + `") LIMIT ?
ON CONFLICT ("group_id") DO NOTHING`
		for {
			var n int64
			err := h.writing(ctx, func() (err error) {
				n, err = h.base.Exec(ctx, q, now.UnixMilli(), h.opts.CollectBatch)
				return err
			})
			if err != nil {
				return err
			}
			res.Started += n
			if n < int64(h.opts.CollectBatch) {
				break
			}
		}
	}
	return nil
}

// collectGroups deletes, in one transaction, the groups of ids that are
// still idle: their SeenTable row is deleted only if it is still older
// than cutoff, and only the groups whose row was deleted lose their state.
func (h *Handler[Ctx]) collectGroups(ctx context.Context, ids []string, cutoff int64, res *CollectResult) error {
	var gone []string
	var counts groupCounts
	err := h.writing(ctx, func() error {
		return h.base.Tx(ctx, func(tx *orm.Tx) error {
			args := append(stringArgs(ids), cutoff)
			rows, err := tx.Query(ctx, `DELETE FROM "`+SeenTable+`" WHERE "group_id" IN (`+placeholders(len(ids))+`) AND "seen_at" < ? RETURNING "group_id"`, args...)
			if err != nil {
				return err
			}
			if gone, err = scanStrings(rows); err != nil || len(gone) == 0 {
				return err
			}
			counts, err = dropGroups(ctx, tx.DB, gone)
			return err
		})
	})
	if err != nil {
		return err
	}
	res.Batches++
	res.Groups += int64(len(gone))
	res.Clients += counts.clients
	res.CVRs += counts.cvrs
	res.Writes += counts.writes
	h.seen.forget(gone)
	return nil
}

// pruneCVRs deletes the view records of each group beyond its KeepCVRs
// newest.
func (h *Handler[Ctx]) pruneCVRs(ctx context.Context, res *CollectResult) error {
	for {
		rows, err := h.base.Query(ctx, `SELECT "group_id" FROM "`+CVRsTable+`" GROUP BY "group_id" HAVING COUNT(*) > ? LIMIT ?`,
			h.opts.KeepCVRs, h.opts.CollectBatch)
		if err != nil {
			return err
		}
		groups, err := scanStrings(rows)
		if err != nil || len(groups) == 0 {
			return err
		}
		err = h.writing(ctx, func() error {
			return h.base.Tx(ctx, func(tx *orm.Tx) error {
				for _, g := range groups {
					n, err := pruneViews(ctx, tx.DB, g, h.opts.KeepCVRs)
					if err != nil {
						return err
					}
					res.Pruned += n
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		res.Batches++
		if len(groups) < h.opts.CollectBatch {
			return nil
		}
	}
}

func scanStrings(rows orm.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

func placeholders(n int) string { return "?" + strings.Repeat(", ?", n-1) }

func stringArgs(ss []string) []any {
	out := make([]any, len(ss), len(ss)+1)
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// groupCounts counts the rows dropGroups deleted.
type groupCounts struct{ groups, clients, cvrs, writes int64 }

// dropGroups deletes the state of the client groups ids in db (a
// transaction): the group rows, their clients, view records and
// WritesTable rows, their views' lines and heads. Their SeenTable rows
// are the caller's.
func dropGroups(ctx context.Context, db *orm.DB, ids []string) (groupCounts, error) {
	var c groupCounts
	in, args := placeholders(len(ids)), stringArgs(ids)
	for _, d := range []struct {
		n     *int64
		query string
	}{
		{&c.groups, `DELETE FROM "` + GroupsTable + `" WHERE "id" IN (` + in + `)`},
		{&c.clients, `DELETE FROM "` + ClientsTable + `" WHERE "group_id" IN (` + in + `)`},
		{&c.cvrs, `DELETE FROM "` + CVRsTable + `" WHERE "group_id" IN (` + in + `)`},
		{&c.writes, `DELETE FROM "` + WritesTable + `" WHERE "group_id" IN (` + in + `)`},
		{new(int64), `DELETE FROM "` + ViewRowsTable + `" WHERE "group_id" IN (` + in + `)`},
		{new(int64), `DELETE FROM "` + ViewHeadsTable + `" WHERE "group_id" IN (` + in + `)`},
	} {
		n, err := db.Exec(ctx, d.query, args...)
		if err != nil {
			return c, err
		}
		*d.n = n
	}
	return c, nil
}

// capGroups keeps userID at Options.MaxGroupsPerUser client groups once
// group, just bound in db (a transaction), has taken the user over it:
// the user's least recently seen other groups are dropped, as Collect
// would drop them, so one account cannot grow the server's tables with
// fresh group ids. A live client of a dropped group gets
// ClientStateNotFound at its next push and starts over.
func (h *Handler[Ctx]) capGroups(ctx context.Context, db *orm.DB, userID, group string) error {
	var n int64
	if _, err := queryRow(ctx, db, `SELECT COUNT(*) FROM "`+GroupsTable+`" WHERE "user_id" = ?`, []any{userID}, &n); err != nil {
		return err
	}
	over := n - int64(h.opts.MaxGroupsPerUser)
	if over <= 0 {
		return nil
	}
	rows, err := db.Query(ctx, `SELECT g."id" FROM "`+GroupsTable+`" g LEFT JOIN "`+SeenTable+`" s ON s."group_id" = g."id"
WHERE g."user_id" = ? AND g."id" <> ? ORDER BY COALESCE(s."seen_at", g."created_at"), g."id" LIMIT ?`, userID, group, over)
	if err != nil {
		return err
	}
	ids, err := scanStrings(rows)
	if err != nil || len(ids) == 0 {
		return err
	}
	if _, err := dropGroups(ctx, db, ids); err != nil {
		return err
	}
	_, err = db.Exec(ctx, `DELETE FROM "`+SeenTable+`" WHERE "group_id" IN (`+placeholders(len(ids))+`)`, stringArgs(ids)...)
	h.seen.forget(ids)
	return err
}
