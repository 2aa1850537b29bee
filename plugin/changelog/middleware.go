package changelog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
	"github.com/plasma-go/plasma/tabledef"
)

// DefaultRegion is the region changes are logged under when neither the
// context nor Options name one.
const DefaultRegion = "default"

// ErrIDUpdate is returned for an UPDATE that assigns the id of a synced
// table: clients know a row by its id, so changing it would leave them a
// row that no longer exists. Delete the row and insert a new one.
var ErrIDUpdate = errors.New("plasma: change log: the id of a synced row cannot change; delete the row and insert a new one")

// Options configures Middleware.
type Options struct {
	// Region is the region writes are logged under when their context
	// names none (see WithRegion). Empty means DefaultRegion.
	Region string
	// Schema, when set, lets the log follow foreign keys: a DELETE whose
	// ON DELETE CASCADE removes rows of synced tables logs a del for each
	// of them, and one whose ON DELETE SET NULL changes rows logs their
	// new images. Without it, only the rows a statement names are logged.
	Schema *orm.Schema
}

// edge is a foreign key into a table that a DELETE follows.
type edge struct {
	child   *orm.Table
	fk      string // the child's referencing column
	ref     string // the parent's referenced column
	setNull bool   // ON DELETE SET NULL rather than CASCADE
}

type logger struct {
	region string
	edges  map[string][]edge // by parent table name
}

// Middleware returns the change-log middleware. Every INSERT, UPDATE,
// upsert and DELETE built with the ORM on a synced table writes, in the
// same transaction, one change row per row it touched: a put with the row
// as it is after the write, or a del. A write outside a transaction runs
// in one the middleware opens, so the write and its change rows commit
// together. Tables with ChangeLogSuppressed (or External) are not logged,
// and neither are raw statements (DB.Exec, DB.Query): on a database with
// capture triggers (EnsureCapture) the triggers log them, and the
// middleware's own writes pass the triggers; elsewhere use Record for
// rows changed that way.
func Middleware(opts Options) orm.Middleware {
	l := &logger{region: opts.Region, edges: map[string][]edge{}}
	if opts.Schema != nil {
		for _, child := range opts.Schema.Tables() {
			def := child.Def()
			if def == nil {
				continue
			}
			for _, c := range def.Columns {
				fk := c.References
				if fk == nil || (fk.OnDelete != tabledef.Cascade && fk.OnDelete != tabledef.SetNull) {
					continue
				}
				l.edges[fk.Table] = append(l.edges[fk.Table], edge{child: child, fk: c.Name, ref: fk.Column, setNull: fk.OnDelete == tabledef.SetNull})
			}
		}
	}
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if st.Op == orm.OpRaw && st.DB != nil {
				if err := beforeRaw(ctx, next, st.DB); err != nil {
					return nil, err
				}
			}
			if !l.applies(st) {
				return next(ctx, st)
			}
			// The write and its change rows commit together, or neither
			// does; an executor that cannot begin a transaction is
			// refused (see txrun.Run).
			return txrun.Run(ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
				s := *st
				s.DB = db
				return l.write(ctx, next, &s)
			})
		}
	}
}

func (l *logger) applies(st *orm.Statement) bool {
	if st.Query == nil || st.Table == nil || !st.Op.IsWrite() {
		return false
	}
	return st.Table.Synced() || (st.Op == orm.OpDelete && len(l.edges[st.Table.Name()]) > 0)
}

// capture says where a rewritten RETURNING puts what the log needs.
type capture struct {
	caller int // columns the caller asked for, first in each row (0: none)
	image  int // index of the first column of the row image, -1 for none
	id     int // index of the id column
}

// rewriteReturning extends r so that each returned row carries the row's
// id (idOnly, for deletes) or its whole image, after the caller's own
// columns.
func rewriteReturning(r *orm.Returning, p *plan, idOnly bool) capture {
	switch {
	case r.All && idOnly:
		return capture{caller: len(p.Columns), image: -1, id: p.ID}
	case r.All:
		return capture{caller: len(p.Columns), image: 0, id: p.ID}
	case len(r.Columns) > 0:
		k := len(r.Columns)
		if idOnly {
			r.Columns = append(slices.Clip(r.Columns), p.exprs[p.ID])
			return capture{caller: k, image: -1, id: k}
		}
		r.Columns = append(slices.Clip(r.Columns), p.exprs...)
		return capture{caller: k, image: k, id: k + p.ID}
	case idOnly:
		r.Columns = []expr.Expr{p.exprs[p.ID]}
		return capture{image: -1, id: 0}
	default:
		r.All = true
		return capture{image: 0, id: p.ID}
	}
}

