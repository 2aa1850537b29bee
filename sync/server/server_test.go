package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

func TestPushThenPull(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "g1",
			mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`},
			mut{"c1", 2, "createTodo", `{"id":"t1","listID":"L1","title":"hi"}`})
		c := e.newClient("ann", "g1")
		r := c.pull(t)
		if !r.Changed || len(r.Response.Patch) != 4 || r.Response.Patch[0].Op != protocol.OpClear {
			t.Fatalf("first pull: %s", r.Raw)
		}
		if r.Response.LastMutationIDChanges["c1"] != 2 {
			t.Fatalf("lmids: %s", r.Raw)
		}
		if !strings.Contains(r.Raw, `{"op":"put","key":"todos/t1","value":{"id":"t1","list_id":"L1","title":"hi","done":false,"created_by":"ann"}}`) {
			t.Fatalf("todo put: %s", r.Raw)
		}
		ck, ok := protocol.ParseCookie(r.Response.Cookie)
		if !ok || ck.Order < 1 {
			t.Fatalf("cookie %s", r.Response.Cookie)
		}
		c.checkConverged(t)

		// Nothing changed: the same cookie, {} and [].
		r2 := c.pull(t)
		if r2.Changed || !strings.HasSuffix(r2.Raw, `,"lastMutationIDChanges":{},"patch":[]}`) {
			t.Fatalf("unchanged pull: %s", r2.Raw)
		}
		if got := e.takeErrors(); len(got) != 0 {
			t.Fatalf("errors: %v", got)
		}
		e.mu.Lock()
		pushed := len(e.pushed)
		e.mu.Unlock()
		if pushed != 1 {
			t.Fatalf("OnPushed called %d times", pushed)
		}
	})
}

func TestIdempotentReplay(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		bump := func(id int64) mut { return mut{"c1", id, "bump", `{"id":"k"}`} }
		e.mustPush("ann", "g1", bump(1), bump(2), bump(3))
		e.mustPush("ann", "g1", bump(1), bump(2), bump(3)) // a re-push
		e.mu.Lock()
		pushed := len(e.pushed)
		e.mu.Unlock()
		if pushed != 1 {
			t.Fatalf("a push of replays only is reported: %d", pushed)
		}
		e.mustPush("ann", "g1", bump(2), bump(3), bump(4), bump(4))
		var n int64
		if err := tg.SQL.QueryRow(`SELECT "n" FROM "counters" WHERE "id" = 'k'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 4 || e.lmid(t, "c1") != 4 {
			t.Fatalf("counter %d, lmid %d; want 4, 4", n, e.lmid(t, "c1"))
		}
		e.mu.Lock()
		last := e.pushed[len(e.pushed)-1]
		e.mu.Unlock()
		var st []server.MutationStatus
		for _, m := range last.Mutations {
			st = append(st, m.Status)
		}
		if fmt.Sprint(st) != fmt.Sprint([]server.MutationStatus{server.StatusSkipped, server.StatusSkipped, server.StatusApplied, server.StatusSkipped}) {
			t.Fatalf("statuses %v", st)
		}
	})
}

func TestFutureMutationStopsThatClient(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "g1", mut{"c1", 1, "bump", `{"id":"a"}`})
		e.mustPush("ann", "g1",
			mut{"c1", 3, "bump", `{"id":"a"}`}, // 2 is missing
			mut{"c2", 1, "bump", `{"id":"b"}`},
			mut{"c1", 2, "bump", `{"id":"a"}`}, // not processed: c1 stopped
			mut{"c2", 2, "bump", `{"id":"b"}`})
		if e.lmid(t, "c1") != 1 || e.lmid(t, "c2") != 2 {
			t.Fatalf("lmids c1=%d c2=%d; want 1, 2", e.lmid(t, "c1"), e.lmid(t, "c2"))
		}
		errs := e.takeErrors()
		if len(errs) != 1 || !errors.Is(errs[0], server.KindMutationOutOfOrder) || errs[0].ClientID != "c1" || errs[0].MutationID != 3 || errs[0].Status != 200 {
			t.Fatalf("errors %v", errs)
		}
	})
}

