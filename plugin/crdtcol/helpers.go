package crdtcol

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// Apply writes op to column of the row of t whose primary key is rowID,
// through db's chain (which must hold Middleware): the middleware applies
// op to the row's stored state under the row's lock, for the client ctx
// names with changelog.WithOrigin. It returns an error wrapping
// orm.ErrNotFound if no row matched (or row auth hid it), and an *Error
// wrapping ErrNoClient if ctx names no client and op needs one.
func Apply(ctx context.Context, db *orm.DB, t *orm.Table, rowID any, column string, op Op) error {
	if op.needsClient() {
		if id, _, ok := changelog.OriginFrom(ctx); !ok || id == "" {
			return &Error{Table: t.Name(), Column: column, Side: SideWritten, Err: ErrNoClient}
		}
	}
	pk := t.PrimaryKey()
	if len(pk) != 1 {
		return &Error{Table: t.Name(), Column: column, Err: ErrNoPrimaryKey}
	}
	n, err := db.Update(t).Set(orm.Row{column: op}).Where(expr.Eq(t.Col(pk[0]), rowID)).Exec(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("crdtcol: %s %s %v: %w", t.Name(), pk[0], rowID, orm.ErrNotFound)
	}
	return nil
}

// Increment adds delta (>= 0) to the counter column (grow-only or PN) of
// one row for the current client: Apply with Incr(delta). Concurrent
// increments from any number of clients all count.
func Increment(ctx context.Context, db *orm.DB, t *orm.Table, rowID any, column string, delta int64) error {
	return Apply(ctx, db, t, rowID, column, Incr(delta))
}

// Decrement subtracts delta (>= 0) from the PN-counter column of one row
// for the current client: Apply with Decr(delta).
func Decrement(ctx context.Context, db *orm.DB, t *orm.Table, rowID any, column string, delta int64) error {
	return Apply(ctx, db, t, rowID, column, Decr(delta))
}

// SetRegister writes value to the LWW-register column of one row for the
// current client, with a timestamp later than the stored write's: Apply
// with Assign(value).
func SetRegister(ctx context.Context, db *orm.DB, t *orm.Table, rowID any, column string, value any) error {
	return Apply(ctx, db, t, rowID, column, Assign(value))
}

// AddToSet adds value to the OR-set column of one row for the current
// client: Apply with Add(value).
func AddToSet(ctx context.Context, db *orm.DB, t *orm.Table, rowID any, column string, value any) error {
	return Apply(ctx, db, t, rowID, column, Add(value))
}

// RemoveFromSet removes value from the OR-set column of one row: Apply
// with Remove(value). An add of value concurrent with the removal, merged
// later, survives it.
func RemoveFromSet(ctx context.Context, db *orm.DB, t *orm.Table, rowID any, column string, value any) error {
	return Apply(ctx, db, t, rowID, column, Remove(value))
}

// Load reads the CRDT column of the row of t whose primary key is rowID
// through db's chain and decodes it with crdt.DefaultLimits (a NULL
// column is the empty state).
// Type-assert the result to *crdt.GCounter, *crdt.PNCounter,
// *crdt.LWWRegister or *crdt.ORSet by the column's kind.
func Load(ctx context.Context, db *orm.DB, t *orm.Table, rowID any, column string) (crdt.State, error) {
	col, ok := t.Column(column)
	if !ok {
		return nil, fmt.Errorf("crdtcol: %s has no column %q", t.Name(), column)
	}
	k := col.CRDTKind()
	if k == 0 {
		return nil, &Error{Table: t.Name(), Column: column, Err: fmt.Errorf("%w: %s is a %v column", ErrOpKind, column, col.Kind())}
	}
	pk := t.PrimaryKey()
	if len(pk) != 1 {
		return nil, &Error{Table: t.Name(), Column: column, Err: ErrNoPrimaryKey}
	}
	res, err := db.Select(t.Col(column)).From(t).Where(expr.Eq(t.Col(pk[0]), rowID)).Rows(ctx)
	if err != nil {
		return nil, err
	}
	defer res.Rows.Close()
	if !res.Rows.Next() {
		if err := res.Rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("crdtcol: %s %s %v: %w", t.Name(), pk[0], rowID, orm.ErrNotFound)
	}
	var raw json.RawMessage
	var v any
	if err := res.Rows.Scan(&v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		raw = json.RawMessage(x)
	case []byte:
		raw = x
	}
	s, err := crdt.Decode(k, raw, crdt.Limits{})
	if err != nil {
		return nil, &Error{Table: t.Name(), Column: column, Row: fmt.Sprint(rowID), Side: SideStored, Err: err}
	}
	return s, res.Rows.Close()
}
