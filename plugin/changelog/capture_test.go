package changelog_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// odd is a synced table whose names are as hostile as SQL allows: quotes
// of both kinds, spaces, keywords, unicode.
var (
	odd = orm.NewTable(`we"ird 'tab' select ✓`, orm.ID(), orm.Text(`"q`), orm.Text("order"),
		orm.Boolean("on off").Default(false), orm.BigInt("ñ").Default(0), orm.JSON("meta").Nullable(), orm.Blob("pic").Nullable())
	plain = orm.NewTable("plain", orm.ID(), orm.Text("v"))
	// dollar's name would end a PL/pgSQL body quoted with $plasma0$, and
	// start a comment after it.
	dollar    = orm.NewTable("$plasma0$ END; --", orm.ID(), orm.Text("$plasma1$"), orm.JSON("j").Nullable())
	capSchema = orm.MustDefineSchema("1", odd, plain, dollar)
)

// rawExec runs text, written with ? placeholders, on ex through
// database/sql alone, as another program would.
func rawExec(t *testing.T, tg *ormtest.Target, ex dialect.Executor, text string, args ...any) {
	t.Helper()
	if tg.Name == "postgres" {
		var b strings.Builder
		n := 0
		for _, r := range text {
			if r == '?' {
				n++
				fmt.Fprintf(&b, "$%d", n)
				continue
			}
			b.WriteRune(r)
		}
		text = b.String()
	}
	if _, err := ex.ExecContext(context.Background(), text, args...); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
}

func setupCapture(t *testing.T, tg *ormtest.Target, region string) *orm.DB {
	t.Helper()
	ctx := context.Background()
	db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: capSchema, Region: region}))
	if err := orm.EnsureSchema(ctx, capSchema, db); err != nil {
		t.Fatal(err)
	}
	if err := changelog.EnsureCapture(ctx, db, capSchema, region); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestCaptureOutsideWrites: writes made with database/sql alone reach the
