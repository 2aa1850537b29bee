package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// The read-access checks' schema: docs readable by their owner or by
// the users whose acl rows name the doc's group (an IN subquery, which
// the batched check rewrites); secrets readable unless the reader's acl
// names the secret's group (a NOT IN subquery, which it must not). Groups
// may be NULL on both sides.
var (
	ckDocs = orm.NewTable("ck_docs", orm.ID(), orm.Text("owner_id"), orm.Text("grp").Nullable())
	ckAcl  = orm.NewTable("ck_acl", orm.ID(), orm.Text("grp").Nullable(), orm.Text("user_id")).
		With(orm.TableOptions{Indexes: []orm.Index{{Name: "ck_acl_by_user", Columns: []string{"user_id", "grp"}}}})
	ckSecrets = orm.NewTable("ck_secrets", orm.ID(), orm.Text("grp").Nullable())

	ckSchema = orm.MustDefineSchema("1", ckDocs, ckAcl, ckSecrets)
)

// errBoom is the read rule's failure for the user "boom".
var errBoom = errors.New("boom")

// aclGroups is SELECT a.grp FROM ck_acl a WHERE a.user_id = user.
func aclGroups(user string) *orm.SelectQuery {
	a := ckAcl.As("a")
	return orm.Select(a.Col("grp")).From(a).Where(expr.Eq(a.Col("user_id"), user))
}

func init() {
	ckDocs.With(orm.TableOptions{Auth: orm.TableAuth{Read: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		if id.UserID == "boom" {
			return nil, errBoom
		}
		return expr.Or(expr.Eq(ckDocs.Col("owner_id"), id.UserID), expr.InArray(ckDocs.Col("grp"), aclGroups(id.UserID))), nil
	}).Rule()}})
	ckSecrets.With(orm.TableOptions{Auth: orm.TableAuth{Read: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		return expr.Not(expr.InArray(ckSecrets.Col("grp"), aclGroups(id.UserID))), nil
	}).Rule()}})
}

// ckUser is the i-th test user; its kind (i % 6) decides its rows:
//
//	0: owns a changed doc (reads docs; reads secrets: empty acl)
//	1: acl names g1, the group of a changed doc (reads docs; secrets)
//	2: owns an unchanged doc, acl names gu (no docs; reads secrets)
//	3: acl has a NULL group (no docs; no secrets: NOT IN is NULL)
//	4: nothing (no docs; reads secrets: NULL NOT IN () is true)
//	5: acl names g1 and NULL (reads docs; no secrets)
func ckUser(i int) string { return fmt.Sprintf("u%03d", i) }

const ckUsers = 250 // more than checkBatch: two batches

// ckSeed creates and fills the tables and returns the ids of the
// changed docs and secrets.
func ckSeed(t *testing.T, db *orm.DB) (docs, secrets []string) {
	t.Helper()
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, ckSchema, db); err != nil {
		t.Fatal(err)
	}
	var docRows, aclRows []orm.Row
	acl := func(grp any, user string) {
		aclRows = append(aclRows, orm.Row{"id": fmt.Sprintf("a%d", len(aclRows)), "grp": grp, "user_id": user})
	}
	for i := range ckUsers {
		u := ckUser(i)
		switch i % 6 {
		case 0:
			docRows = append(docRows, orm.Row{"id": "d-" + u, "owner_id": u, "grp": nil})
			docs = append(docs, "d-"+u)
		case 1:
			acl("g1", u)
		case 2:
			docRows = append(docRows, orm.Row{"id": "du-" + u, "owner_id": u, "grp": "gu"})
			acl("gu", u)
		case 3:
			acl(nil, u)
		case 5:
			acl("g1", u)
			acl(nil, u)
		}
	}
	docRows = append(docRows,
		orm.Row{"id": "dg1", "owner_id": "nobody", "grp": "g1"},
		orm.Row{"id": "dnull", "owner_id": "nobody", "grp": nil},
		orm.Row{"id": "dg2", "owner_id": "nobody", "grp": "g2"})
	docs = append(docs, "dg1", "dnull", "dg2")
	for _, ins := range []struct {
		t    *orm.Table
		rows []orm.Row
	}{
		{ckDocs, docRows}, {ckAcl, aclRows},
		{ckSecrets, []orm.Row{{"id": "s1", "grp": "g1"}, {"id": "s2", "grp": nil}, {"id": "s3", "grp": "g3"}}},
	} {
		if _, err := db.Insert(ins.t).Values(ins.rows...).Exec(ctx); err != nil {
			t.Fatalf("insert into %s: %v", ins.t.Name(), err)
		}
	}
	return docs, []string{"s1", "s2", "s3"}
}

