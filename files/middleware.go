package files

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// Middleware returns the write check for file columns: every INSERT,
// upsert and UPDATE built with the ORM that writes a file column is
// checked before it runs, on either engine, and refused with a
// *WriteError — nothing written — when a value
//
//   - is not a ref (ParseRef): raw bytes, a base64 string, a SQL
//     expression (ErrMalformed, ErrExpression);
//   - breaks the column's MaxSize or MIMEAllowList (ErrTooLarge,
//     ErrMIMENotAllowed);
//   - changes or clears a set ref of an Immutable column (ErrImmutable);
//   - names a blob its table's storage does not hold, or whose stored
//     size differs (ErrNotStored, ErrSizeMismatch);
//   - names a blob the writer has not shown it holds (ErrNotStored).
//
// The last rule is how a ref to someone else's blob is handled: a
// writer acting for an identity (rowauth.WithIdentity) may write a ref
// to h only if it uploaded h itself, or may already read a row that
// references h (among the first ReadAuthMaxRefs). Knowing a hash is
// therefore never enough to gain read access to its bytes by writing
// it into one's own row; the refusal is the same ErrNotStored a missing
// blob gets, so it reveals nothing. Trusted code (rowauth.AsSystem, or a
// context with no identity) skips the possession rule only.
//
// Install it in the DB given to the sync handler (server.Options.DB),
// ahead of plasma's own middlewares:
//
//	h, err := server.NewHandler(server.Options[App]{DB: db.Use(fs.Middleware()), …})
//
// Every write through it (to any table, raw SQL included; plasma's own
// bookkeeping tables aside) also drops, once committed, the download
// decisions the Service has cached (see Options.ReadAuthCacheTTL): a row
// auth rule may read any table.
func (s *Service) Middleware() orm.Middleware {
	return func(next orm.Handler) orm.Handler {
		check := s.checkWrite(next)
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if st.Op == orm.OpSelect {
				return next(ctx, st)
			}
			res, err := check(ctx, st)
			if mayChangeRows(st) {
				// In a transaction, after its commit; else now, after the write.
				st.DB.AfterCommit(s.auth.bump)
			}
			return res, err
		}
	}
}

// mayChangeRows reports whether a statement may change what a row auth
// rule reads: anything but a read and plasma's own bookkeeping (the
// sync server's client and view records, which it writes on every push
// and pull, and this package's records), so those do not empty the
// download cache.
func mayChangeRows(st *orm.Statement) bool {
	if st.Op != orm.OpRaw {
		return st.Table == nil || !strings.HasPrefix(st.Table.Name(), "_plasma_")
	}
	return !bookkeeping(st.SQL)
}

// writeWords start the parts of a statement that write a table named
// next. The test is conservative: a write it does not recognise makes the
// statement count as a change.
var writeWords = []string{"INSERT INTO ", "REPLACE INTO ", "UPDATE ", "DELETE FROM ", "MERGE INTO ", "TRUNCATE "}

// bookkeeping reports raw SQL that reads, or writes only _plasma_ tables
// (named quoted, as plasma writes them; CTEs included).
func bookkeeping(sql string) bool {
	u := strings.ToUpper(strings.TrimSpace(sql))
	if strings.HasPrefix(u, "SELECT ") {
		return true
	}
	wrote := false
	for _, w := range writeWords {
		for i := 0; ; {
			j := strings.Index(u[i:], w)
			if j < 0 {
				break
			}
			j += i
			i = j + len(w)
			if w == "UPDATE " && (strings.HasSuffix(u[:j], "DO ") || strings.HasSuffix(u[:j], "FOR ")) {
				continue // ON CONFLICT DO UPDATE, SELECT … FOR UPDATE: no new table
			}
			if !strings.HasPrefix(u[i:], `"_PLASMA_`) {
				return false
			}
			wrote = true
		}
	}
	return wrote
}