// change is one row of the log, before it is written.
type change struct {
	table string
	id    string
	op    Op
	data  []byte
	// scope is the row's value of its table's SyncScope column, as
	// text, when the write cannot have moved the row from another value
	// (scopeColumn); nil otherwise, and on SQLite, whose log has no scope.
	scope any
}

func (l *logger) write(ctx context.Context, next orm.Handler, st *orm.Statement) (*orm.Result, error) {
	// On a database that captures writes, the triggers must let this one
	// pass: it is logged here, with its origin and region.
	ps, err := passFor(ctx, st.DB)
	if err != nil {
		return nil, err
	}
	marked, err := ps.mark(ctx, next, st.DB)
	if err != nil {
		return nil, err
	}
	res, logged, err := l.logWrite(ctx, next, st, ps)
	if (err != nil || (marked && !logged)) && ps != nil {
		if uerr := ps.unmark(ctx, next, st.DB); err == nil && uerr != nil {
			closeResult(res)
			return nil, uerr
		}
	}
	return res, err
}

// logWrite runs the write and logs its changes; logged reports that it
// wrote change rows (or held them in a batch).
func (l *logger) logWrite(ctx context.Context, next orm.Handler, st *orm.Statement, ps *pass) (*orm.Result, bool, error) {
	t := st.Table
	p := planFor(t)
	logged := t.Synced()
	if logged && p.ID < 0 {
		return nil, false, fmt.Errorf("plasma: change log: synced table %q has no id column", t.Name())
	}
	var casc *cascade
	if q, ok := st.Query.(*orm.DeleteQuery); ok && len(l.edges[t.Name()]) > 0 {
		var err error
		if casc, err = l.beforeDelete(ctx, next, st.DB, t, q.Parts().Where); err != nil {
			return nil, false, err
		}
	}
	if q, ok := st.Query.(*orm.UpdateQuery); ok && logged {
		for _, a := range q.Parts().Set {
			if a.Column == "id" {
				return nil, false, fmt.Errorf("%w (table %q)", ErrIDUpdate, t.Name())
			}
		}
	}
	var changes []change
	var out *orm.Result
	direct := false
	if logged && !concurrentWrites(st.DB.Dialect()) && !hasReturning(st.Query) {
		var err error
		if out, changes, direct, err = l.writeDirect(ctx, next, st, p); err != nil {
			return nil, false, err
		}
	}
	if !direct {
		var err error
		if out, changes, err = l.writeReturning(ctx, next, st, p, logged, ps); err != nil {
			return nil, false, err
		}
	}
	if casc != nil {
		more, err := l.afterDelete(ctx, next, st.DB, casc)
		if err != nil {
			closeResult(out)
			return nil, false, err
		}
		// A row of the statement's own table can also be reached through
		// a self-reference: log it once.
		own := make(map[string]bool, len(changes))
		for _, c := range changes {
			own[c.id] = true
		}
		for _, c := range more {
			if c.table != t.Name() || !logged || !own[c.id] {
				changes = append(changes, c)
			}
		}
	}
	region := regionOf(ctx, l.region)
	if held(ctx, st.DB, region, originOf(ctx), changes) {
		announce(st.DB, region, changes)
		return out, true, nil
	}
	if len(changes) == 0 {
		return out, false, nil
	}
	if err := insertChanges(st.DB.Memo(), st.DB.Dialect(), region, originOf(ctx), changes, func(text string, args []any) error {
		_, err := next(ctx, &orm.Statement{Op: orm.OpRaw, SQL: text, Args: args, DB: st.DB})
		return err
	}); err != nil {
		closeResult(out)
		return nil, false, err
	}
	announce(st.DB, region, changes)
	return out, true, nil
}

