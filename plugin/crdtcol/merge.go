package crdtcol

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// written is a value a statement writes to a CRDT column, checked.
type written struct {
	null  bool
	op    *Op
	state []byte // canonical, when neither null nor op
}

// incoming checks the value v written to column col of kind k: a state is
// validated and canonicalised (and an LWW timestamp passed through the
// clock), an Op's arguments are checked.
func (m *merger) incoming(t *orm.Table, col string, k crdt.Kind, v any) (written, error) {
	fail := func(err error) (written, error) {
		return written{}, &Error{Table: t.Name(), Column: col, Side: SideWritten, Err: err}
	}
	var raw []byte
unwrap:
	for range 3 { // unwrap a Param or a driver.Valuer, a bounded number of times
		switch x := v.(type) {
		case nil:
			return written{null: true}, nil
		case Op:
			return m.checkOp(t, col, k, &x)
		case *Op:
			if x == nil {
				return written{null: true}, nil
			}
			o := *x
			return m.checkOp(t, col, k, &o)
		case *expr.Param:
			v = x.Value
			continue
		case expr.Expr:
			return fail(ErrExpression)
		case string:
			raw = []byte(x)
		case []byte:
			raw = x
		case json.RawMessage:
			raw = x
		case driver.Valuer:
			dv, err := x.Value()
			if err != nil {
				return fail(err)
			}
			v = dv
			continue
		default:
			return fail(fmt.Errorf("%w, not %T", ErrValue, v))
		}
		break unwrap
	}
	if raw == nil {
		return fail(fmt.Errorf("%w, not %T", ErrValue, v))
	}
	s, err := crdt.Decode(k, raw, m.lim)
	if err != nil {
		return fail(err)
	}
	if r, ok := s.(*crdt.LWWRegister); ok {
		if ts, _, ok := r.Marker(); ok {
			if _, err := m.clock.Update(ts); err != nil {
				return fail(err)
			}
		}
	}
	return written{state: s.Encode()}, nil
}

func (m *merger) checkOp(t *orm.Table, col string, k crdt.Kind, o *Op) (written, error) {
	if err := o.check(k, m.lim); err != nil {
		return written{}, &Error{Table: t.Name(), Column: col, Side: SideWritten, Err: err}
	}
	return written{op: o}, nil
}

// client returns the writing client's id, if any value needs one.
func client(ctx context.Context, t *orm.Table, cols []string, ws []written) (string, error) {
	for i, w := range ws {
		if w.op != nil && w.op.needsClient() {
			id, _, ok := changelog.OriginFrom(ctx)
			if !ok || id == "" {
				return "", &Error{Table: t.Name(), Column: cols[i], Side: SideWritten, Err: ErrNoClient}
			}
			return id, nil
		}
	}
	return "", nil
}

// mergeOne returns what to store in a column of kind k whose stored value
// is stored (nil for NULL or a new row) when w is written.
func (m *merger) mergeOne(t *orm.Table, col string, k crdt.Kind, row string, stored any, w written, who writer) (any, error) {
	fail := func(side Side, err error) (any, error) {
		return nil, &Error{Table: t.Name(), Column: col, Row: row, Side: side, Err: err}
	}
	var sb []byte
	switch s := stored.(type) {
	case nil:
	case string:
		sb = []byte(s)
	case []byte:
		sb = s
	default:
		return fail(SideStored, &crdt.Error{Op: "read column", Msg: fmt.Sprintf("the column holds a %T, not JSON text", stored), Err: crdt.ErrMalformed})
	}
	switch {
	case w.op != nil:
		s, err := crdt.Decode(k, sb, m.lim)
		if err != nil {
			return fail(SideStored, err)
		}
		if side, err := w.op.apply(s, m.opKey(s, w.op, who), m.clock); err != nil {
			return fail(side, err)
		}
		out := s.Encode()
		if err := crdt.Validate(k, out, m.lim); err != nil {
			return fail(SideMerged, err)
		}
		return string(out), nil
	case w.null:
		if stored == nil {
			return nil, nil
		}
		out, err := crdt.Canonical(k, sb, m.lim)
		if err != nil {
			return fail(SideStored, err)
		}
		return string(out), nil
	}
	if err := m.checkQuota(k, sb, w.state, who); err != nil {
		return fail(SideWritten, err)
	}
	if stored == nil {
		return string(w.state), nil
	}
	out, err := crdt.Merge(k, sb, w.state, m.lim)
	if err != nil {
		if verr := crdt.Validate(k, sb, m.lim); verr != nil {
			return fail(SideStored, verr)
		}
		return fail(SideMerged, err)
	}
	return string(out), nil
}
