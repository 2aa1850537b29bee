package crdtcol_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
)

var (
	posts = orm.NewTable("posts",
		orm.ID(),
		orm.Text("title").Default(""),
		orm.CRDTCounter("likes").Nullable(),
		orm.CRDTPNCounter("score").Nullable(),
		orm.CRDTLWWRegister("status").Nullable(),
		orm.CRDTORSet("tags").Nullable(),
	)
	// counters is an unsynced table keyed by an integer, with a unique
	// text column to upsert on.
	counters = orm.NewTable("counters",
		orm.BigInt("n").PrimaryKey(),
		orm.Text("slug").Unique(),
		orm.CRDTCounter("hits").Nullable(),
	).With(orm.TableOptions{ChangeLogSuppressed: true})
	schema = orm.MustDefineSchema("1", posts, counters)
)

// setup creates the schema and returns a DB with the middleware (and any
// inner middlewares given after it).
func setup(t *testing.T, tg *ormtest.Target, opts crdtcol.Options, inner ...orm.Middleware) (context.Context, *orm.DB) {
	t.Helper()
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, schema, tg.DB); err != nil {
		t.Fatal(err)
	}
	return ctx, tg.DB.Use(append([]orm.Middleware{crdtcol.Middleware(opts)}, inner...)...)
}

// second opens another pool on the same database, as another server
// process would, with the middleware.
func second(t *testing.T, tg *ormtest.Target, opts crdtcol.Options) *orm.DB {
	return orm.New(tg.Open(t), tg.Dialect, crdtcol.Middleware(opts))
}

func as(client string) context.Context {
	return changelog.WithOrigin(context.Background(), client, 1)
}

func insertPost(t *testing.T, ctx context.Context, db *orm.DB, id string) {
	t.Helper()
	if _, err := db.Insert(posts).Values(orm.Row{"id": id, "title": "t-" + id}).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func byID(id string) expr.Expr { return expr.Eq(posts.Col("id"), id) }

// raw reads a column's stored text without the middleware.
func raw(t *testing.T, tg *ormtest.Target, id, col string) string {
	t.Helper()
	rows, err := tg.DB.Query(context.Background(), `SELECT "`+col+`" FROM "posts" WHERE "id" = ?`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("row %s not found", id)
	}
	var v any
	if err := rows.Scan(&v); err != nil {
		t.Fatal(err)
	}
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	}
	t.Fatalf("column %s holds %T", col, v)
	return ""
}

func setState(t *testing.T, ctx context.Context, db *orm.DB, id, col string, state []byte) {
	t.Helper()
	if _, err := db.Update(posts).Set(orm.Row{col: string(state)}).Where(byID(id)).Exec(ctx); err != nil {
		t.Fatalf("write %s of %s: %v", col, id, err)
	}
}

func gcounter(t *testing.T, s string) *crdt.GCounter {
	t.Helper()
	c, err := crdt.DecodeGCounter([]byte(s), crdt.Limits{})
	if err != nil {
		t.Fatalf("stored G-counter %s: %v", s, err)
	}
	return c
}

func orset(t *testing.T, s string) *crdt.ORSet {
	t.Helper()
	c, err := crdt.DecodeORSet([]byte(s), crdt.Limits{})
	if err != nil {
		t.Fatalf("stored OR-set %s: %v", s, err)
	}
	return c
}

func values(s *crdt.ORSet) string {
	var parts []string
	for _, v := range s.Values() {
		parts = append(parts, string(v))
	}
	return strings.Join(parts, ",")
}

