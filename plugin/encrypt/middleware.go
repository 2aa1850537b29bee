package encrypt

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
	"github.com/plasma-go/plasma/tabledef"
)

// IDColumn is the column whose value is the row id of a table's encrypted
// cells: an envelope written to a row must name that row's id.
const IDColumn = "id"

// Options configures the [Middleware].
type Options struct {
	// Limits are enforced on every envelope written, with
	// envelope.Validate: sizes, allowed key ids and allowed suites. The
	// zero value applies the envelope package's defaults (any well-formed
	// key id; the AES-256-GCM and post-quantum hybrid suites).
	Limits envelope.Limits
}

// Middleware returns an orm middleware that refuses every INSERT, upsert
// and UPDATE writing to an encrypted column anything but a valid envelope
// sealed for the cell being written; see the package documentation.
//
// Install it with orm.New, DB.Use or the orm.Open functions, before
// middlewares that record writes (such as a change log), so that a refused
// write is never seen by them. It needs no key.
//
// An UPDATE that writes an envelope, or that changes the id of a row with
// encrypted columns, is checked with a SELECT in the statement's
// transaction; outside a transaction the middleware opens one for the
// check and the write. If such an UPDATE has a RETURNING clause, that
// transaction commits when the returned rows are closed, and Close reports
// a failed commit.
func Middleware(opts Options) orm.Middleware {
	l := opts.Limits
	l.AllowedKeyIDs = slices.Clone(l.AllowedKeyIDs)
	l.AllowedSuites = slices.Clone(l.AllowedSuites)
	m := &enforcer{limits: l}
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			switch q := st.Query.(type) {
			case *orm.InsertQuery:
				return m.insert(ctx, next, st, q)
			case *orm.UpdateQuery:
				return m.update(ctx, next, st, q)
			}
			return next(ctx, st)
		}
	}
}

// enforcer holds the middleware's configuration.
type enforcer struct {
	limits envelope.Limits
}

// encryptedDef returns t's definition if t has an encrypted column.
func encryptedDef(t *orm.Table) *tabledef.Table {
	if t == nil {
		return nil
	}
	def := t.Def()
	if def == nil {
		return nil
	}
	for i := range def.Columns {
		if def.Columns[i].Encrypted {
			return def
		}
	}
	return nil
}

func isEncrypted(def *tabledef.Table, col string) bool {
	c := def.Column(col)
	return c != nil && c.Encrypted
}

// renders reports whether the orm accepts q. A statement it refuses is
// passed on untouched, so that the orm reports its own error, and nothing
// is written.
func renders(st *orm.Statement, q dialect.Appender) bool {
	type renderer interface {
		Render(dialect.Dialect) (string, []any, error)
	}
	r, ok := q.(renderer)
	if !ok || st.DB == nil {
		return false
	}
	_, _, err := r.Render(st.DB.Dialect())
	return err == nil
}

// validate checks an envelope's text against the limits and, when
// cell.RowID is known, that it claims cell.
func (m *enforcer) validate(text string, cell envelope.Cell) (envelope.Sealed, error) {
	env, err := envelope.ValidateJSON([]byte(text), m.limits)
	if err != nil {
		if errors.Is(err, envelope.ErrMalformed) {
			err = fmt.Errorf("%w: %w", ErrNotEnvelope, err)
		}
		return nil, err
	}
	if cell.RowID == "" {
		return env, nil
	}
	return env, envelope.CheckCell(env, cell)
}

