// Package serverdb prepares a database for server-side use: the schema's
// tables, the change log, and a DB that runs every statement through row
// auth, encrypted-column checks, CRDT merging and the change log. Backend
// jobs (scheduled mutators, compaction, blob GC) and tests use it, and so
// does the sync server.
//
//	db, err := serverdb.New(ctx, app.Schema, base)
//	// on behalf of a user: rules apply, writes are logged
//	err = db.Tx(rowauth.WithIdentity(ctx, rowauth.Identity{UserID: uid}), ...)
//	// trusted backend code: every row, writes still logged
//	err = db.Tx(rowauth.AsSystem(ctx), ...)
//
// It is the design's ServerDB(schema, executor, ctx), spelled the Go way:
// context first, and a *orm.DB (orm.New(executor, dialect) or
// orm.Open(dialect, dsn)) rather than a bare executor, since an executor does
// not say which SQL dialect it speaks.
package serverdb

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/encrypt"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// Option configures New.
type Option func(*config)

type config struct {
	region         string
	ensure         bool
	envelopeLimits envelope.Limits
}

// EnvelopeLimits sets what the encrypted-column check accepts from
// clients (sizes, key ids, suites); the default is envelope's defaults.
func EnvelopeLimits(l envelope.Limits) Option { return func(c *config) { c.envelopeLimits = l } }

// Region sets the region the change log records writes under when their
// context names none (changelog.WithRegion), and writes made outside
// plasma (changelog.EnsureCapture). The default is changelog.DefaultRegion.
func Region(region string) Option { return func(c *config) { c.region = region } }

// SkipEnsure leaves the database's tables alone: New neither creates the
// schema's missing tables nor the change log's, nor installs the capture
// triggers. Use it when migrations manage them; call
// changelog.EnsureCapture once to capture writes made outside plasma
// (migrations keep the triggers in step from then on).
func SkipEnsure() Option { return func(c *config) { c.ensure = false } }

// New creates the schema's missing tables (orm.EnsureSchema), the
// change log's, and the triggers that log writes made outside plasma
// (changelog.EnsureCapture: raw SQL, other ORMs, other processes; on a
// dialect that cannot capture, just the log), then returns db with plasma's
// plugins installed after db's own middlewares, in this order: row auth,
// encrypted-column checks, CRDT merging, the change log. So change rows are
// only written for authorised, well-formed writes, and they hold merged
// CRDT state. db itself is left unchanged.
func New(ctx context.Context, schema *orm.Schema, db *orm.DB, opts ...Option) (*orm.DB, error) {
	if schema == nil || db == nil {
		return nil, fmt.Errorf("plasma: serverdb.New: nil schema or database")
	}
	cfg := config{ensure: true}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.ensure {
		if err := orm.EnsureSchema(ctx, schema, db); err != nil {
			return nil, err
		}
		if _, ok := db.Dialect().(dialect.ChangeCapturer); ok {
			if err := changelog.EnsureCapture(ctx, db, schema, cfg.region); err != nil {
				return nil, err
			}
		} else if err := changelog.Ensure(ctx, db); err != nil {
			return nil, err
		}
	}
	// Order matters: row auth refuses before anything else looks at a
	// write; encryption refuses plaintext before CRDT merging reads the
	// row; CRDT merging rewrites values before the change log records
	// them, so the log holds the merged state.
	return db.Use(
		rowauth.Middleware(),
		encrypt.Middleware(encrypt.Options{Limits: cfg.envelopeLimits}),
		crdtcol.Middleware(crdtcol.Options{}),
		changelog.Middleware(changelog.Options{Region: cfg.region, Schema: schema}),
	), nil
}
