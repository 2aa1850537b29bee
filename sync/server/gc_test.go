package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

// sqlCount counts the rows of a raw query (placeholders "?").
func (e *env) sqlCount(t testing.TB, query string, args ...any) int64 {
	t.Helper()
	rows, err := e.tg.DB.Query(context.Background(), `SELECT COUNT(*) FROM (`+query+`) q`, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	if !rows.Next() {
		t.Fatal("no count")
	}
	if err := rows.Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// groupRows counts the rows every sync table holds for group.
func (e *env) groupRows(t testing.TB, group string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for table, col := range map[string]string{server.GroupsTable: "id", server.ClientsTable: "group_id",
		server.CVRsTable: "group_id", server.SeenTable: "group_id", server.WritesTable: "group_id"} {
		out[table] = e.sqlCount(t, `SELECT 1 FROM "`+table+`" WHERE "`+col+`" = ?`, group)
	}
	return out
}

// age sets the last-seen time of groups to d ago, as if no request had
// been served for them since.
func (e *env) age(t testing.TB, d time.Duration, groups ...string) {
	t.Helper()
	for _, g := range groups {
		n, err := e.tg.DB.Exec(context.Background(), `UPDATE "`+server.SeenTable+`" SET "seen_at" = ? WHERE "group_id" = ?`,
			time.Now().Add(-d).UnixMilli(), g)
		if err != nil || n != 1 {
			t.Fatalf("aging %s: %d rows, %v", g, n, err)
		}
	}
}

func (e *env) collect(t testing.TB) server.CollectResult {
	t.Helper()
	res, err := e.h.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func decodePull(t testing.TB, body string) protocol.PullResponse {
	t.Helper()
	var resp protocol.PullResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return resp
}

// Groups idle for longer than GroupTTL are collected with their clients,
// view records and conflict bookkeeping; their clients then get
// ClientStateNotFound on push and a reset on pull, and the owner starts
// over. Active groups, and the application's rows, are untouched.
func TestCollectIdleGroups(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "gOld", mut{"cOld", 1, "createList", `{"ID":"L1","Name":"groceries"}`},
			mut{"cOld", 2, "createTodo", `{"id":"t1","listID":"L1","title":"milk"}`})
		oldCookie := decodePull(t, mustPull(t, e, "ann", "gOld", nil)).Cookie
		e.mustPush("bob", "gBob", mut{"cBob", 1, "createList", `{"ID":"L2","Name":"bob's"}`})
		mustPull(t, e, "bob", "gBob", nil)
		mustPull(t, e, "ann", "gPullOnly", nil) // a view record, no group or client
		e.mustPush("ann", "gFresh", mut{"cFresh", 1, "bump", `{"id":"k"}`})
		mustPull(t, e, "ann", "gFresh", nil)
		fresh := e.groupRows(t, "gFresh")

		// Nothing is idle yet.
		if res := e.collect(t); res.Groups != 0 || res.Started != 0 {
			t.Fatalf("first collect: %+v", res)
		}
		e.age(t, server.DefaultGroupTTL+time.Hour, "gOld", "gBob", "gPullOnly")
		e.age(t, server.DefaultGroupTTL-time.Hour, "gFresh") // idle, but not for long enough
		res := e.collect(t)
		if res.Groups != 3 || res.Clients != 2 || res.CVRs != 3 || res.Batches < 1 {
			t.Fatalf("collect: %+v", res)
		}
		for _, g := range []string{"gOld", "gBob", "gPullOnly"} {
			for table, n := range e.groupRows(t, g) {
				if n != 0 {
					t.Errorf("%s: %d rows left in %s", g, n, table)
				}
			}
		}
		if got := e.groupRows(t, "gFresh"); fmt.Sprint(got) != fmt.Sprint(fresh) {
			t.Fatalf("gFresh lost rows: %v, was %v", got, fresh)
		}
		if e.count(t, "todos") != 1 || e.count(t, "lists") != 2 {
			t.Fatalf("application rows deleted: %d todos, %d lists", e.count(t, "todos"), e.count(t, "lists"))
		}

		// The forgotten client pushes its next mutation: ClientStateNotFound,
		// and nothing is created for it.
		status, body := e.post("push", "ann", pushBody("gOld", mut{"cOld", 3, "createTodo", `{"id":"t2","listID":"L1","title":"eggs"}`}))
		if status != 200 || body != `{"error":"ClientStateNotFound"}` {
			t.Fatalf("push after collection: %d %s", status, body)
		}
		if e.lmid(t, "cOld") != -1 || e.count(t, "todos") != 1 {
			t.Fatalf("the refused push left lmid %d, %d todos", e.lmid(t, "cOld"), e.count(t, "todos"))
		}
		// A pull with the old cookie is a reset without the forgotten
		// client's lastMutationID.
		resp := decodePull(t, mustPull(t, e, "ann", "gOld", oldCookie))
		if len(resp.Patch) == 0 || resp.Patch[0].Op != protocol.OpClear || len(resp.LastMutationIDChanges) != 0 {
			t.Fatalf("pull after collection: %+v", resp)
		}
		// The owner starts over, in the old group id and in a new one.
		e.mustPush("ann", "gOld", mut{"cNew", 1, "createTodo", `{"id":"t3","listID":"L1","title":"bread"}`})
		e.mustPush("ann", "gNew", mut{"cNew2", 1, "createTodo", `{"id":"t4","listID":"L1","title":"jam"}`})
		if e.lmid(t, "cNew") != 1 || e.lmid(t, "cNew2") != 1 {
			t.Fatalf("fresh clients: %d %d", e.lmid(t, "cNew"), e.lmid(t, "cNew2"))
		}
		if owner, _, err := store.GroupOwner(context.Background(), tg.DB, "gOld"); err != nil || owner != "ann" {
			t.Fatalf("gOld owner %q %v", owner, err)
		}
		if errs := e.takeErrors(); len(errs) != 1 || errs[0].Kind != server.KindClientStateNotFound {
			t.Fatalf("errors %v", errs)
		}
	})
}

