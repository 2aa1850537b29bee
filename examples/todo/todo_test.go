package todo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/examples/todo"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// env is the example's handler on one database, served over HTTP.
type env struct {
	t      *testing.T
	tg     *ormtest.Target
	h      *server.Handler[todo.AppCtx]
	srv    *httptest.Server
	errors synctest.ErrorLog
}

func newEnv(t *testing.T, tg *ormtest.Target) *env {
	t.Helper()
	e := &env{t: t, tg: tg}
	h, err := todo.NewServer(context.Background(), tg.DB, server.Options[todo.AppCtx]{
		OnError: e.errors.Record,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h, e.srv = h, synctest.Serve(t, h)
	return e
}

// takeErrors returns the errors reported since the last call.
func (e *env) takeErrors() []*server.Error { return e.errors.Take() }

// post sends body to /sync/<endpoint> with the raw Authorization header
// auth ("" for none) and returns the status and the body.
func (e *env) post(endpoint, auth, body string) (int, string) {
	e.t.Helper()
	status, resp, err := synctest.Post(e.srv.Client(), e.srv.URL+"/sync/"+endpoint, auth, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return status, resp
}

// client is one Replicache client (one client group with one client) of
// a user: a strict synctest.Client that numbers its mutations.
type client struct {
	*synctest.Client
	e    *env
	user string
	id   string
	next int64
}

func (e *env) client(user string) *client {
	sc := synctest.NewClient(e.srv.Client(), e.srv.URL+"/sync", "Bearer "+user, "g-"+user)
	return &client{Client: sc, e: e, user: user, id: "c-" + user, next: 1}
}

// push pushes one mutation, expecting 200 {}.
func (c *client) push(name, args string) {
	c.e.t.Helper()
	status, resp, err := c.Push(synctest.Mutation{ClientID: c.id, ID: c.next, Name: name, Args: args})
	c.next++
	if err != nil || status != http.StatusOK || resp != "{}" {
		c.e.t.Fatalf("push %s %s as %s: %d %s %v", name, args, c.user, status, resp, err)
	}
}

// mustApply pushes a mutation that must succeed.
func (c *client) mustApply(name, args string) {
	c.e.t.Helper()
	c.push(name, args)
	if errs := c.e.takeErrors(); len(errs) > 0 {
		c.e.t.Fatalf("%s %s as %s: %v", name, args, c.user, errs[0])
	}
}

// mustFail pushes a mutation that must fail permanently with an error
// matching want (any error if nil), and checks that it still counted as processed.
func (c *client) mustFail(name, args string, want error) {
	c.e.t.Helper()
	c.push(name, args)
	errs := c.e.takeErrors()
	if len(errs) != 1 || errs[0].Kind != server.KindMutatorFailed || (want != nil && !errors.Is(errs[0], want)) {
		c.e.t.Fatalf("%s %s as %s: want one mutator failure matching %v, got %v", name, args, c.user, want, errs)
	}
	c.pull()
	if n := c.LastMutationIDs[c.id]; n != c.next-1 {
		c.e.t.Fatalf("after the failed %s: lastMutationID %d, want %d", name, n, c.next-1)
	}
}

// pull pulls and applies the response, failing the test on a response
// that breaks the protocol's rules; it returns the patch's ops as
// "op key" strings (puts and dels only), sorted.
func (c *client) pull() []string {
	c.e.t.Helper()
	r, err := c.Pull()
	if err != nil {
		c.e.t.Fatalf("pull as %s: %v", c.user, err)
	}
	var ops []string
	if !r.Changed {
		return ops
	}
	for _, op := range r.Response.Patch {
		if op.Op == protocol.OpPut || op.Op == protocol.OpDel {
			ops = append(ops, string(op.Op)+" "+op.Key)
		}
	}
	slices.Sort(ops)
	return ops
}

// keys returns the keys of c's view with the given prefix, sorted.
func (c *client) keys(prefix string) []string {
	var ks []string
	for k := range c.View {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

func (c *client) wantKeys(prefix string, want ...string) {
	c.e.t.Helper()
	if got := c.keys(prefix); !slices.Equal(got, want) {
		c.e.t.Fatalf("%s's view of %s*: %v, want %v", c.user, prefix, got, want)
	}
}

func TestRulesAndMutators(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg)
		ann, bob, cat := e.client("ann"), e.client("bob"), e.client("cat")
		annMember, bobMember := "members/"+todo.MemberID("L1", "ann"), "members/m-bob"

		// createList: ann owns L1 and is its member.
		ann.mustApply("createList", `{"id":"L1","name":"groceries"}`)
		ann.pull()
		ann.wantKeys("lists/", "lists/L1")
		ann.wantKeys("members/", annMember)
		if l := ann.Row("lists/L1"); l["owner_id"] != "ann" || l["name"] != "groceries" {
			t.Fatalf("lists/L1 = %v", l)
		}
		ann.mustApply("createTodo", `{"id":"t1","listID":"L1","title":"milk"}`)
		ann.pull()
		if td := ann.Row("todos/t1"); td["title"] != "milk" || td["done"] != false || td["created_by"] != "ann" || td["list_id"] != "L1" {
			t.Fatalf("todos/t1 = %v", td)
		}

		// Bob is no member: he sees nothing, and cannot write to L1.
		if ops := bob.pull(); len(ops) != 0 || len(bob.View) != 0 {
			t.Fatalf("bob sees %v", bob.View)
		}
		bob.mustFail("createTodo", `{"id":"tb","listID":"L1","title":"forged"}`, rowauth.ErrOutsideRule)
		bob.mustFail("updateTodo", `{"id":"t1","done":true}`, todo.ErrNotFound)
		bob.mustFail("deleteTodo", `{"id":"t1"}`, todo.ErrNotFound)
		bob.mustFail("addMember", `{"id":"m-x","listID":"L1","userID":"bob"}`, rowauth.ErrOutsideRule)
		bob.mustFail("removeMember", `{"listID":"L1","userID":"ann"}`, todo.ErrNotFound)
		// Nor can he take over the list id.
		bob.mustFail("createList", `{"id":"L1","name":"mine"}`, nil)
		ann.pull()
		ann.wantKeys("todos/", "todos/t1")
		if ann.Row("todos/t1")["done"] != false || ann.Row("lists/L1")["name"] != "groceries" {
			t.Fatalf("bob's refused mutations changed ann's data: %v", ann.View)
		}

		// addMember: bob joins L1 and sees the list, its members and todos.
		ann.mustApply("addMember", `{"id":"m-bob","listID":"L1","userID":"bob"}`)
		ann.mustFail("addMember", `{"id":"m-bob2","listID":"L1","userID":"bob"}`, todo.ErrAlreadyMember)
		bob.pull()
		bob.wantKeys("", "lists/L1", annMember, bobMember, "todos/t1")
		// A member writes todos ...
		bob.mustApply("createTodo", `{"id":"t2","listID":"L1","title":"bread"}`)
		bob.mustApply("updateTodo", `{"id":"t1","done":true}`)
		bob.mustApply("updateTodo", `{"id":"t2","title":"rye bread","done":null}`)
		// ... but does not own the list: no members, no renaming.
		bob.mustFail("addMember", `{"id":"m-cat","listID":"L1","userID":"cat"}`, rowauth.ErrOutsideRule)
		bob.mustFail("removeMember", `{"listID":"L1","userID":"ann"}`, todo.ErrNotFound)
		ann.pull()
		if ann.Row("todos/t1")["done"] != true || ann.Row("todos/t2")["title"] != "rye bread" || ann.Row("todos/t2")["created_by"] != "bob" {
			t.Fatalf("ann's view after bob's edits: %v", ann.View)
		}
		cat.pull()
		cat.wantKeys("")

		// deleteTodo: gone for both at their next pull.
		ann.mustApply("deleteTodo", `{"id":"t1"}`)
		if ops := bob.pull(); !slices.Equal(ops, []string{"del todos/t1"}) {
			t.Fatalf("bob's patch after the delete: %v", ops)
		}

		// removeMember: L1, its members and todos become dels for bob.
		ann.mustApply("removeMember", `{"listID":"L1","userID":"bob"}`)
		ops := bob.pull()
		want := []string{"del " + annMember, "del " + bobMember, "del lists/L1", "del todos/t2"}
		if slices.Sort(want); !slices.Equal(ops, want) {
			t.Fatalf("bob's patch after removal: %v, want %v", ops, want)
		}
		bob.wantKeys("")
		bob.mustFail("createTodo", `{"id":"t3","listID":"L1","title":"sneaky"}`, rowauth.ErrOutsideRule)
		ann.pull()
		ann.wantKeys("", "lists/L1", annMember, "todos/t2")

		// A list of bob's own is invisible to ann.
		bob.mustApply("createList", `{"id":"L2","name":"bob's"}`)
		bob.pull()
		bob.wantKeys("", "lists/L2", "members/"+todo.MemberID("L2", "bob"))
		if ops := ann.pull(); len(ops) != 0 {
			t.Fatalf("ann sees bob's list: %v", ops)
		}
	})
}

func TestInvalidArgs(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg)
		ann := e.client("ann")
		ann.mustApply("createList", `{"id":"L1","name":"groceries"}`)
		long := strings.Repeat("x", todo.MaxTitleRunes+1)
		for _, m := range []struct{ name, args string }{
			{"createList", `{"id":"","name":"x"}`},
			{"createList", `{"id":"L9","name":"   "}`},
			{"createTodo", `{"id":"t1","listID":"L1","title":""}`},
			{"createTodo", `{"id":"t1","listID":"L1","title":"` + long + `"}`},
			{"createTodo", `{"id":"t1","listID":"L1","title":"x","extra":1}`},
			{"createTodo", `{"id":"t1","listID":"L1","title":42}`},
			{"updateTodo", `{"id":"t1"}`},
			{"deleteTodo", `{}`},
			{"addMember", `{"id":"m1","listID":"L1"}`},
			{"removeMember", `{"listID":"L1","userID":"` + strings.Repeat("u", todo.MaxIDBytes+1) + `"}`},
		} {
			ann.mustFail(m.name, m.args, mutator.ErrInvalidArgs)
		}
		ann.mustFail("renameList", `{}`, mutator.ErrUnknownMutator)
		ann.pull()
		ann.wantKeys("todos/")
		ann.wantKeys("lists/", "lists/L1")
	})
}

