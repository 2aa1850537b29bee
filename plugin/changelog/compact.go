package changelog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plasma-go/plasma/orm"
)

// DefaultCompactBatch is the number of changes a compaction reads per
// page and deletes per transaction when CompactBatchSize is not given.
const DefaultCompactBatch = 2000

// maxCompactIn bounds the versions one DELETE names, well under SQLite's
// and PostgreSQL's parameter limits.
const maxCompactIn = 1000

// CompactOption configures CompactChangeLog.
type CompactOption func(*compactConfig)

type compactConfig struct {
	batch int
}

// CompactBatchSize sets how many changes a compaction reads per page and
// deletes per transaction (default DefaultCompactBatch; n <= 0 keeps the
// default). Smaller batches hold SQLite's write lock for less time each, at
// the cost of more commits.
func CompactBatchSize(n int) CompactOption {
	return func(c *compactConfig) {
		if n > 0 {
			c.batch = n
		}
	}
}

// CompactionCounts are the numbers a compaction reports, for the whole
// region and for each table.
type CompactionCounts struct {
	// Scanned is the number of changes at or below the bound the run read.
	Scanned int64
	// Removed is the number of changes it deleted.
	Removed int64
	// Kept is Scanned - Removed: the changes at or below the bound that
	// remain, one per row (unless a concurrent compaction removed some of
	// the ones this run meant to remove first).
	Kept int64
	// Rows is the number of distinct rows among the scanned changes. After
	// the run each has exactly one change at or below the bound.
	Rows int64
	// Folded is the number of rows of which at least one change was
	// removed.
	Folded int64
	// Dels is the number of kept changes that are dels: deletes the log
	// keeps so that a reader whose cursor is below them still learns of
	// them.
	Dels int64
}

// CompactionResult reports what CompactChangeLog did.
type CompactionResult struct {
	// Region is the region compacted.
	Region string
	// UpTo is the bound: changes with a version at or below it were folded.
	UpTo int64
	// CompactionCounts are the totals over every table.
	CompactionCounts
	// Tables holds the counts of each table with changes at or below the
	// bound, by table name.
	Tables map[string]CompactionCounts
	// Batches is the number of delete transactions the run committed (or,
	// inside the caller's transaction, the number of delete rounds).
	Batches int
	// Duration is how long the run took.
	Duration time.Duration
}

