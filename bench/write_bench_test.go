package bench

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

// writeNotes is the synced table BenchmarkWrite updates; its rules let
// each user write only their own notes.
var (
	writeOwner = rowauth.Owner(expr.ColRef("write_notes", "owner_id")).Rule()
	writeNotes = orm.NewTable("write_notes", orm.ID(), orm.Text("owner_id"), orm.Text("title"), orm.Int("n")).
			With(orm.TableOptions{Auth: orm.TableAuth{Read: writeOwner, Write: writeOwner}})
	writeSchema = orm.MustDefineSchema("1", writeNotes)
)

// BenchmarkWrite measures what the change log and row auth add to a
// write: one transaction updating one row on SQLite, a file database opened
// as plasma opens it (WAL, a synced commit). plain has no middleware;
// changelog adds the change log (RETURNING the row image, one change row);
// trigger logs the write with the capture triggers instead
// (changelog.EnsureCapture, no middleware: a write made outside plasma);
// changelog_captured is the change log on a captured database, where its
// writes pass the triggers by a mark (one statement more on SQLite);
// changelog_rowauth is serverdb's DB acting for the row's owner (the write
// rule ANDed into WHERE; the update does not assign the rule's column, so
// it needs no re-check), on a captured database as serverdb sets it up.
// changelog_rowauth_recheck assigns the rule's column, which adds the
// RETURNING check and a savepoint.
func BenchmarkWrite(b *testing.B) {
	benchWrite(b, func(b *testing.B) *orm.DB { return openWriteSQLite(b, filepath.Join(b.TempDir(), "write.db")) })
}

// BenchmarkWriteMemory is BenchmarkWrite on an in-memory database: no
// commit flush, so it shows the middlewares' own cost.
func BenchmarkWriteMemory(b *testing.B) {
	benchWrite(b, func(b *testing.B) *orm.DB { return openWriteSQLite(b, ":memory:") })
}

// BenchmarkWritePostgres is BenchmarkWrite on PostgreSQL (lib/pq), in a
// schema of its own, with synchronous_commit off so that the commit's
// flush, which no case changes, does not drown the differences; it skips
// without PLASMA_TEST_POSTGRES.
func BenchmarkWritePostgres(b *testing.B) {
	async := pgDriver{name: "pq_async", open: func(dsn string) (*sql.DB, error) {
		return pgDrivers[0].open(withParam(dsn, "synchronous_commit", "off"))
	}}
	benchWrite(b, func(b *testing.B) *orm.DB { return pgOpen(b, async).db })
}

func openWriteSQLite(b *testing.B, path string) *orm.DB {
	sqldb, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sqldb.Close() })
	return orm.New(sqldb, sqlite.Dialect)
}

func benchWrite(b *testing.B, base func(b *testing.B) *orm.DB) {
	ctx := context.Background()
	open := func(b *testing.B) *orm.DB {
		db := base(b)
		if err := orm.EnsureSchema(ctx, writeSchema, db); err != nil {
			b.Fatal(err)
		}
		if err := changelog.Ensure(ctx, db); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Insert(writeNotes).Values(orm.Row{"id": "n1", "owner_id": "ann", "title": "", "n": 0}).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		return db
	}
	captured := func(b *testing.B) *orm.DB {
		db := open(b)
		if err := changelog.EnsureCapture(ctx, db, writeSchema, ""); err != nil {
			b.Fatal(err)
		}
		return db
	}
	ann := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "ann"})
	cases := []struct {
		name string
		db   func(b *testing.B) *orm.DB
		ctx  context.Context
		set  func(i int) orm.Row
	}{
		{"plain", open, ctx, nil},
		{"changelog", func(b *testing.B) *orm.DB {
			return open(b).Use(changelog.Middleware(changelog.Options{Schema: writeSchema}))
		}, ctx, nil},
		{"trigger", captured, ctx, nil},
		{"changelog_captured", func(b *testing.B) *orm.DB {
			return captured(b).Use(changelog.Middleware(changelog.Options{Schema: writeSchema}))
		}, ctx, nil},
		{"changelog_rowauth", func(b *testing.B) *orm.DB {
			db, err := serverdb.New(ctx, writeSchema, open(b))
			if err != nil {
				b.Fatal(err)
			}
			return db
		}, ann, nil},
		{"changelog_rowauth_recheck", func(b *testing.B) *orm.DB {
			db, err := serverdb.New(ctx, writeSchema, open(b))
			if err != nil {
				b.Fatal(err)
			}
			return db
		}, ann, func(i int) orm.Row { return orm.Row{"title": strconv.Itoa(i), "owner_id": "ann"} }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			db := c.db(b)
			where := expr.Eq(writeNotes.Col("id"), "n1")
			i := 0
			reportCPU(b)
			for b.Loop() {
				i++
				set := orm.Row{"title": strconv.Itoa(i)}
				if c.set != nil {
					set = c.set(i)
				}
				err := db.Tx(c.ctx, func(tx *orm.Tx) error {
					n, err := tx.Update(writeNotes).Set(set).Where(where).Exec(c.ctx)
					if err == nil && n != 1 {
						b.Fatalf("updated %d rows", n)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
