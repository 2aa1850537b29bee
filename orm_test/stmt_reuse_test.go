package ormtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// On SQLite a transaction prepares each SQL text once and reuses it
// (dialect.StatementReuser); these statements must behave exactly as
// unprepared ones, on both engines.
func TestTxStatementReuse(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := seed(t, tg)
		byTeam := func(db *orm.DB, team string) []string {
			t.Helper()
			names, err := orm.All[string](ctx, db.Select(qPeople.Col("name")).From(qPeople).
				Where(expr.Eq(qPeople.Col("team"), team)).OrderBy(expr.Asc(qPeople.Col("id"))))
			if err != nil {
				t.Fatal(err)
			}
			return names
		}
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			// The same statement, many times, with different values.
			for i := range 50 {
				id := fmt.Sprintf("r%02d", i)
				mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": id, "name": "n" + id, "team": "green"}).Exec(ctx))
			}
			if got := byTeam(tx.DB, "green"); len(got) != 50 || got[0] != "nr00" || got[49] != "nr49" {
				t.Errorf("green: %v", got)
			}
			if got := byTeam(tx.DB, "red"); fmt.Sprint(got) != "[ann cat]" {
				t.Errorf("red: %v", got)
			}

			// The same query nested in its own open result set (lib/pq
			// cannot run a query while another's rows are unread).
			if tg.Dialect.Name() == "sqlite" {
				sameQueryNested(t, ctx, tx.DB)
			}
			// Once closed, the statement serves the next run.
			if got := byTeam(tx.DB, "blue"); fmt.Sprint(got) != "[bob eve]" {
				t.Errorf("blue: %v", got)
			}

			// More distinct texts than the cache keeps: the rest run
			// unprepared, and all still answer.
			for i := range 200 {
				n, err := orm.Scalar[int64](ctx, tx.Select(expr.As(expr.SQL(fmt.Sprintf("%d + ?", i), 1), "n")))
				if err != nil || n != int64(i+1) {
					t.Fatalf("distinct text %d: %d, %v", i, n, err)
				}
			}

			// A failing statement leaves the cache usable (under a
			// savepoint: PostgreSQL aborts the transaction otherwise).
			ins := `INSERT INTO "people" ("id", "name") VALUES (?, ?)`
			for _, sql := range []string{"SAVEPOINT s", "ROLLBACK TO SAVEPOINT s"} {
				if _, err := tx.Exec(ctx, sql); err != nil {
					return err
				}
				if sql == "SAVEPOINT s" {
					if _, err := tx.Exec(ctx, ins, "p1", "dup"); err == nil {
						t.Error("duplicate id inserted")
					}
				}
			}
			if _, err := tx.Exec(ctx, ins, "z1", "zed"); err != nil {
				t.Errorf("after a failure: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := byTeam(db, "green"); len(got) != 50 {
			t.Errorf("after commit: %d green", len(got))
		}
		if n := countPeople(t, ctx, db); n != 56 {
			t.Errorf("after commit: %d people", n)
		}
	})
}

// A statement prepared before a schema change in the same transaction
// still runs correctly after it.
func TestTxStatementReuseAfterSchemaChange(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := seed(t, tg)
		err := db.Tx(ctx, func(tx *orm.Tx) error {
			q := `SELECT COUNT(*) FROM "people" WHERE "name" <> ?`
			count := func() int64 {
				rows, err := tx.Query(ctx, q, "")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var n int64
				for rows.Next() {
					if err := rows.Scan(&n); err != nil {
						t.Fatal(err)
					}
				}
				return n
			}
			before := count()
			if _, err := tx.Exec(ctx, `ALTER TABLE "people" ADD COLUMN "extra" TEXT`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO "people" ("id", "name", "extra") VALUES (?, ?, ?)`, "x1", "xavier", "e"); err != nil {
				return err
			}
			if after := count(); after != before+1 {
				t.Errorf("count %d after the change, %d before", after, before)
			}
			return context.Canceled // roll the schema change back
		})
		if err != context.Canceled {
			t.Fatal(err)
		}
	})
}

// sameQueryNested runs a query again for each row of its own open result.
func sameQueryNested(t *testing.T, ctx context.Context, tx *orm.DB) {
	t.Helper()
	rows, err := tx.Query(ctx, `SELECT "id" FROM "people" WHERE "team" = ? ORDER BY "id"`, "blue")
	if err != nil {
		t.Fatal(err)
	}
	var outer []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, id)
		inner, err := tx.Query(ctx, `SELECT "id" FROM "people" WHERE "team" = ? ORDER BY "id"`, "red")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for inner.Next() {
			var x string
			if err := inner.Scan(&x); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, x)
		}
		if err := inner.Close(); err != nil || fmt.Sprint(ids) != "[p1 p3]" {
			t.Errorf("inner: %v, %v", ids, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := rows.Close(); err != nil || fmt.Sprint(outer) != "[p2 p5]" {
		t.Errorf("outer: %v, %v", outer, err)
	}
}