// CompactChangeLog folds the changes of region (DefaultRegion when empty)
// with a version at or below safeUpToVersion: of each row's changes at or
// below the bound it keeps only the latest, and deletes the others.
// Changes above the bound are not touched, nothing is renumbered, and a
// row's newest change is never removed.
//
// The kept change carries the row's latest image at or below the bound if
// it is a put, or is the del if the row was deleted last: a run of puts
// folds into the last put, and a row put and then deleted (a put/del
// pair) folds into the del. The del stays even when the row's whole life
// lies below the bound, because dropping the pair is only safe for readers
// whose cursor is below the put (they never saw the row); a reader whose
// cursor lies between the put and the del has the row and must still
// learn that it is gone, and the log cannot tell which readers exist.
//
// So a reader converges exactly whatever cursor it holds: every row with a
// change above its cursor before the compaction still has one after it,
// the latest such change is still there with the same version, and that
// change alone decides the row's state. A reader that starts below the
// bound skips the folded intermediate states; once its cursor reaches the
// bound, its state is exactly the database's at that version, as before.
// Origins (WithOrigin) of removed changes are lost; the kept change keeps
// its own. The bound may be any version, also one above Head: compaction
// is safe for every reader whichever bound is chosen, and the name only
// says that the caller may pick one at which nothing needs the
// intermediate states (for example the lowest cookie any client holds).
//
// On PostgreSQL only published changes (with a version) are read or
// deleted; changes still waiting for _plasma_publish are left to a later
// run. Versions are shared by all regions on SQLite and numbered per
// region on PostgreSQL, so a bound means something only within one
// region: compact each region with its own bound.
//
// The run reads the region's changes at or below the bound in pages of
// CompactBatchSize (newest first), remembers every row it has met (memory
// grows with the number of distinct rows below the bound, about a hundred
// bytes each), and deletes the changes it finds superseded in
// transactions of at most that many. Batching trades atomicity for short
// locks: on SQLite every delete transaction holds the single write lock,
// so writers wait for one batch at most, not for the whole run; on
// PostgreSQL deleting published rows never blocks writers or readers,
// which only insert and number unpublished rows, and batches keep the
// transactions, and what they leave for vacuum, small. Every intermediate
// state is as safe as the end state, since each deleted change has a
// newer change of the same row that is kept: an error or a cancelled ctx
// leaves the batches committed so far, and the result counts them.
// Concurrent runs, writers and readers are all safe. When db is already a
// transaction, the whole run takes place in it, and commits or rolls back
// with it.
//
// Running it again with the same bound removes nothing.
func CompactChangeLog(ctx context.Context, db *orm.DB, region string, safeUpToVersion int64, opts ...CompactOption) (CompactionResult, error) {
	start := time.Now()
	if region == "" {
		region = DefaultRegion
	}
	res := CompactionResult{Region: region, UpTo: safeUpToVersion, Tables: map[string]CompactionCounts{}}
	if db == nil {
		return res, errors.New("plasma: changelog.CompactChangeLog: nil database")
	}
	cfg := compactConfig{batch: DefaultCompactBatch}
	for _, o := range opts {
		o(&cfg)
	}
	c := &compactor{
		db:     db,
		region: region,
		res:    &res,
		seen:   map[string]*tableMarks{},
	}
	err := c.run(ctx, safeUpToVersion, cfg.batch)
	res.Kept = res.Scanned - res.Removed
	for name, t := range c.seen {
		t.counts.Kept = t.counts.Scanned - t.counts.Removed
		res.Tables[name] = t.counts
	}
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("plasma: changelog.CompactChangeLog: %w", err)
	}
	return res, nil
}

type compactor struct {
	db     *orm.DB
	region string
	res    *CompactionResult
	// seen holds, by table and row id, every row met so far.
	seen    map[string]*tableMarks
	pending []victim
}

// tableMarks are a table's counts and the rows of it met so far; a row's
// mark says whether it has been counted as folded.
type tableMarks struct {
	counts CompactionCounts
	rows   map[string]*bool
}

// victim is a change to delete: it has a newer change of its row at or
// below the bound.
type victim struct {
	version int64
	table   *tableMarks
	folded  *bool
}

func (c *compactor) run(ctx context.Context, upTo int64, batch int) error {
	if upTo <= 0 {
		return nil
	}
	hi := upTo
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, last, err := c.page(ctx, hi, batch)
		if err != nil {
			return err
		}
		for len(c.pending) >= batch {
			if err := c.flush(ctx, c.pending[:batch]); err != nil {
				return err
			}
			c.pending = c.pending[batch:]
		}
		if n < batch || last <= 1 {
			break
		}
		hi = last - 1
	}
	if len(c.pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.flush(ctx, c.pending); err != nil {
			return err
		}
		c.pending = nil
	}
	return nil
}

// page reads up to limit changes at or below hi, newest first, and queues
// every change of a row already met (that is, with a newer change at or
// below the bound) for deletion. It returns the number of changes read and
// the lowest version among them.
func (c *compactor) page(ctx context.Context, hi int64, limit int) (int, int64, error) {
	rows, err := c.db.Query(ctx, `SELECT "version", "table_name", "row_id", "op" FROM "_plasma_changes" WHERE "region" = ? AND "version" <= ? ORDER BY "version" DESC LIMIT ?`,
		c.region, hi, limit)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	n := 0
	var last int64
	var table, id, op sql.RawBytes
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v, &table, &id, &op); err != nil {
			return 0, 0, err
		}
		n++
		last = v
		t := c.seen[string(table)]
		if t == nil {
			t = &tableMarks{rows: map[string]*bool{}}
			c.seen[string(table)] = t
		}
		t.counts.Scanned++
		c.res.Scanned++
		if folded, met := t.rows[string(id)]; met {
			c.pending = append(c.pending, victim{version: v, table: t, folded: folded})
			continue
		}
		t.rows[string(id)] = new(bool)
		t.counts.Rows++
		c.res.Rows++
		if Op(op) == OpDel {
			t.counts.Dels++
			c.res.Dels++
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	return n, last, rows.Close()
}

