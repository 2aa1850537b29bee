package changelog_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

var (
	// projects are scoped by an integer tenant.
	projects = orm.NewTable("projects", orm.ID(), orm.BigInt("tenant"), orm.Text("name")).
			With(orm.TableOptions{SyncScope: "tenant"})
	scopeSchema = orm.MustDefineSchema("1", projects)
)

// TestScopeLogged: on PostgreSQL each change of a table with a
// SyncScope records the row's value of it, as text, unless the write may
// have moved the row: an UPDATE setting the column, an upsert that may
// set it, a DELETE, a write outside the ORM (the capture triggers). On
// SQLite the log has no scope, and the same writes are logged.
func TestScopeLogged(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		ctx := context.Background()
		db := setupSchema(t, tg, scopeSchema)
		id := func(v string) expr.Expr { return expr.Eq(projects.Col("id"), v) }
		steps := []struct {
			name  string
			write func() error
			scope string // "-": none
		}{
			{"insert", func() error {
				_, err := db.Insert(projects).Values(orm.Row{"id": "p1", "tenant": int64(7), "name": "a"}).Exec(ctx)
				return err
			}, "7"},
			{"update of another column", func() error {
				_, err := db.Update(projects).Set(orm.Row{"name": "b"}).Where(id("p1")).Exec(ctx)
				return err
			}, "7"},
			{"update of the scope", func() error {
				_, err := db.Update(projects).Set(orm.Row{"tenant": int64(8)}).Where(id("p1")).Exec(ctx)
				return err
			}, "-"},
			{"upsert updating another column", func() error {
				_, err := db.Insert(projects).Values(orm.Row{"id": "p1", "tenant": int64(9), "name": "c"}).
					OnConflictDoUpdate([]string{"id"}, "name").Exec(ctx)
				return err
			}, "8"},
			{"upsert updating every column", func() error {
				_, err := db.Insert(projects).Values(orm.Row{"id": "p1", "tenant": int64(9), "name": "d"}).
					OnConflictDoUpdate([]string{"id"}).Exec(ctx)
				return err
			}, "-"},
			{"delete", func() error {
				_, err := db.Delete(projects).Where(id("p1")).Exec(ctx)
				return err
			}, "-"},
			{"raw insert", func() error {
				_, err := db.Exec(ctx, `INSERT INTO "projects" ("id", "tenant", "name") VALUES ('p2', 1, 'e')`)
				return err
			}, "-"},
		}
		for i, s := range steps {
			if err := s.write(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if tg.Name != "postgres" {
				continue
			}
			var scope sql.NullString
			if err := tg.SQL.QueryRowContext(ctx, `SELECT "scope" FROM "_plasma_changes" ORDER BY "id" DESC LIMIT 1`).Scan(&scope); err != nil {
				t.Fatal(err)
			}
			got := "-"
			if scope.Valid {
				got = scope.String
			}
			if got != s.scope {
				t.Errorf("step %d, %s: scope %q, want %q", i, s.name, got, s.scope)
			}
		}
		var n int
		if err := tg.SQL.QueryRowContext(ctx, `SELECT count(*) FROM "_plasma_changes"`).Scan(&n); err != nil || n != len(steps) {
			t.Fatalf("%d changes logged, %v; want %d", n, err, len(steps))
		}
	})
}

// TestCompactionClearsScopes: on PostgreSQL, compaction that folds a
// row's changes leaves its kept change without a scope: a folded change
// may have moved the row, and the kept one stands for the move.
func TestCompactionClearsScopes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Name != "postgres" || tg.Exec != ormtest.ExecPool {
			t.Skip("the log has a scope on PostgreSQL")
		}
		ctx := context.Background()
		db := setupSchema(t, tg, scopeSchema)
		for _, row := range []orm.Row{{"id": "p1", "tenant": int64(1), "name": "a"}, {"id": "p2", "tenant": int64(2), "name": "b"}} {
			if _, err := db.Insert(projects).Values(row).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Update(projects).Set(orm.Row{"tenant": int64(3)}).Where(expr.Eq(projects.Col("id"), "p1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Update(projects).Set(orm.Row{"name": "c"}).Where(expr.Eq(projects.Col("id"), "p1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		head, err := changelog.Head(ctx, db, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := changelog.CompactChangeLog(ctx, db, "", head); err != nil {
			t.Fatal(err)
		}
		rows, err := tg.SQL.QueryContext(ctx, `SELECT "row_id", coalesce("scope", '-') FROM "_plasma_changes" ORDER BY "id"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var id, s string
			if err := rows.Scan(&id, &s); err != nil {
				t.Fatal(err)
			}
			got[id] += s
		}
		// p1's kept change (its last update, scoped "3") lost its scope;
		// p2, not folded, keeps its own.
		if want := map[string]string{"p1": "-", "p2": "2"}; got["p1"] != want["p1"] || got["p2"] != want["p2"] || len(got) != 2 {
			t.Fatalf("changes left %v, want %v", got, want)
		}
	})
}
