package ormtest_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

type person struct {
	ID     string
	Name   string
	Age    *int64
	Team   *string
	Score  int64
	Active bool
}

func i64(n int64) *int64 { return &n }

func TestInsert(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		if tg.AbortsOnError() {
			tg.SkipExec(t, "the body goes on after a duplicate key fails an insert; a failed statement aborts the caller's PostgreSQL transaction", ormtest.ExecTx)
		}
		ctx, db := seed(t, tg)
		// One row; omitted columns take their defaults.
		n := mustN(t)(db.Insert(qPeople).Values(orm.Row{"id": "p6", "name": "fay"}).Exec(ctx))
		if n != 1 {
			t.Errorf("one row: %d", n)
		}
		fay, err := orm.One[person](ctx, db.Select().From(qPeople).Where(expr.Eq(pc("id"), "p6")))
		if err != nil {
			t.Fatal(err)
		}
		if want := (person{ID: "p6", Name: "fay", Score: 0, Active: true}); !reflect.DeepEqual(fay, want) {
			t.Errorf("defaults: %+v", fay)
		}
		rec("one", fay)
		// Many rows in one statement; values of several Go integer types.
		n = mustN(t)(db.Insert(qPeople).Values(
			orm.Row{"id": "p7", "name": "gus", "age": int8(7), "score": uint32(7)},
			orm.Row{"id": "p8", "name": "hal", "age": int64(8), "score": int16(8)},
			orm.Row{"id": "p9", "name": "ida", "age": nil, "score": uint64(9)},
		).Exec(ctx))
		if n != 3 {
			t.Errorf("many rows: %d", n)
		}
		many, err := orm.All[person](ctx, db.Select().From(qPeople).Where(expr.InArray(pc("id"), []string{"p7", "p8", "p9"})).OrderBy(expr.Asc(pc("id"))))
		if err != nil {
			t.Fatal(err)
		}
		want := []person{
			{ID: "p7", Name: "gus", Age: i64(7), Score: 7, Active: true},
			{ID: "p8", Name: "hal", Age: i64(8), Score: 8, Active: true},
			{ID: "p9", Name: "ida", Score: 9, Active: true},
		}
		if !reflect.DeepEqual(many, want) {
			t.Errorf("many: %+v", many)
		}
		rec("many", many)
		// Values called twice adds to the same statement; a pointer value
		// binds what it points at.
		name := "jo"
		q := db.Insert(qPeople).Values(orm.Row{"id": "p10", "name": &name}).Values(orm.Row{"id": "p11", "name": "kim"})
		if n := mustN(t)(q.Exec(ctx)); n != 2 {
			t.Errorf("two Values calls: %d", n)
		}
		count, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qPeople))
		if err != nil || count != 11 {
			t.Errorf("count %d %v", count, err)
		}
		// A duplicate key is the database's error, and nothing of the
		// statement is written.
		_, err = db.Insert(qPeople).Values(orm.Row{"id": "p12", "name": "x"}, orm.Row{"id": "p1", "name": "dup"}).Exec(ctx)
		var ee *orm.ExecError
		if !errors.As(err, &ee) || ee.Op != orm.OpInsert {
			t.Errorf("duplicate key: %v", err)
		}
		if got := ids(t, ctx, db, expr.Eq(pc("id"), "p12")); len(got) != 0 {
			t.Errorf("partial insert: %v", got)
		}
	})
}