// insert checks an INSERT, and an upsert's DO UPDATE.
func (m *enforcer) insert(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.InsertQuery) (*orm.Result, error) {
	parts := q.Parts()
	p := &parts
	def := encryptedDef(p.Table)
	if def == nil {
		return next(ctx, st)
	}
	var enc []int
	idIdx := -1
	for i, c := range p.Columns {
		if c == IDColumn {
			idIdx = i
		}
		if isEncrypted(def, c) {
			enc = append(enc, i)
		}
	}
	up := planUpsert(def, p)
	if len(enc) == 0 && up == nil {
		return next(ctx, st)
	}
	if !renders(st, q) {
		return next(ctx, st)
	}
	table := p.Table.Name()
	fail := func(col, row string, err error) error {
		return &Error{Op: orm.OpInsert, Table: table, Column: col, RowID: row, Err: err}
	}

	// A driver.Valuer is resolved once and its value bound, so that what
	// is checked is what is written: work on a copy of the rows then.
	copied := hasValuer(p.Rows, enc, idIdx)
	if copied {
		q, p = q.Rewrite()
		for r := range p.Rows {
			p.Rows[r] = slices.Clone(p.Rows[r])
		}
		c := *st
		c.Query = q
		st = &c
	}
	ids, err := m.checkInsertRows(p, enc, idIdx, copied, fail)
	if err != nil {
		return nil, err
	}
	if up == nil {
		return next(ctx, st)
	}
	if up.err != nil {
		return nil, fail(up.errColumn, "", up.err)
	}
	return inTx(ctx, st, next, func(db *orm.DB) (*orm.Statement, error) {
		if err := up.check(ctx, db, p, ids, fail); err != nil {
			return nil, err
		}
		c := *st
		c.DB = db
		return &c, nil
	})
}

// checkInsertRows checks the envelope each row writes to an encrypted
// column (enc, indexes into the columns) against the row's id (at
// idIdx, or -1) and returns the ids. When copied, the rows are the
// statement's own copies and get the resolved values bound.
func (m *enforcer) checkInsertRows(p *orm.InsertParts, enc []int, idIdx int, copied bool, fail func(col, row string, err error) error) ([]string, error) {
	table := p.Table.Name()
	ids := make([]string, len(p.Rows))
	for r, row := range p.Rows {
		if idIdx >= 0 {
			v, err := resolve(row[idIdx])
			if err != nil {
				return nil, fail(IDColumn, "", err)
			}
			if copied {
				row[idIdx] = v
			}
			ids[r], _ = rowIDString(v)
		}
		for _, i := range enc {
			col := p.Columns[i]
			text, null, err := envelopeText(row[i])
			if err != nil {
				return nil, fail(col, ids[r], err)
			}
			if copied {
				row[i] = text
				if null {
					row[i] = nil
				}
			}
			if null {
				continue
			}
			if ids[r] == "" {
				if _, err := m.validate(text, envelope.Cell{}); err != nil {
					return nil, fail(col, "", err)
				}
				return nil, fail(col, "", fmt.Errorf("%w: the row gives no %q", ErrNoRowID, IDColumn))
			}
			if _, err := m.validate(text, envelope.Cell{Table: table, RowID: ids[r], Column: col}); err != nil {
				return nil, fail(col, ids[r], err)
			}
		}
	}
	return ids, nil
}

// upsert is what must be checked for an upsert whose DO UPDATE may write
// encrypted cells of a row other than the one the inserted row names.
type upsert struct {
	target    []int    // indexes of the conflict target in the inserted columns
	updEnc    []int    // indexes of the encrypted columns the DO UPDATE sets
	idUpdated bool     // the DO UPDATE sets the id
	others    []string // encrypted columns the DO UPDATE leaves, when it sets the id
	err       error    // the upsert cannot be checked
	errColumn string   // the encrypted column err is reported on
}