func TestClientStateNotFound(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		// A new client starting at 1 is not lost state.
		e.mustPush("ann", "g1", mut{"c1", 1, "bump", `{"id":"a"}`})
		// A client never seen whose first mutation is 5: its first four
		// were acknowledged by a database that no longer has them.
		status, body := e.post("push", "ann", pushBody("g1", mut{"c1", 2, "bump", `{"id":"a"}`}, mut{"c9", 5, "bump", `{"id":"a"}`}, mut{"c1", 3, "bump", `{"id":"a"}`}))
		if status != 200 || body != `{"error":"ClientStateNotFound"}` {
			t.Fatalf("%d %s", status, body)
		}
		if e.lmid(t, "c9") != -1 || e.lmid(t, "c1") != 2 {
			t.Fatalf("lmids c9=%d c1=%d", e.lmid(t, "c9"), e.lmid(t, "c1"))
		}
		if errs := e.takeErrors(); len(errs) != 1 || !errors.Is(errs[0], server.KindClientStateNotFound) {
			t.Fatalf("errors %v", errs)
		}
		// A pull never answers ClientStateNotFound: an unknown group or
		// cookie is a reset.
		// (The reset's order is the server's next, not one above the
		// client's: a cookie the server did not issue never moves its
		// counter.)
		status, body = e.post("pull", "ann", pullBody("unknown-group", json.RawMessage(`{"order":99999,"cvr":"gone"}`)))
		if status != 200 || !strings.Contains(body, `"patch":[{"op":"clear"}`) {
			t.Fatalf("%d %s", status, body)
		}
	})
}

