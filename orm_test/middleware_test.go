package ormtest_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// seen is one statement a middleware saw.
type seen struct {
	Op    orm.Op
	Table string
	Raw   bool // no builder: DDL or raw SQL
	InTx  bool
}

// spy records every statement through it.
type spy struct {
	mu  sync.Mutex
	log []seen
}

func (s *spy) mw(next orm.Handler) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		e := seen{Op: st.Op, Raw: st.Query == nil, InTx: st.DB.IsTx()}
		if st.Table != nil {
			e.Table = st.Table.Name()
		}
		s.mu.Lock()
		s.log = append(s.log, e)
		s.mu.Unlock()
		return next(ctx, st)
	}
}

func (s *spy) take() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.log
	s.log = nil
	return l
}

func (s *spy) ops() []orm.Op {
	var ops []orm.Op
	for _, e := range s.take() {
		ops = append(ops, e.Op)
	}
	return ops
}

func TestMiddlewareSeesEveryKind(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		sp := &spy{}
		// Installed with New: EnsureSchema's DDL goes through it.
		db := orm.New(tg.Executor, tg.Dialect, sp.mw)
		if err := orm.EnsureSchema(ctx, qSchema, db); err != nil {
			t.Fatal(err)
		}
		var ddl []string
		for _, e := range sp.take() {
			if e.Op == orm.OpDDL {
				if !e.Raw || !e.InTx {
					t.Errorf("DDL statement %+v: want raw SQL inside EnsureSchema's transaction", e)
				}
				if e.Table != "" {
					ddl = append(ddl, e.Table)
				}
			}
		}
		for _, want := range []string{"people", "orders", "teams"} {
			if !slices.Contains(ddl, want) {
				t.Errorf("no DDL seen for %s (saw %v)", want, ddl)
			}
		}

		mustN(t)(db.Insert(qPeople).Values(orm.Row{"id": "a", "name": "a"}).Exec(ctx))
		mustN(t)(db.Update(qPeople).Set(orm.Row{"age": 1}).Where(expr.Eq(pc("id"), "a")).Exec(ctx))
		if _, err := orm.All[person](ctx, db.Select().From(qPeople)); err != nil {
			t.Fatal(err)
		}
		mustN(t)(db.Delete(qPeople).Where(expr.Eq(pc("id"), "a")).Exec(ctx))
		mustN(t)(db.Exec(ctx, "UPDATE people SET age = ? WHERE id = ?", 2, "zz"))
		rows, err := db.Query(ctx, "SELECT COUNT(*) FROM people WHERE name <> ?", "x")
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
		got := sp.take()
		inTx := tg.Exec == ormtest.ExecTx // the DB runs in the caller's transaction
		want := []seen{
			{Op: orm.OpInsert, Table: "people", InTx: inTx},
			{Op: orm.OpUpdate, Table: "people", InTx: inTx},
			{Op: orm.OpSelect, Table: "people", InTx: inTx},
			{Op: orm.OpDelete, Table: "people", InTx: inTx},
			{Op: orm.OpRaw, Raw: true, InTx: inTx},
			{Op: orm.OpRaw, Raw: true, InTx: inTx}, // DB.Query is opaque: its text may write
		}
		if !slices.Equal(got, want) {
			t.Errorf("saw\n  %+v\nwant\n  %+v", got, want)
		}

		// Inside a transaction the middleware sees the same statements,
		// and each carries the transaction.
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "b", "name": "b"}).Exec(ctx))
			_, err := orm.Scalar[int64](ctx, tx.Select(expr.CountAll()).From(qPeople))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got = sp.take()
		if len(got) != 2 || !got[0].InTx || !got[1].InTx || got[0].Op != orm.OpInsert || got[1].Op != orm.OpSelect {
			t.Errorf("in tx: %+v", got)
		}

		// Installed later with Use; the original DB is unchanged.
		sp2 := &spy{}
		db2 := tg.DB.Use(sp2.mw)
		if _, err := orm.All[person](ctx, db2.Select().From(qPeople)); err != nil {
			t.Fatal(err)
		}
		if _, err := orm.All[person](ctx, tg.DB.Select().From(qPeople)); err != nil {
			t.Fatal(err)
		}
		if ops := sp2.ops(); !slices.Equal(ops, []orm.Op{orm.OpSelect}) {
			t.Errorf("Use: %v", ops)
		}
		// A statement with RETURNING is still the write it is.
		if _, err := orm.Maps(ctx, db2.Delete(qPeople).Where(expr.Eq(pc("id"), "b")).Returning()); err != nil {
			t.Fatal(err)
		}
		if ops := sp2.ops(); !slices.Equal(ops, []orm.Op{orm.OpDelete}) {
			t.Errorf("returning: %v", ops)
		}
	})
}