// checkWrite is the write check of Middleware.
func (s *Service) checkWrite(next orm.Handler) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		var check func(db *orm.DB) error
		returning := false
		switch q := st.Query.(type) {
		case *orm.InsertQuery:
			p := q.Parts()
			if tf := s.tableOf(p.Table); tf != nil {
				check = func(db *orm.DB) error { return s.checkInsert(ctx, db, tf, q) }
				returning = p.Returning.All || len(p.Returning.Columns) > 0
			}
		case *orm.UpdateQuery:
			p := q.Parts()
			if tf := s.tableOf(p.Table); tf != nil {
				check = func(db *orm.DB) error { return s.checkUpdate(ctx, db, tf, q) }
				returning = p.Returning.All || len(p.Returning.Columns) > 0
			}
		}
		switch {
		case check == nil:
			return next(ctx, st)
		case st.DB.IsTx() || returning:
			// A RETURNING write outside a transaction runs as it
			// is (its rows would not outlive a commit here): its
			// touch then guards it for GC's grace period only.
			if err := check(st.DB); err != nil {
				return nil, err
			}
			return next(ctx, st)
		}
		// The check's touch must hold its lock until the write
		// commits, so GC cannot slip between them: one transaction.
		var res *orm.Result
		err := st.DB.Tx(ctx, func(tx *orm.Tx) error {
			if err := check(tx.DB); err != nil {
				return err
			}
			in := *st
			in.DB = tx.DB
			r, err := next(ctx, &in)
			if err == nil {
				res = &orm.Result{RowsAffected: r.RowsAffected, Kinds: r.Kinds}
			}
			return err
		})
		return res, err
	}
}

func (s *Service) tableOf(t *orm.Table) *tableFiles {
	if t == nil {
		return nil
	}
	return s.tables[t.Name()]
}

// written is one value a statement writes to a file column.
type written struct {
	col *fileColumn
	ref *Ref // nil for NULL
}