func TestAuth(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg)
		pull := `{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":null}`
		for _, auth := range []string{"", "ann", "Basic YW5uOng=", "Bearer ", "Bearer ann bob"} {
			if status, body := e.post("pull", auth, pull); status != http.StatusUnauthorized {
				t.Errorf("Authorization %q: %d %s", auth, status, body)
			}
		}
		if status, body := e.post("pull", "bearer ann", pull); status != http.StatusOK {
			t.Errorf("lower-case scheme: %d %s", status, body)
		}
		// Push binds the group to ann; bob may then neither pull it nor push to it.
		e.takeErrors() // the 401s
		ann := e.client("ann")
		ann.GroupID = "g1"
		ann.mustApply("createList", `{"id":"L1","name":"groceries"}`)
		if status, body := e.post("pull", "Bearer bob", pull); status != http.StatusForbidden {
			t.Errorf("bob pulling ann's group: %d %s", status, body)
		}
		push := `{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","mutations":[{"clientID":"c-bob","id":1,"name":"createList","args":{"id":"L2","name":"x"},"timestamp":1}]}`
		if status, body := e.post("push", "Bearer bob", push); status != http.StatusForbidden {
			t.Errorf("bob pushing to ann's group: %d %s", status, body)
		}
		if status, body := e.post("push", "", push); status != http.StatusUnauthorized {
			t.Errorf("push without auth: %d %s", status, body)
		}
		old := strings.Replace(pull, `"schemaVersion":"1"`, `"schemaVersion":"0"`, 1)
		if status, body := e.post("pull", "Bearer ann", old); status != http.StatusConflict ||
			!strings.Contains(body, `"versionType":"schema"`) {
			t.Errorf("old schema: %d %s", status, body)
		}
	})
}