func TestMiddlewareOrder(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, _ := seed(t, tg)
		var trace []string
		mark := func(name string) orm.Middleware {
			return func(next orm.Handler) orm.Handler {
				return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
					trace = append(trace, name+">")
					res, err := next(ctx, st)
					trace = append(trace, "<"+name)
					return res, err
				}
			}
		}
		db := orm.New(tg.Executor, tg.Dialect, mark("a"), mark("b")).Use(mark("c"), mark("d"))
		if _, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qPeople)); err != nil {
			t.Fatal(err)
		}
		if want := []string{"a>", "b>", "c>", "d>", "<d", "<c", "<b", "<a"}; !slices.Equal(trace, want) {
			t.Errorf("order %v", trace)
		}
	})
}

func TestMiddlewareRewrites(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, base := seed(t, tg)
		// A tenant filter: every read of people gets an extra WHERE, on a
		// clone, so the caller's statement is untouched.
		onlyRed := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				switch q := st.Query.(type) {
				case *orm.SelectQuery:
					if st.Table == qPeople {
						st.Query = q.Clone().Where(expr.Eq(pc("team"), "red"))
					}
				case *orm.UpdateQuery:
					if st.Table == qPeople {
						st.Query = q.Clone().Where(expr.Eq(pc("team"), "red"))
					}
				case *orm.DeleteQuery:
					if st.Table == qPeople {
						st.Query = q.Clone().Where(expr.Eq(pc("team"), "red"))
					}
				case *orm.InsertQuery:
					// Stamp every inserted row's team.
					c, cp := q.Rewrite()
					if i := slices.Index(cp.Columns, "team"); i >= 0 {
						for r := range cp.Rows {
							row := slices.Clone(cp.Rows[r])
							row[i] = "red"
							cp.Rows[r] = row
						}
					}
					st.Query = c
				}
				return next(ctx, st)
			}
		}
		db := base.Use(onlyRed)
		q := db.Select(pc("id")).From(qPeople).OrderBy(expr.Asc(pc("id")))
		got, err := orm.All[string](ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"p1", "p3"}) {
			t.Errorf("rewritten select: %v", got)
		}
		rec("select", got)
		if len(q.Parts().Where) != 0 {
			t.Errorf("the caller's query was changed: %v", q.Parts().Where)
		}
		// The same query object again: rewritten again, not twice.
		if again, _ := orm.All[string](ctx, q); !slices.Equal(again, got) {
			t.Errorf("second run: %v", again)
		}
		// Writes rewritten too.
		n := mustN(t)(db.Update(qPeople).Set(orm.Row{"score": 0}).AllRows().Exec(ctx))
		if n != 2 {
			t.Errorf("rewritten update: %d rows", n)
		}
		mustN(t)(db.Insert(qPeople).Values(orm.Row{"id": "n1", "name": "new", "team": "blue"}).Exec(ctx))
		team, err := orm.Scalar[string](ctx, base.Select(pc("team")).From(qPeople).Where(expr.Eq(pc("id"), "n1")))
		if err != nil || team != "red" {
			t.Errorf("rewritten insert: %q %v", team, err)
		}
		n = mustN(t)(db.Delete(qPeople).Where(expr.Gt(pc("score"), -1)).Exec(ctx))
		if n != 3 {
			t.Errorf("rewritten delete: %d rows", n)
		}
		left, _ := orm.All[string](ctx, base.Select(pc("id")).From(qPeople).OrderBy(expr.Asc(pc("id"))))
		if !slices.Equal(left, []string{"p2", "p4", "p5"}) {
			t.Errorf("left: %v", left)
		}
		rec("left", left)
		// A rewrite that makes the statement invalid is refused like any
		// invalid statement.
		bad := base.Use(func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if q, ok := st.Query.(*orm.SelectQuery); ok {
					st.Query = q.Clone().Limit(-1)
				}
				return next(ctx, st)
			}
		})
		if _, err := orm.All[string](ctx, bad.Select(pc("id")).From(qPeople)); !errors.Is(err, orm.ErrBadLimit) {
			t.Errorf("invalid rewrite: %v", err)
		}
		// A middleware may replace raw SQL.
		rawRewrite := base.Use(func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if st.Query == nil && strings.Contains(st.SQL, "people") {
					st.SQL = strings.Replace(st.SQL, "people", "orders", 1)
				}
				return next(ctx, st)
			}
		})
		rows, err := rawRewrite.Query(ctx, "SELECT COUNT(*) FROM people")
		if err != nil {
			t.Fatal(err)
		}
		var c int64
		for rows.Next() {
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
		if c != 2 { // o3 and o4: o1 and o2 went with p1
			t.Errorf("raw rewrite: %d", c)
		}
	})
}