// TestTwoWritersIncrement: two clients on two pools each build an
// increment on the state they last read; both count, whatever the order.
func TestTwoWritersIncrement(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, dbA := setup(t, tg, crdtcol.Options{})
		dbB := second(t, tg, crdtcol.Options{})
		insertPost(t, ctx, dbA, "p1")

		// Interleaved full-state writes: both read, then both write.
		read := func(db *orm.DB) *crdt.GCounter {
			s, err := crdtcol.Load(ctx, db, posts, "p1", "likes")
			if err != nil {
				t.Fatal(err)
			}
			return s.(*crdt.GCounter)
		}
		for round := range 3 {
			a, b := read(dbA), read(dbB)
			if err := a.Increment("alice", 1); err != nil {
				t.Fatal(err)
			}
			if err := b.Increment("bob", 2); err != nil {
				t.Fatal(err)
			}
			if round%2 == 0 {
				setState(t, ctx, dbA, "p1", "likes", a.Encode())
				setState(t, ctx, dbB, "p1", "likes", b.Encode())
			} else {
				setState(t, ctx, dbB, "p1", "likes", b.Encode())
				setState(t, ctx, dbA, "p1", "likes", a.Encode())
			}
		}
		if got := gcounter(t, raw(t, tg, "p1", "likes")).Read(); got != 9 {
			t.Fatalf("interleaved writes: counter %d, want 9", got)
		}

		// Concurrent Increment calls, one goroutine per client and pool.
		const each = 15
		var wg sync.WaitGroup
		errs := make(chan error, 2*each)
		for i, db := range []*orm.DB{dbA, dbB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := as([]string{"alice", "bob"}[i])
				for range each {
					if err := crdtcol.Increment(ctx, db, posts, "p1", "likes", 1); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		c := gcounter(t, raw(t, tg, "p1", "likes"))
		if c.Read() != 9+2*each || c.Count("alice") != 3+each || c.Count("bob") != 6+each {
			t.Fatalf("concurrent increments: %s", raw(t, tg, "p1", "likes"))
		}
	})
}

// TestORSetConcurrentAdds: adds built on the same state by two clients
// both survive, and so do concurrent AddToSet calls on two pools.
func TestORSetConcurrentAdds(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, dbA := setup(t, tg, crdtcol.Options{})
		dbB := second(t, tg, crdtcol.Options{})
		insertPost(t, ctx, dbA, "p1")
		var a, b crdt.ORSet
		if err := a.Add("alice", json.RawMessage(`"x"`)); err != nil {
			t.Fatal(err)
		}
		if err := b.Add("bob", json.RawMessage(`"y"`)); err != nil {
			t.Fatal(err)
		}
		setState(t, ctx, dbA, "p1", "tags", a.Encode())
		setState(t, ctx, dbB, "p1", "tags", b.Encode())
		if got := values(orset(t, raw(t, tg, "p1", "tags"))); got != `"x","y"` {
			t.Fatalf("full-state adds: %s", got)
		}

		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i, db := range []*orm.DB{dbA, dbB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := []string{"alice", "bob"}[i]
				for k := range 10 {
					if err := crdtcol.AddToSet(as(client), db, posts, "p1", "tags", fmt.Sprintf("%s-%d", client, k)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if got := orset(t, raw(t, tg, "p1", "tags")).Len(); got != 22 {
			t.Fatalf("concurrent AddToSet: %d elements: %s", got, raw(t, tg, "p1", "tags"))
		}
	})
}

// TestAddWinsOverRemove: an add racing a remove of the same element (both
// built on the same state) survives in either order; a remove that has
// seen every add removes the element.
func TestAddWinsOverRemove(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{})
		var base crdt.ORSet
		if err := base.Add("alice", json.RawMessage(`"x"`)); err != nil {
			t.Fatal(err)
		}
		readd := base.Clone()
		if err := readd.Add("alice", json.RawMessage(`"x"`)); err != nil {
			t.Fatal(err)
		}
		removed := base.Clone()
		removed.Remove(json.RawMessage(`"x"`))
		for i, order := range [][]*crdt.ORSet{{removed, readd}, {readd, removed}} {
			id := fmt.Sprint("p", i)
			insertPost(t, ctx, db, id)
			setState(t, ctx, db, id, "tags", base.Encode())
			for _, s := range order {
				setState(t, ctx, db, id, "tags", s.Encode())
			}
			if got := values(orset(t, raw(t, tg, id, "tags"))); got != `"x"` {
				t.Errorf("order %d: add must win: %q", i, got)
			}
		}
		insertPost(t, ctx, db, "p9")
		setState(t, ctx, db, "p9", "tags", base.Encode())
		setState(t, ctx, db, "p9", "tags", removed.Encode())
		if got := values(orset(t, raw(t, tg, "p9", "tags"))); got != "" {
			t.Errorf("an observed remove must remove: %q", got)
		}
		// The same through the helpers: remove, then re-add.
		if err := crdtcol.RemoveFromSet(ctx, db, posts, "p0", "tags", "x"); err != nil {
			t.Fatal(err)
		}
		if got := values(orset(t, raw(t, tg, "p0", "tags"))); got != "" {
			t.Errorf("RemoveFromSet: %q", got)
		}
		if err := crdtcol.AddToSet(as("bob"), db, posts, "p0", "tags", "x"); err != nil {
			t.Fatal(err)
		}
		if got := values(orset(t, raw(t, tg, "p0", "tags"))); got != `"x"` {
			t.Errorf("re-add: %q", got)
		}
	})
}

