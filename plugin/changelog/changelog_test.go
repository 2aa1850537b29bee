package changelog_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/tabledef"
)

var (
	lists = orm.NewTable("lists", orm.ID(), orm.Text("name"), orm.JSON("meta").Nullable())
	todos = orm.NewTable("todos", orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade),
		orm.Text("title"), orm.Boolean("done").Default(false), orm.Int("n").Default(0), orm.Blob("pic").Nullable())
	notes = orm.NewTable("notes", orm.ID(),
		orm.Text("todo_id").Nullable().References("todos", "id", tabledef.SetNull), orm.Text("body"))
	secrets = orm.NewTable("secrets", orm.ID(), orm.Text("v")).With(orm.TableOptions{ChangeLogSuppressed: true})
	tree    = orm.NewTable("tree", orm.ID(), orm.Text("parent").Nullable().References("tree", "id", tabledef.Cascade))
	schema  = orm.MustDefineSchema("1", lists, todos, notes, secrets, tree)
)

// setup returns tg's DB with the change log installed, capture triggers
// included (as serverdb installs it): every test that counts the changes
// of a write through the middleware also shows that the triggers let it
// pass, so that it is logged once.
func setup(t *testing.T, tg *ormtest.Target) *orm.DB {
	t.Helper()
	return setupSchema(t, tg, schema)
}

// setupSchema is setup for the tables of s.
func setupSchema(t *testing.T, tg *ormtest.Target, s *orm.Schema) *orm.DB {
	t.Helper()
	ctx := context.Background()
	db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: s}))
	if err := orm.EnsureSchema(ctx, s, db); err != nil {
		t.Fatal(err)
	}
	if err := changelog.EnsureCapture(ctx, db, s, ""); err != nil {
		t.Fatal(err)
	}
	return db
}

// reader follows a region's log like a pull loop does.
type reader struct {
	t      *testing.T
	db     *orm.DB
	region string
	cursor int64
}

// next returns every change published since the last call.
func (r *reader) next() []changelog.Change {
	r.t.Helper()
	var all []changelog.Change
	for {
		cs, cur, err := changelog.ChangesSince(context.Background(), r.db, r.region, r.cursor, 100)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, c := range cs {
			if c.Version <= r.cursor {
				r.t.Fatalf("version %d at or below cursor %d", c.Version, r.cursor)
			}
			r.cursor = c.Version
		}
		if cur != r.cursor {
			r.t.Fatalf("returned cursor %d, last version %d", cur, r.cursor)
		}
		all = append(all, cs...)
		if len(cs) < 100 {
			return all
		}
	}
}

type brief struct {
	Table, ID string
	Op        changelog.Op
	Row       map[string]any
}

func briefs(t *testing.T, cs []changelog.Change) []brief {
	t.Helper()
	out := make([]brief, len(cs))
	for i, c := range cs {
		out[i] = brief{Table: c.Table, ID: c.RowID, Op: c.Op}
		if c.Row != nil {
			if err := json.Unmarshal(c.Row, &out[i].Row); err != nil {
				t.Fatalf("row image %s: %v", c.Row, err)
			}
		} else if c.Op == changelog.OpPut {
			t.Fatalf("put without image: %+v", c)
		}
	}
	return out
}

func want(t *testing.T, got []changelog.Change, exp ...brief) {
	t.Helper()
	b := briefs(t, got)
	if len(b) == 0 && len(exp) == 0 {
		return
	}
	if !reflect.DeepEqual(b, exp) {
		t.Fatalf("changes:\n got %+v\nwant %+v", b, exp)
	}
}

func todoRow(id, list, title string, done bool, n float64) map[string]any {
	return map[string]any{"id": id, "list_id": list, "title": title, "done": done, "n": n, "pic": nil}
}