func TestPermanentFailureAdvances(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`})
		e.mustPush("bob", "g2", mut{"c2", 1, "createList", `{"ID":"L2","Name":"bob's"}`})
		cases := []struct {
			name, args string
			check      func(error) bool
		}{
			{"failAfterWrite", `{"id":"n1"}`, func(err error) bool { return errors.Is(err, errApp) }},
			{"noSuchMutator", `{}`, func(err error) bool { return errors.Is(err, mutator.ErrUnknownMutator) }},
			{"createTodo", `{"id":"t1","listID":"L1","title":"x","extra":1}`, func(err error) bool { return errors.Is(err, mutator.ErrInvalidArgs) }},
			{"createTodo", `{"id":"t1","listID":"L1","title":7}`, func(err error) bool { return errors.Is(err, mutator.ErrInvalidArgs) }},
			{"createTodo", `{"id":"t1","listID":"L1","title":""}`, func(err error) bool {
				var ae *mutator.ArgsError
				return errors.As(err, &ae) && ae.Invalid
			}},
			{"createTodo", `{"id":"t1","listID":"L2","title":"not my list"}`, func(err error) bool {
				var ae *rowauth.AuthorizationError
				return errors.As(err, &ae)
			}},
			{"panics", `{"id":"x"}`, func(err error) bool {
				var pe *mutator.PanicError
				return errors.As(err, &pe)
			}},
			{"createList", `{"ID":"L1","Name":"duplicate id"}`, func(err error) bool { return err != nil }},
		}
		var muts []mut
		for i, c := range cases {
			muts = append(muts, mut{"c1", int64(i + 2), c.name, c.args})
		}
		n := int64(len(cases) + 2)
		muts = append(muts, mut{"c1", n, "createTodo", `{"id":"t2","listID":"L1","title":"fine"}`})
		e.mustPush("ann", "g1", muts...)
		if got := e.lmid(t, "c1"); got != n {
			t.Fatalf("lmid %d, want %d", got, n)
		}
		if e.count(t, "notes") != 0 || e.count(t, "todos") != 1 || e.count(t, "lists") != 2 {
			t.Fatalf("notes %d todos %d lists %d", e.count(t, "notes"), e.count(t, "todos"), e.count(t, "lists"))
		}
		errs := e.takeErrors()
		if len(errs) != len(cases) {
			t.Fatalf("%d errors, want %d: %v", len(errs), len(cases), errs)
		}
		for i, c := range cases {
			err := errs[i]
			if !errors.Is(err, server.KindMutatorFailed) || err.MutationID != int64(i+2) || err.Mutator != c.name || err.Status != 200 || !c.check(err) {
				t.Errorf("case %d (%s): %v", i, c.name, err)
			}
		}
		// The failed mutations' changes never reach the change log: a
		// pull shows exactly the applied ones.
		cl := e.newClient("ann", "g1")
		cl.pull(t)
		cl.checkConverged(t)
		if cl.LastMutationIDs["c1"] != n {
			t.Fatalf("pulled lmid %d", cl.LastMutationIDs["c1"])
		}
	})
}

func TestTemporaryFailureAborts(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.MutationsPerTransaction = 2 })
		status, _ := e.post("push", "ann", pushBody("g1",
			mut{"c1", 1, "bump", `{"id":"k"}`},
			mut{"c1", 2, "bump", `{"id":"k"}`},
			mut{"c1", 3, "bump", `{"id":"k"}`}, // same batch as 4: rolled back with it
			mut{"c1", 4, "unavailable", `{"id":"n"}`},
			mut{"c1", 5, "bump", `{"id":"k"}`}))
		if status != 500 {
			t.Fatalf("status %d", status)
		}
		if e.lmid(t, "c1") != 2 || e.count(t, "notes") != 0 {
			t.Fatalf("lmid %d notes %d", e.lmid(t, "c1"), e.count(t, "notes"))
		}
		var n int64
		if err := tg.SQL.QueryRow(`SELECT "n" FROM "counters"`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("counter %d %v", n, err)
		}
		errs := e.takeErrors()
		if len(errs) != 1 || !errors.Is(errs[0], server.KindUnavailable) || errs[0].MutationID != 4 || !mutator.IsTemporary(errs[0]) {
			t.Fatalf("errors %v", errs)
		}
	})
}

func TestNeverNull(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		status, body := e.post("pull", "ann", pullBody("g1", nil))
		if status != 200 || !strings.Contains(body, `"lastMutationIDChanges":{}`) || !strings.Contains(body, `"patch":[{"op":"clear"}]`) || strings.Contains(body, "null") {
			t.Fatalf("%d %s", status, body)
		}
		var r protocol.PullResponse
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		_, body = e.post("pull", "ann", pullBody("g1", r.Cookie))
		if !strings.HasSuffix(body, `"lastMutationIDChanges":{},"patch":[]}`) {
			t.Fatal(body)
		}
		// The Go types encode nil as {} and [] too.
		b, _ := json.Marshal(protocol.PullResponse{})
		if string(b) != `{"cookie":null,"lastMutationIDChanges":{},"patch":[]}` {
			t.Fatal(string(b))
		}
	})
}

func order(t testing.TB, c json.RawMessage) int64 {
	t.Helper()
	o, ok := protocol.CookieOrder(c)
	if !ok {
		t.Fatalf("cookie %s has no numeric order", c)
	}
	return o
}

// TestCookieOrder follows the cookies of clients that pull in turn. It
// is one long function on purpose: each pull's expected order depends on
// the pulls before it.
func TestCookieOrder(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		a := e.newClient("ann", "gA")
		a.pull(t)
		o1 := order(t, a.Cookie)

		// A change: strictly greater.
		e.mustPush("ann", "gA", mut{"cA", 1, "createList", `{"ID":"L1","Name":"x"}`})
		r := a.pull(t)
		o2 := order(t, a.Cookie)
		if !r.Changed || o2 <= o1 || r.Response.LastMutationIDChanges["cA"] != 1 {
			t.Fatalf("after a change: %s", r.Raw)
		}
		// Only a lastMutationID changes (a failed mutation): greater, with
		// an empty patch.
		e.mustPush("ann", "gA", mut{"cA", 2, "failAfterWrite", `{"id":"n"}`})
		r = a.pull(t)
		o3 := order(t, a.Cookie)
		if !r.Changed || o3 <= o2 || len(r.Response.Patch) != 0 || r.Response.LastMutationIDChanges["cA"] != 2 {
			t.Fatalf("after a failed mutation: %s", r.Raw)
		}
		// Someone else's change that ann cannot see: equal cookie, after a
		// scan (the change-log head moved), then through the fast path.
		e.mustPush("bob", "gB", mut{"cB", 1, "createList", `{"ID":"L9","Name":"bob's"}`})
		if r = a.pull(t); r.Changed {
			t.Fatalf("invisible change moved the cookie: %s", r.Raw)
		}
		if r = a.pull(t); r.Changed {
			t.Fatalf("second pull moved the cookie: %s", r.Raw)
		}
		// Monotonic across groups: a tab forks gA's snapshot into group gC
		// and pulls with gA's cookie: a reset, with a greater order.
		fork := e.newClient("ann", "gC")
		fork.Cookie = a.Cookie
		r = fork.pull(t)
		if !r.Changed || order(t, fork.Cookie) <= o3 || r.Response.Patch[0].Op != protocol.OpClear {
			t.Fatalf("fork: %s", r.Raw)
		}
		fork.checkConverged(t)
		// Bob's group pulls now: its order is above everything handed out.
		b := e.newClient("bob", "gB")
		b.pull(t)
		if order(t, b.Cookie) <= order(t, fork.Cookie) {
			t.Fatalf("global order: bob %s after fork %s", b.Cookie, fork.Cookie)
		}
		// A lost response: the client pulls again from its older cookie
		// and gets a diff, not a reset.
		older := a.Cookie
		e.mustPush("ann", "gA", mut{"cA", 3, "createTodo", `{"id":"t1","listID":"L1","title":"x"}`})
		a.pull(t)
		a2 := e.newClient("ann", "gA")
		a2.Cookie, a2.View = older, map[string]json.RawMessage{}
		status, body := e.post("pull", "ann", pullBody("gA", older))
		if status != 200 || strings.Contains(body, `"clear"`) || !strings.Contains(body, `"todos/t1"`) {
			t.Fatalf("older cookie: %d %s", status, body)
		}
		// Foreign cookies of every shape: a reset above every order the
		// server issued, whatever the client's order.
		issued := order(t, a.Cookie)
		for _, ck := range []string{`null`, `7`, `1e3`, `"abc"`, `{"order":5}`, `{"order":"x","cvr":"y"}`, `{"order":123456,"cvr":"nope"}`, `{"order":1e300}`} {
			status, body := e.post("pull", "ann", pullBody("gA", json.RawMessage(ck)))
			if status != 200 || !strings.Contains(body, `"patch":[{"op":"clear"}`) {
				t.Fatalf("cookie %s: %d %s", ck, status, body)
			}
			var r protocol.PullResponse
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			if o := order(t, r.Cookie); o <= issued {
				t.Fatalf("cookie %s answered with %s, not above %d", ck, r.Cookie, issued)
			} else {
				issued = o
			}
		}
		// Values that are no cookie at all: 400.
		for _, ck := range []string{`[1,2]`, `true`, `{}`, `{"order":null}`} {
			if status, body := e.post("pull", "ann", pullBody("gA", json.RawMessage(ck))); status != 400 || !strings.Contains(body, `"error":"BadRequest"`) {
				t.Fatalf("cookie %s: %d %s", ck, status, body)
			}
		}
	})
}

func TestPrunedCookieResets(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.KeepCVRs = 2 })
		a := e.newClient("ann", "g1")
		a.pull(t)
		first := a.Cookie
		for i := 1; i <= 3; i++ {
			e.mustPush("ann", "g1", mut{"c1", int64(i), "note", fmt.Sprintf(`{"id":"n%d","body":"b","meta":{"k":[1,2.5,"x"]}}`, i)})
			a.pull(t)
		}
		a.checkConverged(t)
		_, body := e.post("pull", "ann", pullBody("g1", first))
		if !strings.Contains(body, `"patch":[{"op":"clear"}`) {
			t.Fatalf("pruned cookie: %s", body)
		}
		var n int
		if err := tg.SQL.QueryRow(`SELECT count(*) FROM "` + server.CVRsTable + `"`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d view records kept, %v", n, err)
		}
	})
}

func TestStatusCodes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) {
			o.MaxMutationsPerPush = 3
			o.MaxPayloadBytes = 2000
		})
		e.mustPush("ann", "gAnn", mut{"cAnn", 1, "bump", `{"id":"k"}`})
		before := func() [3]int64 {
			return [3]int64{e.count(t, "counters"), e.count(t, server.ClientsTable), e.count(t, server.GroupsTable)}
		}
		start := before()
		one := pushBody("gX", mut{"cX", 1, "bump", `{"id":"x"}`})
		huge := pushBody("gX", mut{"cX", 1, "note", `{"id":"n","body":"` + strings.Repeat("a", 3000) + `"}`})
		cases := []struct {
			name, endpoint, auth, body string
			status                     int
			kind                       server.Kind
			want                       string // the exact body, when it matters
		}{
			{"no auth", "push", "", one, 401, server.KindUnauthorized, ""},
			{"bad auth", "pull", "bad", pullBody("gX", nil), 401, server.KindUnauthorized, ""},
			{"other user's group (push)", "push", "bob", pushBody("gAnn", mut{"cB", 1, "bump", `{"id":"b"}`}), 403, server.KindForbidden, ""},
			{"other user's group (pull)", "pull", "bob", pullBody("gAnn", nil), 403, server.KindForbidden, ""},
			{"client of another group", "push", "ann", pushBody("gAnn2", mut{"cAnn", 2, "bump", `{"id":"k"}`}), 403, server.KindForbidden, ""},
			{"schema version (push)", "push", "ann", strings.Replace(one, `"schemaVersion":"1"`, `"schemaVersion":"2"`, 1), 409, server.KindVersionNotSupported, `{"error":"VersionNotSupported","versionType":"schema"}`},
			{"schema version (pull)", "pull", "ann", `{"pullVersion":1,"schemaVersion":"","profileID":"p","clientGroupID":"g","cookie":null}`, 409, server.KindVersionNotSupported, `{"error":"VersionNotSupported","versionType":"schema"}`},
			{"push version", "push", "ann", strings.Replace(one, `"pushVersion":1`, `"pushVersion":2`, 1), 200, server.KindVersionNotSupported, `{"error":"VersionNotSupported","versionType":"push"}`},
			{"pull version", "pull", "ann", `{"pullVersion":0,"what":"ever"}`, 200, server.KindVersionNotSupported, `{"error":"VersionNotSupported","versionType":"pull"}`},
			{"payload too large", "push", "ann", huge, 413, server.KindPayloadTooLarge, ""},
			{"too many mutations", "push", "ann", pushBody("gX", mut{"cX", 1, "bump", `{"id":"x"}`}, mut{"cX", 2, "bump", `{"id":"x"}`}, mut{"cX", 3, "bump", `{"id":"x"}`}, mut{"cX", 4, "bump", `{"id":"x"}`}), 400, server.KindTooManyMutations, ""},
			{"not JSON", "push", "ann", `{"pushVersion":1,`, 400, server.KindBadRequest, ""},
			{"empty body", "pull", "ann", ``, 400, server.KindBadRequest, ""},
			{"array body", "push", "ann", `[1]`, 400, server.KindBadRequest, ""},
			{"id as string", "push", "ann", strings.Replace(one, `"id":1`, `"id":"1"`, 1), 400, server.KindBadRequest, ""},
			{"negative id", "push", "ann", strings.Replace(one, `"id":1`, `"id":-1`, 1), 400, server.KindBadRequest, ""},
			{"missing clientGroupID", "push", "ann", strings.Replace(one, `"clientGroupID":"gX",`, ``, 1), 400, server.KindBadRequest, ""},
			{"null mutations", "push", "ann", `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":null}`, 400, server.KindBadRequest, ""},
			{"missing cookie", "pull", "ann", `{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g"}`, 400, server.KindBadRequest, ""},
			{"empty clientID", "push", "ann", strings.Replace(one, `"clientID":"cX"`, `"clientID":""`, 1), 400, server.KindBadRequest, ""},
		}
		for _, c := range cases {
			e.takeErrors()
			status, body := e.post(c.endpoint, c.auth, c.body)
			if status != c.status || (c.want != "" && body != c.want) {
				t.Errorf("%s: %d %s; want %d %s", c.name, status, body, c.status, c.want)
			}
			errs := e.takeErrors()
			if len(errs) != 1 || !errors.Is(errs[0], c.kind) || errs[0].Status != c.status {
				t.Errorf("%s: errors %v; want one %s", c.name, errs, c.kind)
			}
			if got := before(); got != start {
				t.Errorf("%s: something was applied: %v -> %v", c.name, start, got)
			}
		}
		// Methods and paths.
		resp, err := e.srv.Client().Get(e.srv.URL + "/sync/pull")
		if err != nil || resp.StatusCode != 405 {
			t.Fatalf("GET: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		resp, err = e.srv.Client().Post(e.srv.URL+"/sync/other", "application/json", strings.NewReader("{}"))
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("other path: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
	})
}

func TestSchemaMismatchStatus200(t *testing.T) {
	e := newEnv(t, nil, ormtest.SQLite(t).DB, func(o *server.Options[appCtx]) { o.SchemaVersionMismatchStatus = 200 })
	status, body := e.post("pull", "ann", `{"pullVersion":1,"schemaVersion":"0","profileID":"p","clientGroupID":"g","cookie":null}`)
	if status != 200 || body != `{"error":"VersionNotSupported","versionType":"schema"}` {
		t.Fatalf("%d %s", status, body)
	}
	if _, err := server.NewHandler(server.Options[appCtx]{Schema: testSchema, DB: ormtest.SQLite(t).DB, Mutators: testMutators, Auth: testAuth, SchemaVersionMismatchStatus: 302}); err == nil {
		t.Fatal("302 accepted")
	}
}

func TestMembershipRemovalDeletes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "gAnn",
			mut{"cAnn", 1, "createList", `{"ID":"L1","Name":"shared"}`},
			mut{"cAnn", 2, "createList", `{"ID":"L2","Name":"private"}`},
			mut{"cAnn", 3, "addMember", `{"ID":"m-bob","ListID":"L1","UserID":"bob"}`},
			mut{"cAnn", 4, "createTodo", `{"id":"t1","listID":"L1","title":"milk"}`},
			mut{"cAnn", 5, "createTodo", `{"id":"t2","listID":"L1","title":"eggs"}`},
			mut{"cAnn", 6, "createTodo", `{"id":"t3","listID":"L2","title":"secret"}`})
		bob := e.newClient("bob", "gBob")
		bob.pull(t)
		for _, k := range []string{"lists/L1", "todos/t1", "todos/t2", "members/m-bob", "members/L1:ann"} {
			if _, ok := bob.View[k]; !ok {
				t.Fatalf("bob does not see %s: %v", k, bob.View)
			}
		}
		if _, ok := bob.View["todos/t3"]; ok {
			t.Fatal("bob sees a todo of a list he is not a member of")
		}
		bob.checkConverged(t)

		// ann removes bob: his next pull deletes the list, its members and
		// its todos, although none of those rows changed.
		e.mustPush("ann", "gAnn", mut{"cAnn", 7, "removeMember", `{"ListID":"L1","UserID":"bob"}`})
		r := bob.pull(t)
		dels := map[string]bool{}
		for _, op := range r.Response.Patch {
			if op.Op != protocol.OpDel {
				t.Fatalf("unexpected op: %s", r.Raw)
			}
			dels[op.Key] = true
		}
		for _, k := range []string{"lists/L1", "todos/t1", "todos/t2", "members/m-bob", "members/L1:ann"} {
			if !dels[k] {
				t.Fatalf("no del for %s: %s", k, r.Raw)
			}
		}
		if len(bob.View) != 0 {
			t.Fatalf("bob still sees %v", bob.View)
		}
		bob.checkConverged(t)
	})
}