// ckWant is what kind i%6 may read, by design (see ckUser).
func ckWant(table string, i int) bool {
	if table == ckDocs.Name() {
		return slices.Contains([]int{0, 1, 5}, i%6)
	}
	return slices.Contains([]int{0, 1, 2, 4}, i%6)
}

// selectIDs returns the ids of the rows q selects, sorted.
func selectIDs(t *testing.T, ctx context.Context, q *orm.SelectQuery) []string {
	t.Helper()
	res, err := q.Rows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Rows.Close()
	var out []string
	for res.Rows.Next() {
		var id string
		if err := res.Rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := res.Rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// The rewrite of orm.CorrelateIn keeps the rows a predicate selects, in a
// WHERE and as a result column (the batched check's form), and leaves an
// IN under NOT alone.
//
// It is one long function on purpose: its cases run on one seeded
// database.
func TestCorrelateInSameRows(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, ckSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		d := ckDocs
		rows := []orm.Row{
			{"id": "x1", "owner_id": "o1", "grp": "g1"},
			{"id": "x2", "owner_id": "o2", "grp": "g2"},
			{"id": "x3", "owner_id": "o1", "grp": nil},
			{"id": "x4", "owner_id": "o3", "grp": "g3"},
			{"id": "x5", "owner_id": "o2", "grp": nil},
		}
		if _, err := tg.DB.Insert(d).Values(rows...).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		acl := []orm.Row{
			{"id": "a1", "grp": "g1", "user_id": "plain"},
			{"id": "a2", "grp": "g2", "user_id": "plain"},
			{"id": "a3", "grp": "g1", "user_id": "nulls"},
			{"id": "a4", "grp": nil, "user_id": "nulls"},
			{"id": "a5", "grp": nil, "user_id": "onlynull"},
			{"id": "a6", "grp": "g1", "user_id": "dup"},
			{"id": "a7", "grp": "g1", "user_id": "dup"},
		}
		if _, err := tg.DB.Insert(ckAcl).Values(acl...).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		in := func(user string) expr.Expr { return expr.InArray(d.Col("grp"), aclGroups(user)) }
		owner := func(o string) expr.Expr { return expr.Eq(d.Col("owner_id"), o) }
		// The subquery reads the outer table under the same name: x
		// would name the subquery's row, so no rewrite.
		self := expr.InArray(d.Col("grp"), orm.Select(d.Col("grp")).From(d).Where(owner("o1")))

		for _, user := range []string{"plain", "nulls", "onlynull", "dup", "empty"} {
			for _, tc := range []struct {
				name    string
				e       expr.Expr
				rewrite bool // orm.CorrelateIn must change it
			}{
				{"IN alone", in(user), true},
				{"IN under AND", expr.And(in(user), expr.Not(owner("o3"))), true},
				{"IN under OR", expr.Or(owner("o1"), in(user)), true},
				{"nested AND/OR", expr.Or(expr.And(owner("o2"), in(user)), expr.And(in("plain"), owner("o1"))), true},
				{"IN under NOT", expr.Not(in(user)), false},
				{"NOT IN under OR", expr.Or(owner("o1"), expr.Not(in(user))), false},
				{"NOT IN under AND", expr.And(expr.Not(owner("o9")), expr.Not(in(user))), false},
				{"NOT over OR of IN", expr.Not(expr.Or(in(user), owner("o2"))), false},
				{"IN and NOT IN", expr.Or(in(user), expr.Not(in(user))), true},
				{"self subquery", self, false},
				{"IN list", expr.InArray(d.Col("grp"), []string{"g1", "g3"}), false},
			} {
				name := user + "/" + tc.name
				got := orm.CorrelateIn(tc.e)
				if changed := got != tc.e; changed != tc.rewrite {
					t.Errorf("%s: rewritten %v; want %v", name, changed, tc.rewrite)
				}
				if !tc.rewrite && containsExists(got) {
					t.Errorf("%s: a NOT IN was rewritten", name)
				}
				want := selectIDs(t, ctx, tg.DB.Select(d.Col("id")).From(d).Where(tc.e))
				if have := selectIDs(t, ctx, tg.DB.Select(d.Col("id")).From(d).Where(got)); !slices.Equal(have, want) {
					t.Errorf("%s: rewritten WHERE selects %v; original %v", name, have, want)
				}
				// As a result column, as the batched check uses it.
				if have := truthyIDs(t, ctx, tg.DB, got); !slices.Equal(have, want) {
					t.Errorf("%s: rewritten column is true for %v; original WHERE selects %v", name, have, want)
				}
				// And through correlated, on a whole query.
				q := orm.Select(d.Col("id")).From(d).Where(expr.Eq(1, 1), tc.e)
				c := correlated(q)
				if (c != q) != tc.rewrite {
					t.Errorf("%s: correlated changed the query: %v; want %v", name, c != q, tc.rewrite)
				}
				if len(q.Parts().Where) != 2 || q.Parts().Where[1] != tc.e {
					t.Errorf("%s: correlated changed its argument", name)
				}
			}
		}
	})
}

