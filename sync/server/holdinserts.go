package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// A push's mutations mostly insert: a push of 20 createTodo is 20
// INSERTs, each a round trip to PostgreSQL and a parse, plan and row-auth
// check on the server. While a batch runs optimistically (without
// savepoints, see runBatch), the INSERTs its mutators make are held back
// and run as one multi-row INSERT per run of consecutive INSERTs into one
// table with the same columns: just before the transaction's next
// statement of any other kind, and before its change rows are written.
// Every statement still runs in the order the mutators made them, and a
// mutator that reads after it inserted reads its rows.
//
// A multi-row INSERT has the effects of its rows inserted one at a time
// when nothing in it can tell the rows apart, so only these are held:
//   - a plain INSERT: no ON CONFLICT, no RETURNING of the caller's; it
//     writes all its rows or fails, so the rows it reports written are
//     the rows given;
//   - into a table with no foreign key to itself (a constraint checked at
//     the end of the statement would let a row name one inserted after
//     it), no CRDT column (merging reads the stored row) and a write rule
//     that reads no rows of the table (rowauth.InsertsJudgedAlone);
//   - for a synced table, with its id given as a string, not given twice:
//     each change row is logged with its own mutation as origin
//     (changelog.WithRowOrigins).
//
// A merged INSERT that fails cannot say whose row failed it: the batch is
// rolled back and run again without holding INSERTs back, where a failing
// mutation is found as it is found without this (runBatch).

// maxHeldArgs bounds the values held at once, and so one merged INSERT's:
// it stays well under SQLite's and PostgreSQL's parameter limits. An
// INSERT that would pass it runs as it comes, after the held ones.
const maxHeldArgs = 8192

// errHeldInserts marks the failure of a merged INSERT: its batch is run
// again without holding INSERTs back.
var errHeldInserts = errors.New("plasma: sync: a merged INSERT of several mutations failed; replaying its batch one INSERT at a time")

type heldKey struct{}

// insertBuffer holds back the INSERTs made in one batch transaction.
type insertBuffer struct {
	exec dialect.Executor // the batch's transaction
	// ctx is the push's context with what a write of the batch carries:
	// the identity, the change batch, and a CallerUndo (so that row auth
	// needs no savepoint); merged INSERTs run under it.
	ctx      context.Context
	holdable func(*orm.Table) bool

	mu      sync.Mutex
	next    orm.Handler // the chain below holdInserts
	runs    []heldRun
	origins map[heldRow]origin
	alone   map[string]bool // per table: rowauth.InsertsJudgedAlone
	err     error           // sticky: the first merged INSERT's failure
	n       int             // INSERTs held so far
	args    int             // values held now
}

// heldRun is consecutive INSERTs into one table with the same columns.
type heldRun struct {
	st   orm.Statement // the first INSERT's, for its table and DB
	q    *orm.InsertQuery
	cols []string
	rows [][]any
}

type heldRow struct{ table, id string }

type origin struct {
	client   string
	mutation int64
}

// newInsertBuffer returns a buffer for the INSERTs made in tx; ctx is
// the context merged INSERTs run under.
func newInsertBuffer(ctx context.Context, tx *orm.DB, holdable func(*orm.Table) bool) *insertBuffer {
	return &insertBuffer{exec: tx.Executor(), ctx: ctx, holdable: holdable}
}

// withInsertBuffer returns a context whose INSERTs in b's transaction are
// held back in b.
func withInsertBuffer(ctx context.Context, b *insertBuffer) context.Context {
	return context.WithValue(ctx, heldKey{}, b)
}

// holdInserts is the middleware that holds back the INSERTs of a context
// from withInsertBuffer; it sits outside row auth and the change log, so
// that a merged INSERT goes through them as one statement.
func holdInserts(next orm.Handler) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		b, _ := ctx.Value(heldKey{}).(*insertBuffer)
		if b == nil || st.DB == nil || st.DB.Executor() != b.exec {
			return next(ctx, st)
		}
		if res, held, err := b.hold(ctx, next, st); held || err != nil {
			return res, err
		}
		if err := b.flush(); err != nil {
			return nil, err
		}
		return next(ctx, st)
	}
}