// writeReturning runs the write with a RETURNING clause extended to carry
// what the log needs, and logs the returned rows.
func (l *logger) writeReturning(ctx context.Context, next orm.Handler, st *orm.Statement, p *plan, logged bool, ps *pass) (*orm.Result, []change, error) {
	if !logged {
		res, err := l.writeUnlogged(ctx, next, st, p, ps)
		return res, nil, err
	}
	t := st.Table
	run := *st
	var cp capture
	var r *orm.Returning
	switch q := st.Query.(type) {
	case *orm.InsertQuery:
		c, parts := q.Rewrite()
		r, run.Query = &parts.Returning, c
		cp = rewriteReturning(r, p, false)
	case *orm.UpdateQuery:
		c, parts := q.Rewrite()
		r, run.Query = &parts.Returning, c
		cp = rewriteReturning(r, p, false)
	case *orm.DeleteQuery:
		c, parts := q.Rewrite()
		r, run.Query = &parts.Returning, c
		cp = rewriteReturning(r, p, true)
	default:
		res, err := next(ctx, st)
		return res, nil, err
	}
	ps.addReturning(r, p)
	buf, kinds, err := readWrite(ctx, next, &run)
	if err != nil {
		return nil, nil, err
	}
	scope := scopeColumn(st, p)
	changes := make([]change, 0, len(buf.Values))
	for _, row := range buf.Values {
		c := change{table: t.Name(), id: idString(row[cp.id]), op: OpDel}
		if cp.image >= 0 {
			c.op = OpPut
			img := row[cp.image : cp.image+len(p.Columns)]
			if c.data, err = p.image(img); err != nil {
				return nil, nil, err
			}
			if scope >= 0 && img[scope] != nil {
				c.scope = idString(img[scope])
			}
		}
		changes = append(changes, c)
	}
	if cp.caller > 0 {
		return buf.Result(cp.caller, kinds), changes, nil
	}
	return &orm.Result{RowsAffected: int64(len(buf.Values))}, changes, nil
}

// scopeColumn returns the index of the SyncScope column (orm.TableOptions)
// of the table st writes (p is its plan), whose value its change rows
// record, or -1:
// when the log has no scope (SQLite), and for a write that may have moved
// a row from one value to another, an UPDATE that sets the column or an
// upsert that may. Such a change is logged without a scope, and every
// pull reads it: a row's scope changes only through such changes, so a
// pull that skips the changes outside its scopes misses none of a row it
// holds or may read now.
func scopeColumn(st *orm.Statement, p *plan) int {
	name := st.Table.Options().SyncScope
	if p.scope < 0 || !concurrentWrites(st.DB.Dialect()) {
		return -1
	}
	switch q := st.Query.(type) {
	case *orm.InsertQuery:
		if upsertSets(q.Parts(), name) {
			return -1
		}
	case *orm.UpdateQuery:
		for _, a := range q.Parts().Set {
			if a.Column == name {
				return -1
			}
		}
	default:
		return -1
	}
	return p.scope
}

// upsertSets reports whether the insert p is an upsert whose update may
// set the column name: one it lists, or, when it lists none, one it
// inserts outside the conflict target.
func upsertSets(p orm.InsertParts, name string) bool {
	oc := p.OnConflict
	if oc == nil || oc.DoNothing {
		return false
	}
	if len(oc.Update) > 0 {
		return slices.Contains(oc.Update, name)
	}
	return slices.Contains(p.Columns, name) && !slices.Contains(oc.Target, name)
}