// planUpsert returns nil when an upsert needs no lookup: no DO UPDATE, a
// conflict target that includes the id (so the conflicting row is the
// inserted row's namesake), or a DO UPDATE that touches no encrypted cell.
func planUpsert(def *tabledef.Table, p *orm.InsertParts) *upsert {
	oc := p.OnConflict
	if oc == nil || oc.DoNothing || slices.Contains(oc.Target, IDColumn) {
		return nil
	}
	upd := oc.Update
	if len(upd) == 0 {
		for _, c := range p.Columns {
			if !slices.Contains(oc.Target, c) {
				upd = append(upd, c)
			}
		}
	}
	u := &upsert{idUpdated: slices.Contains(upd, IDColumn)}
	for _, c := range upd {
		if i := slices.Index(p.Columns, c); i >= 0 && isEncrypted(def, c) {
			u.updEnc = append(u.updEnc, i)
		}
	}
	if u.idUpdated {
		for _, c := range def.Columns {
			if c.Encrypted && !slices.Contains(upd, c.Name) {
				u.others = append(u.others, c.Name)
			}
		}
	}
	if len(u.updEnc) == 0 && len(u.others) == 0 {
		return nil
	}
	for _, c := range oc.Target {
		i := slices.Index(p.Columns, c)
		if i < 0 {
			u.err = fmt.Errorf("%w: the upsert's conflict target %q is not among the inserted columns", ErrUnverifiable, c)
			if len(u.updEnc) > 0 {
				u.errColumn = p.Columns[u.updEnc[0]]
			} else {
				u.errColumn = u.others[0]
			}
			break
		}
		u.target = append(u.target, i)
	}
	return u
}

// check looks up, for each inserted row, the existing row it conflicts
// with, and refuses a DO UPDATE that would leave an envelope in a row it
// does not name.
func (u *upsert) check(ctx context.Context, db *orm.DB, p *orm.InsertParts, ids []string, fail func(col, row string, err error) error) error {
	t := p.Table
	cols := []expr.Expr{t.Col(IDColumn)}
	for _, o := range u.others {
		cols = append(cols, t.Col(o))
	}
	for r, row := range p.Rows {
		var written []string // encrypted columns this row's DO UPDATE sets to an envelope
		for _, i := range u.updEnc {
			if row[i] != nil {
				written = append(written, p.Columns[i])
			}
		}
		if len(written) == 0 && len(u.others) == 0 {
			continue
		}
		preds := make([]expr.Expr, 0, len(u.target))
		conflicts := true
		for _, i := range u.target {
			if row[i] == nil {
				conflicts = false // NULLs never conflict
				break
			}
			preds = append(preds, expr.Eq(t.Col(p.Columns[i]), row[i]))
		}
		if !conflicts {
			continue
		}
		found, err := lookup(ctx, db.Select(cols...).From(t).Where(preds...), len(cols))
		if err != nil {
			return err
		}
		for _, f := range found {
			eid, _ := rowIDString(f[0])
			if u.idUpdated {
				for k, o := range u.others {
					if f[1+k] != nil && eid != ids[r] {
						return fail(o, eid, fmt.Errorf("%w: the upsert changes row %q's id to %q, and its envelope names the old id",
							envelope.ErrCellMismatch, eid, ids[r]))
					}
				}
			} else if eid != ids[r] && len(written) > 0 {
				return fail(written[0], eid, fmt.Errorf("%w: the upsert would write the envelope for row %q into the conflicting row %q",
					envelope.ErrCellMismatch, ids[r], eid))
			}
		}
	}
	return nil
}

// updateCheck is what update learns about an UPDATE of a table with
// encrypted columns, on the copy it runs.
type updateCheck struct {
	t        *orm.Table
	def      *tabledef.Table
	p        *orm.UpdateParts
	fail     func(col, row string, err error) error
	encSet   []int  // the Set entries of encrypted columns
	idSet    int    // the Set entry of the id, or -1
	target   string // the row id the written envelopes name
	claimCol string // the column of the first envelope naming target
	newID    string // the id the UPDATE sets, when it sets one
	others   []string
	// others are the encrypted columns left as they are when the id
	// changes; violation matches a row the UPDATE must not write.
	violation expr.Expr
}

