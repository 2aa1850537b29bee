package crdtcol

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/crdt"
)

type opCode uint8

const (
	opIncr opCode = iota + 1
	opDecr
	opAssign
	opAdd
	opRemove
)

var opNames = [...]string{opIncr: "Incr", opDecr: "Decr", opAssign: "Assign", opAdd: "Add", opRemove: "Remove"}

// Op is an operation on a CRDT column, used as the column's value in an
// UPDATE's Set or an INSERT's Values. The middleware applies it to each
// row's stored state (the empty state for a new row) on behalf of the
// client the context names (changelog.WithOrigin), inside the write's
// transaction and under the row's lock, and stores the result: so an Op
// is always built on the latest state, however many writers race.
//
// An Op implements driver.Valuer only to fail with ErrNoMiddleware if it
// ever reaches the database unapplied.
type Op struct {
	code  opCode
	delta int64
	value json.RawMessage
	err   error
}

// Incr adds delta (>= 0) to a counter (grow-only or PN) for the client.
func Incr(delta int64) Op { return Op{code: opIncr, delta: delta} }

// Decr subtracts delta (>= 0) from a PN counter for the client.
func Decr(delta int64) Op { return Op{code: opDecr, delta: delta} }

// Assign writes v to an LWW register, with a timestamp from the
// middleware's clock that is later than the stored write's. v is encoded
// with encoding/json, except a json.RawMessage, which is taken as JSON
// text.
func Assign(v any) Op { return valueOp(opAssign, v) }

// Add adds v to an observed-remove set on behalf of the client; v is
// encoded as for Assign.
func Add(v any) Op { return valueOp(opAdd, v) }

// Remove removes v from an observed-remove set: the adds of v the stored
// state holds are removed, while an add made concurrently elsewhere and
// merged later survives. v is encoded as for Assign.
func Remove(v any) Op { return valueOp(opRemove, v) }

func valueOp(code opCode, v any) Op {
	o := Op{code: code}
	if raw, ok := v.(json.RawMessage); ok {
		o.value = raw
		return o
	}
	raw, err := json.Marshal(v)
	if err != nil {
		o.err = fmt.Errorf("%w: %s value: %v", crdt.ErrMalformed, opNames[code], err)
	}
	o.value = raw
	return o
}

// String describes the operation, for logs and errors.
func (o Op) String() string {
	if int(o.code) >= len(opNames) || o.code == 0 {
		return "crdtcol.Op(invalid)"
	}
	switch o.code {
	case opIncr, opDecr:
		return fmt.Sprintf("crdtcol.%s(%d)", opNames[o.code], o.delta)
	}
	return fmt.Sprintf("crdtcol.%s(%s)", opNames[o.code], o.value)
}

// Value implements driver.Valuer. It always fails with ErrNoMiddleware:
// the middleware replaces an Op with the state it produces before the
// statement is rendered, so an Op that reaches the driver was not applied.
func (o Op) Value() (driver.Value, error) { return nil, ErrNoMiddleware }

// needsClient reports whether the op writes on behalf of a client.
func (o *Op) needsClient() bool { return o.code != opRemove }

// check validates the op's own arguments before any row is read.
func (o *Op) check(kind crdt.Kind, lim crdt.Limits) error {
	if o.err != nil {
		return o.err
	}
	var fits bool
	switch o.code {
	case opIncr:
		fits = kind == crdt.KindCounter || kind == crdt.KindPNCounter
	case opDecr:
		fits = kind == crdt.KindPNCounter
	case opAssign:
		fits = kind == crdt.KindLWWRegister
	case opAdd, opRemove:
		fits = kind == crdt.KindORSet
	}
	if !fits {
		return fmt.Errorf("%w: %v on a %v column", ErrOpKind, o, kind)
	}
	switch o.code {
	case opIncr, opDecr:
		if o.delta < 0 {
			return &crdt.Error{Op: opNames[o.code], Msg: fmt.Sprintf("negative delta %d", o.delta), Err: crdt.ErrInvalidArgument}
		}
	default:
		canon, err := crdt.CanonicalJSON(o.value, lim)
		if err != nil {
			return err
		}
		o.value = canon
	}
	return nil
}

// apply runs the op on s for client. The error's side is written for a
// bad argument, stored for a stored LWW timestamp the clock refuses, and
// merged for a result that overflows.
func (o *Op) apply(s crdt.State, client string, clock *crdt.Clock) (Side, error) {
	var err error
	switch c := s.(type) {
	case *crdt.GCounter:
		err = c.Increment(client, o.delta)
	case *crdt.PNCounter:
		if o.code == opDecr {
			err = c.Decrement(client, o.delta)
		} else {
			err = c.Increment(client, o.delta)
		}
	case *crdt.LWWRegister:
		if ts, _, ok := c.Marker(); ok {
			if _, err := clock.Update(ts); err != nil {
				return SideStored, err
			}
		}
		err = c.Set(client, o.value, clock.Now())
	case *crdt.ORSet:
		if o.code == opRemove {
			c.Remove(o.value)
		} else {
			err = c.Add(client, o.value)
		}
	default:
		err = fmt.Errorf("%w: %v on %T", ErrOpKind, o, s)
	}
	if err != nil {
		if errors.Is(err, crdt.ErrOverflow) || errors.Is(err, crdt.ErrConflict) {
			return SideMerged, err
		}
		return SideWritten, err
	}
	return 0, nil
}
