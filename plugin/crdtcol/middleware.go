package crdtcol

import (
	"context"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/orm"
)

// Options configures Middleware.
type Options struct {
	// Limits caps every state read, written or produced by a merge. The
	// zero value means crdt.DefaultLimits.
	Limits crdt.Limits
	// Clock is the hybrid logical clock written LWW timestamps are passed
	// through (Clock.Update, which refuses one too far ahead of the wall
	// clock) and Assign takes its timestamps from. Share one Clock with
	// the rest of the server; nil means a Clock of the middleware's own.
	Clock *crdt.Clock
	// ClientsPerUser caps the entries of one row's per-client map (a
	// counter's totals, an OR-set's version vector) that the clients of
	// one user (the rowauth identity) may hold, so that no user can fill
	// a row's map (Limits.MaxClients) for everyone else. An Op from a
	// client past its user's quota writes the user's overflow entry
	// instead, and when the map itself is full the one shared entry; a
	// full state that would take the user past it is refused with
	// ErrClientQuota. Zero or negative means DefaultClientsPerUser.
	ClientsPerUser int
}

// Middleware returns the middleware that merges CRDT columns on every
// INSERT, upsert and UPDATE built with the ORM; see the package
// documentation. Install it after row auth and before the change log.
func Middleware(opts Options) orm.Middleware {
	m := &merger{lim: opts.Limits, clock: opts.Clock, perUser: opts.ClientsPerUser}
	if m.clock == nil {
		m.clock = new(crdt.Clock)
	}
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			switch q := st.Query.(type) {
			case *orm.UpdateQuery:
				if info := tableInfoOf(q.Parts().Table); info != nil {
					return m.update(ctx, next, st, q, info)
				}
			case *orm.InsertQuery:
				if info := tableInfoOf(q.Parts().Table); info != nil {
					return m.insert(ctx, next, st, q, info)
				}
			}
			return next(ctx, st)
		}
	}
}

type merger struct {
	lim     crdt.Limits
	clock   *crdt.Clock
	perUser int // Options.ClientsPerUser
}

// tableInfo is what the middleware needs to know about a table with CRDT
// columns.
type tableInfo struct {
	t    *orm.Table
	pk   []string
	crdt map[string]crdt.Kind // the CRDT columns that are not encrypted
}

// infoKey keeps a table's info (nil for none) in its Memo, which
// DefineSchema empties, so info made before the encrypted columns were
// known is not kept.
var infoKey = orm.NewMemoKey[*tableInfo]("crdtcol.tableInfo")

// tableInfoOf returns t's info, or nil if t has no CRDT column to merge.
func tableInfoOf(t *orm.Table) *tableInfo {
	if t == nil {
		return nil
	}
	return orm.MemoLoad(t.Memo(), infoKey, func() *tableInfo { return newTableInfo(t) })
}

func newTableInfo(t *orm.Table) *tableInfo {
	encrypted := map[string]bool{}
	def := t.Def()
	if def != nil {
		for _, c := range def.Columns {
			encrypted[c.Name] = c.Encrypted
		}
	}
	var info *tableInfo
	for _, c := range t.Columns() {
		k := c.CRDTKind()
		if k == 0 || encrypted[c.Name()] {
			continue
		}
		if info == nil {
			info = &tableInfo{t: t, pk: t.PrimaryKey(), crdt: map[string]crdt.Kind{}}
		}
		info.crdt[c.Name()] = k
	}
	return info
}