// log, with the image the middleware would log, no origin and the
// capture's region; a rolled-back one leaves nothing; writes through the
// middleware are logged once, with their origin, also when they share a
// transaction with outside writes.
func TestCaptureOutsideWrites(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setupCapture(t, tg, "r'1")
		r := &reader{t: t, db: db, region: "r'1"}
		table := `"we""ird 'tab' select ✓"`

		rawExec(t, tg, tg.SQL, `INSERT INTO `+table+` ("id", """q", "order", "on off", "ñ", "meta", "pic") VALUES (?, ?, ?, ?, ?, ?, ?)`,
			"o1", `x"y`, "select", true, int64(42), `{"a":[1,2]}`, []byte{0, 255})
		got := r.next()
		pic := any("AP8=")
		if tg.Name == "sqlite" {
			pic = nil // SQLite has no base64: see EnsureCapture
		}
		img := map[string]any{"id": "o1", `"q`: `x"y`, "order": "select", "on off": true, "ñ": 42.0, "meta": map[string]any{"a": []any{1.0, 2.0}}, "pic": pic}
		want(t, got, brief{odd.Name(), "o1", changelog.OpPut, img})
		if c := got[0]; c.ClientID != "" || c.MutationID != 0 || c.Region != "r'1" || !strings.HasPrefix(string(c.Row), `{"id":"o1","\"q":`) {
			t.Fatalf("%+v %s", c, c.Row)
		}

		// The middleware's image of the same row is the same object.
		if _, err := db.Update(odd).Set(orm.Row{"order": "select"}).Where(expr.Eq(odd.Col("id"), "o1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if tg.Name == "sqlite" {
			img["pic"] = "AP8="
		}
		want(t, r.next(), brief{odd.Name(), "o1", changelog.OpPut, img})

		// An UPDATE that changes the id: the old id is gone (the del and
		// the put are of two rows, in either order).
		rawExec(t, tg, tg.SQL, `UPDATE `+table+` SET "id" = ? WHERE "id" = ?`, "o2", "o1")
		got = r.next()
		ops := map[string]changelog.Op{}
		for _, c := range got {
			ops[c.RowID] = c.Op
		}
		if len(got) != 2 || ops["o1"] != changelog.OpDel || ops["o2"] != changelog.OpPut {
			t.Fatalf("%+v", got)
		}
		rawExec(t, tg, tg.SQL, `DELETE FROM `+table+` WHERE "id" = ?`, "o2")
		want(t, r.next(), brief{odd.Name(), "o2", changelog.OpDel, nil})

		// Names that would end the trigger's quoting, and a region with a
		// quote in it.
		rawExec(t, tg, tg.SQL, `INSERT INTO "$plasma0$ END; --" ("id", "$plasma1$") VALUES (?, ?)`, "d1", "$plasma0$'")
		want(t, r.next(), brief{dollar.Name(), "d1", changelog.OpPut, map[string]any{"id": "d1", "$plasma1$": "$plasma0$'", "j": nil}})

		// Hostile outside writes: text that is not JSON in a JSON column
		// is refused by PostgreSQL's JSONB, nothing of it written or
		// logged, and logged as a JSON string on SQLite, whose TEXT takes
		// it; a blob in a text column is logged as its text.
		_, err := tg.SQL.ExecContext(ctx, `INSERT INTO "$plasma0$ END; --" ("id", "$plasma1$", "j") VALUES ('d2', 'x', '{not json')`)
		if tg.Name == "postgres" {
			var n int
			if err == nil {
				t.Fatal("a JSONB column took text that is not JSON")
			} else if err := tg.SQL.QueryRowContext(ctx, `SELECT count(*) FROM "$plasma0$ END; --" WHERE "id" = 'd2'`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("the refused write left %d rows (%v)", n, err)
			}
			want(t, r.next())
		} else {
			if err != nil {
				t.Fatal(err)
			}
			want(t, r.next(), brief{dollar.Name(), "d2", changelog.OpPut, map[string]any{"id": "d2", "$plasma1$": "x", "j": "{not json"}})
		}
		if tg.Name == "sqlite" {
			rawExec(t, tg, tg.SQL, `INSERT INTO "plain" ("id", "v") VALUES (?, ?)`, "b1", []byte("bytes"))
			want(t, r.next(), brief{"plain", "b1", changelog.OpPut, map[string]any{"id": "b1", "v": "bytes"}})
			rawExec(t, tg, tg.SQL, `DELETE FROM "plain" WHERE "id" = ?`, "b1")
			want(t, r.next(), brief{"plain", "b1", changelog.OpDel, nil})
		}

		// A rolled-back outside write leaves nothing.
		tx, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		rawExec(t, tg, tx, `INSERT INTO "plain" ("id", "v") VALUES (?, ?)`, "p0", "x")
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		want(t, r.next())

		// One transaction mixing middleware writes and outside writes (the
		// *sql.Tx another ORM holds): each write logged once, the
		// middleware's with its origin.
		mctx := changelog.WithOrigin(ctx, "c1", 7)
		for _, commit := range []bool{false, true} {
			tx, err := tg.SQL.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			tdb := db.WithExecutor(tx)
			if _, err := tdb.Insert(plain).Values(orm.Row{"id": "p1", "v": "plasma"}).Exec(mctx); err != nil {
				t.Fatal(err)
			}
			rawExec(t, tg, tx, `INSERT INTO "plain" ("id", "v") VALUES (?, ?)`, "p2", "outside")
			if _, err := tdb.Update(plain).Set(orm.Row{"v": "plasma again"}).Where(expr.Eq(plain.Col("id"), "p2")).Exec(mctx); err != nil {
				t.Fatal(err)
			}
			rawExec(t, tg, tx, `UPDATE "plain" SET "v" = ? WHERE "id" = ?`, "outside again", "p1")
			if !commit {
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
				want(t, r.next())
				continue
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			got = r.next()
			want(t, got,
				brief{"plain", "p1", changelog.OpPut, map[string]any{"id": "p1", "v": "plasma"}},
				brief{"plain", "p2", changelog.OpPut, map[string]any{"id": "p2", "v": "outside"}},
				brief{"plain", "p2", changelog.OpPut, map[string]any{"id": "p2", "v": "plasma again"}},
				brief{"plain", "p1", changelog.OpPut, map[string]any{"id": "p1", "v": "outside again"}})
			for i, c := range got {
				if fromPlasma := i%2 == 0; (c.ClientID == "c1" && c.MutationID == 7) != fromPlasma {
					t.Fatalf("change %d: origin %q/%d", i, c.ClientID, c.MutationID)
				}
			}
		}

		// Every shape of middleware write, each logged once: a plain and a
		// multi-row INSERT, an upsert, a RETURNING the caller asked for,
		// an UPDATE and a DELETE of several rows.
		if _, err := db.Insert(plain).Values(orm.Row{"id": "p3", "v": "a"}, orm.Row{"id": "p4", "v": "b"}).Exec(mctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(plain).Values(orm.Row{"id": "p3", "v": "c"}).OnConflictDoUpdate([]string{"id"}, "v").Exec(mctx); err != nil {
			t.Fatal(err)
		}
		if _, err := orm.All[struct{ ID string }](mctx, db.Update(plain).Set(orm.Row{"v": "d"}).Where(expr.Eq(plain.Col("id"), "p4")).Returning(plain.Col("id"))); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Update(plain).Set(orm.Row{"v": "e"}).Where(expr.InArray(plain.Col("id"), []string{"p3", "p4"})).Exec(mctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delete(plain).Where(expr.InArray(plain.Col("id"), []string{"p1", "p2", "p3", "p4"})).Exec(mctx); err != nil {
			t.Fatal(err)
		}
		got = r.next()
		if len(got) != 2+1+1+2+4 {
			t.Fatalf("%d changes, want 10: %+v", len(got), briefs(t, got))
		}
		for _, c := range got {
			if c.ClientID != "c1" {
				t.Fatalf("a change without the middleware's origin: %+v", c)
			}
		}
	})
}

// captureObjects lists the capture triggers and functions in tg's
// database, as "table/name" ("/name" for a function).
func captureObjects(t *testing.T, tg *ormtest.Target) []string {
	t.Helper()
	cc := tg.Dialect.(dialect.ChangeCapturer)
	rows, err := tg.SQL.QueryContext(context.Background(), cc.CaptureCatalog(), "_plasma_capture_")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, table string
		var def sql.NullString
		if err := rows.Scan(&name, &table, &def); err != nil {
			t.Fatal(err)
		}
		out = append(out, table+"/"+name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// perTable is the number of capture objects of one table.
func perTable(tg *ormtest.Target) int {
	if tg.Name == "sqlite" {
		return 4 // a trigger per event, and one for an UPDATE of the id
	}
	return 2 // a function and its trigger
}

// TestCaptureFollowsSchema: EnsureCapture is idempotent, and a table no
// longer synced loses its triggers.
func TestCaptureFollowsSchema(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setupCapture(t, tg, "")
		if n := len(captureObjects(t, tg)); n != 3*perTable(tg) {
			t.Fatalf("%d capture objects: %v", n, captureObjects(t, tg))
		}
		// Again, from another DB on the same database: nothing changes.
		if err := changelog.EnsureCapture(ctx, orm.New(tg.SQL, tg.Dialect), capSchema, ""); err != nil {
			t.Fatal(err)
		}
		if n := len(captureObjects(t, tg)); n != 3*perTable(tg) {
			t.Fatalf("%d capture objects: %v", n, captureObjects(t, tg))
		}
		quiet := orm.NewTable("plain", orm.ID(), orm.Text("v")).With(orm.TableOptions{ChangeLogSuppressed: true})
		s2 := orm.MustDefineSchema("2", orm.NewTable(odd.Name(), orm.ID(), orm.Text(`"q`), orm.Text("order"),
			orm.Boolean("on off").Default(false), orm.BigInt("ñ").Default(0), orm.JSON("meta").Nullable(), orm.Blob("pic").Nullable()), quiet)
		if err := changelog.EnsureCapture(ctx, orm.New(tg.SQL, tg.Dialect), s2, ""); err != nil {
			t.Fatal(err)
		}
		if objs := captureObjects(t, tg); len(objs) != perTable(tg) || strings.Contains(strings.Join(objs, " "), "plain/") {
			t.Fatalf("capture objects: %v", objs)
		}
		r := &reader{t: t, db: db, region: changelog.DefaultRegion}
		r.next()
		rawExec(t, tg, tg.SQL, `INSERT INTO "plain" ("id", "v") VALUES (?, ?)`, "q1", "x")
		want(t, r.next())
	})
}

// TestCaptureMigrations: migrations that add, drop and rename tables and
// columns keep the capture triggers in step.
func TestCaptureMigrations(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		v1 := orm.MustDefineSchema("1",
			orm.NewTable("items", orm.ID(), orm.Text("name"), orm.Text("gone").Nullable()),
			orm.NewTable("olds", orm.ID(), orm.Text("x")))
		if _, err := migrate.Run(ctx, v1, tg.DB, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := changelog.EnsureCapture(ctx, tg.DB, v1, "m"); err != nil {
			t.Fatal(err)
		}
		items := orm.NewTable("items", orm.ID(), orm.Text("title"), orm.Text("extra").Nullable())
		v2 := orm.MustDefineSchema("2", items, orm.NewTable("news", orm.ID(), orm.Text("x")), orm.NewTable("fresh", orm.ID(), orm.Text("v")))
		_, err := migrate.Run(ctx, v2, tg.DB, migrate.Options{Allow: []migrate.Allowance{
			migrate.AllowRenameColumn("items", "name", "title"),
			migrate.Allow(migrate.OpDropColumn, "items", "gone"),
			migrate.AllowRenameTable("olds", "news"),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(captureObjects(t, tg)); n != 3*perTable(tg) {
			t.Fatalf("%d capture objects after v2: %v", n, captureObjects(t, tg))
		}
		r := &reader{t: t, db: tg.DB, region: "m"}
		r.next()
		rawExec(t, tg, tg.SQL, `INSERT INTO "items" ("id", "title", "extra") VALUES (?, ?, ?)`, "i1", "t", "e")
		rawExec(t, tg, tg.SQL, `INSERT INTO "news" ("id", "x") VALUES (?, ?)`, "n1", "x")
		rawExec(t, tg, tg.SQL, `INSERT INTO "fresh" ("id", "v") VALUES (?, ?)`, "f1", "v")
		want(t, r.next(),
			brief{"items", "i1", changelog.OpPut, map[string]any{"id": "i1", "title": "t", "extra": "e"}},
			brief{"news", "n1", changelog.OpPut, map[string]any{"id": "n1", "x": "x"}},
			brief{"fresh", "f1", changelog.OpPut, map[string]any{"id": "f1", "v": "v"}})

		v3 := orm.MustDefineSchema("3", items, orm.NewTable("news", orm.ID(), orm.Text("x")))
		if _, err := migrate.Run(ctx, v3, tg.DB, migrate.Options{Allow: []migrate.Allowance{migrate.Allow(migrate.OpDropTable, "fresh", "")}}); err != nil {
			t.Fatal(err)
		}
		if objs := captureObjects(t, tg); len(objs) != 2*perTable(tg) {
			t.Fatalf("capture objects after v3: %v", objs)
		}
		rawExec(t, tg, tg.SQL, `UPDATE "items" SET "extra" = NULL`)
		want(t, r.next(), brief{"items", "i1", changelog.OpPut, map[string]any{"id": "i1", "title": "t", "extra": nil}})
	})
}

// TestCaptureWithBatch: the writes of a Batch pass the capture triggers
// until Flush, while a raw statement between them (a mutator's DB.Exec)
// is captured, and so is a write made after Flush or after a write that
// logged nothing; each write is logged once.
func TestCaptureWithBatch(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := setupCapture(t, tg, "")
		r := &reader{t: t, db: db, region: changelog.DefaultRegion}
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			b := changelog.NewBatch(tx.DB)
			bctx := changelog.WithBatch(changelog.WithOrigin(ctx, "c1", 1), b)
			if _, err := tx.Insert(plain).Values(orm.Row{"id": "b1", "v": "held"}).Exec(bctx); err != nil {
				return err
			}
			if _, err := tx.Exec(bctx, `INSERT INTO "plain" ("id", "v") VALUES (?, ?)`, "b2", "raw"); err != nil {
				return err
			}
			if _, err := tx.Update(plain).Set(orm.Row{"v": "none"}).Where(expr.Eq(plain.Col("id"), "nobody")).Exec(bctx); err != nil {
				return err
			}
			if _, err := tx.Insert(plain).Values(orm.Row{"id": "b3", "v": "held"}).Exec(bctx); err != nil {
				return err
			}
			if b.Len() != 2 {
				return fmt.Errorf("batch holds %d rows, want 2", b.Len())
			}
			if err := b.Flush(ctx, tx.DB); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE "plain" SET "v" = ? WHERE "id" = ?`, "after", "b1")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got := r.next()
		want(t, got,
			brief{"plain", "b2", changelog.OpPut, map[string]any{"id": "b2", "v": "raw"}},
			brief{"plain", "b1", changelog.OpPut, map[string]any{"id": "b1", "v": "held"}},
			brief{"plain", "b3", changelog.OpPut, map[string]any{"id": "b3", "v": "held"}},
			brief{"plain", "b1", changelog.OpPut, map[string]any{"id": "b1", "v": "after"}})
		if got[0].ClientID != "" || got[1].ClientID != "c1" || got[2].ClientID != "c1" || got[3].ClientID != "" {
			t.Fatalf("origins: %+v", got)
		}
		// After the transaction, outside writes are captured.
		rawExec(t, tg, tg.SQL, `DELETE FROM "plain" WHERE "id" = ?`, "b3")
		want(t, r.next(), brief{"plain", "b3", changelog.OpDel, nil})
	})
}