func TestUpsert(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		type team struct {
			ID       string
			Name     string
			LeadID   *string `db:"lead_id"`
			DeputyID *string `db:"deputy_id"`
		}
		teams := func() []team {
			t.Helper()
			got, err := orm.All[team](ctx, db.Select().From(qTeams).OrderBy(expr.Asc(qTeams.Col("id"))))
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		before := teams()

		// DO NOTHING on the primary key: the existing row stays.
		n := mustN(t)(db.Insert(qTeams).Values(orm.Row{"id": "t1", "name": "other", "lead_id": "p5"}).OnConflictDoNothing("id").Exec(ctx))
		if n != 0 {
			t.Errorf("do nothing wrote %d rows", n)
		}
		// DO NOTHING with no target: any unique constraint (here name).
		n = mustN(t)(db.Insert(qTeams).Values(orm.Row{"id": "t9", "name": "red"}, orm.Row{"id": "t4", "name": "gold"}).OnConflictDoNothing().Exec(ctx))
		if n != 1 {
			t.Errorf("do nothing, no target: %d rows", n)
		}
		after := teams()
		if !reflect.DeepEqual(after[:3], before) || len(after) != 4 || after[3].Name != "gold" {
			t.Errorf("do nothing changed rows: %+v", after)
		}
		rec("do nothing", after)

		// DO UPDATE on the unique name: the conflict target decides which
		// row is updated, and only the named columns change.
		n = mustN(t)(db.Insert(qTeams).Values(orm.Row{"id": "t99", "name": "blue", "lead_id": "p5", "deputy_id": "p2"}).
			OnConflictDoUpdate([]string{"name"}, "lead_id").Exec(ctx))
		if n != 1 {
			t.Errorf("do update: %d", n)
		}
		blue, err := orm.One[team](ctx, db.Select().From(qTeams).Where(expr.Eq(qTeams.Col("name"), "blue")))
		if err != nil {
			t.Fatal(err)
		}
		if want := (team{ID: "t2", Name: "blue", LeadID: str("p5")}); !reflect.DeepEqual(blue, want) {
			t.Errorf("do update, one column: %+v", blue)
		}
		rec("do update one column", blue)

		// DO UPDATE with no columns: every inserted column but the target.
		mustN(t)(db.Insert(qTeams).Values(
			orm.Row{"id": "t1", "name": "crimson", "lead_id": nil, "deputy_id": "p4"},
			orm.Row{"id": "t5", "name": "teal", "lead_id": "p3", "deputy_id": nil},
		).OnConflictDoUpdate([]string{"id"}).Exec(ctx))
		got := teams()
		want := []team{
			{"t1", "crimson", nil, str("p4")},
			{"t2", "blue", str("p5"), nil},
			{"t3", "green", nil, nil},
			{"t4", "gold", nil, nil},
			{"t5", "teal", str("p3"), nil},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("do update all: %+v", got)
		}
		rec("do update all", got)

		// Upsert with RETURNING gives the row as stored.
		ret, err := orm.All[team](ctx, db.Insert(qTeams).Values(orm.Row{"id": "t3", "name": "green", "lead_id": "p1"}).
			OnConflictDoUpdate([]string{"id"}, "lead_id").Returning())
		if err != nil {
			t.Fatal(err)
		}
		if want := []team{{"t3", "green", str("p1"), nil}}; !reflect.DeepEqual(ret, want) {
			t.Errorf("upsert returning: %+v", ret)
		}
		rec("upsert returning", ret)

		// A counter bumped by an upsert's expression-free form twice.
		for range 2 {
			mustN(t)(db.Insert(qPeople).Values(orm.Row{"id": "p1", "name": "ann2", "score": 11}).OnConflictDoUpdate([]string{"id"}, "name", "score").Exec(ctx))
		}
		ann, err := orm.One[person](ctx, db.Select().From(qPeople).Where(expr.Eq(pc("id"), "p1")))
		if err != nil || ann.Name != "ann2" || ann.Score != 11 || *ann.Age != 30 {
			t.Errorf("upsert keeps unnamed columns: %+v %v", ann, err)
		}

		// A conflict target that is not a column is refused up front.
		_, err = db.Insert(qTeams).Values(orm.Row{"id": "t1", "name": "x"}).OnConflictDoUpdate([]string{"nope"}).Exec(ctx)
		var qe *orm.QueryError
		if !errors.As(err, &qe) || !errors.Is(err, orm.ErrUnknownColumn) || qe.Column != "teams.nope" {
			t.Errorf("bad conflict target: %v", err)
		}
		_, err = db.Insert(qTeams).Values(orm.Row{"id": "t1", "name": "x"}).OnConflictDoUpdate(nil).Exec(ctx)
		if !errors.As(err, &qe) {
			t.Errorf("do update without a target: %v", err)
		}
	})
}