// update checks an UPDATE.
func (m *enforcer) update(ctx context.Context, next orm.Handler, st *orm.Statement, q *orm.UpdateQuery) (*orm.Result, error) {
	parts := q.Parts()
	def := encryptedDef(parts.Table)
	if def == nil {
		return next(ctx, st)
	}
	uc := &updateCheck{t: parts.Table, def: def}
	uc.findSets(parts.Set)
	if len(uc.encSet) == 0 && uc.idSet < 0 {
		return next(ctx, st)
	}
	if !renders(st, q) {
		return next(ctx, st)
	}
	table := uc.t.Name()
	uc.fail = func(col, row string, err error) error {
		return &Error{Op: orm.OpUpdate, Table: table, Column: col, RowID: row, Err: err}
	}
	// Work on a copy whose values are the checked texts.
	q, uc.p = q.Rewrite()
	if err := m.checkSetEnvelopes(uc); err != nil {
		return nil, err
	}
	if err := uc.plan(); err != nil {
		return nil, err
	}
	if uc.violation == nil {
		// Only NULLs written, or an id change with no other encrypted
		// cell to strand.
		c := *st
		c.Query = q
		return next(ctx, &c)
	}
	// The SELECT finds a matched row that would be written wrongly; the
	// guard keeps the UPDATE itself from writing one that starts matching
	// after the SELECT.
	where := slices.Clone(uc.p.Where)
	q.Where(expr.Not(uc.violation))
	return inTx(ctx, st, next, func(db *orm.DB) (*orm.Statement, error) {
		if err := uc.refuseViolation(ctx, db, where); err != nil {
			return nil, err
		}
		c := *st
		c.DB = db
		c.Query = q
		return &c, nil
	})
}

// findSets finds the Set entries of the id and of encrypted columns.
func (uc *updateCheck) findSets(set []orm.Assignment) {
	uc.idSet = -1
	for i, a := range set {
		switch {
		case a.Column == IDColumn:
			uc.idSet = i
		case isEncrypted(uc.def, a.Column):
			uc.encSet = append(uc.encSet, i)
		}
	}
}

// checkSetEnvelopes replaces each encrypted value set by its checked
// envelope text, and checks that every envelope names the same row.
func (m *enforcer) checkSetEnvelopes(uc *updateCheck) error {
	table := uc.t.Name()
	for _, i := range uc.encSet {
		a := &uc.p.Set[i]
		text, null, err := envelopeText(a.Value)
		if err != nil {
			return uc.fail(a.Column, "", err)
		}
		if null {
			a.Value = nil
			continue
		}
		a.Value = text
		env, err := m.validate(text, envelope.Cell{})
		if err != nil {
			return uc.fail(a.Column, "", err)
		}
		if uc.target == "" {
			uc.target, uc.claimCol = env.Header().Cell.RowID, a.Column
		}
		if err := envelope.CheckCell(env, envelope.Cell{Table: table, RowID: uc.target, Column: a.Column}); err != nil {
			return uc.fail(a.Column, uc.target, err)
		}
	}
	return nil
}

// plan works out which matched rows the UPDATE must not write: with a
// new id, a row with another id holding an encrypted cell the UPDATE
// leaves (its envelope would name the old id); with envelopes, a row
// other than the one they name.
func (uc *updateCheck) plan() error {
	if uc.idSet >= 0 {
		return uc.planIDChange()
	}
	if uc.target == "" {
		return nil
	}
	idDef := uc.def.Column(IDColumn)
	if idDef == nil {
		return uc.fail(uc.claimCol, uc.target, fmt.Errorf("%w: the table has no %q column", ErrNoRowID, IDColumn))
	}
	id, ok := idValue(idDef, uc.target)
	if !ok {
		return uc.fail(uc.claimCol, uc.target, fmt.Errorf("%w: the envelope names row %q, which is not an id of %s",
			envelope.ErrCellMismatch, uc.target, uc.t.Name()))
	}
	uc.violation = expr.Ne(uc.t.Col(IDColumn), id)
	return nil
}