func (s *Service) checkInsert(ctx context.Context, db *orm.DB, tf *tableFiles, q *orm.InsertQuery) error {
	p := q.Parts()
	var ws []written
	for i, name := range p.Columns {
		c := tf.byName[name]
		if c == nil {
			continue
		}
		for _, row := range p.Rows {
			w, err := parseWritten(c, row[i])
			if err != nil {
				return err
			}
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	if p.OnConflict != nil && !p.OnConflict.DoNothing {
		if err := s.checkUpsertImmutable(ctx, db, tf, p); err != nil {
			return err
		}
	}
	return s.checkRefs(ctx, db, tf, ws)
}

func (s *Service) checkUpdate(ctx context.Context, db *orm.DB, tf *tableFiles, q *orm.UpdateQuery) error {
	p := q.Parts()
	var ws []written
	for _, a := range p.Set {
		c := tf.byName[a.Column]
		if c == nil {
			continue
		}
		w, err := parseWritten(c, a.Value)
		if err != nil {
			return err
		}
		ws = append(ws, w)
		if c.opts.Immutable && !(w.ref == nil && clearing(ctx)) {
			if err := s.checkStored(ctx, db, tf, c, w.ref, p.Where); err != nil {
				return err
			}
		}
	}
	if len(ws) == 0 {
		return nil
	}
	return s.checkRefs(ctx, db, tf, ws)
}

// parseWritten decodes a value bound to a file column.
func parseWritten(c *fileColumn, v any) (written, error) {
	fail := func(err error) (written, error) {
		return written{}, &WriteError{Table: c.table, Column: c.name, Err: err}
	}
	for range 3 { // unwrap a driver.Valuer or a Param, a bounded number of times
		switch x := v.(type) {
		case nil:
			return written{col: c}, nil
		case Ref:
			if err := x.Validate(); err != nil {
				return fail(err)
			}
			return written{col: c, ref: &x}, nil
		case *Ref:
			if x == nil {
				return written{col: c}, nil
			}
			v = *x
			continue
		case *expr.Param:
			v = x.Value
			continue
		case expr.Expr:
			return fail(ErrExpression)
		case string:
			return parseText(c, []byte(x))
		case []byte:
			return parseText(c, x)
		case json.RawMessage:
			return parseText(c, x)
		case driver.Valuer:
			dv, err := x.Value()
			if err != nil {
				return fail(fmt.Errorf("%w: %v", ErrMalformed, err))
			}
			v = dv
			continue
		}
		break
	}
	return fail(fmt.Errorf("%w: a file column takes a Ref or its JSON text, not %T", ErrMalformed, v))
}

func parseText(c *fileColumn, b []byte) (written, error) {
	if string(b) == "null" {
		return written{col: c}, nil
	}
	r, err := ParseRef(b)
	if err != nil {
		return written{}, &WriteError{Table: c.table, Column: c.name, Err: err}
	}
	return written{col: c, ref: &r}, nil
}

// checkRefs applies the limits, then, per distinct hash, records the
// touch (locking the hash's row against GC in a transaction), checks
// the blob is stored with the ref's size, and checks possession.
func (s *Service) checkRefs(ctx context.Context, db *orm.DB, tf *tableFiles, ws []written) error {
	done := map[Hash]bool{}
	for _, w := range ws {
		if w.ref == nil {
			continue // NULL: NOT NULL is the database's, immutability checkStored's
		}
		fail := func(err error) error {
			return &WriteError{Table: w.col.table, Column: w.col.name, Hash: w.ref.Hash.String(), Err: err}
		}
		if err := w.col.check(*w.ref); err != nil {
			return fail(err)
		}
		if done[w.ref.Hash] {
			continue
		}
		done[w.ref.Hash] = true
		if err := s.touch(ctx, db, w.ref.Hash, w.ref.Size); err != nil {
			return err
		}
		info, err := tf.storage.Head(ctx, w.ref.Hash)
		if errors.Is(err, ErrNotFound) {
			return fail(ErrNotStored)
		} else if err != nil {
			return err
		}
		if info.Size != w.ref.Size {
			return fail(fmt.Errorf("%w: the ref says %d bytes, the blob has %d", ErrSizeMismatch, w.ref.Size, info.Size))
		}
		if err := s.checkPossession(ctx, db, w.ref.Hash); err != nil {
			if errors.Is(err, ErrNotStored) {
				return fail(ErrNotStored)
			}
			return err
		}
	}
	return nil
}

// checkPossession refuses (ErrNotStored) a writer acting for an identity
// that neither uploaded h nor may read a row referencing it.
func (s *Service) checkPossession(ctx context.Context, db *orm.DB, h Hash) error {
	id, ok := rowauth.IdentityFrom(ctx)
	if rowauth.IsSystem(ctx) || !ok {
		return nil
	}
	own, err := s.isOwner(ctx, db, h, id.UserID)
	if err != nil || own {
		return err
	}
	_, can, err := s.readableOn(ctx, db, h)
	if err != nil {
		return err
	}
	if !can {
		return ErrNotStored
	}
	return nil
}

// checkStored refuses an UPDATE of immutable column c whose WHERE
// matches a row (that the writer may read) holding a ref other than ref.
func (s *Service) checkStored(ctx context.Context, db *orm.DB, tf *tableFiles, c *fileColumn, ref *Ref, where []expr.Expr) error {
	if _, ok := rowauth.IdentityFrom(ctx); !ok {
		// Trusted code, or a database without row auth: every row.
		ctx = rowauth.AsSystem(ctx)
	}
	q := s.authDB.WithExecutor(db.Executor()).Select(tf.t.Col(c.name)).From(tf.t).Where(where...)
	rows, err := orm.Maps(ctx, q)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := sameRef(c, r[c.name], ref); err != nil {
			return err
		}
	}
	return nil
}

// checkUpsertImmutable looks up, by the conflict target, the rows an
// upsert may update, and refuses it if one holds another ref in an
// immutable column the upsert sets.
func (s *Service) checkUpsertImmutable(ctx context.Context, db *orm.DB, tf *tableFiles, p orm.InsertParts) error {
	for _, upd := range p.OnConflict.Update {
		c := tf.byName[upd]
		if c == nil || !c.opts.Immutable {
			continue
		}
		ci := indexOf(p.Columns, upd)
		target := p.OnConflict.Target
		if len(target) == 0 {
			target = tf.t.PrimaryKey()
		}
		for _, row := range p.Rows {
			var where []expr.Expr
			for _, tc := range target {
				ti := indexOf(p.Columns, tc)
				if ti < 0 {
					return &WriteError{Table: c.table, Column: c.name, Err: fmt.Errorf("%w: an upsert of an immutable file column must insert its conflict target", ErrImmutable)}
				}
				where = append(where, expr.Eq(tf.t.Col(tc), row[ti]))
			}
			w, err := parseWritten(c, row[ci])
			if err != nil {
				return err
			}
			if err := s.checkStored(ctx, db, tf, c, w.ref, where); err != nil {
				return err
			}
		}
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// sameRef compares a stored value (as orm.Maps decodes it) with the ref
// written; a stored NULL accepts anything.
func sameRef(c *fileColumn, stored any, ref *Ref) error {
	if stored == nil {
		return nil
	}
	var raw []byte
	switch v := stored.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		raw, _ = json.Marshal(v)
	}
	old, err := ParseRef(raw)
	if err == nil && ref != nil && old == *ref {
		return nil
	}
	h := ""
	if err == nil {
		h = old.Hash.String()
	}
	return &WriteError{Table: c.table, Column: c.name, Hash: h, Err: ErrImmutable}
}

// clearKey marks ReconcileRefs' own writes of NULL over a broken ref,
// which an Immutable column must let through.
type clearKey struct{}

func clearing(ctx context.Context) bool { return ctx.Value(clearKey{}) != nil }