func TestReturning(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		// INSERT ... RETURNING every column, into structs.
		ins, err := orm.All[person](ctx, db.Insert(qPeople).Values(
			orm.Row{"id": "r1", "name": "rae", "age": 33, "team": nil},
			orm.Row{"id": "r2", "name": "rex", "age": nil, "team": "red"},
		).Returning())
		if err != nil {
			t.Fatal(err)
		}
		if want := []person{{ID: "r1", Name: "rae", Age: i64(33), Active: true}, {ID: "r2", Name: "rex", Team: str("red"), Active: true}}; !reflect.DeepEqual(ins, want) {
			t.Errorf("insert returning: %+v", ins)
		}
		rec("insert", ins)
		// RETURNING chosen columns and expressions, into maps.
		maps, err := orm.Maps(ctx, db.Insert(qPeople).Values(orm.Row{"id": "r3", "name": "roy", "score": 5, "active": false}).
			Returning(pc("id"), pc("active"), expr.As(expr.SQL("? * 10", pc("score")), "tens")))
		if err != nil {
			t.Fatal(err)
		}
		if want := []orm.Row{{"id": "r3", "active": false, "tens": int64(50)}}; !reflect.DeepEqual(maps, want) {
			t.Errorf("insert returning maps: %v", maps)
		}
		rec("insert maps", maps)

		// UPDATE ... RETURNING.
		type scored struct {
			ID    string
			Score int64
		}
		up, err := orm.All[scored](ctx, db.Update(qPeople).Set(orm.Row{"score": expr.SQL("? + 1", pc("score"))}).
			Where(expr.Eq(pc("team"), "blue")).Returning(pc("id"), pc("score")))
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(up, func(a, b scored) int { return cmpStr(a.ID, b.ID) })
		if want := []scored{{"p2", 21}, {"p5", 51}}; !reflect.DeepEqual(up, want) {
			t.Errorf("update returning: %+v", up)
		}
		rec("update", up)
		upMaps, err := orm.Maps(ctx, db.Update(qPeople).Set(orm.Row{"active": true}).Where(expr.Eq(pc("id"), "p2")).Returning())
		if err != nil {
			t.Fatal(err)
		}
		if len(upMaps) != 1 || upMaps[0]["active"] != true || upMaps[0]["score"] != int64(21) || upMaps[0]["age"] != int64(20) {
			t.Errorf("update returning maps: %v", upMaps)
		}
		rec("update maps", upMaps)

		// DELETE ... RETURNING.
		del, err := orm.All[string](ctx, db.Delete(qOrders).Where(expr.Lt(oc("amount"), 60)).Returning(oc("id")))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(del)
		if !slices.Equal(del, []string{"o2", "o4"}) {
			t.Errorf("delete returning: %v", del)
		}
		rec("delete", del)
		delMaps, err := orm.Maps(ctx, db.Delete(qOrders).Where(expr.Eq(oc("id"), "o1")).Returning())
		if err != nil {
			t.Fatal(err)
		}
		if want := []orm.Row{{"id": "o1", "person_id": "p1", "amount": int64(100), "note": "first"}}; !reflect.DeepEqual(delMaps, want) {
			t.Errorf("delete returning maps: %v", delMaps)
		}
		rec("delete maps", delMaps)
		// Exec on a write with RETURNING counts the rows.
		n := mustN(t)(db.Delete(qOrders).Where(expr.Eq(oc("id"), "o3")).Returning().Exec(ctx))
		if n != 1 {
			t.Errorf("exec with returning: %d", n)
		}
		// RETURNING a column the table does not have is refused.
		_, err = orm.Maps(ctx, db.Delete(qOrders).Where(expr.Eq(oc("id"), "o3")).Returning(pc("name")))
		if !errors.Is(err, orm.ErrUnknownTable) {
			t.Errorf("returning another table's column: %v", err)
		}
	})
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestUpdateDelete(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		// UPDATE with WHERE changes only matching rows.
		n := mustN(t)(db.Update(qPeople).Set(orm.Row{"team": "green", "age": nil}).Where(expr.Eq(pc("team"), "red")).Exec(ctx))
		if n != 2 {
			t.Errorf("update: %d rows", n)
		}
		green := ids(t, ctx, db, expr.Eq(pc("team"), "green"), expr.IsNull(pc("age")))
		if !slices.Equal(green, []string{"p1", "p3"}) {
			t.Errorf("update result: %v", green)
		}
		rec("update", green)
		// UPDATE with a subquery in WHERE and an expression in SET.
		mustN(t)(db.Update(qPeople).Set(orm.Row{"score": expr.SQL("? * 2", pc("score"))}).
			Where(expr.InArray(pc("id"), orm.Select(oc("person_id")).From(qOrders).Where(expr.Gt(oc("amount"), 60)))).Exec(ctx))
		scores, err := orm.All[int64](ctx, db.Select(pc("score")).From(qPeople).OrderBy(expr.Asc(pc("id"))))
		if err != nil || !slices.Equal(scores, []int64{20, 40, 30, 40, 50}) {
			t.Errorf("update with subquery: %v %v", scores, err)
		}
		rec("scores", scores)
		// UPDATE and DELETE without WHERE are refused, and nothing changes.
		_, err = db.Update(qPeople).Set(orm.Row{"score": 0}).Exec(ctx)
		var qe *orm.QueryError
		if !errors.Is(err, orm.ErrUnsafeWrite) || !errors.As(err, &qe) || qe.Statement != "UPDATE people" {
			t.Errorf("update without where: %v", err)
		}
		_, err = db.Update(qPeople).Set(orm.Row{"score": 0}).Where().Exec(ctx)
		if !errors.Is(err, orm.ErrUnsafeWrite) {
			t.Errorf("update with empty Where(): %v", err)
		}
		_, err = db.Delete(qOrders).Exec(ctx)
		if !errors.Is(err, orm.ErrUnsafeWrite) || !errors.As(err, &qe) || qe.Statement != "DELETE FROM orders" {
			t.Errorf("delete without where: %v", err)
		}
		_, err = orm.Maps(ctx, db.Delete(qOrders).Returning())
		if !errors.Is(err, orm.ErrUnsafeWrite) {
			t.Errorf("delete returning without where: %v", err)
		}
		if sum, _ := orm.Scalar[int64](ctx, db.Select(expr.Sum(pc("score"))).From(qPeople)); sum != 180 {
			t.Errorf("refused update wrote: sum %d", sum)
		}
		if c, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qOrders)); c != 4 {
			t.Errorf("refused delete wrote: %d orders", c)
		}
		// AllRows says every row is meant.
		n = mustN(t)(db.Update(qPeople).Set(orm.Row{"score": 1}).AllRows().Exec(ctx))
		if n != 5 {
			t.Errorf("update all rows: %d", n)
		}
		n = mustN(t)(db.Delete(qOrders).Where(expr.Eq(oc("person_id"), "p4")).Exec(ctx))
		if n != 1 {
			t.Errorf("delete: %d", n)
		}
		n = mustN(t)(db.Delete(qOrders).AllRows().Exec(ctx))
		if n != 3 {
			t.Errorf("delete all rows: %d", n)
		}
		// Deleting people cascades to their orders and nulls team leads.
		mustN(t)(db.Insert(qOrders).Values(orm.Row{"id": "o9", "person_id": "p2", "amount": 1}).Exec(ctx))
		mustN(t)(db.Delete(qPeople).Where(expr.Eq(pc("id"), "p2")).Exec(ctx))
		if c, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qOrders)); c != 0 {
			t.Errorf("cascade: %d orders left", c)
		}
		lead, err := orm.One[*string](ctx, db.Select(qTeams.Col("lead_id")).From(qTeams).Where(expr.Eq(qTeams.Col("id"), "t2")))
		if err != nil || lead != nil {
			t.Errorf("set null: %v %v", lead, err)
		}
		// A write's Where does not leak between clones.
		base := db.Update(qPeople).Set(orm.Row{"score": 7})
		a := base.Clone().Where(expr.Eq(pc("id"), "p1"))
		b := base.Clone().Where(expr.Eq(pc("id"), "p3"))
		mustN(t)(a.Exec(ctx))
		mustN(t)(b.Exec(ctx))
		if _, err := base.Exec(ctx); !errors.Is(err, orm.ErrUnsafeWrite) {
			t.Errorf("base took a clone's WHERE: %v", err)
		}
		sevens := ids(t, ctx, db, expr.Eq(pc("score"), 7))
		if !slices.Equal(sevens, []string{"p1", "p3"}) {
			t.Errorf("clones: %v", sevens)
		}
		rec("clones", sevens)
	})
}
