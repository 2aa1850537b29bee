package ormtest_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// The builders implement the optional interfaces the last handler asks of
// a Statement's Query.
var (
	_ orm.ResultKinder = (*orm.SelectQuery)(nil)
	_ orm.RowsHinter   = (*orm.SelectQuery)(nil)
	_ orm.Returner     = (*orm.InsertQuery)(nil)
	_ orm.ResultKinder = (*orm.InsertQuery)(nil)
	_ orm.Returner     = (*orm.UpdateQuery)(nil)
	_ orm.ResultKinder = (*orm.UpdateQuery)(nil)
	_ orm.Returner     = (*orm.DeleteQuery)(nil)
	_ orm.ResultKinder = (*orm.DeleteQuery)(nil)
)

// appenderOnly hides every method of the query it wraps but AppendSQL.
type appenderOnly struct{ q dialect.Appender }

func (a appenderOnly) AppendSQL(b *dialect.Builder) error { return a.q.AppendSQL(b) }

// forwarding wraps an update and keeps its optional methods, as a
// middleware replacing Query with its own Appender should.
type forwarding struct{ *orm.UpdateQuery }

// TestOptionalQueryInterfaces: a middleware that replaces a Query with an
// Appender of its own keeps RETURNING rows and result kinds by
// implementing Returner and ResultKinder; without them the write runs as
// Exec and returns no rows.
func TestOptionalQueryInterfaces(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, base := seed(t, tg)
		wrap := func(w func(*orm.UpdateQuery) dialect.Appender) orm.Middleware {
			return func(next orm.Handler) orm.Handler {
				return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
					if q, ok := st.Query.(*orm.UpdateQuery); ok {
						st.Query = w(q)
					}
					return next(ctx, st)
				}
			}
		}
		upd := func(db *orm.DB) *orm.UpdateQuery {
			return db.Update(qPeople).Set(orm.Row{"active": false}).
				Where(expr.Eq(pc("id"), "p1")).Returning(pc("id"), pc("active"))
		}

		db := base.Use(wrap(func(q *orm.UpdateQuery) dialect.Appender { return forwarding{q} }))
		got, err := orm.Maps(ctx, upd(db))
		if err != nil {
			t.Fatal(err)
		}
		if want := []orm.Row{{"id": "p1", "active": false}}; !reflect.DeepEqual(got, want) {
			t.Errorf("forwarding wrapper: %v, want %v", got, want)
		}

		db = base.Use(wrap(func(q *orm.UpdateQuery) dialect.Appender { return appenderOnly{q} }))
		res, err := upd(db).Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != nil || res.RowsAffected != 1 {
			t.Errorf("appender-only wrapper: rows %v, %d affected; want no rows, 1 affected", res.Rows, res.RowsAffected)
		}
	})
}