var errDenied = errors.New("denied")

func TestMiddlewareRejects(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it counts what reaches the driver on an executor of its own over the pool, which cannot see the tables the caller's transaction creates", ormtest.ExecTx)
		ctx := context.Background()
		count := &qCountingExec{Executor: tg.SQL}
		// Rejects every write and all DDL; counts what reached the driver.
		deny := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if st.Op != orm.OpSelect {
					return nil, errDenied
				}
				return next(ctx, st)
			}
		}
		db := orm.New(count, tg.Dialect, deny)
		// DDL: EnsureSchema fails; its read of the table list ran, no DDL.
		if err := orm.EnsureSchema(ctx, qSchema, db); !errors.Is(err, errDenied) {
			t.Fatalf("EnsureSchema: %v", err)
		}
		tables, err := orm.ExistingTables(ctx, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) != 0 {
			t.Errorf("tables created despite the rejection: %v", tables)
		}
		_, db0 := seed(t, tg)
		db = orm.New(count, tg.Dialect, deny)
		before := count.n.Load()
		checks := []struct {
			name string
			run  func() error
		}{
			{"insert", func() error {
				_, err := db.Insert(qPeople).Values(orm.Row{"id": "x", "name": "x"}).Exec(ctx)
				return err
			}},
			{"insert returning", func() error {
				_, err := orm.Maps(ctx, db.Insert(qPeople).Values(orm.Row{"id": "x", "name": "x"}).Returning())
				return err
			}},
			{"update", func() error {
				_, err := db.Update(qPeople).Set(orm.Row{"score": 0}).AllRows().Exec(ctx)
				return err
			}},
			{"delete", func() error { _, err := db.Delete(qOrders).AllRows().Exec(ctx); return err }},
			{"raw exec", func() error { _, err := db.Exec(ctx, "DELETE FROM orders"); return err }},
			{"ddl", func() error { return db.ExecDDL(ctx, nil, "DROP TABLE orders") }},
			{"tx", func() error {
				return db.Tx(ctx, func(tx *orm.Tx) error {
					_, err := tx.Delete(qOrders).AllRows().Exec(ctx)
					return err
				})
			}},
		}
		for _, c := range checks {
			if err := c.run(); !errors.Is(err, errDenied) {
				t.Errorf("%s: %v", c.name, err)
			}
		}
		if n := count.n.Load() - before; n != 0 {
			t.Errorf("%d rejected statements reached the database", n)
		}
		if n := countPeople(t, ctx, db0); n != 5 {
			t.Errorf("people: %d", n)
		}
		if n, _ := orm.Scalar[int64](ctx, db0.Select(expr.CountAll()).From(qOrders)); n != 4 {
			t.Errorf("orders: %d", n)
		}
		// Reads still pass.
		if n := countPeople(t, ctx, db); n != 5 {
			t.Errorf("read through the rejecting chain: %d", n)
		}
	})
}

