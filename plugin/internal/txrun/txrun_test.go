package txrun_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/encrypt"
	"github.com/plasma-go/plasma/plugin/internal/txrun"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

var (
	posts = orm.NewTable("txr_posts", orm.ID(), orm.Text("owner_id"), orm.CRDTCounter("likes"),
		orm.Text("body").Encrypted().Nullable()).
		With(orm.TableOptions{Auth: orm.TableAuth{Write: rowauth.Owner(expr.ColRef("txr_posts", "owner_id")).Rule()}})
	notes  = orm.NewTable("txr_notes", orm.ID(), orm.Text("title")).With(orm.TableOptions{ChangeLogSuppressed: true})
	schema = orm.MustDefineSchema("txr-1", posts, notes)
)

// poolOnly is an executor that can begin no transaction and is not one:
// a pool seen through ExecContext and QueryContext alone.
type poolOnly struct{ db *sql.DB }

func (p poolOnly) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, q, args...)
}

func (p poolOnly) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, q, args...)
}

func setup(t *testing.T, tg *ormtest.Target) context.Context {
	t.Helper()
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, schema, tg.DB); err != nil {
		t.Fatal(err)
	}
	if err := changelog.Ensure(ctx, tg.DB); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func titles(t *testing.T, tg *ormtest.Target) []string {
	t.Helper()
	got, err := orm.All[string](context.Background(), tg.DB.Select(notes.Col("title")).From(notes).OrderBy(expr.Asc(notes.Col("title"))))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// insertReturning is a write whose rows Run hands back.
func insertReturning(ctx context.Context, db *orm.DB, title string) (*orm.Result, error) {
	q := db.Insert(notes).Values(orm.Row{"id": title, "title": title}).Returning(notes.Col("title"))
	text, args, err := q.Render(db.Dialect())
	if err != nil {
		return nil, err
	}
	return db.Run(ctx, &orm.Statement{Op: orm.OpInsert, Table: notes, Query: q, SQL: text, Args: args, DB: db})
}

func readTitles(t *testing.T, res *orm.Result) []string {
	t.Helper()
	var out []string
	for res.Rows.Next() {
		var s string
		if err := res.Rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := res.Rows.Err(); err != nil {
		t.Fatal(err)
	}
	res.Rows.Close()
	return out
}

// TestRunOpensCommitsAndBuffers: on a pool and on a *sql.Conn (both can
// begin) Run opens a transaction, the returned rows survive its commit,
// and the write is committed.
func TestRunOpensCommitsAndBuffers(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := setup(t, tg)
		conn, err := tg.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, c := range []struct {
			name string
			db   *orm.DB
		}{{"pool", tg.DB}, {"conn", tg.DB.WithExecutor(conn)}} {
			var inside bool
			res, err := txrun.Run(ctx, c.db, func(tx *orm.DB) (*orm.Result, error) {
				inside = tx.IsTx()
				return insertReturning(ctx, tx, c.name)
			})
			if err != nil || !inside {
				t.Fatalf("%s: %v (in a transaction: %v)", c.name, err, inside)
			}
			if got := readTitles(t, res); len(got) != 1 || got[0] != c.name {
				t.Fatalf("%s: returned rows after commit: %q", c.name, got)
			}
		}
		if got := titles(t, tg); len(got) != 2 {
			t.Fatalf("committed: %q", got)
		}
	})
}

// TestRunRollsBack: fn's error rolls back what it wrote.
func TestRunRollsBack(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := setup(t, tg)
		boom := errors.New("boom")
		_, err := txrun.Run(ctx, tg.DB, func(tx *orm.DB) (*orm.Result, error) {
			if _, err := insertReturning(ctx, tx, "gone"); err != nil {
				return nil, err
			}
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if got := titles(t, tg); len(got) != 0 {
			t.Fatalf("rolled-back write visible: %q", got)
		}
	})
}

// TestRunJoinsCallersTx: in a caller's transaction, plasma's or a raw
// *sql.Tx handed to orm.New, fn runs in it, and the caller's rollback
// undoes it.
func TestRunJoinsCallersTx(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := setup(t, tg)
		begin := []func() (*orm.DB, func() error, error){
			func() (*orm.DB, func() error, error) {
				tx, err := tg.DB.Begin(ctx)
				if err != nil {
					return nil, nil, err
				}
				return tx.DB, tx.Rollback, nil
			},
			func() (*orm.DB, func() error, error) {
				sqltx, err := tg.SQL.BeginTx(ctx, nil)
				if err != nil {
					return nil, nil, err
				}
				return orm.New(sqltx, tg.Dialect), sqltx.Rollback, nil
			},
		}
		for i, b := range begin {
			db, rollback, err := b()
			if err != nil {
				t.Fatal(err)
			}
			res, err := txrun.Run(ctx, db, func(in *orm.DB) (*orm.Result, error) {
				if in != db {
					t.Errorf("%d: Run did not run fn on the caller's DB", i)
				}
				return insertReturning(ctx, in, "x")
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := readTitles(t, res); len(got) != 1 {
				t.Errorf("%d: returned %q", i, got)
			}
			if err := rollback(); err != nil {
				t.Fatal(err)
			}
			if got := titles(t, tg); len(got) != 0 {
				t.Fatalf("%d: rolled back by the caller, yet visible: %q", i, got)
			}
		}
	})
}

