package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// fuzzMutators are the test mutators that cannot change what another
// user reads: no open notes, no sharing (addMember), and no mutator that
// fails temporarily (a 500 by design).
var fuzzMutators = func() mutator.Set[appCtx] {
	s := maps.Clone(testMutators)
	for _, name := range []string{"note", "failAfterWrite", "unavailable", "addMember"} {
		delete(s, name)
	}
	return s
}()

// fuzzEnv is a SQLite database where ann's group gAnn holds a list, a
// todo and a counter, and ann's client has pulled: the state no request
// of mallory's may change.
type fuzzEnv struct {
	*env
	tg     *ormtest.Target
	cookie json.RawMessage
}

func newFuzzEnv(f testing.TB, tg *ormtest.Target) *fuzzEnv {
	e := newEnv(f, tg, tg.DB, func(o *server.Options[appCtx]) { o.Mutators = fuzzMutators })
	e.mustPush("ann", "gAnn", mut{"cAnn", 1, "createList", `{"ID":"L1","Name":"ann's"}`},
		mut{"cAnn", 2, "createTodo", `{"id":"t1","listID":"L1","title":"milk"}`},
		mut{"cAnn", 3, "bump", `{"id":"kAnn"}`})
	c := e.newClient("ann", "gAnn")
	c.pull(f)
	return &fuzzEnv{env: e, tg: tg, cookie: c.Cookie}
}

// check fails t if a request answered status 5xx or a 200 pull was not
// valid JSON, if the handler reported a server error, or if ann's state
// moved: her client's lastMutationID, her group's owner, and her pull,
// which must still answer her cookie unchanged. The order counter must
// not have jumped either.
func (fe *fuzzEnv) check(t *testing.T, endpoint string, status int, body string) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("%s answered %d %s", endpoint, status, body)
	}
	if endpoint == "pull" && status == 200 && (!json.Valid([]byte(body)) || !utf8.ValidString(body)) {
		t.Fatalf("pull answered invalid JSON: %q", body)
	}
	for _, err := range fe.takeErrors() {
		if err.Status >= 500 {
			t.Fatalf("server error: %v", err)
		}
	}
	var lmid int64
	var owner string
	if err := fe.tg.SQL.QueryRow(`SELECT c."last_mutation_id", g."user_id" FROM "`+server.ClientsTable+`" c JOIN "`+server.GroupsTable+
		`" g ON g."id" = c."group_id" WHERE c."id" = 'cAnn'`).Scan(&lmid, &owner); err != nil || lmid != 3 || owner != "ann" {
		t.Fatalf("ann's client: lmid %d, owner %q, %v", lmid, owner, err)
	}
	st, resp, err := synctest.Post(fe.srv.Client(), fe.srv.URL+"/sync/pull", "ann", pullBody("gAnn", fe.cookie))
	if err != nil || st != 200 || !strings.HasSuffix(resp, `"lastMutationIDChanges":{},"patch":[]}`) || !strings.Contains(resp, string(fe.cookie)) {
		t.Fatalf("ann's pull changed: %d %s %v", st, resp, err)
	}
	if n := counter(t, fe.tg); n > 1_000_000 {
		t.Fatalf("the order counter jumped to %d", n)
	}
}

func (fe *fuzzEnv) post(t *testing.T, endpoint, body string) (int, string) {
	t.Helper()
	status, resp, err := synctest.Post(fe.srv.Client(), fe.srv.URL+"/sync/"+endpoint, "mallory", body)
	if err != nil {
		t.Fatal(err)
	}
	return status, resp
}

// pullSeeds are FuzzPullCookie's seeds: a cookie and a group id.
var pullSeeds = func() [][2]string {
	var out [][2]string
	for _, ck := range append(forgedCookies,
		`null`, `0`, `-1`, `1e400`, `[1]`, `true`, `{}`, `{"order":null}`, `{"order":1,"cvr":"\u0000"}`,
		`{"order":1,"cvr":"x"}`, `{"order":9007199254740991,"cvr":"x"}`, `{"order":"\ud800","cvr":"x"}`, "\"\xff\"", `"\u0000"`, `{`,
	) {
		out = append(out, [2]string{ck, "gMal"})
	}
	for _, g := range []string{"gAnn", "g\u0000", strings.Repeat("g", 129), "g\xff"} {
		out = append(out, [2]string{`null`, g})
	}
	return out
}()