// TestLWWTie: two writes with equal timestamps resolve by client ID, in
// either order; the same marker with two values is refused.
func TestLWWTie(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{})
		ts := new(crdt.Clock).Now()
		var a, b crdt.LWWRegister
		if err := a.Set("alice", json.RawMessage(`"from alice"`), ts); err != nil {
			t.Fatal(err)
		}
		if err := b.Set("bob", json.RawMessage(`"from bob"`), ts); err != nil {
			t.Fatal(err)
		}
		for i, order := range [][]*crdt.LWWRegister{{&a, &b}, {&b, &a}} {
			id := fmt.Sprint("p", i)
			insertPost(t, ctx, db, id)
			for _, s := range order {
				setState(t, ctx, db, id, "status", s.Encode())
			}
			if got := raw(t, tg, id, "status"); got != string(b.Encode()) {
				t.Errorf("order %d: %s, want bob's write", i, got)
			}
		}
		var c crdt.LWWRegister
		if err := c.Set("bob", json.RawMessage(`"another"`), ts); err != nil {
			t.Fatal(err)
		}
		_, err := db.Update(posts).Set(orm.Row{"status": string(c.Encode()), "title": "changed"}).Where(byID("p0")).Exec(ctx)
		var ce *crdtcol.Error
		if !errors.Is(err, crdt.ErrConflict) || !errors.As(err, &ce) || ce.Side != crdtcol.SideMerged || ce.Row != `"p0"` {
			t.Fatalf("same marker, other value: %v", err)
		}
		if got := raw(t, tg, "p0", "title"); got != "t-p0" {
			t.Errorf("refused write changed the title: %q", got)
		}
		// A later SetRegister wins over both.
		if err := crdtcol.SetRegister(as("alice"), db, posts, "p0", "status", map[string]int{"v": 2}); err != nil {
			t.Fatal(err)
		}
		s, err := crdtcol.Load(ctx, db, posts, "p0", "status")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.(*crdt.LWWRegister).Read(nil); string(got) != `{"v":2}` {
			t.Errorf("SetRegister: %s", got)
		}
	})
}

// TestStaleWrite: a client writing an older full state never lowers what
// is stored.
func TestStaleWrite(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{})
		insertPost(t, ctx, db, "p1")
		var old crdt.GCounter
		_ = old.Increment("alice", 3)
		cur := old.Clone()
		_ = cur.Increment("alice", 2)
		var pnOld crdt.PNCounter
		_ = pnOld.Increment("alice", 4)
		pnCur := pnOld.Clone()
		_ = pnCur.Decrement("alice", 1)
		clock := new(crdt.Clock)
		var regOld crdt.LWWRegister
		_ = regOld.Set("alice", json.RawMessage(`"old"`), clock.Now())
		regCur := regOld.Clone()
		_ = regCur.Set("alice", json.RawMessage(`"new"`), clock.Now())
		setState(t, ctx, db, "p1", "likes", cur.Encode())
		setState(t, ctx, db, "p1", "score", pnCur.Encode())
		setState(t, ctx, db, "p1", "status", regCur.Encode())
		// The stale states, with a title change in the same statement.
		if _, err := db.Update(posts).Set(orm.Row{
			"likes": string(old.Encode()), "score": string(pnOld.Encode()), "status": string(regOld.Encode()), "title": "renamed",
		}).Where(byID("p1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got := raw(t, tg, "p1", "likes"); got != string(cur.Encode()) {
			t.Errorf("G-counter lowered: %s", got)
		}
		if got := raw(t, tg, "p1", "score"); got != string(pnCur.Encode()) {
			t.Errorf("PN-counter changed: %s", got)
		}
		if got := raw(t, tg, "p1", "status"); got != string(regCur.Encode()) {
			t.Errorf("register went back: %s", got)
		}
		if got := raw(t, tg, "p1", "title"); got != "renamed" {
			t.Errorf("title: %q", got)
		}
		// NULL written is the empty state: merging it changes nothing.
		if _, err := db.Update(posts).Set(orm.Row{"likes": nil}).Where(byID("p1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got := raw(t, tg, "p1", "likes"); got != string(cur.Encode()) {
			t.Errorf("NULL written: %s", got)
		}
	})
}