// TestRunRefusesExecutorThatCannotBegin: an executor that is neither a
// Beginner nor a transaction is refused, with ErrNoBeginner, before fn
// runs.
func TestRunRefusesExecutorThatCannotBegin(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := setup(t, tg)
		db := orm.New(poolOnly{tg.SQL}, tg.Dialect)
		ran := false
		_, err := txrun.Run(ctx, db, func(*orm.DB) (*orm.Result, error) { ran = true; return nil, nil })
		if !errors.Is(err, orm.ErrNoBeginner) || ran {
			t.Fatalf("ran %v, err %v", ran, err)
		}
		// orm.InTx keeps the same policy.
		if err := orm.InTx(ctx, db, func(*orm.DB) error { ran = true; return nil }); !errors.Is(err, orm.ErrNoBeginner) || ran {
			t.Fatalf("orm.InTx: ran %v, err %v", ran, err)
		}
		// Plain statements still run on it.
		if _, err := db.Insert(notes).Values(orm.Row{"id": "x", "title": "x"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPluginsRefuseExecutorThatCannotBegin: each plugin whose write needs
// a transaction refuses such an executor the same way, and writes
// nothing.
func TestPluginsRefuseExecutorThatCannotBegin(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := setup(t, tg)
		if _, err := tg.DB.Insert(posts).Values(orm.Row{"id": "p1", "owner_id": "u1", "likes": crdt.Empty(crdt.KindCounter)}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		key, err := envelope.NewKey("k1", bytes.Repeat([]byte{1}, envelope.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		ks, err := envelope.NewKeyset(key)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := encrypt.SealCell(ks, "txr_posts", "p1", "body", []byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		p1 := expr.Eq(posts.Col("id"), "p1")
		uctx := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "u1"})
		for _, c := range []struct {
			name  string
			mw    orm.Middleware
			write func(db *orm.DB) error
		}{
			{"changelog", changelog.Middleware(changelog.Options{}), func(db *orm.DB) error {
				_, err := db.Insert(posts).Values(orm.Row{"id": "p2", "owner_id": "u1", "likes": crdt.Empty(crdt.KindCounter)}).Exec(ctx)
				return err
			}},
			{"crdtcol", crdtcol.Middleware(crdtcol.Options{}), func(db *orm.DB) error {
				_, err := db.Update(posts).Set(orm.Row{"likes": crdtcol.Incr(1)}).Where(p1).Exec(changelog.WithOrigin(ctx, "c1", 1))
				return err
			}},
			{"encrypt", encrypt.Middleware(encrypt.Options{}), func(db *orm.DB) error {
				_, err := db.Update(posts).Set(orm.Row{"body": sealed}).Where(p1).Exec(ctx)
				return err
			}},
			{"rowauth", rowauth.Middleware(), func(db *orm.DB) error {
				_, err := db.Insert(posts).Values(orm.Row{"id": "p3", "owner_id": "u1", "likes": crdt.Empty(crdt.KindCounter)}).Exec(uctx)
				return err
			}},
		} {
			db := orm.New(poolOnly{tg.SQL}, tg.Dialect, c.mw)
			if err := c.write(db); !errors.Is(err, orm.ErrNoBeginner) {
				t.Errorf("%s: %v, want ErrNoBeginner", c.name, err)
			}
		}
		type row struct {
			ID    string         `db:"id"`
			Likes string         `db:"likes"`
			Body  sql.NullString `db:"body"`
		}
		rows, err := orm.All[row](ctx, tg.DB.Select(posts.Col("id"), posts.Col("likes"), posts.Col("body")).From(posts))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Body.Valid {
			t.Errorf("a refused write left rows: %+v", rows)
		}
		if g, err := crdt.DecodeGCounter([]byte(rows[0].Likes), crdt.DefaultLimits()); err != nil || g.Read() != 0 {
			t.Errorf("a refused merge changed the counter: %s %v", rows[0].Likes, err)
		}
		if cs, _, err := changelog.ChangesSince(ctx, tg.DB, changelog.DefaultRegion, 0, 0); err != nil || len(cs) != 0 {
			t.Errorf("a refused write was logged: %d changes, %v", len(cs), err)
		}
	})
}

// TestRowAuthInsertReturningKeepsRows: row auth's SQLite insert path
// (check the proposed rows, then write) runs in a transaction it opens;
// the rows of a RETURNING must be read before that commits. They were
// lost ("sql: Rows are closed") while the row was written.
func TestRowAuthInsertReturningKeepsRows(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := setup(t, tg)
		db := tg.DB.Use(rowauth.Middleware())
		uctx := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "u1"})
		ids, err := orm.All[string](uctx, db.Insert(posts).
			Values(orm.Row{"id": "p9", "owner_id": "u1", "likes": crdt.Empty(crdt.KindCounter)}).
			Returning(posts.Col("id")))
		if err != nil || len(ids) != 1 || ids[0] != "p9" {
			t.Fatalf("RETURNING gave %q, %v", ids, err)
		}
	})
}
