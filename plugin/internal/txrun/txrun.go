// Package txrun runs a middleware's work on a write in one transaction:
// the statement's own, or one it opens and commits. It is the one place
// plasma's plugins (changelog, crdtcol, encrypt, rowauth) decide what to
// do when there is no transaction to join and none can be begun.
package txrun

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
)

// Run runs fn on a DB inside a transaction and returns its result.
//
// When db already runs in a transaction (the caller's, or one a middleware
// earlier in the chain opened), fn runs in it and its result is passed on
// as it is: the transaction's owner commits after reading it.
//
// Otherwise Run begins a transaction on db, runs fn in it, reads any rows
// fn's result holds into memory, and commits. Reading first matters: a
// commit ends the rows of a statement run in the transaction, so rows read
// after it would be lost, and a failed commit would surface, if at all, as
// an error from Rows.Close that callers rarely check. If fn fails, or the
// rows cannot be read, the transaction is rolled back.
//
// An executor that can begin no transaction and is not one (a custom
// dialect.Executor that is neither a dialect.Beginner nor a *sql.Tx) is
// refused: Run returns an error wrapping orm.ErrNoBeginner and fn does not
// run. Such an executor may be a pool, where each statement commits on its
// own, possibly on another connection, so plasma cannot make fn's
// statements one unit, and running them anyway could leave half a write:
// a row without its change-log entry, a refused row left in place, a CRDT
// merge lost to a concurrent one. Wrap a caller-managed transaction by
// handing plasma the *sql.Tx itself (orm.New or DB.WithExecutor), so that
// DB.IsTx reports it and fn joins it.
func Run(ctx context.Context, db *orm.DB, fn func(tx *orm.DB) (*orm.Result, error)) (*orm.Result, error) {
	if db.IsTx() {
		return fn(db)
	}
	var res *orm.Result
	ran := false
	err := db.Tx(ctx, func(tx *orm.Tx) error {
		ran = true
		r, err := fn(tx.DB)
		if err != nil {
			return err
		}
		res, err = buffered(r)
		return err
	})
	switch {
	case !ran && errors.Is(err, orm.ErrNoBeginner):
		return nil, fmt.Errorf("%w: this write needs one; hand plasma a dialect.Beginner, or the *sql.Tx to run in", err)
	case err != nil:
		return nil, err
	}
	return res, nil
}

// buffered returns r with its rows, if it has any, read into memory and
// replayed; every other field of r is kept. The rows are closed.
func buffered(r *orm.Result) (*orm.Result, error) {
	if r == nil || r.Rows == nil {
		return r, nil
	}
	buf, err := rowbuf.Read(r.Rows)
	if err != nil {
		return nil, err
	}
	out := *r
	out.Rows = buf.Replay(len(buf.Columns))
	return &out, nil
}
