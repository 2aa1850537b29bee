// Package rowbuf reads a result set into memory and hands it on as rows
// that scan exactly as the database's own rows would.
//
// A middleware that must see the rows of a write's RETURNING clause before
// its caller does (the change log reads the row images, row auth reads its
// check column) reads them with Read, works on the values, and gives the
// caller Buffer.Replay: the caller's columns only, replayed through
// database/sql, so every Scan conversion (into strings, integers, bools,
// sql.Scanner and sql.Null types, RawBytes ...) behaves as on *sql.Rows.
package rowbuf

import (
	"context"
	"database/sql"
	"errors"

	"github.com/plasma-go/plasma/internal/replay"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// Buffer is a result set held in memory.
type Buffer struct {
	// Columns names the result's columns.
	Columns []string
	// Values holds each row's values as the driver gave them. A row may
	// hold more values than there are Columns: the rest are hidden.
	Values [][]any
}

// Read reads every row of rows into a Buffer and closes rows. Rows made by
// Buffer.Replay and not yet read are taken over without copying.
func Read(rows orm.Rows) (*Buffer, error) {
	if r, ok := rows.(*Rows); ok && r.replay == nil && !r.closed {
		r.closed = true
		return &Buffer{Columns: r.buf.Columns[:r.n], Values: r.buf.Values}, nil
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	b := &Buffer{Columns: cols}
	ptrs := make([]any, len(cols))
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		b.Values = append(b.Values, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return b, rows.Close()
}

// Replay returns rows that replay the first n columns of b.
func (b *Buffer) Replay(n int) *Rows {
	if n > len(b.Columns) {
		n = len(b.Columns)
	}
	return &Rows{buf: b, n: n}
}

// Result wraps the first n columns of b as a statement result, with kinds
// the kinds of those columns.
func (b *Buffer) Result(n int, kinds []tabledef.Kind) *orm.Result {
	if len(kinds) > n {
		kinds = kinds[:n]
	}
	return &orm.Result{Rows: b.Replay(n), Kinds: kinds}
}

// Rows replays a Buffer. It implements orm.Rows; scanning goes through a
// *sql.Rows over an in-memory driver, so conversions match database/sql.
type Rows struct {
	buf    *Buffer
	n      int
	replay *sql.Rows
	err    error
	closed bool
}

func (r *Rows) start() bool {
	if r.replay == nil && r.err == nil {
		r.replay, r.err = replay.Rows(context.Background(), r.buf.Columns[:r.n], r.buf.Values)
	}
	return r.err == nil
}

// Columns names the replayed columns.
func (r *Rows) Columns() ([]string, error) { return r.buf.Columns[:r.n], nil }

// Next moves to the next row.
func (r *Rows) Next() bool {
	if r.closed || !r.start() {
		return false
	}
	return r.replay.Next()
}

// Scan copies the current row's values into dest, converting as
// database/sql does.
func (r *Rows) Scan(dest ...any) error {
	if r.replay == nil {
		return errors.New("rowbuf: Scan called without calling Next")
	}
	return r.replay.Scan(dest...)
}

// Err reports an error met while iterating.
func (r *Rows) Err() error {
	if r.err != nil {
		return r.err
	}
	if r.replay != nil {
		return r.replay.Err()
	}
	return nil
}

// Close releases the rows; it is safe to call more than once.
func (r *Rows) Close() error {
	r.closed = true
	if r.replay != nil {
		return r.replay.Close()
	}
	return nil
}

var _ orm.Rows = (*Rows)(nil)