func mustPull(t testing.TB, e *env, user, group string, cookie json.RawMessage) string {
	t.Helper()
	status, body := e.post("pull", user, pullBody(group, cookie))
	if status != 200 {
		t.Fatalf("pull %s: %d %s", group, status, body)
	}
	return body
}

// Every pull with a new client group stores a view record: with Collect,
// a stream of them no longer grows the table without bound.
func TestCollectBoundsViewRecords(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.CollectBatch = 64 })
		e.mustPush("ann", "gAnn", mut{"c1", 1, "createList", `{"ID":"L1","Name":"groceries"}`})
		cvrs := func() int64 { return e.sqlCount(t, `SELECT 1 FROM "`+server.CVRsTable+`"`) }
		for round := range 2 {
			groups := make([]string, 300)
			for i := range groups {
				groups[i] = fmt.Sprintf("g%d-%d", round, i)
				mustPull(t, e, "ann", groups[i], nil)
			}
			if n := cvrs(); n != 300 {
				t.Fatalf("round %d: %d view records after 300 pulls", round, n)
			}
			e.age(t, 2*server.DefaultGroupTTL, groups...)
			res := e.collect(t)
			if res.Groups != 300 || res.CVRs != 300 || res.Batches < 5 {
				t.Fatalf("round %d: %+v", round, res)
			}
			if n := cvrs(); n != 0 {
				t.Fatalf("round %d: %d view records left", round, n)
			}
		}
		if n := e.sqlCount(t, `SELECT 1 FROM "`+server.SeenTable+`"`); n != 1 {
			t.Fatalf("%d last-seen rows; want gAnn's", n)
		}
	})
}

// Groups without a last-seen time (from before SeenTable existed) get
// one from Collect and are kept a whole TTL; view records beyond
// KeepCVRs are pruned; a busy group's last-seen time is written once per
// interval, not once per request.
func TestCollectStartsClocksAndPrunes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		var cookie json.RawMessage
		for i := range 5 {
			e.mustPush("ann", "g1", mut{"c1", int64(i + 1), "note", fmt.Sprintf(`{"id":"n%d","body":"x"}`, i)})
			cookie = decodePull(t, mustPull(t, e, "ann", "g1", cookie)).Cookie
		}
		if n := e.groupRows(t, "g1")[server.CVRsTable]; n != 5 {
			t.Fatalf("%d view records", n)
		}
		// A busy group: further requests do not write its last-seen time.
		e.age(t, time.Hour, "g1")
		mustPull(t, e, "ann", "g1", cookie)
		e.mustPush("ann", "g1", mut{"c1", 6, "note", `{"id":"n6","body":"x"}`})
		if n := e.sqlCount(t, `SELECT 1 FROM "`+server.SeenTable+`" WHERE "seen_at" < ?`, time.Now().Add(-time.Minute).UnixMilli()); n != 1 {
			t.Fatalf("last-seen time rewritten within the interval")
		}

		if _, err := tg.DB.Exec(context.Background(), `DELETE FROM "`+server.SeenTable+`"`); err != nil {
			t.Fatal(err)
		}
		e2 := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.KeepCVRs = 2 })
		res := e2.collect(t)
		if res.Started != 1 || res.Groups != 0 || res.Pruned != 3 {
			t.Fatalf("collect: %+v", res)
		}
		if got := e.groupRows(t, "g1"); got[server.CVRsTable] != 2 || got[server.ClientsTable] != 1 || got[server.SeenTable] != 1 {
			t.Fatalf("g1: %v", got)
		}
		// The newest record survives: an incremental pull from it.
		resp := decodePull(t, mustPull(t, e2, "ann", "g1", cookie))
		if len(resp.Patch) != 1 || resp.Patch[0].Key != "notes/n6" {
			t.Fatalf("pull from the newest cookie: %+v", resp.Patch)
		}
	})
}