// TestWriteShapes follows one log through every shape of write. It is
// one long function on purpose: each step's expected changes depend on
// the rows the earlier steps left.
func TestWriteShapes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setup(t, tg)
		r := &reader{t: t, db: db, region: changelog.DefaultRegion}

		// Single-row insert outside a transaction: the middleware opens one.
		if _, err := db.Insert(lists).Values(orm.Row{"id": "L1", "name": "home", "meta": map[string]any{"b": []int{1, 2}, "a": "x"}}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next(), brief{"lists", "L1", changelog.OpPut, map[string]any{"id": "L1", "name": "home", "meta": map[string]any{"a": "x", "b": []any{1.0, 2.0}}}})

		// Multi-row insert; defaults show in the image.
		if _, err := db.Insert(todos).Values(
			orm.Row{"id": "t1", "list_id": "L1", "title": "a"},
			orm.Row{"id": "t2", "list_id": "L1", "title": "b"},
			orm.Row{"id": "t3", "list_id": "L1", "title": "c"},
		).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next(),
			brief{"todos", "t1", changelog.OpPut, todoRow("t1", "L1", "a", false, 0)},
			brief{"todos", "t2", changelog.OpPut, todoRow("t2", "L1", "b", false, 0)},
			brief{"todos", "t3", changelog.OpPut, todoRow("t3", "L1", "c", false, 0)})

		// Update of several rows, with an expression: the images are the rows
		// after the write.
		n, err := db.Update(todos).Set(orm.Row{"done": true, "n": expr.SQL("? + 5", todos.Col("n"))}).
			Where(expr.InArray(todos.Col("id"), []string{"t1", "t2"})).Exec(ctx)
		if err != nil || n != 2 {
			t.Fatal(n, err)
		}
		got := r.next()
		if len(got) != 2 {
			t.Fatalf("%+v", got)
		}
		for _, b := range briefs(t, got) {
			if b.Op != changelog.OpPut || b.Row["done"] != true || b.Row["n"] != 5.0 {
				t.Fatalf("%+v", b)
			}
		}

		// An update that matches nothing logs nothing.
		if _, err := db.Update(todos).Set(orm.Row{"title": "z"}).Where(expr.Eq(todos.Col("id"), "nope")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next())

		// Delete: a del per row.
		if n, err := db.Delete(todos).Where(expr.Eq(todos.Col("id"), "t3")).Exec(ctx); err != nil || n != 1 {
			t.Fatal(n, err)
		}
		want(t, r.next(), brief{"todos", "t3", changelog.OpDel, nil})

		// Upsert: the resulting row, inserted or updated.
		if _, err := db.Insert(todos).Values(
			orm.Row{"id": "t1", "list_id": "L1", "title": "a2"},
			orm.Row{"id": "t4", "list_id": "L1", "title": "d"},
		).OnConflictDoUpdate([]string{"id"}, "title").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next(),
			brief{"todos", "t1", changelog.OpPut, todoRow("t1", "L1", "a2", true, 5)},
			brief{"todos", "t4", changelog.OpPut, todoRow("t4", "L1", "d", false, 0)})

		// ON CONFLICT DO NOTHING that did nothing logs nothing.
		if _, err := db.Insert(todos).Values(orm.Row{"id": "t4", "list_id": "L1", "title": "ignored"}).OnConflictDoNothing("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next())

		// The caller's RETURNING is answered with exactly its columns.
		res, err := db.Update(todos).Set(orm.Row{"title": "ret"}).Where(expr.Eq(todos.Col("id"), "t4")).
			Returning(todos.Col("title"), expr.As(expr.SQL("? * 2", todos.Col("n")), "twice")).Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		type ret struct {
			Title string
			Twice int64
		}
		rets, err := orm.Collect[ret](res)
		if err != nil || len(rets) != 1 || rets[0].Title != "ret" {
			t.Fatalf("%+v %v", rets, err)
		}
		want(t, r.next(), brief{"todos", "t4", changelog.OpPut, todoRow("t4", "L1", "ret", false, 0)})
		maps, err := orm.Maps(ctx, db.Insert(todos).Values(orm.Row{"id": "t5", "list_id": "L1", "title": "e", "pic": []byte{0, 1, 255}}).Returning())
		if err != nil || len(maps) != 1 || maps[0]["title"] != "e" || maps[0]["done"] != false || len(maps[0]) != 6 {
			t.Fatalf("%v %v", maps, err)
		}
		want(t, r.next(), brief{"todos", "t5", changelog.OpPut, map[string]any{"id": "t5", "list_id": "L1", "title": "e", "done": false, "n": 0.0, "pic": "AAH/"}})
		ids, err := orm.All[string](ctx, db.Delete(todos).Where(expr.Eq(todos.Col("id"), "t5")).Returning(todos.Col("title")))
		if err != nil || len(ids) != 1 || ids[0] != "e" {
			t.Fatal(ids, err)
		}
		want(t, r.next(), brief{"todos", "t5", changelog.OpDel, nil})
		if _, err := db.Insert(todos).Values(orm.Row{"id": "t7", "list_id": "L1", "title": "g"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		r.next()
		gone, err := orm.Maps(ctx, db.Delete(todos).Where(expr.Eq(todos.Col("id"), "t7")).Returning())
		if err != nil || len(gone) != 1 || gone[0]["title"] != "g" {
			t.Fatal(gone, err)
		}
		want(t, r.next(), brief{"todos", "t7", changelog.OpDel, nil})

		// A DB made over a transaction plasma did not open logs in it.
		sqltx, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		overTx := orm.New(sqltx, tg.Dialect, changelog.Middleware(changelog.Options{}))
		if _, err := overTx.Update(todos).Set(orm.Row{"title": "tx"}).Where(expr.Eq(todos.Col("id"), "t4")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := sqltx.Commit(); err != nil {
			t.Fatal(err)
		}
		want(t, r.next(), brief{"todos", "t4", changelog.OpPut, todoRow("t4", "L1", "tx", false, 0)})

		// Several tables in one transaction: logged together, in order,
		// with the origin and region the context carries.
		octx := changelog.WithOrigin(ctx, "client-1", 7)
		err = db.Tx(octx, func(tx *orm.Tx) error {
			if _, err := tx.Insert(lists).Values(orm.Row{"id": "L2", "name": "work"}).Exec(octx); err != nil {
				return err
			}
			if _, err := tx.Insert(todos).Values(orm.Row{"id": "t6", "list_id": "L2", "title": "f"}).Exec(octx); err != nil {
				return err
			}
			_, err := tx.Update(lists).Set(orm.Row{"name": "work!"}).Where(expr.Eq(lists.Col("id"), "L2")).Exec(octx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got = r.next()
		want(t, got,
			brief{"lists", "L2", changelog.OpPut, map[string]any{"id": "L2", "name": "work", "meta": nil}},
			brief{"todos", "t6", changelog.OpPut, todoRow("t6", "L2", "f", false, 0)},
			brief{"lists", "L2", changelog.OpPut, map[string]any{"id": "L2", "name": "work!", "meta": nil}})
		for _, c := range got {
			if c.ClientID != "client-1" || c.MutationID != 7 || c.Region != changelog.DefaultRegion {
				t.Fatalf("origin: %+v", c)
			}
		}

		// Another region has its own sequence.
		ectx := changelog.WithRegion(ctx, "eu")
		if _, err := db.Insert(lists).Values(orm.Row{"id": "L3", "name": "eu"}).Exec(ectx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next())
		eu := &reader{t: t, db: db, region: "eu"}
		want(t, eu.next(), brief{"lists", "L3", changelog.OpPut, map[string]any{"id": "L3", "name": "eu", "meta": nil}})
		if h, err := changelog.Head(ctx, db, "eu"); err != nil || h < eu.cursor {
			t.Fatalf("head %d < cursor %d (%v)", h, eu.cursor, err)
		}
		if h, err := changelog.Head(ctx, db, ""); err != nil || h < r.cursor {
			t.Fatalf("head %d < cursor %d (%v)", h, r.cursor, err)
		}
	})
}

func TestRollbackAndSuppressed(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setup(t, tg)
		r := &reader{t: t, db: db, region: changelog.DefaultRegion}
		boom := errors.New("boom")
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			if _, err := tx.Insert(lists).Values(orm.Row{"id": "L1", "name": "x"}).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.Update(lists).Set(orm.Row{"name": "y"}).Where(expr.Eq(lists.Col("id"), "L1")).Exec(ctx); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		// A failing statement outside a transaction leaves nothing either.
		if _, err := db.Insert(todos).Values(orm.Row{"id": "t1", "list_id": "missing", "title": "x"}).Exec(ctx); err == nil {
			t.Fatal("foreign key not enforced")
		}
		if _, err := db.Insert(secrets).Values(orm.Row{"id": "s1", "v": "x"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Update(secrets).Set(orm.Row{"v": "y"}).AllRows().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delete(secrets).AllRows().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next())
		var n int
		if err := tg.SQL.QueryRow(`SELECT count(*) FROM "_plasma_changes"`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d change rows (%v)", n, err)
		}
		if err := changelog.Record(ctx, db, secrets, "s1"); !errors.Is(err, changelog.ErrNotSynced) {
			t.Fatal(err)
		}
	})
}

func TestCascadeAndRecord(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setup(t, tg)
		for _, q := range []*orm.InsertQuery{
			db.Insert(lists).Values(orm.Row{"id": "L1", "name": "a"}, orm.Row{"id": "L2", "name": "b"}),
			db.Insert(todos).Values(orm.Row{"id": "t1", "list_id": "L1", "title": "x"}, orm.Row{"id": "t2", "list_id": "L1", "title": "y"}, orm.Row{"id": "t3", "list_id": "L2", "title": "z"}),
			db.Insert(notes).Values(orm.Row{"id": "n1", "todo_id": "t1", "body": "p"}, orm.Row{"id": "n2", "todo_id": "t3", "body": "q"}),
			db.Insert(tree).Values(orm.Row{"id": "a", "parent": nil}),
			db.Insert(tree).Values(orm.Row{"id": "b", "parent": "a"}, orm.Row{"id": "c", "parent": "a"}),
			db.Insert(tree).Values(orm.Row{"id": "d", "parent": "b"}, orm.Row{"id": "e", "parent": nil}),
		} {
			if _, err := q.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		r := &reader{t: t, db: db, region: changelog.DefaultRegion}
		r.next()

		// Deleting a list cascades to its todos, which sets their notes'
		// todo_id to NULL.
		if _, err := db.Delete(lists).Where(expr.Eq(lists.Col("id"), "L1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want(t, r.next(),
			brief{"lists", "L1", changelog.OpDel, nil},
			brief{"todos", "t1", changelog.OpDel, nil},
			brief{"todos", "t2", changelog.OpDel, nil},
			brief{"notes", "n1", changelog.OpPut, map[string]any{"id": "n1", "todo_id": nil, "body": "p"}})

		// A self-reference is followed to the bottom, each row once.
		if _, err := db.Delete(tree).Where(expr.InArray(tree.Col("id"), []string{"a", "b"})).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		got := briefs(t, r.next())
		seen := map[string]bool{}
		for _, b := range got {
			if b.Op != changelog.OpDel || seen[b.ID] {
				t.Fatalf("%+v", got)
			}
			seen[b.ID] = true
		}
		if len(seen) != 4 || !seen["a"] || !seen["b"] || !seen["c"] || !seen["d"] {
			t.Fatalf("%+v", got)
		}

		// Raw SQL, which the middleware cannot see into, is logged by the
		// capture triggers, with the image the middleware would log and
		// no origin.
		if _, err := db.Exec(ctx, `UPDATE "todos" SET "title" = ? WHERE "id" = ?`, "raw", "t3"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `DELETE FROM "notes" WHERE "id" = ?`, "n2"); err != nil {
			t.Fatal(err)
		}
		raw := r.next()
		want(t, raw,
			brief{"todos", "t3", changelog.OpPut, todoRow("t3", "L2", "raw", false, 0)},
			brief{"notes", "n2", changelog.OpDel, nil})
		if raw[0].ClientID != "" || raw[0].MutationID != 0 {
			t.Fatalf("%+v", raw)
		}
		// Record logs the rows' state again, with the context's origin:
		// for a database without capture.
		if err := changelog.Record(changelog.WithOrigin(ctx, "c", 1), db, todos, "t3"); err != nil {
			t.Fatal(err)
		}
		if err := db.Tx(ctx, func(tx *orm.Tx) error { return changelog.Record(ctx, tx.DB, notes, "n2") }); err != nil {
			t.Fatal(err)
		}
		got2 := r.next()
		want(t, got2,
			brief{"todos", "t3", changelog.OpPut, todoRow("t3", "L2", "raw", false, 0)},
			brief{"notes", "n2", changelog.OpDel, nil})
		if got2[0].ClientID != "c" || got2[0].MutationID != 1 || got2[1].ClientID != "" {
			t.Fatalf("%+v", got2)
		}

		// A synced row's id cannot change.
		if _, err := db.Update(todos).Set(orm.Row{"id": "t9"}).Where(expr.Eq(todos.Col("id"), "t3")).Exec(ctx); !errors.Is(err, changelog.ErrIDUpdate) {
			t.Fatal(err)
		}
	})
}
