package files

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// GCOptions configures GCOrphans.
type GCOptions struct {
	// Grace spares blobs stored, uploaded or referenced more recently
	// than this, so an upload whose ref is not yet committed survives. It
	// must be at least four times Options.TouchInterval.
	Grace time.Duration
	// Limit caps the blobs deleted in one run; 0 means no cap. A run
	// that reaches it stops there, before removing the records of
	// uploads whose blob is missing (GCReport.Records).
	Limit int
}

// GCReport says what a GCOrphans run did.
type GCReport struct {
	// Scanned counts the blobs listed, Deleted the ones removed.
	Scanned, Deleted int
	// Bytes is the size of the deleted blobs.
	Bytes int64
	// Temp counts the leftovers of interrupted uploads removed
	// (storages implementing TempSweeper).
	Temp int
	// Records counts the upload records removed whose blob no storage
	// holds (an upload that failed after its record committed, or a blob
	// deleted behind the Service's back), with their owners.
	Records int
}

// GCOrphans deletes, from every registered storage, the blobs that no
// row of any table references and that were neither stored, uploaded
// nor referenced within opts.Grace (the seed's gcOrphanedBlobs). It is
// safe against concurrent uploads and ref writes, in this process or
// others on the same database: each candidate is decided in its own
// transaction that first locks the hash's _plasma_blobs row (inserting
// it if absent) and deletes it only if it is stale. A new blob is spared
// for its fresh modification time, and its upload touches the row once
// stored; an upload of a blob stored long ago touches the row before
// verifying the body; a ref write touches it, in the write's
// transaction, before it checks the blob is stored. So either GC sees
// the fresh touch and spares the blob, or the upload or write waits for
// GC's commit and then finds the blob gone (the upload stores it again;
// the write is refused with ErrNotStored). Temporary files of
// interrupted uploads (TempSweeper) over an hour old go too, and so do
// the records of uploads whose blob no storage holds, once both stale
// and an hour old: a new blob's record commits while the storage makes
// the blob durable, so an upload that fails (or a process that dies)
// after the record leaves it behind, and with it a pending upload
// counted against its user's Quota.
func (s *Service) GCOrphans(ctx context.Context, opts GCOptions) (GCReport, error) {
	var rep GCReport
	if opts.Grace < 4*s.opts.TouchInterval {
		return rep, fmt.Errorf("files: GCOrphans: Grace %v is under four times TouchInterval (%v)", opts.Grace, s.opts.TouchInterval)
	}
	ctx = rowauth.AsSystem(ctx)
	cutoff := s.opts.Now().Add(-opts.Grace)
	for _, st := range s.storages() {
		if ts, ok := st.(TempSweeper); ok {
			// A temporary file is an upload in progress until it is
			// an hour old, however short the grace period.
			before := s.opts.Now().Add(-tempMinAge)
			if cutoff.Before(before) {
				before = cutoff
			}
			n, err := ts.SweepTemp(ctx, before)
			rep.Temp += n
			if err != nil {
				return rep, err
			}
		}
		var cands []Info
		err := st.List(ctx, func(i Info) error {
			rep.Scanned++
			if i.ModTime.Before(cutoff) {
				cands = append(cands, i)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		for _, c := range cands {
			if opts.Limit > 0 && rep.Deleted >= opts.Limit {
				return rep, nil
			}
			deleted, err := s.collect(ctx, st, c, cutoff)
			if err != nil {
				return rep, err
			}
			if deleted {
				rep.Deleted++
				rep.Bytes += c.Size
			}
		}
	}
	n, err := s.sweepRecords(ctx, cutoff)
	rep.Records = n
	return rep, err
}

// tempMinAge is the youngest temporary file GCOrphans removes.
const tempMinAge = time.Hour

// recordMinAge is the youngest upload record without a blob GCOrphans
// removes, however short the grace period: the time an upload may take
// from its record to its blob being durable, with a wide margin for the
// clocks of several processes. (An upload slower than TouchInterval
// there records itself again once its blob is stored; see store.) A
// variable for tests.
var recordMinAge = tempMinAge

// sweepRecords removes the records (and owners) of unreferenced hashes
// touched before cutoff and recordMinAge ago whose blob no storage holds.
// Those whose blob is stored were decided by the blob pass (or are newer
// than its listing): a Head of each spares them.
func (s *Service) sweepRecords(ctx context.Context, cutoff time.Time) (int, error) {
	before := s.opts.Now().Add(-recordMinAge)
	if cutoff.Before(before) {
		before = cutoff
	}
	rows, err := s.base.Query(ctx, `SELECT "hash" FROM "`+blobsTable+`" WHERE "touched_at" <= ? AND NOT `+
		s.referencedSQL(`"`+blobsTable+`"."hash"`), before.UnixMilli())
	if err != nil {
		return 0, err
	}
	var stale []Hash
	for rows.Next() {
		var hs string
		if err := rows.Scan(&hs); err != nil {
			rows.Close()
			return 0, err
		}
		if h, err := ParseHash(hs); err == nil {
			stale = append(stale, h)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range stale {
		gone, err := s.collectRecord(ctx, h, before)
		if err != nil {
			return n, err
		}
		if gone {
			n++
		}
	}
	return n, nil
}

// collectRecord removes h's record and owners in one transaction that
// first deletes the record if it is still stale (locking it against an
// upload or ref write touching it), then checks that no row references h
// and no storage holds it.
func (s *Service) collectRecord(ctx context.Context, h Hash, before time.Time) (bool, error) {
	unlock := s.locks.lock(ctx, h, 0)
	defer unlock()
	hs := h.String()
	err := s.base.Tx(ctx, func(tx *orm.Tx) error {
		n, err := tx.Exec(ctx, `DELETE FROM "`+blobsTable+`" WHERE "hash" = ? AND "touched_at" <= ?`, hs, before.UnixMilli())
		if err != nil {
			return err
		}
		if n == 0 {
			return errSpare
		}
		ref, err := s.referenced(ctx, tx.DB, h)
		if err != nil {
			return err
		}
		if ref {
			return errSpare
		}
		for _, st := range s.storages() {
			if _, err := st.Head(ctx, h); err == nil {
				return errSpare
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		_, err = tx.Exec(ctx, `DELETE FROM "`+ownersTable+`" WHERE "hash" = ?`, hs)
		return err
	})
	if errors.Is(err, errSpare) {
		return false, nil
	}
	return err == nil, err
}

// errSpare rolls back a candidate's transaction: the blob stays.
var errSpare = errors.New("spare")

// collect decides about one candidate blob in one transaction.
func (s *Service) collect(ctx context.Context, st Storage, c Info, cutoff time.Time) (bool, error) {
	unlock := s.locks.lock(ctx, c.Hash, 0)
	defer unlock()
	hs := c.Hash.String()
	err := s.base.Tx(ctx, func(tx *orm.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO "`+blobsTable+`" ("hash", "size", "touched_at") VALUES (?, ?, 0) ON CONFLICT ("hash") DO NOTHING`, hs, c.Size); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM "`+blobsTable+`" WHERE "hash" = ? AND "touched_at" <= ?`, hs, cutoff.UnixMilli())
		if err != nil {
			return err
		}
		if n == 0 {
			return errSpare // touched within the grace period
		}
		ref, err := s.referenced(ctx, tx.DB, c.Hash)
		if err != nil {
			return err
		}
		if ref {
			return errSpare
		}
		if _, err := tx.Exec(ctx, `DELETE FROM "`+ownersTable+`" WHERE "hash" = ?`, hs); err != nil {
			return err
		}
		return st.Delete(ctx, c.Hash)
	})
	if errors.Is(err, errSpare) {
		return false, nil
	}
	return err == nil, err
}

// storages returns each distinct storage once (several names may name
// one), in the order of their first names.
func (s *Service) storages() []Storage {
	var out []Storage
	for _, name := range sortedNames(s.opts.Storages) {
		if st := s.opts.Storages[name]; !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out
}

func sortedNames(m map[string]Storage) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sortStrings(names)
	return names
}

// ReconcileOptions configures ReconcileRefs.
type ReconcileOptions struct {
	// Clear sets each broken ref's column to NULL when the column is
	// nullable (a NOT NULL column's rows are only reported). The update
	// runs on DB, as trusted code.
	Clear bool
	// DB is where Clear writes: give the sync handler's DB (Handler.DB)
	// so the change reaches clients. Default: the Service's database.
	DB *orm.DB
}

// Broken is a row whose ref names a blob its table's storage lacks.
type Broken struct {
	Table, Column, RowID string
	Ref                  Ref
	// Cleared reports that ReconcileRefs set the column to NULL.
	Cleared bool
}

// ReconcileRefs reports (and with opts.Clear clears) the rows whose
// file columns reference a blob missing from their table's storage: a
// blob deleted behind plasma's back, or refs written with raw SQL (the
// seed's reconcileBlobRefs). A ref that does not parse is reported too,
// with a zero Ref. Only tables keyed by "id" are scanned.
func (s *Service) ReconcileRefs(ctx context.Context, opts ReconcileOptions) ([]Broken, error) {
	ctx = rowauth.AsSystem(ctx)
	var out []Broken
	for _, tf := range s.ordered {
		if !tf.idKey {
			continue
		}
		for _, c := range tf.cols {
			found, err := s.brokenIn(ctx, tf, c)
			if err != nil {
				return out, err
			}
			for i := range found {
				if opts.Clear && c.nullable {
					if err := s.clear(ctx, opts.DB, tf, c, found[i].RowID); err != nil {
						return out, err
					}
					found[i].Cleared = true
				}
			}
			out = append(out, found...)
		}
	}
	return out, nil
}

// brokenIn scans one file column.
func (s *Service) brokenIn(ctx context.Context, tf *tableFiles, c *fileColumn) ([]Broken, error) {
	q := fmt.Sprintf(`SELECT "id", %s FROM %s WHERE %s IS NOT NULL ORDER BY "id"`,
		castText(s.sqlite(), c.name), dialect.QuoteIdent(tf.t.Name()), dialect.QuoteIdent(c.name))
	rows, err := s.base.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Broken
	present := map[Hash]bool{}
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, err
		}
		ref, err := ParseRef([]byte(raw))
		if err != nil {
			out = append(out, Broken{Table: tf.t.Name(), Column: c.name, RowID: id})
			continue
		}
		ok, seen := present[ref.Hash]
		if !seen {
			_, herr := tf.storage.Head(ctx, ref.Hash)
			if herr != nil && !errors.Is(herr, ErrNotFound) {
				return nil, herr
			}
			ok = herr == nil
			present[ref.Hash] = ok
		}
		if !ok {
			out = append(out, Broken{Table: tf.t.Name(), Column: c.name, RowID: id, Ref: ref})
		}
	}
	return out, rows.Err()
}

func (s *Service) clear(ctx context.Context, db *orm.DB, tf *tableFiles, c *fileColumn, id string) error {
	if db == nil {
		db = s.base
	}
	_, err := db.Update(tf.t).Set(orm.Row{c.name: nil}).Where(exprEq(tf.t, "id", id)).Exec(context.WithValue(ctx, clearKey{}, true))
	return err
}
