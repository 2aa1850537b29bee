package store

import (
	"context"
	"encoding/binary"
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
// latest client view record — what its last pull that changed anything
// left it with — holds one of keys ("<table>/<id>", the keys of the
// pull's patch). A group without a record (it never pulled, or its
// records were pruned) holds nothing. The result has an entry for every
// group given.
//
// The realtime hub uses it to poke the groups that must learn of a
// change to a row they have, even when they can no longer read it: a
// delete, or an update that takes the row out of their view. A pull in
// progress, whose record is stored after ViewsHolding read, is not seen.
func ViewsHolding(ctx context.Context, db *orm.DB, groups []string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(groups))
	for _, g := range groups {
		out[g] = false
	}
	if len(groups) == 0 || len(keys) == 0 {
		return out, nil
	}
	want := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		want[k] = struct{}{}
	}
	uniq := make([]string, 0, len(out))
	for g := range out {
		uniq = append(uniq, g)
	}
	for len(uniq) > 0 {
		n := min(len(uniq), viewsChunk)
		if err := viewsHolding(ctx, db, uniq[:n], want, out); err != nil {
			return nil, fmt.Errorf("plasma: sync: ViewsHolding: %w", err)
		}
		uniq = uniq[n:]
	}
	return out, nil
}

// viewsHolding reads the latest view record of each group and records
// in out whether it holds a key of want.
func viewsHolding(ctx context.Context, db *orm.DB, groups []string, want map[string]struct{}, out map[string]bool) error {
	args := make([]any, len(groups))
	for i, g := range groups {
		args[i] = g
	}
	q := `SELECT c."group_id", c."entries" FROM "` + CVRsTable + `" c WHERE c."group_id" IN (?` + strings.Repeat(", ?", len(groups)-1) + `)
AND c."ord" = (SELECT MAX(d."ord") FROM "` + CVRsTable + `" d WHERE d."group_id" = c."group_id")`
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var blob []byte
		if err := rows.Scan(&g, &blob); err != nil {
			return err
		}
		held := false
		err := EachEntry(blob, func(key []byte, _ uint64) bool {
			_, held = want[string(key)]
			return !held
		})
		if err != nil {
			return fmt.Errorf("group %q: %w", g, err)
		}
		out[g] = out[g] || held
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// EachEntry calls fn with each entry of a view record's encoded entries
// (as sync/server writes them: uvarint key length, key, 8-byte hash), in order, until fn returns false. key is only valid
// during the call.
func EachEntry(b []byte, fn func(key []byte, hash uint64) bool) error {
	for len(b) > 0 {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n+8 {
			return ErrCorruptCVR
		}
		b = b[w:]
		if !fn(b[:n:n], binary.LittleEndian.Uint64(b[n:])) {
			return nil
		}
		b = b[n+8:]
	}
	return nil
}