// truthyIDs returns the ids of the rows for which e, as a result
// column, is truthy.
func truthyIDs(t *testing.T, ctx context.Context, db *orm.DB, e expr.Expr) []string {
	t.Helper()
	res, err := db.Select(ckDocs.Col("id"), e).From(ckDocs).Rows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Rows.Close()
	var out []string
	for res.Rows.Next() {
		var id string
		var v any
		if err := res.Rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		if truthy(v) {
			out = append(out, id)
		}
	}
	if err := res.Rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// containsExists reports whether e holds the rewrite's shape, a
// correlated EXISTS over a subquery.
func containsExists(e expr.Expr) bool {
	switch n := e.(type) {
	case *expr.Logic:
		return slices.ContainsFunc(n.Args, containsExists)
	case *expr.Negation:
		return containsExists(n.X)
	case *expr.Raw:
		return strings.HasPrefix(n.SQL, "EXISTS ")
	}
	return false
}

// ckStats counts the read-access statements a hub runs, and fails those
// fail says to.
type ckStats struct {
	batched, union, single atomic.Int32
	fail                   func(kind string, n int32) bool
}

func (s *ckStats) middleware() orm.Middleware {
	return func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			kind, n := "", int32(0)
			switch {
			case st.Op == orm.OpSelect && st.Table != nil && strings.HasPrefix(st.Table.Name(), "ck_"):
				kind, n = "batched", s.batched.Add(1)
			case st.Op == orm.OpRaw && strings.Contains(st.SQL, "ck_") && strings.Contains(st.SQL, " UNION ALL "):
				kind, n = "union", s.union.Add(1)
			case st.Op == orm.OpRaw && strings.Contains(st.SQL, "ck_"):
				kind, n = "single", s.single.Add(1)
			}
			if kind != "" && s.fail != nil && s.fail(kind, n) {
				return nil, fmt.Errorf("injected failure of a %s check", kind)
			}
			return next(ctx, st)
		}
	}
}