// planIDChange binds the new id as a literal checked against the
// envelopes' row, and finds the encrypted cells the change would strand.
func (uc *updateCheck) planIDChange() error {
	a := &uc.p.Set[uc.idSet]
	v, err := literal(a.Value)
	if err != nil {
		return uc.fail(IDColumn, "", err)
	}
	a.Value = v
	id, ok := rowIDString(v)
	if !ok {
		return uc.fail(IDColumn, "", fmt.Errorf("%w: the new id is %s", ErrUnverifiable, describe(v)))
	}
	uc.newID = id
	if uc.target != "" && uc.target != uc.newID {
		return uc.fail(uc.claimCol, uc.newID, fmt.Errorf("%w: the update sets the id to %q, the envelope names row %q",
			envelope.ErrCellMismatch, uc.newID, uc.target))
	}
	var notNull []expr.Expr
	for _, c := range uc.def.Columns {
		if c.Encrypted && !slices.ContainsFunc(uc.p.Set, func(a orm.Assignment) bool { return a.Column == c.Name }) {
			uc.others = append(uc.others, c.Name)
			notNull = append(notNull, expr.IsNotNull(uc.t.Col(c.Name)))
		}
	}
	if len(uc.others) > 0 {
		uc.violation = expr.And(expr.Ne(uc.t.Col(IDColumn), v), expr.Or(notNull...))
	}
	return nil
}

// refuseViolation looks, in db, for a row matching where that the
// UPDATE must not write, and refuses the UPDATE if there is one.
func (uc *updateCheck) refuseViolation(ctx context.Context, db *orm.DB, where []expr.Expr) error {
	cols := []expr.Expr{uc.t.Col(IDColumn)}
	for _, o := range uc.others {
		cols = append(cols, uc.t.Col(o))
	}
	sel := db.Select(cols...).From(uc.t).Where(where...).Where(uc.violation).Limit(1)
	found, err := lookup(ctx, sel, len(cols))
	if err != nil || len(found) == 0 {
		return err
	}
	eid, _ := rowIDString(found[0][0])
	if uc.idSet < 0 {
		return uc.fail(uc.claimCol, eid, fmt.Errorf("%w: the update matches row %q, and the envelope names row %q",
			envelope.ErrCellMismatch, eid, uc.target))
	}
	col := uc.others[0]
	for k, o := range uc.others {
		if found[0][1+k] != nil {
			col = o
			break
		}
	}
	return uc.fail(col, eid, fmt.Errorf("%w: the update changes row %q's id to %q, and its envelope names the old id",
		envelope.ErrCellMismatch, eid, uc.newID))
}

// lookup runs sel and returns its rows as driver values.
func lookup(ctx context.Context, sel *orm.SelectQuery, ncols int) ([][]any, error) {
	res, err := sel.Rows(ctx)
	if err != nil {
		return nil, fmt.Errorf("encrypt: looking up the rows a write touches: %w", err)
	}
	defer res.Rows.Close()
	var out [][]any
	for res.Rows.Next() {
		vals := make([]any, ncols)
		ptrs := make([]any, ncols)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := res.Rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("encrypt: looking up the rows a write touches: %w", err)
		}
		out = append(out, vals)
	}
	if err := res.Rows.Err(); err != nil {
		return nil, fmt.Errorf("encrypt: looking up the rows a write touches: %w", err)
	}
	return out, res.Rows.Close()
}

// inTx runs verify and then next on the statement verify returns, in one
// transaction: the statement's own, or one it opens (see txrun.Run for
// the buffering and the refusal of executors that cannot begin one).
// verify gets the DB to run on, and returns the statement to run with
// that DB.
func inTx(ctx context.Context, st *orm.Statement, next orm.Handler, verify func(db *orm.DB) (*orm.Statement, error)) (*orm.Result, error) {
	return txrun.Run(ctx, st.DB, func(db *orm.DB) (*orm.Result, error) {
		s, err := verify(db)
		if err != nil {
			return nil, err
		}
		return next(ctx, s)
	})
}

