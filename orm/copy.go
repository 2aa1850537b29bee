package orm

import (
	"context"
	"database/sql"
	"errors"
)

// The fewest rows a plain INSERT must have to be loaded by the dialect's
// bulk protocol (COPY ... FROM STDIN on PostgreSQL with lib/pq) instead of
// a multi-row INSERT. Measured side by side (BenchmarkPostgresCopy,
// median COPY/INSERT time of 6 runs): in a transaction COPY is ahead
// from about 100 rows (0.91 at 100, 0.88 at 300, 0.63 at 5000); on the
// pool plasma must open and commit a transaction for COPY, which costs
// two round trips the autocommitted INSERT does not pay (1.07 at 100,
// 0.99 at 300, 1.06 at 1000, 0.62 at 5000). A plain INSERT of fewer rows
// goes as unnest arrays from UnnestMinRows rows (unnest.go), on pgx at
// any size.
const (
	CopyMinRowsInTx = 100
	CopyMinRows     = 1000
)

// copies reports whether q may be loaded by COPY: a valid INSERT of
// enough rows (CopyMinRowsInTx in a transaction, else CopyMinRows), with
// no ON CONFLICT and no RETURNING.
func (q *InsertQuery) copies(inTx bool) bool {
	p := &q.parts
	least := CopyMinRows
	if inTx {
		least = CopyMinRowsInTx
	}
	return q.rowCount() >= least && p.OnConflict == nil && !q.HasReturning() && q.check() == nil
}

// canCopy reports whether db can load rows by its dialect's bulk
// protocol: the pool's driver supports it, and db runs in a transaction
// or on the pool itself.
func (db *DB) canCopy() bool {
	if db.copier == nil {
		return false
	}
	_, pool := db.exec.(*sql.DB)
	return db.tx != nil || pool
}

// copyInsert loads q's rows by the dialect's bulk protocol in db's
// transaction, or in one it opens and commits when db runs on the pool.
// Middlewares saw the statement as the INSERT it is (the change log
// writes its rows in the same transaction); the result is the rows
// affected, as for an INSERT.
func (db *DB) copyInsert(ctx context.Context, st *Statement, q *InsertQuery) (*Result, error) {
	p := &q.parts
	run := func(tx *sql.Tx) (int64, error) {
		return db.copier.CopyFrom(ctx, tx, p.Table.name, p.Columns, q.rows())
	}
	var n int64
	var err error
	if db.tx != nil {
		n, err = run(db.tx)
	} else {
		pool := db.exec.(*sql.DB) // canCopy checked
		var tx *sql.Tx
		if tx, err = pool.BeginTx(ctx, nil); err == nil {
			if n, err = run(tx); err == nil {
				err = tx.Commit()
			} else {
				err = errors.Join(err, tx.Rollback())
			}
		}
	}
	if err != nil {
		return nil, &ExecError{Op: OpInsert, SQL: "COPY " + p.Table.name + " FROM STDIN", Err: err}
	}
	st.res = Result{RowsAffected: n}
	return &st.res, nil
}
