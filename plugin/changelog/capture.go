package changelog

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/plasma-go/plasma/expr"
	ic "github.com/plasma-go/plasma/internal/capture"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
)

// CaptureTable marks a database whose synced tables are captured (see
// EnsureCapture); it holds the region outside writes are logged under.
const CaptureTable = ic.Table

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
	captureOf(db.Memo()).Store(captureOn)
	return nil
}

// The states of a database's capture, as the middleware knows it.
const (
	captureUnknown int32 = iota
	captureOn
	captureOff
)

var captureStateKey = orm.NewMemoKey[*atomic.Int32]("changelog.capture")

func captureOf(m *orm.Memo) *atomic.Int32 {
	return orm.MemoLoad(m, captureStateKey, func() *atomic.Int32 { return new(atomic.Int32) })
}

// captured reports whether db's database captures writes, looking it up
// once per database (EnsureCapture records it at once). A database that
// starts capturing after the middleware looked, set up by another
// process, is not noticed until this one restarts or calls
// EnsureCapture.
func captured(ctx context.Context, db *orm.DB) (bool, error) {
	s := captureOf(db.Memo())
	switch s.Load() {
	case captureOn:
		return true, nil
	case captureOff:
		return false, nil
	}
	if !ic.Supported(db.Dialect()) {
		s.Store(captureOff)
		return false, nil
	}
	_, ok, err := ic.Installed(ctx, db.Executor(), db.Dialect())
	if err != nil {
		return false, fmt.Errorf("plasma: change log: %w", err)
	}
	if ok {
		s.Store(captureOn)
	} else {
		s.Store(captureOff)
	}
	return ok, nil
}

// skipMarker, in a RETURNING clause, tells PostgreSQL's capture triggers
// to let the statement's rows pass: RETURNING is computed as each row is
// written, before the AFTER triggers run at the end of the statement, and
// the setting names this statement alone (its statement_timestamp), so a
// later statement of the same transaction, another ORM's say, is
// captured. Rows that foreign-key actions change run in the same
// statement and pass too: the middleware logs those itself (Options.Schema).
var skipMarker = &expr.Raw{SQL: `set_config('` + ic.Setting + `', statement_timestamp()::text, true)`}

// withSkip adds skipMarker to r, after every column it returns.
func withSkip(r *orm.Returning, p *plan) {
	if r.All {
		r.All = false
		r.Columns = append([]expr.Expr(nil), p.exprs...)
	}
	r.Columns = append(r.Columns[:len(r.Columns):len(r.Columns)], skipMarker)
}

// skipSQL sets SQLite's skip flag, which the capture triggers read.
var skipSQL = [2]string{
	`UPDATE "` + ic.Table + `" SET "skip" = 0`,
	`UPDATE "` + ic.Table + `" SET "skip" = 1`,
}

// skipping runs write with SQLite's capture triggers told to let its rows
// pass, when the database captures writes: SQLite runs one writer at a
// time, so the flag, set in the transaction just before the write and
// cleared just after, covers this statement alone. On PostgreSQL the
// marker travels in the statement's RETURNING instead (skipMarker).
func skipping(ctx context.Context, next orm.Handler, db *orm.DB, write func() (*orm.Result, error)) (*orm.Result, error) {
	if concurrentWrites(db.Dialect()) {
		return write()
	}
	on, err := captured(ctx, db)
	if err != nil || !on {
		if err != nil {
			return nil, err
		}
		return write()
	}
	set := func(v int) error {
		_, err := next(ctx, &orm.Statement{Op: orm.OpRaw, SQL: skipSQL[v], DB: db})
		if err != nil {
			return fmt.Errorf("plasma: change log: %w", err)
		}
		return nil
	}
	if err := set(1); err != nil {
		return nil, err
	}
	res, err := write()
	if err == nil && res != nil && res.Rows != nil {
		// The rows are written as they are read: read them all first.
		var buf *rowbuf.Buffer
		if buf, err = rowbuf.Read(res.Rows); err == nil {
			res = buf.Result(len(buf.Columns), res.Kinds)
		}
	}
	if rerr := set(0); err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// markSkip adds skipMarker to a PostgreSQL write of a captured database.
func markSkip(ctx context.Context, db *orm.DB) (bool, error) {
	if !concurrentWrites(db.Dialect()) {
		return false, nil
	}
	return captured(ctx, db)
}
