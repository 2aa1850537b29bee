package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
)

// recorder is an Observer that keeps a copy of every event it saw end.
type recorder struct {
	mu     sync.Mutex
	starts []server.EventKind
	ended  []server.Event
}

type spanKey struct{}

func (r *recorder) Start(ctx context.Context, ev *server.Event) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, ev.Kind)
	return context.WithValue(ctx, spanKey{}, ev.Kind)
}

func (r *recorder) End(ctx context.Context, ev *server.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Value(spanKey{}) != ev.Kind {
		panic("End got another context than Start returned")
	}
	r.ended = append(r.ended, *ev)
}

func (r *recorder) take() []server.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ended
	r.ended = nil
	return out
}

// TestObserverSeesEveryRequest: the Observer is told about each push
// (with its mutations' outcomes), each mutation run, each pull (with
// its patch's size) and each refused request, with the error it was
// answered with.
func TestObserverSeesEveryRequest(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the handler needs a database, not a transaction", ormtest.ExecTx)
		rec := &recorder{}
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.Observer = rec })
		e.mustPush("ann", "g1",
			mut{"c1", 1, "createList", `{"ID":"l1","Name":"home"}`},
			mut{"c1", 2, "failAfterWrite", `{"id":"n1"}`})
		evs := rec.take()
		// The failing mutation rolls its batch back and replays it, each
		// run an event: first with its INSERT held back (so its failure
		// may come of that), then with every statement run as it comes,
		// then without the failed mutation.
		var kinds []string
		for _, ev := range evs {
			kinds = append(kinds, ev.Kind.String()+":"+ev.Mutator)
		}
		if got, want := strings.Join(kinds, " "), "mutation:createList mutation:failAfterWrite mutation:createList mutation:failAfterWrite mutation:createList push:"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		if ev := evs[3]; ev.Err == nil || ev.Err.Kind != server.KindMutatorFailed || ev.UserID != "ann" || ev.ClientGroupID != "g1" || ev.MutationID != 2 {
			t.Errorf("failed mutation event %+v", ev)
		}
		push := evs[len(evs)-1]
		if push.Err != nil || push.UserID != "ann" || push.ClientGroupID != "g1" || len(push.Mutations) != 2 ||
			push.Mutations[0].Status != server.StatusApplied || push.Mutations[1].Status != server.StatusFailed {
			t.Errorf("push event %+v", push)
		}

		c := e.newClient("ann", "g1")
		c.pull(t)
		pull := rec.take()
		if len(pull) != 1 || pull[0].Kind != server.EventPull || !pull[0].Reset || pull[0].PatchOps != 2 || pull[0].Bytes < 50 {
			t.Fatalf("pull events %+v", pull)
		}

		// Refused requests: unauthenticated, another user's group.
		if status, _ := e.post("pull", "", pullBody("g1", nil)); status != 401 {
			t.Fatalf("status %d", status)
		}
		if status, _ := e.post("push", "eve", pushBody("g1", mut{"c9", 1, "createList", `{"ID":"l9","Name":"x"}`})); status != 403 {
			t.Fatalf("status %d", status)
		}
		refused := rec.take()
		if len(refused) != 2 || refused[0].Err == nil || refused[0].Err.Kind != server.KindUnauthorized ||
			refused[1].Err == nil || refused[1].Err.Kind != server.KindForbidden || refused[1].UserID != "eve" || refused[1].ClientGroupID != "g1" {
			t.Fatalf("refused events %+v", refused)
		}
		rec.mu.Lock()
		if len(rec.starts) != 9 {
			t.Errorf("%d starts for 9 ends", len(rec.starts))
		}
		rec.mu.Unlock()
	})
}

// TestLoggerAttributes: with Options.Logger, the handler logs the errors
// it reports with the request's user and client group, and a mutator
// logging with its context through LogHandler gets them too, with its
// mutation.
func TestLoggerAttributes(t *testing.T) {
	tg := ormtest.SQLite(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(server.LogHandler(slog.NewJSONHandler(lockedWriter{&buf, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	muts := maps.Clone(testMutators)
	muts["logged"] = mutator.New(func(ctx context.Context, c mutator.Call[appCtx], a idArgs) error {
		log.InfoContext(ctx, "in the mutator", "arg", a.ID)
		return nil
	})
	e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.Logger, o.Mutators = log, muts })
	e.mustPush("ann", "g1", mut{"c1", 1, "logged", `{"id":"x"}`}, mut{"c1", 2, "failAfterWrite", `{"id":"n1"}`})

	mu.Lock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	mu.Unlock()
	var mutatorLine, failedLine, pushLine map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		switch m["msg"] {
		case "in the mutator":
			mutatorLine = m
		case "plasma sync: MutatorFailed":
			failedLine = m
		case "plasma sync: push":
			pushLine = m
		}
	}
	for name, want := range map[string]map[string]any{
		"mutator": {"user": "ann", "clientGroup": "g1", "client": "c1", "mutationID": 1.0, "mutator": "logged", "arg": "x"},
		"failed":  {"level": "WARN", "user": "ann", "clientGroup": "g1", "client": "c1", "mutationID": 2.0, "mutator": "failAfterWrite", "kind": "MutatorFailed", "endpoint": "push"},
		"push":    {"level": "DEBUG", "user": "ann", "clientGroup": "g1", "ok": true},
	} {
		got := map[string]map[string]any{"mutator": mutatorLine, "failed": failedLine, "push": pushLine}[name]
		if got == nil {
			t.Errorf("no %s line in\n%s", name, strings.Join(lines, "\n"))
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s line: %s = %v, want %v (%v)", name, k, got[k], v, got)
			}
		}
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
