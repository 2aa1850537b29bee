package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/internal/store"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

// forgedCookies are the cookies of issue 14, item 1: each one used to
// raise the global order counter to its maximum, after which every pull
// that stored a view answered 500, for every user, across restarts.
var forgedCookies = []string{`9007199254740990`, `9007199254740991`, `{"order":9007199254740991}`, `1e300`, `"zzzz"`}

// counter reads the global cookie order counter, bypassing the handler:
// the sequence on PostgreSQL, the counter row on SQLite.
func counter(t testing.TB, tg *ormtest.Target) int64 {
	t.Helper()
	q := `SELECT "value" FROM "` + server.CountersTable + `"`
	if tg.Name == "postgres" {
		q = `SELECT "last_value" FROM "` + server.OrderSequence + `"`
	}
	var n int64
	if err := tg.SQL.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// noServerErrors fails t if e reported an Internal or Unavailable error.
func noServerErrors(t testing.TB, e *env) {
	t.Helper()
	for _, err := range e.takeErrors() {
		if errors.Is(err, server.KindInternal) || errors.Is(err, server.KindUnavailable) || err.Status >= 500 {
			t.Errorf("server error: %v", err)
		}
	}
}

func TestForgedCookiesMoveNothing(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		ann := e.newClient("ann", "gAnn")
		ann.pull(t)
		for _, ck := range forgedCookies {
			// mallory on her own group: a reset, as for null.
			status, body := e.post("pull", "mallory", pullBody("gMal", json.RawMessage(ck)))
			if status != 200 || !strings.Contains(body, `"patch":[{"op":"clear"}`) {
				t.Fatalf("cookie %s: %d %s", ck, status, body)
			}
			// ... and on ann's: refused.
			if status, body := e.post("pull", "mallory", pullBody("gAnn", json.RawMessage(ck))); status != 403 {
				t.Fatalf("cookie %s on ann's group: %d %s", ck, status, body)
			}
		}
		if n := counter(t, tg); n > 100 {
			t.Fatalf("the order counter is at %d after %d pulls", n, 2+len(forgedCookies))
		}
		everyoneWorks := func(e *env, round string) {
			t.Helper()
			e.mustPush("ann", "gAnn", mut{"cAnn", ann.LastMutationIDs["cAnn"] + 1, "bump", `{"id":"ka"}`})
			if r := ann.pull(t); !r.Changed {
				t.Fatalf("%s: ann's pull after her push changed nothing: %s", round, r.Raw)
			}
			for _, user := range []string{"bob", "carol"} {
				c := e.newClient(user, "g-"+user+"-"+round)
				c.pull(t)
				e.mustPush(user, c.group, mut{"c-" + user + "-" + round, 1, "bump", fmt.Sprintf(`{"id":"k-%s-%s"}`, user, round)})
				if r := c.pull(t); !r.Changed {
					t.Fatalf("%s: %s's pull after a push changed nothing", round, user)
				}
				c.checkConverged(t)
			}
			ann.checkConverged(t)
			noServerErrors(t, e)
		}
		everyoneWorks(e, "before")
		// A restart: a new handler on the same database.
		e2 := newEnv(t, tg, tg.DB, nil)
		ann.e = e2
		everyoneWorks(e2, "after")
		if n := counter(t, tg); n > 100 {
			t.Fatalf("the order counter is at %d", n)
		}
	})
}

// The five cookies sent by other users, and by ann's other groups, leave
// the orders of ann's group strictly increasing, one step at a time.
func TestCookieOrdersMonotonicPerGroup(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		a := e.newClient("ann", "gA")
		a.pull(t)
		last := order(t, a.Cookie)
		for i, ck := range append(forgedCookies, `{"order":123,"cvr":"x"}`, `null`) {
			for _, who := range []struct{ user, group string }{{"mallory", "gM"}, {"ann", "gOtherTab"}, {"bob", fmt.Sprintf("gB%d", i)}} {
				if status, body := e.post("pull", who.user, pullBody(who.group, json.RawMessage(ck))); status != 200 {
					t.Fatalf("%s/%s cookie %s: %d %s", who.user, who.group, ck, status, body)
				}
			}
			e.mustPush("ann", "gA", mut{"cA", int64(i + 1), "bump", `{"id":"k"}`})
			r := a.pull(t)
			o := order(t, a.Cookie)
			// Each pull stores one view: 3 others and ann's make 4 steps.
			if !r.Changed || o <= last || o > last+4 {
				t.Fatalf("after cookie %s: order %d, the last was %d: %s", ck, o, last, r.Raw)
			}
			last = o
		}
		// A tab of ann's forks gA's snapshot and cookie: a reset above it.
		fork := e.newClient("ann", "gFork")
		fork.Cookie = a.Cookie
		if r := fork.pull(t); !r.Changed || order(t, fork.Cookie) <= last || r.Response.Patch[0].Op != protocol.OpClear {
			t.Fatalf("fork: %s", r.Raw)
		}
		noServerErrors(t, e)
	})
}