// ckHub starts a hub on db (through stats's middleware) with the
// identities users, as if each had a connection, plus "boom", whose
// docs rule fails.
func ckHub(t *testing.T, tg *ormtest.Target, stats *ckStats, users []string) *Hub {
	t.Helper()
	h, err := New(Options{
		DB: tg.DB.Use(stats.middleware()), Schema: ckSchema,
		Auth:   func(*http.Request) (rowauth.Identity, error) { return rowauth.Identity{}, errors.New("no") },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	for _, u := range users {
		ide := &identity{key: u, id: rowauth.Identity{UserID: u}, conns: map[*conn]struct{}{}}
		h.deps(ide) // as before publishing: the pump may read it
		h.mu.Lock()
		h.idents[ide.key] = ide
		h.mu.Unlock()
	}
	return h
}

// ckChanges is a change set of puts of ids in each table.
func ckChanges(puts map[*orm.Table][]string) *changeSet {
	cs := &changeSet{tables: map[string]*tableChanges{}}
	for t, ids := range puts {
		tc := &tableChanges{t: t, puts: map[string]json.RawMessage{}}
		for _, id := range ids {
			tc.puts[id] = json.RawMessage(`{}`)
			cs.keys = append(cs.keys, t.Name()+"/"+id)
		}
		cs.tables[t.Name()] = tc
	}
	return cs
}

// whoMayReadSet runs whoMayRead and returns the users found, checking
// that none is reported twice.
func whoMayReadSet(t *testing.T, h *Hub, cs *changeSet) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	var mu sync.Mutex
	h.whoMayRead(context.Background(), cs, func(ides []*identity, _ bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, ide := range ides {
			if got[ide.id.UserID] {
				t.Errorf("%s reported twice", ide.id.UserID)
			}
			got[ide.id.UserID] = true
		}
	})
	return got
}

// rowAuthMayRead is the reference: which users' row-auth SELECT of the
// changed ids finds a row (a failed one counts as yes), one statement
// per user, cached per change.
func rowAuthMayRead(t *testing.T, db *orm.DB, table *orm.Table, ids []string) map[string]bool {
	t.Helper()
	key := fmt.Sprintf("%p/%s/%v", db, table.Name(), ids)
	if m, ok := refCache.Load(key); ok {
		return m.(map[string]bool)
	}
	authDB := db.Use(rowauth.Middleware())
	out := map[string]bool{}
	for _, user := range ckAllUsers() {
		ctx := rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: user})
		res, err := authDB.Select(table.Col("id")).From(table).Where(expr.InArray(table.Col("id"), ids)).Limit(1).Rows(ctx)
		if err != nil {
			if !errors.Is(err, errBoom) {
				t.Errorf("reference check of %s for %s: %v", table.Name(), user, err)
			}
			out[user] = true
			continue
		}
		out[user] = res.Rows.Next()
		if err := res.Rows.Err(); err != nil {
			t.Fatal(err)
		}
		res.Rows.Close()
	}
	refCache.Store(key, out)
	return out
}

var refCache sync.Map

func ckAllUsers() []string {
	users := make([]string, 0, ckUsers+1)
	for i := range ckUsers {
		users = append(users, ckUser(i))
	}
	return append(users, "boom")
}

// checkAgainstReference compares whoMayRead's answer for a change of ids
// in table with refs (nil: the row-auth reference) and, for full (every
// seeded row of table changed), with the design (ckWant); exact:
// false allows extra pokes (the last fallback pokes everyone).
func checkAgainstReference(t *testing.T, tg *ormtest.Target, h *Hub, table *orm.Table, ids []string, refs map[string]bool, exact, full bool) map[string]bool {
	t.Helper()
	got := whoMayReadSet(t, h, ckChanges(map[*orm.Table][]string{table: ids}))
	if refs == nil {
		refs = rowAuthMayRead(t, tg.DB, table, ids)
	}
	for i, u := range ckAllUsers() {
		ref := refs[u]
		if full && u != "boom" && ref != ckWant(table.Name(), i) {
			t.Errorf("%s: row auth says %s may read: %v; the fixture meant %v", table.Name(), u, ref, ckWant(table.Name(), i))
		}
		if u == "boom" && table == ckDocs && !ref {
			t.Errorf("boom's failing rule: row auth says no")
		}
		switch {
		case ref && !got[u]:
			t.Errorf("%s: %s may read a changed row but is not poked", table.Name(), u)
		case !ref && got[u] && exact:
			t.Errorf("%s: %s may not read a changed row but is poked", table.Name(), u)
		}
	}
	return got
}

