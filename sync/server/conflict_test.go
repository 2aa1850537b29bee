package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
)

// docs merges concurrent title edits: the resolver keeps both.
var (
	resolverMu    sync.Mutex
	resolverCalls []string
	tDocs         = orm.NewTable("docs", orm.ID(), orm.Text("title"), orm.Text("body").Default(""), orm.BigInt("n").Default(0))
	docsSchema    = orm.MustDefineSchema("1", tDocs)
)

func init() {
	tDocs.With(orm.TableOptions{ResolveConflict: func(ctx context.Context, stored, incoming orm.Row) (orm.Row, error) {
		resolverMu.Lock()
		resolverCalls = append(resolverCalls, fmt.Sprintf("%v->%v", stored["title"], incoming["title"]))
		resolverMu.Unlock()
		if incoming["title"] == "refuse" {
			return nil, errors.New("cannot merge")
		}
		out := orm.Row{}
		for k, v := range incoming {
			out[k] = v
		}
		if stored["title"] != incoming["title"] {
			out["title"] = fmt.Sprintf("%v|%v", stored["title"], incoming["title"])
		}
		return out, nil
	}})
}

func takeResolverCalls() []string {
	resolverMu.Lock()
	defer resolverMu.Unlock()
	out := resolverCalls
	resolverCalls = nil
	return out
}

type docArgs struct {
	ID    string  `json:"id"`
	Title *string `json:"title"`
	Body  *string `json:"body"`
}

var docMutators = mutator.Set[appCtx]{
	"createDoc": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a docArgs) error {
		_, err := c.DB.Insert(tDocs).Values(orm.Row{"id": a.ID, "title": *a.Title}).Exec(ctx)
		return err
	}),
	"editDoc": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a docArgs) error {
		set := orm.Row{}
		if a.Title != nil {
			set["title"] = *a.Title
		}
		if a.Body != nil {
			set["body"] = *a.Body
		}
		_, err := c.DB.Update(tDocs).Set(set).Where(expr.Eq(tDocs.Col("id"), a.ID)).Exec(ctx)
		return err
	}),
	"bumpDoc": mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a docArgs) error {
		_, err := c.DB.Update(tDocs).Set(orm.Row{"n": expr.SQL("? + 1", tDocs.Col("n"))}).Where(expr.Eq(tDocs.Col("id"), a.ID)).Exec(ctx)
		return err
	}),
}

func TestResolveConflict(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		takeResolverCalls()
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.Schema, o.Mutators = docsSchema, docMutators })
		title := func(id string) string {
			var s string
			if err := tg.SQL.QueryRow(`SELECT "title" FROM "docs" WHERE "id" = `+placeholder(tg), id).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		expectCalls := func(step string, want ...string) {
			t.Helper()
			got := takeResolverCalls()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: resolver calls %q, want %q", step, got, want)
			}
		}
		ann, bob := e.newClient("ann", "gA"), e.newClient("bob", "gB")
		e.mustPush("ann", "gA", mut{"cA", 1, "createDoc", `{"id":"d1","title":"t0"}`})
		// ann's own write, not pulled yet: editing it again is no conflict.
		e.mustPush("ann", "gA", mut{"cA", 2, "editDoc", `{"id":"d1","title":"t1"}`})
		expectCalls("own unpulled write")
		ann.pull(t)
		bob.pull(t)
		// bob edits what he has seen: no conflict.
		e.mustPush("bob", "gB", mut{"cB", 1, "editDoc", `{"id":"d1","title":"bob"}`})
		expectCalls("edit of the pulled version")
		// ann edits without having pulled bob's edit: a conflict.
		e.mustPush("ann", "gA", mut{"cA", 3, "editDoc", `{"id":"d1","title":"ann"}`})
		expectCalls("concurrent edit", "bob->ann")
		if got := title("d1"); got != "bob|ann" {
			t.Fatalf("title %q", got)
		}
		// ann's next edit builds on her own (resolved) write.
		e.mustPush("ann", "gA", mut{"cA", 4, "editDoc", `{"id":"d1","body":"x"}`})
		expectCalls("edit after own resolved write")
		// bob, not having pulled, edits again: a conflict with ann's write.
		e.mustPush("bob", "gB", mut{"cB", 2, "editDoc", `{"id":"d1","title":"bob2"}`})
		expectCalls("bob again", "bob|ann->bob2")
		// A resolver error fails the mutation permanently: rolled back,
		// lastMutationID advanced.
		e.mustPush("ann", "gA", mut{"cA", 5, "editDoc", `{"id":"d1","title":"refuse"}`})
		expectCalls("refused", "bob|ann|bob2->refuse")
		if got := title("d1"); got != "bob|ann|bob2" || e.lmid(t, "cA") != 5 {
			t.Fatalf("title %q lmid %d", got, e.lmid(t, "cA"))
		}
		if errs := e.takeErrors(); len(errs) != 1 || !errors.Is(errs[0], server.KindMutatorFailed) {
			t.Fatalf("errors %v", errs)
		}
		// An UPDATE computed in SQL is last-writer-wins.
		e.mustPush("ann", "gA", mut{"cA", 6, "bumpDoc", `{"id":"d1"}`})
		expectCalls("SQL expression")
		// Backend jobs (Invoke) are last-writer-wins too.
		if err := e.h.Invoke(rowauth.AsSystem(context.Background()), "editDoc", appCtx{}, json.RawMessage(`{"id":"d1","body":"job"}`)); err != nil {
			t.Fatal(err)
		}
		expectCalls("Invoke")
		ann.pull(t)
		ann.checkConverged(t)
		bob.pull(t)
		bob.checkConverged(t)
		// After pulling, bob edits without conflict.
		e.mustPush("bob", "gB", mut{"cB", 3, "editDoc", `{"id":"d1","title":"calm"}`})
		expectCalls("after pull")
		if got := title("d1"); got != "calm" {
			t.Fatalf("title %q", got)
		}
	})
}
