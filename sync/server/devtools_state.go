package server

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/sync/protocol"
)

// devtoolsSnapshot reads the state the devtools page shows: up to
// groups client groups, the latest changes of the log (up to changes
// per region), the realtime hub's connections and the recent errors.
// The reads are plain queries on the sync tables, outside a
// transaction: the page refreshes every few seconds, and a group seen
// between two of them shows at the next one.
func (h *Handler[Ctx]) devtoolsSnapshot(ctx context.Context, groups, changes int) (*protocol.DevtoolsSnapshot, error) {
	snap := &protocol.DevtoolsSnapshot{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeSnapshot,
		At: time.Now().UTC(), SchemaVersion: h.opts.Schema.Version(), Groups: []protocol.DevtoolsGroup{}}
	var err error
	if snap.Groups, snap.GroupsTruncated, err = h.devGroups(ctx, groups); err != nil {
		return nil, err
	}
	if snap.Heads, err = h.heads(ctx); err != nil {
		return nil, err
	}
	if snap.Changes, err = h.devChanges(ctx, changes); err != nil {
		return nil, err
	}
	if ri, ok := h.opts.Notifier.(RealtimeInspector); ok {
		rt := ri.DevtoolsRealtime(maxDevtoolsConns)
		snap.Realtime = &rt
	}
	snap.Errors = h.dev.errors()
	return snap, nil
}

