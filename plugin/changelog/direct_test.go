package changelog_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// opLog records, below the change log, each statement's kind and
// whether a write asks for RETURNING.
type opLog struct{ ops []string }

func (l *opLog) mw(next orm.Handler) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		ret := false
		switch q := st.Query.(type) {
		case *orm.InsertQuery:
			r := q.Parts().Returning
			ret = r.All || len(r.Columns) > 0
		case *orm.UpdateQuery:
			r := q.Parts().Returning
			ret = r.All || len(r.Columns) > 0
		}
		op := fmt.Sprint(st.Op)
		if ret {
			op += "+returning"
		}
		l.ops = append(l.ops, op)
		return next(ctx, st)
	}
}

// TestSQLiteLogsWithoutReadBack: where one writer runs at a time
// (SQLite), a plain write of a synced row is logged without RETURNING
// (the direct path): an INSERT from the values it writes, reading
// nothing back; an UPDATE by id by reading the row once after it. Both
// log the same changes as the RETURNING path would.
func TestSQLiteLogsWithoutReadBack(t *testing.T) {
	ctx := context.Background()
	tg := ormtest.SQLite(t)
	log := &opLog{}
	db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: schema}), log.mw)
	if err := orm.EnsureSchema(ctx, schema, db); err != nil {
		t.Fatal(err)
	}
	if err := changelog.Ensure(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Insert(lists).Values(orm.Row{"id": "L1", "name": "a"}).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	op := func(o orm.Op) string { return fmt.Sprint(o) }
	if want := []string{op(orm.OpInsert), op(orm.OpRaw)}; !reflect.DeepEqual(log.ops[len(log.ops)-2:], want) {
		t.Errorf("INSERT ran %v, want it then the log's insert: %v", log.ops, want)
	}
	log.ops = nil
	if _, err := db.Update(lists).Set(orm.Row{"name": "b"}).Where(expr.Eq(lists.Col("id"), "L1")).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{op(orm.OpUpdate), op(orm.OpSelect), op(orm.OpRaw)}; !reflect.DeepEqual(log.ops, want) {
		t.Errorf("UPDATE by id ran %v, want %v", log.ops, want)
	}
	cs, _, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 0)
	if err != nil || len(cs) != 2 {
		t.Fatalf("%d changes, %v", len(cs), err)
	}
	for i, name := range []string{`"a"`, `"b"`} {
		if got := string(cs[i].Row); !strings.Contains(got, `"name":`+name) {
			t.Errorf("change %d: %s, want name %s", i, got, name)
		}
	}
}