// TestMalformed: bad incoming and stored states fail with a typed error and
// write nothing, not even the statement's other columns or other rows.
//
// It is one long function on purpose: after each refused write it checks
// that the rows the earlier steps left are unchanged.
func TestMalformed(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{Limits: crdt.Limits{MaxClients: 4}})
		insertPost(t, ctx, db, "p1")
		insertPost(t, ctx, db, "p2")
		good := `{"c":{"alice":"1"}}`
		setState(t, ctx, db, "p1", "likes", []byte(good))
		setState(t, ctx, db, "p2", "likes", []byte(good))
		many := func(prefix string, n int) string {
			var c crdt.GCounter
			for i := range n {
				_ = c.Increment(fmt.Sprintf("%s%d", prefix, i), 1)
			}
			return string(c.Encode())
		}
		for _, tc := range []struct {
			name, state string
			want        error
		}{
			{"negative entry", `{"c":{"bob":"-1"}}`, crdt.ErrMalformed},
			{"non-numeric", `{"c":{"bob":"two"}}`, crdt.ErrMalformed},
			{"number not string", `{"c":{"bob":2}}`, crdt.ErrMalformed},
			{"wrong shape", `{"p":{},"n":{}}`, crdt.ErrMalformed},
			{"array", `[1,2]`, crdt.ErrMalformed},
			{"too many clients", many("c", 5), crdt.ErrTooLarge},
		} {
			_, err := db.Update(posts).Set(orm.Row{"likes": tc.state, "title": "changed"}).AllRows().Exec(ctx)
			var ce *crdtcol.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) || ce.Side != crdtcol.SideWritten || ce.Column != "likes" {
				t.Errorf("%s: %v", tc.name, err)
			}
			// Inserts are checked too.
			if _, err := db.Insert(posts).Values(orm.Row{"id": "bad", "likes": tc.state}).Exec(ctx); !errors.Is(err, tc.want) {
				t.Errorf("%s: insert: %v", tc.name, err)
			}
		}
		// A merge whose result exceeds the cap.
		setState(t, ctx, db, "p2", "likes", []byte(many("s", 3)))
		_, err := db.Update(posts).Set(orm.Row{"likes": many("w", 3), "title": "changed"}).Where(byID("p2")).Exec(ctx)
		var ce *crdtcol.Error
		if !errors.Is(err, crdt.ErrTooLarge) || !errors.As(err, &ce) || ce.Side != crdtcol.SideMerged {
			t.Errorf("merged beyond the cap: %v", err)
		}
		// A corrupt stored state (written behind plasma's back) in one of
		// the two rows an UPDATE matches: neither row changes.
		if _, err := tg.DB.Exec(ctx, `UPDATE "posts" SET "likes" = ? WHERE "id" = ?`, `{"c":{"eve":"-5"}}`, "p2"); err != nil {
			t.Fatal(err)
		}
		_, err = db.Update(posts).Set(orm.Row{"likes": `{"c":{"bob":"1"}}`, "title": "changed"}).AllRows().Exec(ctx)
		if !errors.Is(err, crdt.ErrMalformed) || !errors.As(err, &ce) || ce.Side != crdtcol.SideStored || ce.Row != `"p2"` {
			t.Errorf("stored malformed: %v", err)
		}
		// Inside the caller's transaction, the error rolls it back.
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			if _, err := tx.Update(posts).Set(orm.Row{"title": "in tx"}).Where(byID("p1")).Exec(ctx); err != nil {
				return err
			}
			return crdtcol.Increment(as("bob"), tx.DB, posts, "p2", "likes", 1)
		})
		if !errors.Is(err, crdt.ErrMalformed) {
			t.Errorf("Increment on a malformed state: %v", err)
		}
		for _, id := range []string{"p1", "p2"} {
			if got := raw(t, tg, id, "title"); got != "t-"+id {
				t.Errorf("%s: title written: %q", id, got)
			}
		}
		if got := raw(t, tg, "p1", "likes"); got != good {
			t.Errorf("p1 likes changed: %s", got)
		}
		if got := raw(t, tg, "p2", "likes"); got != `{"c":{"eve":"-5"}}` {
			t.Errorf("p2 likes changed: %s", got)
		}
		// A row of the other table and an insert with a bad state: nothing.
		n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(posts))
		if err != nil || n != 2 {
			t.Errorf("rows: %d %v", n, err)
		}
		// SQL expressions are refused for CRDT columns.
		_, err = db.Update(posts).Set(orm.Row{"likes": expr.SQL("NULL")}).Where(byID("p1")).Exec(ctx)
		if !errors.Is(err, crdtcol.ErrExpression) {
			t.Errorf("expression: %v", err)
		}
	})
}