func (fe *fuzzEnv) pull(t *testing.T, cookie, group string) {
	gj, _ := json.Marshal(group)
	body := fmt.Sprintf(`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":%s,"cookie":%s}`, gj, cookie)
	status, resp := fe.post(t, "pull", body)
	fe.check(t, "pull", status, resp)
}

// FuzzPullCookie sends mallory's pulls with any cookie, to any group:
// no 5xx, no invalid JSON, and nothing of ann's moves.
func FuzzPullCookie(f *testing.F) {
	for _, s := range pullSeeds {
		f.Add(s[0], s[1])
	}
	fe := newFuzzEnv(f, ormtest.SQLite(f))
	f.Fuzz(fe.pull)
}

// FuzzPushBody sends mallory's pushes of any body: no 5xx, and nothing
// of ann's moves.
func FuzzPushBody(f *testing.F) {
	for _, s := range pushSeeds {
		f.Add(s)
	}
	fe := newFuzzEnv(f, ormtest.SQLite(f))
	f.Fuzz(fe.push)
}

func (fe *fuzzEnv) push(t *testing.T, body string) {
	status, resp := fe.post(t, "push", body)
	fe.check(t, "push", status, resp)
}

// TestFuzzSeeds replays the fuzz targets' seeds on both engines (the
// fuzz targets themselves run on SQLite).
func TestFuzzSeeds(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		fe := newFuzzEnv(t, tg)
		for _, s := range pullSeeds {
			fe.pull(t, s[0], s[1])
		}
		for _, s := range pushSeeds {
			fe.push(t, s)
		}
	})
}

// pushSeeds are FuzzPushBody's seeds.
var pushSeeds = []string{
	pushBody("gMal", mut{"cMal", 1, "bump", `{"id":"k"}`}),
	pushBody("gMal", mut{"cMal", 1, "createList", `{"ID":"L1","Name":"taken"}`}, mut{"cMal", 2, "createTodo", `{"id":"t1","listID":"L1","title":"x"}`}),
	pushBody("gMal", mut{"cMal", 1, "updateTodo", `{"id":"t1","title":"mine now"}`}, mut{"cMal", 2, "deleteTodo", `{"id":"t1"}`}),
	pushBody("gMal", mut{"cMal", 1, "removeMember", `{"ListID":"L1","UserID":"ann"}`}),
	pushBody("gAnn", mut{"cMal", 1, "bump", `{"id":"k"}`}),
	pushBody("gMal", mut{"cAnn", 4, "bump", `{"id":"kAnn"}`}),
	pushBody("gMal", mut{"cMal", 1, "createList", `{"ID":"L2","Name":"\ud800"}`}, mut{"cMal", 2, "createList", `{"ID":"L3","Name":"a\u0000b"}`}),
	pushBody("gMal", mut{"cMal", 1, "createList", "{\"ID\":\"L4\",\"Name\":\"\xff\"}"}),
	pushBody("gMal", mut{"cMal", 1, "createList", `{"ID":"\u0000","Name":"x"}`}),
	strings.Replace(pushBody("gMal", mut{"cNUL", 1, "bump", `{"id":"k"}`}), `"cNUL"`, `"c\u0000"`, 1),
	strings.Replace(pushBody("gNUL", mut{"cMal", 1, "bump", `{"id":"k"}`}), `"gNUL"`, `"g\u0000"`, 1),
	pushBody("gMal", mut{"cMal", 1, "bump", strings.Repeat("[", 100) + strings.Repeat("]", 100)}),
	pushBody("gMal", mut{"cMal", 9, "bump", `{"id":"k"}`}),
	pushBody("gMal", mut{"cMal", 1, "panics", `{}`}, mut{"cMal", 2, "swallow", `{}`}, mut{"cMal", 3, "nope", `null`}),
	pushBody("gMal", mut{strings.Repeat("c", 129), 1, "bump", `{"id":"k"}`}),
	`{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"gMal","mutations":[{"clientID":"cMal","id":9007199254740993,"name":"bump","args":{},"timestamp":1}]}`,
	`{"pushVersion":2}`, `[`, ``, `{"pushVersion":1,"mutations":null}`,
}
