package changelog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// TestPeekHead: PeekHeadSQL publishes and reads as HeadSQL does, except
// that while another reader holds the region's publishing lock (on
// PostgreSQL) it answers at once with the head as it stands, marked
// incomplete, and numbers nothing.
func TestPeekHead(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		ctx := context.Background()
		db := setup(t, tg)
		peek := func() (int64, bool) {
			t.Helper()
			text, args := changelog.PeekHeadSQL(db.Dialect(), "")
			rows, err := db.Query(ctx, `SELECT `+text, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var v int64
			if !rows.Next() {
				t.Fatal("no row")
			}
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			return changelog.PeekedHead(v)
		}
		insert := func(id string) {
			t.Helper()
			if _, err := db.Insert(lists).Values(orm.Row{"id": id, "name": "n"}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		insert("a")
		if h, ok := peek(); h != 1 || !ok {
			t.Fatalf("head %d, complete %v; want 1, true", h, ok)
		}
		if tg.Name != "postgres" {
			return
		}
		lock, err := tg.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Rollback()
		if _, err := lock.ExecContext(ctx, `SELECT 1 FROM "`+changelog.RegionTable+`" WHERE "region" = 'default' FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		insert("b")
		if h, ok := peek(); h != 1 || ok {
			t.Fatalf("with the lock held: head %d, complete %v; want 1, false", h, ok)
		}
		if err := lock.Rollback(); err != nil {
			t.Fatal(err)
		}
		if h, ok := peek(); h != 2 || !ok {
			t.Fatalf("with the lock free: head %d, complete %v; want 2, true", h, ok)
		}
	})
}

// PeekedHead decodes both forms.
func TestPeekedHead(t *testing.T) {
	for _, c := range []struct {
		v, head  int64
		complete bool
	}{{0, 0, true}, {7, 7, true}, {-1, 0, false}, {-8, 7, false}} {
		if h, ok := changelog.PeekedHead(c.v); h != c.head || ok != c.complete {
			t.Errorf("PeekedHead(%d) = %d, %v; want %d, %v", c.v, h, ok, c.head, c.complete)
		}
	}
}

// TestHeadNumbersEveryWaitingChange: on PostgreSQL, Head numbers every
// change waiting, past one attempt's 10,000, before it answers; a peek
// that numbers only the first 10,000 says its head is incomplete.
func TestHeadNumbersEveryWaitingChange(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Name != "postgres" || tg.Exec != ormtest.ExecPool {
			t.Skip("publishing is PostgreSQL's")
		}
		ctx := context.Background()
		db := setup(t, tg)
		waiting := func(n int) {
			t.Helper()
			if _, err := tg.SQL.ExecContext(ctx, `INSERT INTO "_plasma_changes" ("region", "table_name", "row_id", "op")
SELECT 'default', 'lists', 'r' || g, 'del' FROM generate_series(1, $1) g`, n); err != nil {
				t.Fatal(err)
			}
		}
		waiting(10_500)
		text, args := changelog.PeekHeadSQL(db.Dialect(), "")
		var v int64
		if err := tg.SQL.QueryRowContext(ctx, `SELECT `+strings.Replace(text, "?", "$1", 1), args...).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if h, ok := changelog.PeekedHead(v); h != 10_000 || ok {
			t.Fatalf("peek: head %d, complete %v; want 10000, false", h, ok)
		}
		waiting(10_500)
		if h, err := changelog.Head(ctx, db, ""); err != nil || h != 21_000 {
			t.Fatalf("head %d, %v; want 21000", h, err)
		}
	})
}