func TestWaitUntil(t *testing.T) {
	e := newEnv(t, nil, ormtest.SQLite(t).DB, func(o *server.Options[appCtx]) {
		o.BackgroundWorkers, o.BackgroundQueue = 1, 2
	})
	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan int, 10)
	if !e.h.WaitUntil(func(context.Context) { close(started); <-release; done <- 0 }) {
		t.Fatal("refused")
	}
	<-started
	if !e.h.WaitUntil(func(context.Context) { done <- 1 }) || !e.h.WaitUntil(func(context.Context) { panic("in the background") }) {
		t.Fatal("refused while the queue has room")
	}
	if e.h.WaitUntil(func(context.Context) { done <- 3 }) {
		t.Fatal("accepted past the bound")
	}
	close(release)
	if err := e.h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 {
		t.Fatalf("%d tasks ran", len(done))
	}
	if e.h.WaitUntil(func(context.Context) {}) {
		t.Fatal("accepted after Close")
	}
	if errs := e.takeErrors(); len(errs) != 1 || !errors.Is(errs[0], server.KindInternal) {
		t.Fatalf("errors %v", errs)
	}
	// Close gives up at its deadline, cancelling the tasks' context.
	e2 := newEnv(t, nil, ormtest.SQLite(t).DB, nil)
	cancelled := make(chan struct{})
	e2.h.WaitUntil(func(ctx context.Context) { <-ctx.Done(); close(cancelled) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e2.h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	<-cancelled
}

func TestInvoke(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		ann := rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: "ann"})
		// Several tables, one transaction: createList writes lists and
		// members together.
		if err := e.h.Invoke(ann, "createList", appCtx{UserID: "ann"}, createList{ID: "L1", Name: "from a job"}); err != nil {
			t.Fatal(err)
		}
		if e.count(t, "lists") != 1 || e.count(t, "members") != 1 {
			t.Fatal("not written")
		}
		// A failing mutator rolls back every table it wrote.
		err := mutator.Invoke(ann, testMutators, "failAfterWrite", e.h.DB(), appCtx{UserID: "ann"}, json.RawMessage(`{"id":"n1"}`))
		if !errors.Is(err, errApp) || e.count(t, "notes") != 0 {
			t.Fatalf("%v, %d notes", err, e.count(t, "notes"))
		}
		err = mutator.Invoke(ann, testMutators, "createTodo", e.h.DB(), appCtx{UserID: "ann"}, createTodo{ID: "t1", ListID: "L1"})
		if !errors.Is(err, mutator.ErrInvalidArgs) {
			t.Fatalf("Validate did not run: %v", err)
		}
		err = mutator.Invoke(rowauth.AsSystem(context.Background()), testMutators, "nope", e.h.DB(), appCtx{}, nil)
		if !errors.Is(err, mutator.ErrUnknownMutator) {
			t.Fatal(err)
		}
		// Written through the handler's DB, the rows reach clients.
		c := e.newClient("ann", "g1")
		c.pull(t)
		if _, ok := c.View["lists/L1"]; !ok {
			t.Fatal(c.View)
		}
		e.mu.Lock()
		n := len(e.pushed)
		e.mu.Unlock()
		if n != 1 {
			t.Fatalf("OnPushed %d times", n)
		}
	})
}

var _ = orm.Row{}