// TestInvoke runs a mutator as a backend job on the handler's database:
// the rules still apply for the identity on the context.
func TestInvoke(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg)
		ctx := context.Background()
		ann := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "ann"})
		bob := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "bob"})
		if err := e.h.Invoke(ann, todo.MutCreateList, todo.AppCtx{UserID: "ann"}, todo.CreateList{ID: "L1", Name: "chores"}); err != nil {
			t.Fatal(err)
		}
		if err := e.h.Invoke(ann, todo.MutCreateTodo, todo.AppCtx{UserID: "ann"}, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "sweep"}); err != nil {
			t.Fatal(err)
		}
		err := e.h.Invoke(bob, todo.MutCreateTodo, todo.AppCtx{UserID: "bob"}, todo.CreateTodo{ID: "t2", ListID: "L1", Title: "x"})
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatalf("bob's invoke: %v", err)
		}
		c := e.client("ann")
		c.pull()
		c.wantKeys("", "lists/L1", "members/"+todo.MemberID("L1", "ann"), "todos/t1")
	})
}

func TestValidate(t *testing.T) {
	s := func(v string) *string { return &v }
	yes := true
	for _, tc := range []struct {
		v  interface{ Validate() error }
		ok bool
	}{
		{todo.CreateList{ID: "l", Name: "n"}, true},
		{todo.CreateList{ID: "l\n", Name: "n"}, false},
		{todo.CreateList{ID: "l", Name: strings.Repeat("é", todo.MaxNameRunes)}, true},
		{todo.CreateList{ID: "l", Name: strings.Repeat("é", todo.MaxNameRunes+1)}, false},
		{todo.CreateList{ID: "l", Name: "\xff"}, false},
		{todo.AddMember{ID: "m", ListID: "l", UserID: "u"}, true},
		{todo.AddMember{ID: "m", ListID: "l"}, false},
		{todo.RemoveMember{ListID: "l", UserID: "u"}, true},
		{todo.RemoveMember{UserID: "u"}, false},
		{todo.CreateTodo{ID: "t", ListID: "l", Title: "x"}, true},
		{todo.CreateTodo{ID: "t", ListID: "l", Title: "x\x00"}, false},
		{todo.UpdateTodo{ID: "t", Done: &yes}, true},
		{todo.UpdateTodo{ID: "t", Title: s("y")}, true},
		{todo.UpdateTodo{ID: "t", Title: s(" ")}, false},
		{todo.UpdateTodo{ID: "t"}, false},
		{todo.DeleteTodo{ID: "t"}, true},
		{todo.DeleteTodo{}, false},
	} {
		if err := tc.v.Validate(); (err == nil) != tc.ok {
			t.Errorf("%#v.Validate() = %v", tc.v, err)
		}
	}
	if a, b := todo.MemberID("a", "bc"), todo.MemberID("ab", "c"); a == b || a != todo.MemberID("a", "bc") {
		t.Errorf("MemberID: %s, %s", a, b)
	}
}

func TestBearerAuth(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer ann": "ann", "bearer  ann ": "ann", "BEARER u-1": "u-1",
		"": "", "ann": "", "Bearer": "", "Bearer a b": "", "Token ann": "",
	} {
		r := httptest.NewRequest(http.MethodPost, "/sync/pull", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		id, app, err := todo.BearerAuth(r)
		if want == "" {
			if !errors.Is(err, todo.ErrNoCredentials) {
				t.Errorf("%q: %v, %v", h, id, err)
			}
			continue
		}
		if err != nil || id.UserID != want || app.UserID != want {
			t.Errorf("%q: %v %v %v", h, id, app, err)
		}
	}
}
