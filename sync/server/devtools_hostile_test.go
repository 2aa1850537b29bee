package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/protocol"
)

// hostileCommands are command bodies an admin's script (or an attacker
// who got past Admin) may send wrong, with the status each must get.
var hostileCommands = []struct {
	name, ctype, body string
	status            int
}{
	{"not JSON", "application/json", `{`, 400},
	{"empty", "application/json", ``, 400},
	{"an array", "application/json", `[]`, 400},
	{"null", "application/json", `null`, 400},
	{"a string", "application/json", `"reset"`, 400},
	{"form content type", "application/x-www-form-urlencoded", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn"}`, 415},
	{"text content type", "text/plain", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn"}`, 415},
	{"no content type", "", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn"}`, 415},
	{"no source", "application/json", `{"type":"command","command":"reset","clientGroupID":"gAnn"}`, 400},
	{"another source", "application/json", `{"source":"replicache","type":"command","command":"reset","clientGroupID":"gAnn"}`, 400},
	{"wrong type", "application/json", `{"source":"plasma-devtools","type":"snapshot","command":"reset","clientGroupID":"gAnn"}`, 400},
	{"unknown command", "application/json", `{"source":"plasma-devtools","type":"command","command":"drop-table","clientGroupID":"gAnn"}`, 400},
	{"unknown field", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn","all":true}`, 400},
	{"two values", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn"}{}`, 400},
	{"trailing garbage", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn"} x`, 400},
	{"group as a number", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":7}`, 400},
	{"group as an array", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":["gAnn"]}`, 400},
	{"no group", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset"}`, 400},
	{"empty group", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":""}`, 400},
	{"NUL in group", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn\u0000"}`, 400},
	{"invalid UTF-8 group", "application/json", "{\"source\":\"plasma-devtools\",\"type\":\"command\",\"command\":\"reset\",\"clientGroupID\":\"g\xff\"}", 400},
	{"oversized group", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"` + strings.Repeat("g", 129) + `"}`, 400},
	{"ping with a group", "application/json", `{"source":"plasma-devtools","type":"command","command":"ping","clientGroupID":"gAnn"}`, 400},
	{"oversized body", "application/json", `{"source":"plasma-devtools","type":"command","command":"reset","clientGroupID":"gAnn","x":"` + strings.Repeat("a", 8<<10) + `"}`, 413},
	{"deep nesting", "application/json", strings.Repeat(`[`, 1500) + strings.Repeat(`]`, 1500), 400},
	{"long unknown command", "application/json", `{"source":"plasma-devtools","type":"command","command":"` + strings.Repeat("\u00e9", 5000) + `"}`, 413},
}

// TestDevtoolsHostileInput: every malformed, oversized or hostile
// devtools request gets a clear 4xx devtools error, and nothing moves:
// ann's view stays, no group is poked.
func TestDevtoolsHostileInput(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the handler needs a database, not a transaction", ormtest.ExecTx)
		hub := &fakeHub{}
		e := newDevEnv(t, tg, hub)
		e.mustPush("ann", "gAnn", mut{"cAnn", 1, "createList", `{"ID":"L1","Name":"ann's"}`})
		e.newClient("ann", "gAnn").pull(t)
		checkErr := func(what string, status, want int, body string) {
			t.Helper()
			var m protocol.DevtoolsError
			if status != want || json.Unmarshal([]byte(body), &m) != nil || m.Source != protocol.DevtoolsSource ||
				m.Type != protocol.DevtoolsTypeError || m.Error == "" || !utf8.ValidString(body) {
				t.Errorf("%s: %d %.300s; want %d and a devtools error", what, status, body, want)
			}
		}
		for _, c := range hostileCommands {
			hdr := asAdmin(nil)
			if c.ctype != "" {
				hdr["Content-Type"] = c.ctype
			}
			status, body, _ := e.devCall("POST", "/api/command", hdr, c.body)
			checkErr(c.name, status, c.status, body)
		}
		for _, c := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/api/command", 405}, {"POST", "/api/snapshot", 405}, {"DELETE", "/", 405}, {"PUT", "/app.js", 405},
			{"GET", "/api/snapshot?groups=0", 400}, {"GET", "/api/snapshot?groups=abc", 400},
			{"GET", "/api/snapshot?groups=100000", 400}, {"GET", "/api/snapshot?groups=1&groups=2", 400},
			{"GET", "/api/snapshot?changes=-1", 400}, {"GET", "/api/snapshot?changes=9999999999999999999999", 400},
			{"GET", "/api/nothing", 404}, {"GET", "/api/snapshot/", 404}, {"GET", "/api/snapshot%00", 404},
		} {
			status, body, _ := e.devCall(c.method, c.path, admin, "")
			checkErr(c.method+" "+c.path, status, c.status, body)
		}
		s := e.snapshot(t)
		if len(s.Groups) != 1 || s.Groups[0].Views != 1 {
			t.Errorf("state moved: %+v", s.Groups)
		}
		hub.mu.Lock()
		if len(hub.poked)+len(hub.disconnected) != 0 {
			t.Errorf("hub poked %v, disconnected %v", hub.poked, hub.disconnected)
		}
		hub.mu.Unlock()
		if errs := e.takeErrors(); len(errs) != 0 {
			t.Errorf("the handler reported %v", errs)
		}
	})
}

// FuzzDevtoolsCommand: whatever body an admin posts, the command
// endpoint answers a devtools message, never a 5xx, and drops no view
// unless the body is a well-formed reset.
func FuzzDevtoolsCommand(f *testing.F) {
	for _, c := range hostileCommands {
		f.Add(c.body)
	}
	f.Add(`{"source":"plasma-devtools","type":"command","command":"poke","clientGroupID":"gAnn"}`)
	f.Add(`{"source":"plasma-devtools","type":"command","command":"ping"}`)
	tg := ormtest.SQLite(f)
	e := newDevEnv(f, tg, &fakeHub{})
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		status, resp, _ := e.devCall("POST", "/api/command", asAdmin(map[string]string{"Content-Type": "application/json"}), body)
		if status >= 500 || !protocol.IsDevtoolsMessage([]byte(resp)) {
			t.Fatalf("%q: %d %s", body, status, resp)
		}
		var cmd protocol.DevtoolsCommand
		if status == 200 && (json.Unmarshal([]byte(body), &cmd) != nil || cmd.Source != protocol.DevtoolsSource) {
			t.Fatalf("%q accepted: %s", body, resp)
		}
	})
}