// Batched checks give, for more identities than one batch holds, the
// same answer per identity as each identity's own row-auth SELECT, in
// one statement per batch.
func TestBatchedChecksMatchRowAuth(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		docs, secrets := ckSeed(t, tg.DB)
		stats := &ckStats{}
		h := ckHub(t, tg, stats, ckAllUsers())

		for _, tc := range []struct {
			table *orm.Table
			ids   []string
			full  bool
		}{
			{ckDocs, docs, true},
			{ckSecrets, secrets, true},
			{ckDocs, []string{"dg1"}, false},
			{ckDocs, []string{"dnull", "dg2"}, false},
			{ckSecrets, []string{"s2"}, false},
		} {
			stats.batched.Store(0)
			t.Run(fmt.Sprintf("%s/%d", tc.table.Name(), len(tc.ids)), func(t *testing.T) {
				checkAgainstReference(t, tg, h, tc.table, tc.ids, nil, true, tc.full)
			})
			// 251 identities: two batched statements, no fallback.
			if n := stats.batched.Load(); n != 2 {
				t.Errorf("%s: %d batched statements; want 2", tc.table.Name(), n)
			}
			if n, m := stats.union.Load(), stats.single.Load(); n != 0 || m != 0 {
				t.Errorf("%s: fell back (%d compound, %d single statements)", tc.table.Name(), n, m)
			}
		}

		// Both tables changed at once: each identity once, exactly the
		// readers of either.
		got := whoMayReadSet(t, h, ckChanges(map[*orm.Table][]string{ckDocs: {"dg1"}, ckSecrets: {"s3"}}))
		refDocs := rowAuthMayRead(t, tg.DB, ckDocs, []string{"dg1"})
		refSecrets := rowAuthMayRead(t, tg.DB, ckSecrets, []string{"s3"})
		for i, u := range ckAllUsers() {
			want := u == "boom" || refDocs[u] || refSecrets[u]
			if got[u] != want {
				t.Errorf("two tables: %s (kind %d) poked %v; want %v", u, i%6, got[u], want)
			}
		}
	})
}

// When the batched statement fails, the compound fallback, then the
// per-identity one, still find exactly the readers; when every check
// fails, everyone is poked. A poke is never missed.
func TestBatchedCheckFallbacks(t *testing.T) {
	testFallbacks(t, []fallbackCase{
		{"batched fails once", func(k string, n int32) bool { return k == "batched" && n == 1 }, true, true, false},
		{"batched fails", func(k string, _ int32) bool { return k == "batched" }, true, true, false},
	})
}

// The same, with the compound fallback failing too (one identity at a
// time), and with every check failing (everyone poked).
func TestBatchedCheckLastFallbacks(t *testing.T) {
	testFallbacks(t, []fallbackCase{
		{"batched and compound fail", func(k string, _ int32) bool { return k != "single" }, true, true, true},
		{"every check fails", func(string, int32) bool { return true }, false, true, true},
	})
}

type fallbackCase struct {
	name  string
	fail  func(kind string, n int32) bool
	exact bool
	// union, single: whether those forms must have run.
	union, single bool
}

func testFallbacks(t *testing.T, cases []fallbackCase) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		docs, secrets := ckSeed(t, tg.DB)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				stats := &ckStats{fail: tc.fail}
				h := ckHub(t, tg, stats, ckAllUsers())
				for _, ch := range []struct {
					table *orm.Table
					ids   []string
				}{{ckDocs, docs}, {ckSecrets, secrets}} {
					// The design's answer, which TestBatchedChecksMatchRowAuth
					// checks against row auth (cheaper than asking it again).
					refs := map[string]bool{"boom": true} // docs: its rule fails; secrets: its acl is empty
					for i := range ckUsers {
						refs[ckUser(i)] = ckWant(ch.table.Name(), i)
					}
					got := checkAgainstReference(t, tg, h, ch.table, ch.ids, refs, tc.exact, true)
					if !tc.exact {
						if len(got) != ckUsers+1 {
							t.Errorf("%s: every check failed, %d of %d identities poked", ch.table.Name(), len(got), ckUsers+1)
						}
					}
				}
				if tc.union && stats.union.Load() == 0 {
					t.Errorf("no compound statement ran")
				}
				if tc.single != (stats.single.Load() > 0) {
					t.Errorf("%d single statements ran; want some: %v", stats.single.Load(), tc.single)
				}
			})
		}
	})
}
