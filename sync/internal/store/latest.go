package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/plasma-go/plasma/orm"
)

// LatestViews returns, for each client group in groups that has a
// client view record, the order of its latest one: the order changes
// exactly when a pull of the group stores a new record. Groups without
// a record are absent from the result.
//
// The realtime hub uses it to tell whether a group has pulled since it
// was poked.
func LatestViews(ctx context.Context, db *orm.DB, groups []string) (map[string]int64, error) {
	out := make(map[string]int64, len(groups))
	for len(groups) > 0 {
		n := min(len(groups), viewsChunk)
		args := make([]any, n)
		for i, g := range groups[:n] {
			args[i] = g
		}
		q := `SELECT "group_id", MAX("ord") FROM "` + CVRsTable + `" WHERE "group_id" IN (?` + strings.Repeat(", ?", n-1) + `) GROUP BY "group_id"`
		if err := latestViews(ctx, db, q, args, out); err != nil {
			return nil, fmt.Errorf("plasma: sync: LatestViews: %w", err)
		}
		groups = groups[n:]
	}
	return out, nil
}

func latestViews(ctx context.Context, db *orm.DB, q string, args []any, out map[string]int64) error {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var ord int64
		if err := rows.Scan(&g, &ord); err != nil {
			return err
		}
		out[g] = ord
	}
	return rows.Err()
}