// A database whose counter an older plasma let a cookie raise to the
// maximum recovers: the counter restarts above the largest honest order
// of a stored view, and the raised views are dropped.
func TestPoisonedCounterRecovers(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "gAnn", mut{"cAnn", 1, "bump", `{"id":"k"}`})
		ann := e.newClient("ann", "gAnn")
		ann.pull(t)
		before := order(t, ann.Cookie)
		// What plasma before issue 14 left after one forged pull: the
		// counter past 2^53-1 and mallory's view at 2^53-1.
		ph := func(n int) string {
			if tg.Name == "postgres" {
				return fmt.Sprintf("$%d", n)
			}
			return "?"
		}
		raise := `UPDATE "` + server.CountersTable + `" SET "value" = ` + ph(1)
		if tg.Name == "postgres" {
			raise = `SELECT setval('"` + server.OrderSequence + `"', ` + ph(1) + `)`
		}
		if _, err := tg.SQL.Exec(raise, int64(protocol.MaxSafeOrder)+3); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.SQL.Exec(`INSERT INTO "`+server.CVRsTable+`" ("group_id", "ord", "cvr", "user_id", "meta", "entries", "created_at") VALUES (`+
			ph(1)+`, `+ph(2)+`, `+ph(3)+`, `+ph(4)+`, `+ph(5)+`, `+ph(6)+`, 0)`,
			"gMal", int64(protocol.MaxSafeOrder), "abcd", "mallory", `{"heads":{},"lmids":{},"fp":""}`, []byte{}); err != nil {
			t.Fatal(err)
		}
		e.mustPush("ann", "gAnn", mut{"cAnn", 2, "bump", `{"id":"k"}`})
		if r := ann.pull(t); !r.Changed {
			t.Fatalf("pull after the push: %s", r.Raw)
		}
		after := order(t, ann.Cookie)
		if after <= before || after > before+2 {
			t.Fatalf("order %d after %d", after, before)
		}
		bob := e.newClient("bob", "gBob")
		bob.pull(t)
		if o := order(t, bob.Cookie); o <= after || o > protocol.MaxSafeOrder/2 {
			t.Fatalf("bob's order %d after ann's %d", o, after)
		}
		var raised int
		if err := tg.SQL.QueryRow(`SELECT count(*) FROM "` + server.CVRsTable + `" WHERE "group_id" = 'gMal'`).Scan(&raised); err != nil || raised != 0 {
			t.Fatalf("mallory's raised view is kept: %d %v", raised, err)
		}
		noServerErrors(t, e)
	})
}

