package changelog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
)

// Op is what a change did to its row.
type Op string

// The change operations.
const (
	// OpPut: the row exists, with the change's image.
	OpPut Op = "put"
	// OpDel: the row no longer exists.
	OpDel Op = "del"
)

// Change is one row of the change log.
type Change struct {
	// Version orders the region's changes: see the package documentation.
	Version int64
	// Region is the region the change was logged under.
	Region string
	// Table and RowID name the row.
	Table string
	RowID string
	// Op is OpPut or OpDel.
	Op Op
	// Row is the row after the write, a JSON object keyed by column name,
	// for a put; nil for a del.
	Row json.RawMessage
	// ClientID and MutationID name the mutation that made the change, when
	// the writing context carried them (WithOrigin); else "" and 0.
	ClientID   string
	MutationID int64
}

// DefaultLimit is the number of changes ChangesSince returns when its
// limit is not positive.
const DefaultLimit = 1000

// ChangesSince returns, in version order, up to limit changes of region
// with a version above cursor, and the cursor to pass next time: the last
// returned version, or cursor itself when there is nothing new.
//
// A reader that starts from 0 and keeps passing the returned cursor sees
// every committed change of the region exactly once, whatever the number
// of concurrent writers, including a transaction that wrote before a
// later one and commits after it: such changes are only handed out once
// nothing can be numbered below them any more. On PostgreSQL the call
// first publishes (numbers) the changes that became safe to read; call it
// outside a transaction, or in a READ COMMITTED one.
func ChangesSince(ctx context.Context, db *orm.DB, region string, cursor int64, limit int) ([]Change, int64, error) {
	if region == "" {
		region = DefaultRegion
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	if concurrentWrites(db.Dialect()) {
		if _, err := publish(ctx, db, region); err != nil {
			return nil, cursor, err
		}
	}
	rows, err := db.Query(ctx, `SELECT "version", "table_name", "row_id", "op", "data", "client_id", "mutation_id" FROM "_plasma_changes" WHERE "region" = ? AND "version" > ? ORDER BY "version" LIMIT ?`,
		region, cursor, limit)
	if err != nil {
		return nil, cursor, fmt.Errorf("plasma: changelog.ChangesSince: %w", err)
	}
	defer rows.Close()
	out := make([]Change, 0, 16)
	for rows.Next() {
		c := Change{Region: region}
		var op string
		var data sql.RawBytes
		var client sql.NullString
		var mutation sql.NullInt64
		if err := rows.Scan(&c.Version, &c.Table, &c.RowID, &op, &data, &client, &mutation); err != nil {
			return nil, cursor, fmt.Errorf("plasma: changelog.ChangesSince: %w", err)
		}
		c.Op = Op(op)
		if data != nil {
			c.Row = append(json.RawMessage(nil), data...)
		}
		c.ClientID, c.MutationID = client.String, mutation.Int64
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, cursor, fmt.Errorf("plasma: changelog.ChangesSince: %w", err)
	}
	if len(out) > 0 {
		cursor = out[len(out)-1].Version
	}
	return out, cursor, rows.Close()
}

// Head returns a version of region up to which the log is complete: every
// change at or below it can be read now, and no change will ever be
// numbered at or below it later. It never decreases. On PostgreSQL it
// publishes first, like ChangesSince; on SQLite, whose versions are shared
// by all regions, it is the highest version handed out in any region.
func Head(ctx context.Context, db *orm.DB, region string) (int64, error) {
	if region == "" {
		region = DefaultRegion
	}
	if concurrentWrites(db.Dialect()) {
		return publish(ctx, db, region)
	}
	rows, err := db.Query(ctx, `SELECT "seq" FROM "sqlite_sequence" WHERE "name" = ?`, LogTable)
	if err != nil {
		return 0, fmt.Errorf("plasma: changelog.Head: %w", err)
	}
	defer rows.Close()
	var v int64
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return v, rows.Close()
}

// publish numbers region's changes that are safe to read (PostgreSQL) and
// returns the region's highest version.
func publish(ctx context.Context, db *orm.DB, region string) (int64, error) {
	rows, err := db.Query(ctx, `SELECT `+publishCall, region)
	if err != nil {
		return 0, fmt.Errorf("plasma: change log: publish: %w", err)
	}
	defer rows.Close()
	var v int64
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return 0, errors.New("plasma: change log: publish returned no row")
	}
	if err := rows.Scan(&v); err != nil {
		return 0, err
	}
	return v, rows.Close()
}

// ErrNotSynced is returned by Record for a table whose writes are not
// logged (ChangeLogSuppressed or External).
var ErrNotSynced = errors.New("plasma: change log: the table is not synced")

// Record logs the current state of the rows of t with the given ids: a put
// with the stored row for each that exists, a del for each that does not.
// Use it after changing rows with raw SQL, which the middleware does not
// see, on a database without capture triggers (EnsureCapture), which
// log such writes themselves. It reads and writes without db's middlewares, in db's transaction
// if it has one, else in its own; the region and origin come from ctx
// (WithRegion, default DefaultRegion; WithOrigin).
func Record(ctx context.Context, db *orm.DB, t *orm.Table, ids ...string) error {
	if t == nil || !t.Synced() {
		return ErrNotSynced
	}
	if len(ids) == 0 {
		return nil
	}
	if planFor(t).ID < 0 {
		return fmt.Errorf("plasma: change log: synced table %q has no id column", t.Name())
	}
	record := func(tx *orm.DB) error {
		raw := orm.New(tx.Executor(), tx.Dialect())
		found, err := readImages(ctx, rawHandler(raw), raw, t, ids)
		if err != nil {
			return err
		}
		changes := make([]change, len(ids))
		for i, id := range ids {
			changes[i] = change{table: t.Name(), id: id, op: OpDel}
			if img, ok := found[id]; ok {
				changes[i].op, changes[i].data = OpPut, img
			}
		}
		// Rendered with '?' placeholders, which Exec numbers for the
		// dialect; so not kept in the DB's Memo, which holds its dialect's.
		region := regionOf(ctx, "")
		if err := insertChanges(nil, dialect.Placeholders, region, originOf(ctx), changes, func(text string, args []any) error {
			_, err := raw.Exec(ctx, text, args...)
			return err
		}); err != nil {
			return err
		}
		// Its change rows lapse the mark a batch of tx holds for the
		// capture triggers (see pass.mark): the batch's next write marks
		// again.
		if b := batchFor(ctx, tx); b != nil {
			b.marked.Store(false)
		}
		announce(tx, region, changes)
		return nil
	}
	_, err := txrun.Run(ctx, db, func(tx *orm.DB) (*orm.Result, error) { return nil, record(tx) })
	return err
}

// rawHandler runs SELECTs built by the log on raw, a DB without
// middlewares.
func rawHandler(raw *orm.DB) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		q, ok := st.Query.(*orm.SelectQuery)
		if !ok {
			return nil, fmt.Errorf("plasma: change log: unexpected %s", st.Op)
		}
		text, args, err := q.Render(raw.Dialect())
		if err != nil {
			return nil, err
		}
		rows, err := raw.Executor().QueryContext(ctx, text, args...)
		if err != nil {
			return nil, err
		}
		return &orm.Result{Rows: rows}, nil
	}
}