// flush deletes the victims in one transaction (the caller's, if db is
// one) and counts those it deleted: all of them, unless a concurrent
// compaction deleted some first.
//
// On PostgreSQL the DELETE returns the versions it removed. On SQLite,
// where a RETURNING clause more than doubled the cost of the whole run,
// the DELETE's row count is checked instead; in the rare case that it
// falls short, the transaction is rolled back and run again with a SELECT
// of the versions still there before the DELETE. The transaction holds
// SQLite's write lock from its start, so the SELECT sees exactly what the
// DELETE removes. Inside the caller's transaction, which cannot be rolled
// back here, the SELECT always runs.
func (c *compactor) flush(ctx context.Context, victims []victim) error {
	pg := concurrentWrites(c.db.Dialect())
	gone := map[int64]bool{}
	all := false // every victim was deleted
	run := func(count bool) error {
		return c.db.Tx(ctx, func(tx *orm.Tx) error {
			clear(gone)
			all = !pg && !count
			for rest := victims; len(rest) > 0; {
				n := min(len(rest), maxCompactIn)
				args := make([]any, 0, n+1)
				args = append(args, c.region)
				for _, v := range rest[:n] {
					args = append(args, v.version)
				}
				rest = rest[n:]
				where := ` FROM "_plasma_changes" WHERE "region" = ? AND "version" IN (?` + strings.Repeat(", ?", n-1) + `)`
				switch {
				case pg:
					// A deleted change may have moved its row between
					// scopes: the row's published changes left are read
					// by every pull from now on (the kept one among them,
					// which now stands for the move). Unpublished ones are
					// newer than the kept one, and left to their
					// publisher.
					if _, err := tx.Exec(ctx, `UPDATE "_plasma_changes" SET "scope" = NULL WHERE "region" = ? AND "scope" IS NOT NULL AND "version" IS NOT NULL
AND ("table_name", "row_id") IN (SELECT "table_name", "row_id"`+where+`)`, append([]any{c.region}, args...)...); err != nil {
						return err
					}
					if err := collectVersions(ctx, tx.DB, `DELETE`+where+` RETURNING "version"`, args, gone); err != nil {
						return err
					}
				case count:
					if err := collectVersions(ctx, tx.DB, `SELECT "version"`+where, args, gone); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `DELETE`+where, args...); err != nil {
						return err
					}
				default:
					k, err := tx.Exec(ctx, `DELETE`+where, args...)
					if err != nil {
						return err
					}
					if k != int64(n) {
						return errShortDelete
					}
				}
			}
			return nil
		})
	}
	err := run(c.db.IsTx())
	if errors.Is(err, errShortDelete) {
		err = run(true)
	}
	if err != nil {
		return err
	}
	c.res.Batches++
	for _, v := range victims {
		if !all && !gone[v.version] {
			continue
		}
		v.table.counts.Removed++
		c.res.Removed++
		if !*v.folded {
			*v.folded = true
			v.table.counts.Folded++
			c.res.Folded++
		}
	}
	return nil
}

// errShortDelete rolls back a batch some of whose changes were already
// gone, to run it again counting them.
var errShortDelete = errors.New("plasma: change log: compaction batch deleted fewer changes than it read")

// collectVersions runs query and adds the versions it returns to set.
func collectVersions(ctx context.Context, db *orm.DB, query string, args []any, set map[int64]bool) error {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return err
		}
		set[v] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}
