package server_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/internal/store"
)

func TestGroupOwner(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "ga", mut{"a1", 1, "createList", `{"ID":"l1","Name":"n"}`})
		ctx := context.Background()
		user, known, err := store.GroupOwner(ctx, tg.DB, "ga")
		if err != nil || !known || user != "ann" {
			t.Fatalf("GroupOwner(ga) = %q, %v, %v; want ann, true", user, known, err)
		}
		user, known, err = store.GroupOwner(ctx, tg.DB, "nobody")
		if err != nil || known || user != "" {
			t.Fatalf("GroupOwner(nobody) = %q, %v, %v; want \"\", false", user, known, err)
		}
	})
}

func TestViewsHolding(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		ctx := context.Background()
		e.mustPush("ann", "ga", mut{"a1", 1, "createList", `{"ID":"l1","Name":"ann's"}`},
			mut{"a1", 2, "createTodo", `{"id":"t1","listID":"l1","title":"milk"}`},
			mut{"a1", 3, "createTodo", `{"id":"t3","listID":"l1","title":"eggs"}`})
		e.mustPush("bob", "gb", mut{"b1", 1, "createList", `{"ID":"l2","Name":"bob's"}`},
			mut{"b1", 2, "createTodo", `{"id":"t2","listID":"l2","title":"bread"}`})
		ann, bob := e.newClient("ann", "ga"), e.newClient("bob", "gb")
		ann.pull(t)
		bob.pull(t)
		// carol's group pushed but never pulled: it holds nothing.
		e.mustPush("carol", "gc", mut{"c1", 1, "bump", `{"id":"k"}`})

		groups := []string{"ga", "gb", "gc", "never-seen", "ga"}
		check := func(what string, keys []string, want map[string]bool) {
			t.Helper()
			got, err := store.ViewsHolding(ctx, tg.DB, groups, keys)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s: ViewsHolding(%v) = %v; want %v", what, keys, got, want)
			}
		}
		none := map[string]bool{"ga": false, "gb": false, "gc": false, "never-seen": false}
		with := func(groups ...string) map[string]bool {
			m := maps.Clone(none)
			for _, g := range groups {
				m[g] = true
			}
			return m
		}
		check("ann's todo", []string{"todos/t1"}, with("ga"))
		check("bob's todo", []string{"todos/t2"}, with("gb"))
		check("both", []string{"todos/nope", "lists/l2", "todos/t1"}, with("ga", "gb"))
		check("a key of no view", []string{"todos/nope", "todos/t1x", "todos/"}, none)
		check("no keys", nil, none)

		// ann deletes t1 and pulls: her latest view no longer holds it
		// (older records still do, and do not count).
		e.mustPush("ann", "ga", mut{"a1", 4, "deleteTodo", `{"id":"t1"}`})
		check("deleted, not pulled yet", []string{"todos/t1"}, with("ga"))
		if r := ann.pull(t); !r.Changed {
			t.Fatal("the pull after the delete changed nothing")
		}
		check("deleted and pulled", []string{"todos/t1"}, none)
		check("the other todo", []string{"todos/t3"}, with("ga"))

		// Many groups: more than one query's worth.
		var many []string
		for i := range 1200 {
			many = append(many, fmt.Sprintf("g%04d", i))
		}
		many = append(many, "gb")
		got, err := store.ViewsHolding(ctx, tg.DB, many, []string{"todos/t2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(many) || !got["gb"] || got["g0000"] {
			t.Errorf("ViewsHolding over %d groups: %d entries, gb %v, g0000 %v", len(many), len(got), got["gb"], got["g0000"])
		}
	})
}