// hasValuer reports whether a value at one of the given positions of the
// rows is a driver.Valuer.
func hasValuer(rows [][]any, enc []int, idIdx int) bool {
	for _, row := range rows {
		if idIdx >= 0 {
			if _, ok := row[idIdx].(driver.Valuer); ok {
				return true
			}
		}
		for _, i := range enc {
			if _, ok := row[i].(driver.Valuer); ok {
				return true
			}
		}
	}
	return false
}

// resolve returns the value a driver.Valuer stands for; other values are
// returned as they are.
func resolve(v any) (any, error) {
	for range 8 {
		vr, ok := v.(driver.Valuer)
		if !ok {
			return v, nil
		}
		var err error
		if v, err = vr.Value(); err != nil {
			return nil, fmt.Errorf("%w: its driver.Valuer failed: %v", ErrUnverifiable, err)
		}
	}
	return nil, fmt.Errorf("%w: driver.Valuer values nest too deep", ErrUnverifiable)
}

// literal returns the value an UPDATE assignment binds: an *expr.Param's
// value or a driver.Valuer's, resolved. Any other SQL expression cannot be
// checked before it runs.
func literal(v any) (any, error) {
	if p, ok := v.(*expr.Param); ok {
		v = p.Value
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil, nil
			}
			v = rv.Elem().Interface()
		}
	}
	if _, ok := v.(expr.Expr); ok {
		return nil, fmt.Errorf("%w: an SQL expression (%T)", ErrUnverifiable, v)
	}
	return resolve(v)
}

// envelopeText returns the JSON text a value written to an encrypted
// column binds as, with null reporting NULL. Values from the builders are
// already JSON text; an *expr.Param in an UPDATE is encoded as the orm
// encodes values for encrypted columns.
func envelopeText(v any) (text string, null bool, err error) {
	if p, ok := v.(*expr.Param); ok {
		v, err = encodeParam(p.Value)
		if err != nil {
			return "", false, err
		}
	}
	if v, err = literal(v); err != nil {
		return "", false, err
	}
	switch x := v.(type) {
	case nil:
		return "", true, nil
	case string:
		return x, false, nil
	case []byte:
		if x == nil {
			return "", true, nil
		}
		return string(x), false, nil
	}
	return "", false, fmt.Errorf("%w: %s", ErrNotEnvelope, describe(v))
}

// encodeParam encodes a bound parameter for an encrypted column: text
// forms as they are, a driver.Valuer resolved, anything else as JSON.
func encodeParam(v any) (any, error) {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, nil
		}
		if _, ok := v.(driver.Valuer); !ok {
			v = rv.Elem().Interface()
		}
	}
	switch x := v.(type) {
	case nil, string, []byte, driver.Valuer:
		return v, nil
	case json.RawMessage:
		return []byte(x), nil
	case expr.Expr:
		return nil, fmt.Errorf("%w: an SQL expression (%T)", ErrUnverifiable, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not encode as JSON: %v", ErrNotEnvelope, describe(v), err)
	}
	return string(b), nil
}

// rowIDString returns a row id value as the text an envelope names it by:
// text as it is, integers in decimal.
func rowIDString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case []byte:
		return string(x), len(x) > 0
	}
	if n, ok := dialect.AsInt64(v); ok {
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// idValue returns the id value to compare the id column with for the row
// id text s.
func idValue(id *tabledef.Column, s string) (any, bool) {
	switch id.Kind {
	case tabledef.KindInt, tabledef.KindBigInt:
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	return s, true
}

// describe names a value's type for an error without showing the value,
// which may be plaintext meant to be secret.
func describe(v any) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprintf("a %T value", v)
}