// TestReturningAndOtherColumns: a multi-row UPDATE keeps its other SET
// columns, its rows-affected count and its RETURNING rows, which carry
// the merged states.
func TestReturningAndOtherColumns(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{})
		for i := range 3 {
			id := fmt.Sprint("p", i)
			insertPost(t, ctx, db, id)
			setState(t, ctx, db, id, "likes", []byte(fmt.Sprintf(`{"c":{"alice":"%d"}}`, i+1)))
		}
		n, err := db.Update(posts).Set(orm.Row{"likes": `{"c":{"bob":"5"}}`, "title": "all"}).AllRows().Exec(ctx)
		if err != nil || n != 3 {
			t.Fatalf("update: %d %v", n, err)
		}
		type row struct {
			ID    string
			Title string
			Likes json.RawMessage
		}
		_, err = orm.All[row](ctx, db.Update(posts).
			Set(orm.Row{"likes": crdtcol.Incr(1), "title": expr.SQL("? || '!'", posts.Col("title"))}).
			Where(expr.InArray(posts.Col("id"), []string{"p0", "p2"})).
			Returning(posts.Col("id"), posts.Col("title"), posts.Col("likes")))
		if !errors.Is(err, crdtcol.ErrNoClient) {
			t.Fatalf("Incr without a client: %v", err)
		}
		res, err := orm.All[row](as("carol"), db.Update(posts).
			Set(orm.Row{"likes": crdtcol.Incr(1), "title": expr.SQL("? || '!'", posts.Col("title"))}).
			Where(expr.InArray(posts.Col("id"), []string{"p0", "p2"})).
			Returning(posts.Col("id"), posts.Col("title"), posts.Col("likes")))
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 {
			t.Fatalf("returning: %+v", res)
		}
		for _, r := range res {
			if r.Title != "all!" {
				t.Errorf("%s: title %q", r.ID, r.Title)
			}
			if got := raw(t, tg, r.ID, "likes"); got != string(r.Likes) {
				t.Errorf("%s: returned %s, stored %s", r.ID, r.Likes, got)
			}
		}
		if got := raw(t, tg, "p2", "likes"); got != `{"c":{"alice":"3","bob":"5","carol":"1"}}` {
			t.Errorf("p2: %s", got)
		}
		if got := raw(t, tg, "p1", "title"); got != "all" {
			t.Errorf("p1 touched: %q", got)
		}
		// No row matched: zero, and an empty RETURNING.
		n, err = db.Update(posts).Set(orm.Row{"likes": `{"c":{"bob":"9"}}`}).Where(byID("nope")).Exec(ctx)
		if err != nil || n != 0 {
			t.Errorf("no match: %d %v", n, err)
		}
		none, err := orm.All[row](ctx, db.Update(posts).Set(orm.Row{"likes": `{"c":{"bob":"9"}}`}).Where(byID("nope")).Returning())
		if err != nil || len(none) != 0 {
			t.Errorf("no match, returning: %v %v", none, err)
		}
		// One row with RETURNING inside a caller's transaction.
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			one, err := orm.One[row](ctx, tx.Update(posts).Set(orm.Row{"likes": `{"c":{"dan":"1"}}`}).Where(byID("p1")).Returning())
			if err != nil {
				return err
			}
			if string(one.Likes) != `{"c":{"alice":"2","bob":"5","dan":"1"}}` {
				t.Errorf("one row: %s", one.Likes)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestUpsertAndInsert: inserts store canonical states; an upsert merges
// with the row it conflicts with, on the primary key or another unique
// column.
//
// It is one long function on purpose: each step merges with the state
// the earlier ones stored.
func TestUpsertAndInsert(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{})
		// A non-canonical spelling is stored canonically.
		if _, err := db.Insert(posts).Values(orm.Row{"id": "p1", "likes": `{ "c" : { "bob":"2", "alice":"1" } }`}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got := raw(t, tg, "p1", "likes"); got != `{"c":{"alice":"1","bob":"2"}}` {
			t.Errorf("canonical: %s", got)
		}
		up := func(id, likes, title string) {
			t.Helper()
			if _, err := db.Insert(posts).Values(orm.Row{"id": id, "likes": likes, "title": title}).
				OnConflictDoUpdate([]string{"id"}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		up("p1", `{"c":{"alice":"4","carol":"1"}}`, "upserted")
		if got := raw(t, tg, "p1", "likes"); got != `{"c":{"alice":"4","bob":"2","carol":"1"}}` {
			t.Errorf("upsert merge: %s", got)
		}
		if got := raw(t, tg, "p1", "title"); got != "upserted" {
			t.Errorf("upsert title: %q", got)
		}
		up("p1", `{"c":{"alice":"1"}}`, "again") // stale: no lower
		if got := raw(t, tg, "p1", "likes"); got != `{"c":{"alice":"4","bob":"2","carol":"1"}}` {
			t.Errorf("stale upsert: %s", got)
		}
		up("p2", `{"c":{"zed":"7"}}`, "new")
		if got := raw(t, tg, "p2", "likes"); got != `{"c":{"zed":"7"}}` {
			t.Errorf("upsert insert: %s", got)
		}
		// An Op in an upsert applies to the existing row's state.
		if _, err := db.Insert(posts).Values(orm.Row{"id": "p2", "likes": crdtcol.Incr(3)}).
			OnConflictDoUpdate([]string{"id"}, "likes").Exec(as("zed")); err != nil {
			t.Fatal(err)
		}
		if got := raw(t, tg, "p2", "likes"); got != `{"c":{"zed":"10"}}` {
			t.Errorf("upsert op: %s", got)
		}
		// On a unique text column of a table keyed by an integer.
		cup := func(n int64, slug, hits string) {
			t.Helper()
			if _, err := db.Insert(counters).Values(orm.Row{"n": n, "slug": slug, "hits": hits}).
				OnConflictDoUpdate([]string{"slug"}, "hits").Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		cup(1, "home", `{"c":{"a":"1"}}`)
		cup(2, "home", `{"c":{"b":"1"}}`)
		cup(3, "about", `{"c":{"b":"1"}}`)
		var hits string
		rows, err := tg.DB.Query(ctx, `SELECT "hits" FROM "counters" WHERE "slug" = ?`, "home")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			if err := rows.Scan(&hits); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
		if hits != `{"c":{"a":"1","b":"1"}}` {
			t.Errorf("unique-column upsert: %s", hits)
		}
		// An UPDATE of a table keyed by an integer, matched on another column.
		type counter struct {
			N    int64
			Hits json.RawMessage
		}
		got, err := orm.All[counter](ctx, db.Update(counters).Set(orm.Row{"hits": `{"c":{"c":"2"}}`}).
			Where(expr.InArray(counters.Col("slug"), []string{"home", "about"})).Returning(counters.Col("n"), counters.Col("hits")))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || fmt.Sprintf("%d %s %d %s", got[0].N, got[0].Hits, got[1].N, got[1].Hits) !=
			`1 {"c":{"a":"1","b":"1","c":"2"}} 3 {"c":{"b":"1","c":"2"}}` {
			t.Errorf("integer-keyed update: %+v", got)
		}
		// An upsert that leaves out its conflict target cannot merge.
		_, err = db.Insert(counters).Values(orm.Row{"n": 9, "hits": `{}`}).OnConflictDoUpdate([]string{"slug"}, "hits").Exec(ctx)
		if !errors.Is(err, crdtcol.ErrUpsertTarget) {
			t.Errorf("missing target: %v", err)
		}
	})
}

// TestInnerMiddlewareSeesMerged: a middleware inside crdtcol (where the
// change log goes) sees the merged state, never the written one.
func TestInnerMiddlewareSeesMerged(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		var mu sync.Mutex
		var seen []string
		rec := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if q, ok := st.Query.(*orm.UpdateQuery); ok {
					if !st.DB.IsTx() {
						t.Errorf("inner middleware outside a transaction")
					}
					for _, a := range q.Parts().Set {
						if a.Column == "likes" {
							mu.Lock()
							seen = append(seen, fmt.Sprint(a.Value))
							mu.Unlock()
						}
					}
				}
				return next(ctx, st)
			}
		}
		ctx, db := setup(t, tg, crdtcol.Options{}, rec)
		insertPost(t, ctx, db, "p1")
		setState(t, ctx, db, "p1", "likes", []byte(`{"c":{"alice":"3"}}`))
		setState(t, ctx, db, "p1", "likes", []byte(`{"c":{"bob":"1"}}`))
		want := []string{`{"c":{"alice":"3"}}`, `{"c":{"alice":"3","bob":"1"}}`}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("inner saw %v, want %v", seen, want)
		}
	})
}

