package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

// adminHeader is what the test Admin function wants.
const adminHeader = "X-Test-Admin"

func testAdmin(r *http.Request) bool { return r.Header.Get(adminHeader) == "yes" }

// fakeHub is a Notifier that can be poked and inspected, and records
// what the devtools asked of it.
type fakeHub struct {
	mu           sync.Mutex
	poked        []string
	disconnected []string
}

func (f *fakeHub) Notify(context.Context, server.PushInfo) {}

func (f *fakeHub) Poke(group string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.poked = append(f.poked, group)
}

func (f *fakeHub) DevtoolsRealtime(int) protocol.DevtoolsRealtime {
	return protocol.DevtoolsRealtime{
		Connections: []protocol.DevtoolsConn{{UserID: "ann", ClientGroupID: "g1", ClientID: "c1", Room: "group:g1"}},
		Rooms:       []protocol.DevtoolsRoom{{Name: "group:g1", Members: 1}},
	}
}

func (f *fakeHub) DisconnectGroup(group string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnected = append(f.disconnected, group)
	return 1
}

func newDevEnv(t testing.TB, tg *ormtest.Target, hub server.Notifier) *env {
	return newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) {
		o.Devtools = &server.DevtoolsOptions{Admin: testAdmin, Origins: []string{"https://admin.example"}, RecentErrors: 3}
		o.Notifier = hub
	})
}