// The first authenticated pull binds the group, as a push does: another
// user can then neither push to it nor pull it, and gets the same 403 body
// as for a client of another group.
func TestPullBindsGroup(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		ann := e.newClient("ann", "gAnn")
		ann.pull(t) // a Replicache client pulls before it ever pushes
		if owner, known, err := store.GroupOwner(context.Background(), tg.DB, "gAnn"); err != nil || !known || owner != "ann" {
			t.Fatalf("owner after ann's pull: %q %v %v", owner, known, err)
		}
		status, pushBody403 := e.post("push", "mallory", pushBody("gAnn", mut{"cMal", 1, "bump", `{"id":"squat"}`}))
		if status != 403 {
			t.Fatalf("mallory's push to ann's pulled group: %d %s", status, pushBody403)
		}
		status, pullBody403 := e.post("pull", "mallory", pullBody("gAnn", nil))
		if status != 403 {
			t.Fatalf("mallory's pull of ann's group: %d %s", status, pullBody403)
		}
		// A client of another group: the same body.
		e.mustPush("ann", "gAnn", mut{"cAnn", 1, "createList", `{"ID":"L1","Name":"ann's"}`})
		status, clientBody403 := e.post("push", "mallory", pushBody("gMal", mut{"cAnn", 2, "bump", `{"id":"x"}`}))
		if status != 403 || pushBody403 != pullBody403 || pushBody403 != clientBody403 || strings.Contains(pushBody403, "gAnn") || strings.Contains(pushBody403, "cAnn") {
			t.Fatalf("403 bodies differ or name ids: %q %q %q", pushBody403, pullBody403, clientBody403)
		}
		// Nothing of mallory's was written; ann is unaffected.
		if e.lmid(t, "cMal") != -1 || e.count(t, "counters") != 0 {
			t.Fatalf("mallory's mutation was applied")
		}
		e.mustPush("ann", "gAnn", mut{"cAnn", 2, "createTodo", `{"id":"t1","listID":"L1","title":"milk"}`})
		if r := ann.pull(t); !r.Changed || ann.LastMutationIDs["cAnn"] != 2 {
			t.Fatalf("ann's pull: %s", r.Raw)
		}
		ann.checkConverged(t)
		// First come, first served: a group mallory pulled first is hers.
		e.newClient("mallory", "gSquat").pull(t)
		if status, _ := e.post("push", "ann", pushBody("gSquat", mut{"cAnn2", 1, "bump", `{"id":"y"}`})); status != 403 {
			t.Fatalf("ann's push to mallory's group: %d", status)
		}
		noServerErrors(t, e)
	})
}

// Ids over MaxIDBytes and arguments nested over MaxArgsDepth are refused
// with 400, with a message naming the field, and nothing is written.
func TestRequestLimits(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		long := strings.Repeat("x", server.DefaultMaxIDBytes+1)
		nested := func(depth int) string { // note args of this depth
			return `{"id":"n","body":"b","meta":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
		}
		state := func() [4]int64 {
			return [4]int64{e.count(t, server.GroupsTable), e.count(t, server.ClientsTable), e.count(t, server.CVRsTable), e.count(t, "notes")}
		}
		start := state()
		cases := []struct{ name, endpoint, body, field string }{
			{"long group (push)", "push", pushBody(long, mut{"c1", 1, "bump", `{"id":"k"}`}), "clientGroupID"},
			{"long group (pull)", "pull", pullBody(long, nil), "clientGroupID"},
			{"long profile (pull)", "pull", strings.Replace(pullBody("g1", nil), `"profileID":"p1"`, `"profileID":"`+long+`"`, 1), "profileID"},
			{"long profile (push)", "push", strings.Replace(pushBody("g1", mut{"c1", 1, "bump", `{"id":"k"}`}), `"profileID":"p1"`, `"profileID":"`+long+`"`, 1), "profileID"},
			{"long client", "push", pushBody("g1", mut{"c1", 1, "bump", `{"id":"k"}`}, mut{long, 1, "bump", `{"id":"k"}`}), "mutations[1].clientID"},
			{"deep args", "push", pushBody("g1", mut{"c1", 1, "bump", `{"id":"k"}`}, mut{"c1", 2, "note", nested(server.DefaultMaxArgsDepth + 1)}), "mutations[1].args"},
		}
		for _, c := range cases {
			status, body := e.post(c.endpoint, "ann", c.body)
			if status != 400 || !strings.Contains(body, c.field) || !strings.Contains(body, "over the limit") {
				t.Errorf("%s: %d %s", c.name, status, body)
			}
			if got := state(); got != start {
				t.Errorf("%s: written: %v -> %v", c.name, start, got)
			}
		}
		// At the limits: accepted.
		e.mustPush("ann", "g1", mut{strings.Repeat("c", server.DefaultMaxIDBytes), 1, "note", nested(server.DefaultMaxArgsDepth)})
		if e.count(t, "notes") != 1 {
			t.Fatal("the note at the depth limit was not written")
		}
		noServerErrors(t, e)
	})
}