// hold adds st to the buffer if it can wait, answering for it as its
// INSERT would. It fails once a merged INSERT has failed: the transaction
// is lost and its batch is replayed.
func (b *insertBuffer) hold(ctx context.Context, next orm.Handler, st *orm.Statement) (*orm.Result, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, false, b.err
	}
	q, ok := st.Query.(*orm.InsertQuery)
	if !ok || st.Op != orm.OpInsert || st.Table == nil || q.Err() != nil || q.HasReturning() {
		return nil, false, nil
	}
	p := q.Parts()
	args := len(p.Columns) * len(p.Rows)
	if p.OnConflict != nil || args == 0 || b.args+args > maxHeldArgs || !b.holdable(st.Table) || !b.judgedAlone(ctx, st.Table) {
		return nil, false, nil
	}
	rows, ok := b.rowOrigins(ctx, st.Table, p)
	if !ok {
		return nil, false, nil
	}
	b.next = next
	last := len(b.runs) - 1
	if last < 0 || b.runs[last].st.Table != st.Table || !slices.Equal(b.runs[last].cols, p.Columns) {
		b.runs = append(b.runs, heldRun{st: *st, q: q, cols: p.Columns})
		last++
	}
	b.runs[last].rows = append(b.runs[last].rows, p.Rows...)
	o := mutationOf(ctx)
	for _, r := range rows {
		b.origins[r] = o
	}
	b.n++
	b.args += args
	return &orm.Result{RowsAffected: int64(len(p.Rows))}, true, nil
}

// judgedAlone caches rowauth.InsertsJudgedAlone for the push's identity.
func (b *insertBuffer) judgedAlone(ctx context.Context, t *orm.Table) bool {
	alone, known := b.alone[t.Name()]
	if !known {
		alone = rowauth.InsertsJudgedAlone(ctx, t)
		if b.alone == nil {
			b.alone = map[string]bool{}
		}
		b.alone[t.Name()] = alone
	}
	return alone
}

// rowOrigins returns the log keys of the rows of an INSERT into a synced
// table, or false if a row's id is not a string given once.
func (b *insertBuffer) rowOrigins(ctx context.Context, t *orm.Table, p orm.InsertParts) ([]heldRow, bool) {
	if !t.Synced() {
		return nil, true
	}
	id := slices.Index(p.Columns, "id")
	if id < 0 {
		return nil, false
	}
	keys := make([]heldRow, len(p.Rows))
	var seen map[heldRow]bool // the INSERT's own, for more than one row
	if len(p.Rows) > 1 {
		seen = make(map[heldRow]bool, len(p.Rows))
	}
	for i, row := range p.Rows {
		s, ok := row[id].(string)
		if !ok {
			return nil, false
		}
		keys[i] = heldRow{table: t.Name(), id: s}
		if _, dup := b.origins[keys[i]]; dup || seen[keys[i]] {
			return nil, false
		}
		if seen != nil {
			seen[keys[i]] = true
		}
	}
	if b.origins == nil {
		b.origins = map[heldRow]origin{}
	}
	return keys, true
}

// mutationOf returns the mutation ctx's writes come from.
func mutationOf(ctx context.Context) origin {
	c, m, _ := changelog.OriginFrom(ctx)
	return origin{client: c, mutation: m}
}

// count returns the number of INSERTs held so far; 0 for a nil buffer.
func (b *insertBuffer) count() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// failed returns the failure of a merged INSERT, if one failed; nil for a
// nil buffer.
func (b *insertBuffer) failed() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// flush runs the held INSERTs, one statement per run.
func (b *insertBuffer) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	runs := b.runs
	b.runs, b.args = nil, 0
	if len(runs) == 0 {
		return nil
	}
	ctx := changelog.WithRowOrigins(b.ctx, b.originOf)
	for _, r := range runs {
		c, cp := r.q.Rewrite()
		cp.Rows = r.rows
		st := r.st
		st.Query = c
		res, err := b.next(ctx, &st)
		if res != nil && res.Rows != nil {
			_ = res.Rows.Close()
		}
		if err != nil {
			b.err = fmt.Errorf("%w: %w", errHeldInserts, err)
			return b.err
		}
	}
	clear(b.origins)
	return nil
}

// originOf is the changelog.RowOrigins of the held rows. It runs under
// b.mu, held by flush.
func (b *insertBuffer) originOf(table, id string) (string, int64, bool) {
	o, ok := b.origins[heldRow{table: table, id: id}]
	return o.client, o.mutation, ok
}

// holdableTable reports whether INSERTs into t may be merged, as far as
// its declaration tells: no foreign key to itself, no CRDT column, and an
// id column if it is synced (see the comment at the top of this file).
func holdableTable(t *orm.Table) bool {
	def := t.Def()
	if def == nil {
		return false
	}
	for _, c := range def.Columns {
		if c.Kind.IsCRDT() || (c.References != nil && c.References.Table == t.Name()) {
			return false
		}
	}
	return !t.Synced() || def.Column("id") != nil
}
