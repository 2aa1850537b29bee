// Package serverdb prepares a database for server-side use: the schema's
// tables, the change log, and a DB that runs every statement through row
// auth and the change log. Backend jobs (scheduled mutators, compaction,
// blob GC) and tests use it, and so does the sync server.
//
//	db, err := serverdb.New(ctx, app.Schema, base)
//	// on behalf of a user: rules apply, writes are logged
//	err = db.Tx(rowauth.WithIdentity(ctx, rowauth.Identity{UserID: uid}), ...)
//	// trusted backend code: every row, writes still logged
//	err = db.Tx(rowauth.AsSystem(ctx), ...)
//
// It is the design's ServerDB(schema, executor, ctx), spelled the Go way:
// context first, and a *orm.DB (orm.New(executor, dialect), orm.OpenSQLite,
// orm.OpenPostgres) rather than a bare executor, since an executor does
// not say which SQL dialect it speaks.
package serverdb

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// Option configures New.
type Option func(*config)

type config struct {
	region string
	ensure bool
}

// Region sets the region the change log records writes under when their
// context names none (changelog.WithRegion). The default is
// changelog.DefaultRegion.
func Region(region string) Option { return func(c *config) { c.region = region } }

// SkipEnsure leaves the database's tables alone: New neither creates the
// schema's missing tables nor the change log's. Use it when migrations
// manage them.
func SkipEnsure() Option { return func(c *config) { c.ensure = false } }

// New creates the schema's missing tables (orm.EnsureSchema) and the
// change log's (changelog.EnsureLog), then returns db with row auth and the
// change log installed after db's own middlewares, row auth first, so that
// change rows are only written for authorised writes. db itself is left
// unchanged.
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
		if err := changelog.EnsureLog(ctx, db); err != nil {
			return nil, err
		}
	}
	return db.Use(
		rowauth.Middleware(),
		changelog.Middleware(changelog.Options{Region: cfg.region, Schema: schema}),
	), nil
}