// TestMiddlewareAddsToTx shows a middleware writing in the same
// transaction as the statement it wraps, as the change log does: the
// added row commits and rolls back with it.
func TestMiddlewareAddsToTx(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "its middleware refuses writes outside a transaction DB begins, and in a caller's transaction every write is inside one", ormtest.ExecTx)
		ctx, base := seed(t, tg)
		audit := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				res, err := next(ctx, st)
				if err != nil || st.Op != orm.OpInsert || st.Table != qPeople {
					return res, err
				}
				if !st.DB.IsTx() {
					return nil, errors.New("audit needs a transaction")
				}
				ins := st.Query.(*orm.InsertQuery)
				id := ins.Parts().Rows[0][slices.Index(ins.Parts().Columns, "id")].(string)
				if _, err := st.DB.Insert(qOrders).Values(orm.Row{"id": "audit-" + id, "person_id": id, "amount": 0}).Exec(ctx); err != nil {
					return nil, err
				}
				return res, nil
			}
		}
		db := base.Use(audit)
		if _, err := db.Insert(qPeople).Values(orm.Row{"id": "nt", "name": "x"}).Exec(ctx); err == nil {
			t.Error("audit outside a transaction should refuse")
		}
		_ = db.Tx(ctx, func(tx *orm.Tx) error {
			mustN(t)(tx.Insert(qPeople).Values(orm.Row{"id": "rb", "name": "x"}).Exec(ctx))
			return errBoom
		})
		if err := db.Tx(ctx, func(tx *orm.Tx) error {
			_, err := tx.Insert(qPeople).Values(orm.Row{"id": "ok", "name": "x"}).Exec(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got, err := orm.All[string](ctx, base.Select(oc("id")).From(qOrders).Where(expr.Like(oc("id"), "audit-%")))
		if err != nil || !slices.Equal(got, []string{"audit-ok"}) {
			t.Errorf("audit rows: %v %v", got, err)
		}
	})
}

// TestNoMiddleware shows the chain is there with nothing installed: every
// kind of statement runs through the same final handler, and a DB with a
// pass-through middleware returns exactly the same results.
func TestNoMiddleware(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx := context.Background()
		plain := orm.New(tg.Executor, tg.Dialect)
		sp := &spy{}
		wrapped := plain.Use(sp.mw)
		if err := orm.EnsureSchema(ctx, qSchema, plain); err != nil {
			t.Fatal(err)
		}
		run := func(db *orm.DB, id string) []orm.Row {
			t.Helper()
			mustN(t)(db.Insert(qPeople).Values(orm.Row{"id": id, "name": id, "age": 1}).Exec(ctx))
			mustN(t)(db.Update(qPeople).Set(orm.Row{"age": 2}).Where(expr.Eq(pc("id"), id)).Exec(ctx))
			mustN(t)(db.Exec(ctx, "UPDATE people SET score = ? WHERE id = ?", 5, id))
			rows, err := orm.Maps(ctx, db.Select(pc("name"), pc("age"), pc("score")).From(qPeople).Where(expr.Eq(pc("id"), id)))
			if err != nil {
				t.Fatal(err)
			}
			mustN(t)(db.Delete(qPeople).Where(expr.Eq(pc("id"), id)).Exec(ctx))
			for _, r := range rows {
				r["name"] = "x"
			}
			return rows
		}
		a, b := run(plain, "plain"), run(wrapped, "wrapped")
		if !reflect.DeepEqual(a, b) {
			t.Errorf("plain %v, wrapped %v", a, b)
		}
		if ops := sp.ops(); !slices.Equal(ops, []orm.Op{orm.OpInsert, orm.OpUpdate, orm.OpRaw, orm.OpSelect, orm.OpDelete}) {
			t.Errorf("wrapped saw %v", ops)
		}
		rec("rows", a)
	})
}