// Collect runs while clients of active groups push and pull: it deletes
// only the idle group, and no request fails or waits on a lock cycle.
func TestCollectConcurrentWithTraffic(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.CollectBatch = 2 })
		e.mustPush("ann", "gIdle", mut{"cIdle", 1, "bump", `{"id":"idle"}`})
		mustPull(t, e, "ann", "gIdle", nil)
		e.age(t, 2*server.DefaultGroupTTL, "gIdle")
		const workers, rounds = 4, 15
		errs := make(chan error, workers)
		for w := range workers {
			go func() {
				group, client := fmt.Sprintf("g%d", w), fmt.Sprintf("c%d", w)
				var cookie json.RawMessage
				for i := 1; i <= rounds; i++ {
					status, body := e.post("push", "ann", pushBody(group, mut{client, int64(i), "bump", fmt.Sprintf(`{"id":"k%d"}`, w)}))
					if status != 200 || body != "{}" {
						errs <- fmt.Errorf("push %s %d: %d %s", group, i, status, body)
						return
					}
					status, body = e.post("pull", "ann", pullBody(group, cookie))
					if status != 200 {
						errs <- fmt.Errorf("pull %s: %d %s", group, status, body)
						return
					}
					var resp protocol.PullResponse
					if err := json.Unmarshal([]byte(body), &resp); err != nil {
						errs <- err
						return
					}
					cookie = resp.Cookie
				}
				errs <- nil
			}()
		}
		var collected int64
		for range 10 {
			res, err := e.h.Collect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			collected += res.Groups
		}
		for range workers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if collected != 1 || e.lmid(t, "cIdle") != -1 {
			t.Fatalf("collected %d groups; cIdle lmid %d", collected, e.lmid(t, "cIdle"))
		}
		for w := range workers {
			if n := e.lmid(t, fmt.Sprintf("c%d", w)); n != rounds {
				t.Fatalf("c%d: lmid %d", w, n)
			}
		}
		if errs := e.takeErrors(); len(errs) != 0 {
			t.Fatalf("errors %v", errs)
		}
	})
}

// One account cannot grow the server's tables with fresh client group
// ids: binding a group past MaxGroupsPerUser, by push or by pull, drops
// the user's least recently seen groups, whose clients then get
// ClientStateNotFound. Other users' groups are untouched.
func TestMaxGroupsPerUser(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.MaxGroupsPerUser = 3 })
		e.mustPush("bob", "gBob", mut{"cBob", 1, "createList", `{"ID":"L2","Name":"bob's"}`})
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"ID":"L1","Name":"ann's"}`})
		mustPull(t, e, "ann", "g2", nil)
		mustPull(t, e, "ann", "g3", nil)
		e.age(t, time.Hour, "g1")        // g1 is ann's least recently seen group
		e.age(t, time.Minute, "g2")      // then g2
		mustPull(t, e, "ann", "g3", nil) // an existing group: nothing dropped
		if n := e.sqlCount(t, `SELECT 1 FROM "`+server.GroupsTable+`" WHERE "user_id" = ?`, "ann"); n != 3 {
			t.Fatalf("ann holds %d groups before the cap is passed, want 3", n)
		}

		mustPull(t, e, "ann", "g4", nil) // past the cap by pull: g1 goes
		for table, n := range e.groupRows(t, "g1") {
			if n != 0 {
				t.Errorf("g1: %d rows left in %s", n, table)
			}
		}
		e.mustPush("ann", "g5", mut{"c5", 1, "createTodo", `{"id":"t5","listID":"L1","title":"eggs"}`}) // by push: g2 goes
		var left []string
		for _, g := range []string{"g1", "g2", "g3", "g4", "g5", "gBob"} {
			if _, known, err := store.GroupOwner(context.Background(), tg.DB, g); err != nil {
				t.Fatal(err)
			} else if known {
				left = append(left, g)
			}
		}
		if fmt.Sprint(left) != "[g3 g4 g5 gBob]" {
			t.Fatalf("groups left: %v, want [g3 g4 g5 gBob]", left)
		}
		// g1's client lost its state: ClientStateNotFound, as after Collect.
		status, body := e.post("push", "ann", pushBody("g1", mut{"c1", 2, "createTodo", `{"id":"t6","listID":"L1","title":"jam"}`}))
		if status != 200 || body != `{"error":"ClientStateNotFound"}` {
			t.Fatalf("push to a dropped group: %d %s", status, body)
		}
		if e.lmid(t, "cBob") != 1 || e.count(t, "lists") != 2 {
			t.Fatalf("other state changed: bob's lmid %d, %d lists", e.lmid(t, "cBob"), e.count(t, "lists"))
		}
	})
}