// devGroups reads up to limit client groups, most recently seen first,
// with their clients and the size of their view records.
func (h *Handler[Ctx]) devGroups(ctx context.Context, limit int) ([]protocol.DevtoolsGroup, bool, error) {
	rows, err := h.base.Query(ctx, `SELECT g."id", g."user_id", g."created_at", COALESCE(s."seen_at", 0)
FROM "`+GroupsTable+`" g LEFT JOIN "`+SeenTable+`" s ON s."group_id" = g."id"
ORDER BY COALESCE(s."seen_at", g."created_at") DESC, g."id" LIMIT ?`, limit+1)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := []protocol.DevtoolsGroup{}
	index := map[string]int{}
	for rows.Next() {
		var g protocol.DevtoolsGroup
		if err := rows.Scan(&g.ID, &g.UserID, &g.CreatedAt, &g.SeenAt); err != nil {
			return nil, false, err
		}
		g.Clients = []protocol.DevtoolsClient{}
		index[g.ID] = len(out)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	rows.Close()
	truncated := len(out) > limit
	if truncated {
		delete(index, out[limit].ID)
		out = out[:limit]
	}
	if len(out) == 0 {
		return out, false, nil
	}
	ids := make([]string, len(out))
	for i, g := range out {
		ids[i] = g.ID
	}
	if err := h.devClients(ctx, ids, out, index); err != nil {
		return nil, false, err
	}
	if err := h.devViews(ctx, ids, out, index); err != nil {
		return nil, false, err
	}
	h.dev.activity(out)
	return out, truncated, nil
}

// devClients fills in the groups' clients, up to maxDevtoolsClients in
// all.
func (h *Handler[Ctx]) devClients(ctx context.Context, ids []string, out []protocol.DevtoolsGroup, index map[string]int) error {
	rows, err := h.base.Query(ctx, `SELECT "id", "group_id", "last_mutation_id", "updated_at" FROM "`+ClientsTable+
		`" WHERE "group_id" IN (`+placeholders(len(ids))+`) ORDER BY "group_id", "id" LIMIT `+strconv.Itoa(maxDevtoolsClients),
		stringArgs(ids)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c protocol.DevtoolsClient
		var group string
		if err := rows.Scan(&c.ID, &group, &c.LastMutationID, &c.UpdatedAt); err != nil {
			return err
		}
		if i, ok := index[group]; ok {
			out[i].Clients = append(out[i].Clients, c)
		}
	}
	return rows.Err()
}

// devViews fills in the number of the groups' view records (cookies
// kept) and of the rows their views hold.
func (h *Handler[Ctx]) devViews(ctx context.Context, ids []string, out []protocol.DevtoolsGroup, index map[string]int) error {
	in := placeholders(len(ids))
	err := h.devCount(ctx, `SELECT "group_id", COUNT(*) FROM "`+CVRsTable+`" WHERE "group_id" IN (`+in+`) GROUP BY "group_id"`,
		ids, func(g *protocol.DevtoolsGroup, n int64) { g.Views = n }, out, index)
	if err != nil {
		return err
	}
	return h.devCount(ctx, `SELECT "group_id", COUNT(*) FROM "`+ViewRowsTable+`" WHERE "group_id" IN (`+in+`) AND "live" = 1 GROUP BY "group_id"`,
		ids, func(g *protocol.DevtoolsGroup, n int64) { g.ViewRows = n }, out, index)
}

// devCount runs q, which reads (group, count) pairs, and hands each count
// to set with its group.
func (h *Handler[Ctx]) devCount(ctx context.Context, q string, ids []string, set func(*protocol.DevtoolsGroup, int64), out []protocol.DevtoolsGroup, index map[string]int) error {
	rows, err := h.base.Query(ctx, q, stringArgs(ids)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var group string
		var n int64
		if err := rows.Scan(&group, &n); err != nil {
			return err
		}
		if i, ok := index[group]; ok {
			set(&out[i], n)
		}
	}
	return rows.Err()
}

// devChanges reads the latest changes of the log, newest first: up to
// limit in all on SQLite (one version sequence), up to limit per
// region on PostgreSQL (its index is per region).
func (h *Handler[Ctx]) devChanges(ctx context.Context, limit int) ([]protocol.DevtoolsChange, error) {
	const cols = `SELECT "version", "region", "table_name", "row_id", "op", "client_id", "mutation_id" FROM "` + changelog.LogTable + `"`
	out := []protocol.DevtoolsChange{}
	if !h.perRegion {
		return out, devChangesQuery(ctx, h, cols+` ORDER BY "version" DESC LIMIT ?`, []any{limit}, &out)
	}
	for _, r := range h.regions {
		q := cols + ` WHERE "region" = ? AND "version" IS NOT NULL ORDER BY "version" DESC LIMIT ?`
		if err := devChangesQuery(ctx, h, q, []any{r, limit}, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func devChangesQuery[Ctx any](ctx context.Context, h *Handler[Ctx], q string, args []any, out *[]protocol.DevtoolsChange) error {
	rows, err := h.base.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c protocol.DevtoolsChange
		var client sql.NullString
		var mid sql.NullInt64
		if err := rows.Scan(&c.Version, &c.Region, &c.Table, &c.RowID, &c.Op, &client, &mid); err != nil {
			return err
		}
		c.ClientID, c.MutationID = client.String, mid.Int64
		*out = append(*out, c)
	}
	return rows.Err()
}

// dropViews deletes the client group's view: its records, the rows they
// hold and its head, so that its next pull, whatever its cookie, is
// answered with a reset. A pull of the group storing meanwhile finds the
// head gone (storeView's compare fails) and computes its answer again.
func (h *Handler[Ctx]) dropViews(ctx context.Context, group string) (int64, error) {
	var n int64
	err := h.writing(ctx, func() error {
		return h.base.Tx(ctx, func(tx *orm.Tx) error {
			var err error
			if n, err = tx.Exec(ctx, `DELETE FROM "`+CVRsTable+`" WHERE "group_id" = ?`, group); err != nil {
				return err
			}
			for _, t := range []string{ViewRowsTable, ViewHeadsTable} {
				if _, err := tx.Exec(ctx, `DELETE FROM "`+t+`" WHERE "group_id" = ?`, group); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return n, err
}

// activity fills in the last push and pull times this process saw for
// the groups.
func (d *devtools) activity(groups []protocol.DevtoolsGroup) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range groups {
		a := d.groups[groups[i].ID]
		if a == nil {
			continue
		}
		if !a.push.IsZero() {
			t := a.push.UTC()
			groups[i].LastPush = &t
		}
		if !a.pull.IsZero() {
			t := a.pull.UTC()
			groups[i].LastPull = &t
		}
	}
}

// errors returns the error counts and the recent errors, newest first.
func (d *devtools) errors() protocol.DevtoolsErrors {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := protocol.DevtoolsErrors{ByKind: make(map[string]int64, len(d.byKind)),
		Recent: make([]protocol.DevtoolsErrorEntry, 0, len(d.recent))}
	for k, n := range d.byKind {
		out.ByKind[string(k)] = n
	}
	// The ring's newest entry is just before next.
	for i := range len(d.recent) {
		out.Recent = append(out.Recent, d.recent[(d.next-1-i+2*len(d.recent))%len(d.recent)])
	}
	return out
}