// devCall sends a devtools request and returns the status and the body.
func (e *env) devCall(method, path string, hdr map[string]string, body string) (int, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/sync/devtools"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := *e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

var admin = map[string]string{adminHeader: "yes"}

func asAdmin(extra map[string]string) map[string]string {
	out := map[string]string{adminHeader: "yes"}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func (e *env) snapshot(t *testing.T) protocol.DevtoolsSnapshot {
	t.Helper()
	status, body, _ := e.devCall("GET", "/api/snapshot", admin, "")
	if status != 200 {
		t.Fatalf("snapshot: %d %s", status, body)
	}
	var s protocol.DevtoolsSnapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.Source != protocol.DevtoolsSource || s.Type != protocol.DevtoolsTypeSnapshot || !protocol.IsDevtoolsMessage([]byte(body)) {
		t.Fatalf("snapshot without its discriminant: %s", body)
	}
	return s
}

func (e *env) command(t *testing.T, cmd, group string) protocol.DevtoolsResult {
	t.Helper()
	b, _ := json.Marshal(protocol.DevtoolsCommand{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeCommand, Command: cmd, ClientGroupID: group})
	status, body, _ := e.devCall("POST", "/api/command", asAdmin(map[string]string{"Content-Type": "application/json"}), string(b))
	if status != 200 {
		t.Fatalf("%s %s: %d %s", cmd, group, status, body)
	}
	var r protocol.DevtoolsResult
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Source != protocol.DevtoolsSource || r.Type != protocol.DevtoolsTypeResult {
		t.Fatalf("result %s %v", body, err)
	}
	return r
}

// TestDevtoolsOffByDefault: without Options.Devtools nothing is served
// under /devtools, admin or not.
func TestDevtoolsOffByDefault(t *testing.T) {
	e := newEnv(t, ormtest.SQLite(t), ormtest.SQLite(t).DB, nil)
	for _, p := range []string{"", "/", "/app.js", "/api/snapshot"} {
		if status, body, _ := e.devCall("GET", p, admin, ""); status != 404 {
			t.Errorf("GET /sync/devtools%s with the option off: %d %s", p, status, body)
		}
	}
	if _, err := server.NewHandler(server.Options[appCtx]{Schema: testSchema, DB: ormtest.SQLite(t).DB, Mutators: testMutators,
		Auth: testAuth, Devtools: &server.DevtoolsOptions{}}); err == nil || !strings.Contains(err.Error(), "Admin") {
		t.Errorf("Devtools without Admin: %v", err)
	}
}

// TestDevtoolsAdminAndOrigin: a request Admin refuses gets 403 on every
// devtools path; so does an admin's request from a foreign origin; a
// listed origin gets CORS headers.
func TestDevtoolsAdminAndOrigin(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newDevEnv(t, tg, &fakeHub{})
	cmd := `{"source":"plasma-devtools","type":"command","command":"ping"}`
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/", ""}, {"GET", "/api/snapshot", ""}, {"POST", "/api/command", cmd}, {"GET", "/nope", ""},
	} {
		status, body, _ := e.devCall(c.method, c.path, map[string]string{"Content-Type": "application/json"}, c.body)
		if status != 403 || !protocol.IsDevtoolsMessage([]byte(body)) {
			t.Errorf("%s %s as a non-admin: %d %s", c.method, c.path, status, body)
		}
		status, body, _ = e.devCall(c.method, c.path, asAdmin(map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json"}), c.body)
		if status != 403 {
			t.Errorf("%s %s from a foreign origin: %d %s", c.method, c.path, status, body)
		}
	}
	status, body, hd := e.devCall("POST", "/api/command", asAdmin(map[string]string{"Origin": "https://admin.example", "Content-Type": "application/json"}), cmd)
	if status != 200 || hd.Get("Access-Control-Allow-Origin") != "https://admin.example" || !strings.Contains(body, `"command":"ping"`) {
		t.Errorf("ping from a listed origin: %d %s %v", status, body, hd)
	}
	status, _, hd = e.devCall("OPTIONS", "/api/command", map[string]string{"Origin": "https://admin.example"}, "")
	if status != 204 || !strings.Contains(hd.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight from a listed origin: %d %v", status, hd)
	}
	// The script and the style sheet hold no data: anyone gets them
	// (once the option is on).
	if status, body, hd := e.devCall("GET", "/app.js", nil, ""); status != 200 || !strings.HasPrefix(hd.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(body, "plasma-devtools") {
		t.Errorf("app.js: %d %v", status, hd)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if status, body, _ := e.devCall("GET", "/api/snapshot", asAdmin(map[string]string{"Origin": "http://" + host}), ""); status != 200 {
		t.Errorf("same origin: %d %s", status, body)
	}
	status, body, hd = e.devCall("GET", "/", admin, "")
	if status != 200 || !strings.Contains(body, "plasma devtools") || !strings.HasPrefix(hd.Get("Content-Type"), "text/html") ||
		!strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("page: %d %v\n%s", status, hd, body)
	}
	if status, _, hd := e.devCall("GET", "?token=x", admin, ""); status != 301 || hd.Get("Location") != "/sync/devtools/?token=x" {
		t.Errorf("GET /sync/devtools: %d %v", status, hd)
	}
}

// TestDevtoolsSnapshotAndActions: after pushes from two users the
// snapshot lists both groups with their users, clients and
// lastMutationIDs, the change log's tail with its origins, the realtime
// connections and the errors by kind; reset drops the group's views so
// that its next pull, with its old cookie, is a reset; poke and
// disconnect reach the hub.
func TestDevtoolsSnapshotAndActions(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the handler needs a database, not a transaction", ormtest.ExecTx)
		hub := &fakeHub{}
		e := newDevEnv(t, tg, hub)
		e.mustPush("ann", "gAnn", mut{"cAnn", 1, "createList", `{"ID":"L1","Name":"ann's"}`},
			mut{"cAnn", 2, "createTodo", `{"id":"t1","listID":"L1","title":"milk"}`})
		e.mustPush("bob", "gBob", mut{"cBob", 1, "createList", `{"ID":"L2","Name":"bob's"}`},
			mut{"cBob", 2, "failAfterWrite", `{"id":"n1"}`}, mut{"cBob2", 1, "bump", `{"id":"k"}`})
		ann := e.newClient("ann", "gAnn")
		ann.pull(t)
		if status, _ := e.post("pull", "", pullBody("gAnn", nil)); status != 401 {
			t.Fatal(status)
		}

		s := e.snapshot(t)
		groups := map[string]protocol.DevtoolsGroup{}
		for _, g := range s.Groups {
			groups[g.ID] = g
		}
		lmids := func(g protocol.DevtoolsGroup) map[string]int64 {
			out := map[string]int64{}
			for _, c := range g.Clients {
				out[c.ID] = c.LastMutationID
			}
			return out
		}
		if g := groups["gAnn"]; g.UserID != "ann" || !mapsEq(lmids(g), map[string]int64{"cAnn": 2}) || g.LastPush == nil || g.LastPull == nil || g.Views != 1 || g.ViewRows == 0 {
			t.Errorf("ann's group %+v", g)
		}
		if g := groups["gBob"]; g.UserID != "bob" || !mapsEq(lmids(g), map[string]int64{"cBob": 2, "cBob2": 1}) || g.LastPush == nil || g.LastPull != nil || g.Views != 0 {
			t.Errorf("bob's group %+v", g)
		}
		if len(s.Groups) != 2 || s.GroupsTruncated {
			t.Errorf("%d groups, truncated %v", len(s.Groups), s.GroupsTruncated)
		}
		// ann: a list, a member, a todo; bob: a list, a member, a counter.
		if len(s.Changes) != 6 || s.Changes[0].Version < s.Changes[5].Version {
			t.Fatalf("changes %+v", s.Changes)
		}
		origins := map[string]bool{}
		for _, c := range s.Changes {
			origins[c.Table+"/"+c.RowID+" "+c.ClientID] = true
		}
		if !origins["todos/t1 cAnn"] || !origins["counters/k cBob2"] {
			t.Errorf("change origins %v", origins)
		}
		if s.Realtime == nil || len(s.Realtime.Connections) != 1 {
			t.Errorf("realtime %+v", s.Realtime)
		}
		if s.Errors.ByKind["MutatorFailed"] != 1 || s.Errors.ByKind["Unauthorized"] != 1 || len(s.Errors.Recent) != 2 ||
			s.Errors.Recent[0].Kind != "Unauthorized" || s.Errors.Recent[1].Mutator != "failAfterWrite" {
			t.Errorf("errors %+v", s.Errors)
		}
		if status, body, _ := e.devCall("GET", "/api/snapshot?groups=1&changes=2", admin, ""); status != 200 ||
			!strings.Contains(body, `"groupsTruncated":true`) || strings.Count(body, `"version"`) != 2 {
			t.Errorf("limited snapshot: %d %s", status, body)
		}

		// Reset: ann's views are dropped; her old cookie now pulls a reset.
		before := ann.Cookie
		if r := e.command(t, protocol.DevtoolsReset, "gAnn"); r.ViewsDropped != 1 || !r.Poked {
			t.Errorf("reset %+v", r)
		}
		if got := e.snapshot(t); got.Groups[0].Views+got.Groups[1].Views+got.Groups[0].ViewRows+got.Groups[1].ViewRows != 0 {
			t.Errorf("views after reset: %+v", got.Groups)
		}
		status, body := e.post("pull", "ann", pullBody("gAnn", before))
		var pr protocol.PullResponse
		if status != 200 || json.Unmarshal([]byte(body), &pr) != nil || len(pr.Patch) == 0 || pr.Patch[0].Op != protocol.OpClear {
			t.Fatalf("pull after reset: %d %s", status, body)
		}
		if r := e.command(t, protocol.DevtoolsPoke, "gBob"); !r.Poked {
			t.Errorf("poke %+v", r)
		}
		if r := e.command(t, protocol.DevtoolsDisconnect, "gBob"); r.Disconnected != 1 {
			t.Errorf("disconnect %+v", r)
		}
		hub.mu.Lock()
		if strings.Join(hub.poked, ",") != "gAnn,gBob" || strings.Join(hub.disconnected, ",") != "gBob" {
			t.Errorf("hub poked %v, disconnected %v", hub.poked, hub.disconnected)
		}
		hub.mu.Unlock()
	})
}

// TestDevtoolsWithoutHub: poke and disconnect need a hub; without one
// they answer 409 and change nothing, and reset still drops the views.
func TestDevtoolsWithoutHub(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newDevEnv(t, tg, nil)
	e.mustPush("ann", "g", mut{"c", 1, "createList", `{"ID":"L1","Name":"x"}`})
	for _, cmd := range []string{"poke", "disconnect"} {
		status, body, _ := e.devCall("POST", "/api/command", asAdmin(map[string]string{"Content-Type": "application/json"}),
			`{"source":"plasma-devtools","type":"command","command":"`+cmd+`","clientGroupID":"g"}`)
		if status != 409 || !protocol.IsDevtoolsMessage([]byte(body)) {
			t.Errorf("%s without a hub: %d %s", cmd, status, body)
		}
	}
	if r := e.command(t, "reset", "g"); r.Poked {
		t.Errorf("reset poked without a hub: %+v", r)
	}
	if s := e.snapshot(t); s.Realtime != nil {
		t.Errorf("realtime without a hub: %+v", s.Realtime)
	}
}

func mapsEq(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
