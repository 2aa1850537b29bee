package changelog

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	ic "github.com/plasma-go/plasma/internal/capture"
	"github.com/plasma-go/plasma/orm"
)

// CaptureTable marks a database whose synced tables are captured (see
// EnsureCapture); it holds the region outside writes are logged under.
const CaptureTable = ic.Table

// ErrCaptureName is EnsureCapture's error for a synced table, one of its
// columns or the region whose name has a NUL byte or is not UTF-8: the
// triggers write names into their SQL as string literals. Nothing is
// installed.
var ErrCaptureName = ic.ErrName

// captureKey names the capture of one schema and region for
// DB.EnsureOnce.
type captureKey struct {
	schema *orm.Schema
	region string
}

// EnsureCapture makes every write to the schema's synced tables reach the
// log, whoever makes it: raw SQL through database/sql, another ORM (GORM,
// bun, sqlx) on the same database, another process, a psql or sqlite3
// shell. It creates the log (Ensure) and installs, on each synced table
// with an id column, triggers that log each row an INSERT, UPDATE or
// DELETE writes, with its image, under region (empty: DefaultRegion) and
// with no origin; it replaces triggers that are out of date and drops
// those of tables no longer synced. Writes through Middleware are still
// logged by the middleware, with their origin and region, and the
// triggers let them pass, so each is logged once. Migrations run by
// package migrate keep the triggers in step with the schema.
//
// It is idempotent and cheap to call again (orm.DB.EnsureOnce). serverdb.New
// calls it, so a sync server captures by default.
//
// On SQLite a trigger's image holds a blob column as null (SQLite has no
// base64 encoder); pulls read rows from the tables and are not affected.
func EnsureCapture(ctx context.Context, db *orm.DB, schema *orm.Schema, region string) error {
	if db == nil || schema == nil {
		return errors.New("plasma: changelog.EnsureCapture: nil database or schema")
	}
	if !ic.Supported(db.Dialect()) {
		return fmt.Errorf("plasma: changelog.EnsureCapture: the %s dialect cannot capture writes", db.Dialect().Name())
	}
	if region == "" {
		region = DefaultRegion
	}
	if err := Ensure(ctx, db); err != nil {
		return err
	}
	err := db.EnsureOnce(ctx, captureKey{schema, region}, func(tx *orm.DB) error {
		return ic.Sync(ctx, tx.Executor(), tx.Dialect(), schema.Tables(), region)
	})
	if err != nil {
		return fmt.Errorf("plasma: changelog.EnsureCapture: %w", err)
	}
	captureOf(db).state.Store(captureOn)
	return nil
}

// pass is how the middleware's writes pass a captured database's
// triggers unlogged, since the middleware logs them itself
// (dialect.ChangeCapturer's CaptureSkip): on PostgreSQL an expression
// added to the write's RETURNING, on SQLite a mark set just before the
// write, which the write's change rows lapse.
type pass struct {
	returning  expr.Expr
	set, clear string
}

// captureInfo is what the middleware knows of a database's capture.
type captureInfo struct {
	state atomic.Int32
	pass  *pass
}

// The states of a database's capture.
const (
	captureUnknown int32 = iota
	captureOn
	captureOff
)

var captureStateKey = orm.NewMemoKey[*captureInfo]("changelog.capture")

func captureOf(db *orm.DB) *captureInfo {
	return orm.MemoLoad(db.Memo(), captureStateKey, func() *captureInfo {
		ci := &captureInfo{}
		if cc, ok := db.Dialect().(dialect.ChangeCapturer); ok {
			set, clear, ret := cc.CaptureSkip(ic.Spec(db.Dialect(), nil, ""))
			ci.pass = &pass{set: set, clear: clear}
			if ret != "" {
				ci.pass.returning = &expr.Raw{SQL: ret}
			}
		}
		return ci
	})
}

// passFor returns how writes pass db's capture triggers, or nil when its
// database does not capture. It looks the capture up once per database
// (EnsureCapture records it at once): a database that starts capturing
// after the middleware looked, set up by another process, is not noticed
// until this one restarts or calls EnsureCapture.
func passFor(ctx context.Context, db *orm.DB) (*pass, error) {
	ci := captureOf(db)
	switch ci.state.Load() {
	case captureOn:
		return ci.pass, nil
	case captureOff:
		return nil, nil
	}
	if ci.pass == nil {
		ci.state.Store(captureOff)
		return nil, nil
	}
	_, ok, err := ic.Installed(ctx, db.Executor(), db.Dialect())
	if err != nil {
		return nil, fmt.Errorf("plasma: change log: %w", err)
	}
	if ok {
		ci.state.Store(captureOn)
		return ci.pass, nil
	}
	ci.state.Store(captureOff)
	return nil, nil
}

// mark marks the write about to run on db, where the database needs a
// mark set before it (SQLite), and reports whether it did. Writes held
// in a batch share one mark: their change rows wait for Flush, so
// nothing lapses it in between.
func (ps *pass) mark(ctx context.Context, next orm.Handler, db *orm.DB) (bool, error) {
	if ps == nil || ps.set == "" {
		return false, nil
	}
	b := batchFor(ctx, db)
	if b != nil && b.marked.Load() {
		return false, nil
	}
	if err := run(ctx, next, db, ps.set); err != nil {
		return false, err
	}
	if b != nil {
		b.marked.Store(true)
	}
	return true, nil
}

// unmark clears a mark that no change row lapsed: after a write that
// logged nothing, or failed.
func (ps *pass) unmark(ctx context.Context, next orm.Handler, db *orm.DB) error {
	if ps == nil || ps.clear == "" {
		return nil
	}
	if b := batchFor(ctx, db); b != nil {
		b.marked.Store(false)
	}
	return run(ctx, next, db, ps.clear)
}

// addReturning adds the pass's RETURNING expression to r, after every
// column it returns.
func (ps *pass) addReturning(r *orm.Returning, p *plan) {
	if ps == nil || ps.returning == nil {
		return
	}
	if r.All {
		r.All = false
		r.Columns = append([]expr.Expr(nil), p.exprs...)
	}
	r.Columns = append(r.Columns[:len(r.Columns):len(r.Columns)], ps.returning)
}

// beforeRaw runs before a raw statement (DB.Exec, DB.Query), which the
// triggers must see: it clears the mark a batch holds on db.
func beforeRaw(ctx context.Context, next orm.Handler, db *orm.DB) error {
	b := batchFor(ctx, db)
	if b == nil || !b.marked.Load() {
		return nil
	}
	ps, err := passFor(ctx, db)
	if err != nil {
		return err
	}
	return ps.unmark(ctx, next, db)
}

// clearMark clears, on tx, a mark its batch held (see Batch.FlushWith).
func clearMark(ctx context.Context, tx *orm.DB) error {
	ci := captureOf(tx)
	if ci.pass == nil || ci.pass.clear == "" {
		return nil
	}
	if _, err := tx.Executor().ExecContext(ctx, ci.pass.clear); err != nil {
		return fmt.Errorf("plasma: change log: %w", err)
	}
	return nil
}

func run(ctx context.Context, next orm.Handler, db *orm.DB, text string) error {
	if _, err := next(ctx, &orm.Statement{Op: orm.OpRaw, SQL: text, DB: db}); err != nil {
		return fmt.Errorf("plasma: change log: %w", err)
	}
	return nil
}