// TestOps covers the helpers and their errors.
func TestOps(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{})
		insertPost(t, ctx, db, "p1")
		alice := as("alice")
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(crdtcol.Increment(alice, db, posts, "p1", "score", 5))
		must(crdtcol.Decrement(alice, db, posts, "p1", "score", 2))
		must(crdtcol.Decrement(as("bob"), db, posts, "p1", "score", 4))
		s, err := crdtcol.Load(ctx, db, posts, "p1", "score")
		must(err)
		if got := s.(*crdt.PNCounter).Read(); got != -1 {
			t.Errorf("PN counter: %d", got)
		}
		if err := crdtcol.Increment(ctx, db, posts, "p1", "likes", 1); !errors.Is(err, crdtcol.ErrNoClient) {
			t.Errorf("no client: %v", err)
		}
		if err := crdtcol.Increment(alice, db, posts, "nope", "likes", 1); !errors.Is(err, orm.ErrNotFound) {
			t.Errorf("missing row: %v", err)
		}
		if err := crdtcol.Decrement(alice, db, posts, "p1", "likes", 1); !errors.Is(err, crdtcol.ErrOpKind) {
			t.Errorf("Decr on a G-counter: %v", err)
		}
		if err := crdtcol.Increment(alice, db, posts, "p1", "likes", -1); !errors.Is(err, crdt.ErrInvalidArgument) {
			t.Errorf("negative delta: %v", err)
		}
		if err := crdtcol.AddToSet(alice, db, posts, "p1", "status", "x"); !errors.Is(err, crdtcol.ErrOpKind) {
			t.Errorf("Add on a register: %v", err)
		}
		// Without the middleware an Op never reaches the column.
		if err := crdtcol.Increment(alice, tg.DB, posts, "p1", "likes", 1); !errors.Is(err, crdtcol.ErrNoMiddleware) {
			t.Errorf("no middleware: %v", err)
		}
		if got := raw(t, tg, "p1", "likes"); got != "" {
			t.Errorf("likes written: %q", got)
		}
		// An Op on insert applies to the empty state.
		if _, err := db.Insert(posts).Values(orm.Row{"id": "p2", "tags": crdtcol.Add([]int{1, 2})}).Exec(alice); err != nil {
			t.Fatal(err)
		}
		if got := values(orset(t, raw(t, tg, "p2", "tags"))); got != `[1,2]` {
			t.Errorf("insert op: %s", got)
		}
	})
}

// TestClockSkew: a register written with a timestamp far ahead of the
// server's clock is refused.
func TestClockSkew(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := setup(t, tg, crdtcol.Options{})
		insertPost(t, ctx, db, "p1")
		future := crdt.HLC{Wall: time.Now().Add(time.Hour).UnixMilli()}
		var r crdt.LWWRegister
		if err := r.Set("mallory", json.RawMessage(`"forever"`), future); err != nil {
			t.Fatal(err)
		}
		_, err := db.Update(posts).Set(orm.Row{"status": string(r.Encode())}).Where(byID("p1")).Exec(ctx)
		if !errors.Is(err, crdt.ErrClockSkew) {
			t.Fatalf("skewed timestamp: %v", err)
		}
		if got := raw(t, tg, "p1", "status"); got != "" {
			t.Errorf("status written: %s", got)
		}
	})
}
