package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/plasma-go/plasma/orm"
)

// GroupOwner returns the user client group groupID is bound to, read
// from GroupsTable in db; known is false for a group that no request has
// touched yet. It binds nothing: use BindGroup to claim one.
func GroupOwner(ctx context.Context, db *orm.DB, groupID string) (userID string, known bool, err error) {
	known, err = QueryRow(ctx, db, `SELECT "user_id" FROM "`+GroupsTable+`" WHERE "id" = ?`, []any{groupID}, &userID)
	if err != nil {
		return "", false, err
	}
	return userID, known, nil
}

// BindGroup binds client group groupID to userID if no user holds it
// yet, and reports whether it is userID's: the first authenticated pull,
// push or WebSocket connection to a group makes it its owner's for good.
// A group that belongs to another user returns an error matching
// ErrForbiddenGroup, worded the same whether or not the group existed
// before, so the answer is no oracle of other users' group ids.
func BindGroup(ctx context.Context, db *orm.DB, groupID, userID string) error {
	_, err := BindGroupCreated(ctx, db, groupID, userID)
	return err
}

// BindGroupCreated is BindGroup, also reporting whether this call
// created the group.
func BindGroupCreated(ctx context.Context, db *orm.DB, groupID, userID string) (created bool, err error) {
	n, err := db.Exec(ctx, `INSERT INTO "`+GroupsTable+`" ("id", "user_id", "created_at") VALUES (?, ?, ?) ON CONFLICT ("id") DO NOTHING`,
		groupID, userID, time.Now().UnixMilli())
	if err != nil {
		return false, err
	}
	if n == 1 {
		return true, nil
	}
	owner, found, err := GroupOwner(ctx, db, groupID)
	if err != nil {
		return false, err
	}
	if !found || owner != userID {
		return false, fmt.Errorf("%w: group %q", ErrForbiddenGroup, groupID)
	}
	return false, nil
}

// viewsChunk is how many client groups one ViewsHolding query reads.
const viewsChunk = 500

// ViewsHolding reports, for each client group in groups, whether its
// view — what its pulls left it with, ViewRowsTable — holds one of keys
// ("<table>/<id>", the keys of the pull's patch). A group that never
// pulled holds nothing. The result has an entry for every group given.
//
// The realtime hub uses it to poke the groups that must learn of a
// change to a row they have, even when they can no longer read it: a
// delete, or an update that takes the row out of their view. A pull in
// progress, whose view is stored after ViewsHolding read, is not seen.
func ViewsHolding(ctx context.Context, db *orm.DB, groups []string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(groups))
	for _, g := range groups {
		out[g] = false
	}
	if len(groups) == 0 || len(keys) == 0 {
		return out, nil
	}
	uniq := make([]string, 0, len(out))
	for g := range out {
		uniq = append(uniq, g)
	}
	for gs := uniq; len(gs) > 0; {
		n := min(len(gs), viewsChunk)
		for ks := keys; len(ks) > 0; {
			k := min(len(ks), viewsChunk)
			if err := viewsHolding(ctx, db, gs[:n], ks[:k], out); err != nil {
				return nil, fmt.Errorf("plasma: sync: ViewsHolding: %w", err)
			}
			ks = ks[k:]
		}
		gs = gs[n:]
	}
	return out, nil
}

// viewsHolding records in out the groups whose view holds one of keys.
func viewsHolding(ctx context.Context, db *orm.DB, groups, keys []string, out map[string]bool) error {
	args := make([]any, 0, len(groups)+len(keys))
	for _, g := range groups {
		args = append(args, g)
	}
	for _, k := range keys {
		args = append(args, k)
	}
	q := `SELECT DISTINCT "group_id" FROM "` + ViewRowsTable + `" WHERE "group_id" IN (?` + strings.Repeat(", ?", len(groups)-1) + `)
AND "row_key" IN (?` + strings.Repeat(", ?", len(keys)-1) + `) AND "live" = 1`
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return err
		}
		out[g] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}
