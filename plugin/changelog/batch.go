package changelog

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
)

// Batch holds back the change rows of the writes made in one transaction
// under a context from WithBatch, so that Flush writes them all, in the
// order they were made, in as few INSERTs as there are maxChangesPerInsert
// rows: a push of 20 mutations writes its 20 change rows in one statement
// instead of 20. The writes themselves run as they come; only their log
// rows wait, so nothing in the transaction may read the log between a
// write and Flush, and the caller must Flush before it commits (a
// transaction that rolls back drops the batch with it). A write rolled
// back to a savepoint keeps its rows in the batch: use a Batch only where
// a failed write rolls back the whole transaction. On a database that
// captures writes (EnsureCapture), the batched writes share one mark
// that lets them pass the capture triggers until Flush: every write of
// the transaction must then carry the batch's context (raw statements
// through the DB included, which clear the mark so that the triggers log
// them). It is safe for
// concurrent use.
type Batch struct {
	exec dialect.Executor // the transaction the batch belongs to
	mu   sync.Mutex
	rows []batchRow
	// marked: the held writes' mark for the capture triggers is set and
	// no change row has lapsed it yet (see pass.mark).
	marked atomic.Bool
}

type batchRow struct {
	region string
	o      originVals
	c      change
}

// NewBatch returns an empty batch for the writes made in tx's
// transaction; writes on any other executor are logged at once.
func NewBatch(tx *orm.DB) *Batch { return &Batch{exec: tx.Executor()} }

type batchKey struct{}

// WithBatch returns a context whose writes in b's transaction leave their
// change rows in b, until Flush.
func WithBatch(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, batchKey{}, b)
}

// batchFor returns the batch ctx names, if it has one for db's
// transaction.
func batchFor(ctx context.Context, db *orm.DB) *Batch {
	b, _ := ctx.Value(batchKey{}).(*Batch)
	if b == nil || !db.IsTx() || db.Executor() != b.exec {
		return nil
	}
	return b
}

// held adds the changes of a write on db to the batch ctx names, if it
// has one for db's transaction, and reports whether it did.
func held(ctx context.Context, db *orm.DB, region string, o origins, changes []change) bool {
	b := batchFor(ctx, db)
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range changes {
		b.rows = append(b.rows, batchRow{region: region, o: o.at(c), c: c})
	}
	return true
}

// Len returns the number of change rows waiting.
func (b *Batch) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.rows)
}

// Flush writes the waiting change rows through tx, the batch's
// transaction, and empties the batch.
func (b *Batch) Flush(ctx context.Context, tx *orm.DB) error { return b.FlushWith(ctx, tx) }

// RawWrite is a raw INSERT, UPDATE or DELETE with ? placeholders, as
// DB.Exec takes it.
type RawWrite struct {
	SQL  string
	Args []any
}

// FlushWith is Flush, also running the writes with: where the dialect
// has dialect.WritesInWith (PostgreSQL), in the WITH of the last INSERT
// of change rows, so that they cost no statement of their own; otherwise,
// or with no change rows waiting, each as a statement, after the change
// rows.
func (b *Batch) FlushWith(ctx context.Context, tx *orm.DB, with ...RawWrite) error {
	if tx.Executor() != b.exec {
		return fmt.Errorf("plasma: change log: a batch flushed on another transaction than its own")
	}
	b.mu.Lock()
	rows := b.rows
	b.rows = nil
	b.mu.Unlock()
	// The change rows lapse the held writes' mark (see pass.mark); with
	// none, it is cleared.
	if b.marked.Swap(false) && len(rows) == 0 {
		if err := clearMark(ctx, tx); err != nil {
			return err
		}
	}
	combine := len(with) > 0 && tx.Dialect().Features().Has(dialect.WritesInWith)
	for len(rows) > 0 {
		n := min(len(rows), maxChangesPerInsert)
		text, args := renderBatch(rows[:n])
		rows = rows[n:]
		if combine && len(rows) == 0 {
			text, args = withWrites(with, text, args)
			with = nil
		}
		if _, err := tx.Exec(ctx, text, args...); err != nil {
			return fmt.Errorf("plasma: change log: %w", err)
		}
	}
	for _, w := range with {
		if _, err := tx.Exec(ctx, w.SQL, w.Args...); err != nil {
			return err
		}
	}
	return nil
}

// withWrites puts the writes with in a WITH ahead of the statement text.
func withWrites(with []RawWrite, text string, args []any) (string, []any) {
	var sb strings.Builder
	var all []any
	for i, w := range with {
		if i == 0 {
			sb.WriteString("WITH ")
		} else {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, `"w%d" AS (%s)`, i, w.SQL)
		all = append(all, w.Args...)
	}
	sb.WriteString(" ")
	sb.WriteString(text)
	return sb.String(), append(all, args...)
}

// renderBatch renders the INSERT of rows, each with its own region and
// origin, into the log, with ? placeholders (DB.Exec renders them for
// the dialect).
func renderBatch(rows []batchRow) (string, []any) {
	var sb strings.Builder
	scoped := false
	for _, r := range rows {
		scoped = scoped || r.c.scope != nil
	}
	sb.WriteString(logInsert(scoped))
	args := make([]any, 0, 8*len(rows))
	for i, r := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		if scoped {
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		} else {
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?)")
		}
		args = append(args, r.c.values(r.region, r.o, scoped)...)
	}
	return sb.String(), args
}