// readWrite runs a write with a RETURNING clause and reads its rows.
func readWrite(ctx context.Context, next orm.Handler, st *orm.Statement) (*rowbuf.Buffer, []tabledef.Kind, error) {
	res, err := next(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	if res.Rows == nil {
		return nil, nil, fmt.Errorf("plasma: change log: %s on %q returned no rows for its RETURNING clause", st.Op, st.Table.Name())
	}
	buf, err := rowbuf.Read(res.Rows)
	return buf, res.Kinds, err
}

// writeUnlogged runs a DELETE of a table that is not logged but whose
// foreign keys reach synced tables, whose rows the middleware logs
// itself: on PostgreSQL the pass's RETURNING tells the capture triggers.
func (l *logger) writeUnlogged(ctx context.Context, next orm.Handler, st *orm.Statement, p *plan, ps *pass) (*orm.Result, error) {
	q, ok := st.Query.(*orm.DeleteQuery)
	if ps == nil || ps.returning == nil || !ok {
		return next(ctx, st)
	}
	run := *st
	c, parts := q.Rewrite()
	run.Query = c
	k := len(parts.Returning.Columns)
	if parts.Returning.All {
		k = len(p.Columns)
	}
	ps.addReturning(&parts.Returning, p)
	buf, kinds, err := readWrite(ctx, next, &run)
	if err != nil {
		return nil, err
	}
	if k > 0 {
		return buf.Result(k, kinds), nil
	}
	return &orm.Result{RowsAffected: int64(len(buf.Values))}, nil
}

// hasReturning reports whether a write statement has a RETURNING clause.
func hasReturning(q any) bool {
	var r orm.Returning
	switch q := q.(type) {
	case *orm.InsertQuery:
		r = q.Parts().Returning
	case *orm.UpdateQuery:
		r = q.Parts().Returning
	case *orm.DeleteQuery:
		r = q.Parts().Returning
	}
	return r.All || len(r.Columns) > 0
}

func closeResult(r *orm.Result) {
	if r != nil && r.Rows != nil {
		r.Rows.Close()
	}
}

// maxChangesPerInsert bounds one INSERT's rows: 8 parameters each stays
// under SQLite's and PostgreSQL's parameter limits.
const maxChangesPerInsert = 500

// originVals are the origin columns' values: NULL when unknown.
type originVals struct{ clientID, mutationID any }

// origins gives each change row its origin: the one WithRowOrigins names
// for its row, else WithOrigin's, else none.
type origins struct {
	def originVals
	of  RowOrigins
}

func originOf(ctx context.Context) origins {
	o := origins{of: rowOriginsFrom(ctx)}
	if c, m, ok := OriginFrom(ctx); ok {
		o.def = originVals{clientID: c, mutationID: m}
	}
	return o
}

// at returns the origin of c.
func (o origins) at(c change) originVals {
	if o.of != nil {
		if client, mutation, ok := o.of(c.table, c.id); ok {
			return originVals{clientID: client, mutationID: mutation}
		}
	}
	return o.def
}

// insertChanges writes changes to the log through exec, which runs SQL
// rendered for d; m is the Memo of a DB whose dialect is d, or nil.
func insertChanges(m *orm.Memo, d dialect.Dialect, region string, o origins, changes []change, exec func(string, []any) error) error {
	if len(changes) == 1 { // the common write: one row, its SQL rendered once
		c := changes[0]
		if err := exec(oneChangeSQL(m, d, c.scope != nil), c.values(region, o.at(c), c.scope != nil)); err != nil {
			return fmt.Errorf("plasma: change log: %w", err)
		}
		return nil
	}
	for len(changes) > 0 {
		n := min(len(changes), maxChangesPerInsert)
		text, args := renderChanges(d, region, o, changes[:n])
		changes = changes[n:]
		if err := exec(text, args); err != nil {
			return fmt.Errorf("plasma: change log: %w", err)
		}
	}
	return nil
}

// values are c's row in the log's column order (logInsert's), with its
// scope last if scoped.
func (c change) values(region string, o originVals, scoped bool) []any {
	var data any
	if c.data != nil {
		data = string(c.data)
	}
	if scoped {
		return []any{region, c.table, c.id, string(c.op), data, o.clientID, o.mutationID, c.scope}
	}
	return []any{region, c.table, c.id, string(c.op), data, o.clientID, o.mutationID}
}

// logInsert is the start of an INSERT of change rows, up to VALUES; with
// the scope column if scoped (only the log on PostgreSQL has it, and
// only changes logged there carry one).
func logInsert(scoped bool) string {
	if scoped {
		return `INSERT INTO "` + LogTable + `" ("region", "table_name", "row_id", "op", "data", "client_id", "mutation_id", "scope") VALUES `
	}
	return `INSERT INTO "` + LogTable + `" ("region", "table_name", "row_id", "op", "data", "client_id", "mutation_id") VALUES `
}

// anyScoped reports whether a change among changes carries a scope.
func anyScoped(changes []change) bool {
	for _, c := range changes {
		if c.scope != nil {
			return true
		}
	}
	return false
}

// renderChanges renders the INSERT of changes into the log for d.
func renderChanges(d dialect.Dialect, region string, o origins, changes []change) (string, []any) {
	b := dialect.GetBuilder(d)
	defer dialect.PutBuilder(b)
	scoped := anyScoped(changes)
	b.WriteString(logInsert(scoped))
	for i, c := range changes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for j, v := range c.values(region, o.at(c), scoped) {
			if j > 0 {
				b.WriteString(", ")
			}
			b.Bind(v)
		}
		b.WriteString(")")
	}
	return string(b.Buf), b.Args
}

// oneChangeKeys keep, in a DB's Memo, the INSERT of one change row for
// the DB's dialect, without and with a scope.
var oneChangeKeys = [2]*orm.MemoKey[string]{
	orm.NewMemoKey[string]("changelog.oneChangeSQL"),
	orm.NewMemoKey[string]("changelog.oneScopedChangeSQL"),
}

// oneChangeSQL returns the INSERT of one change row for d, with a scope
// if scoped, rendered once per database: m is the Memo of a DB whose
// dialect is d, or nil to render it every time. Its placeholders take
// change.values.
func oneChangeSQL(m *orm.Memo, d dialect.Dialect, scoped bool) string {
	key := oneChangeKeys[0]
	var c change
	if scoped {
		key, c.scope = oneChangeKeys[1], ""
	}
	return orm.MemoLoad(m, key, func() string {
		text, _ := renderChanges(d, "", origins{}, []change{c})
		return text
	})
}
