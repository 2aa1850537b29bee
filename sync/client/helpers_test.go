package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

func newServer(t testing.TB, engine string, tweak ...func(*plasmatest.ServerOptions[todo.AppCtx])) *plasmatest.Server[todo.AppCtx] {
	opts := plasmatest.ServerOptions[todo.AppCtx]{Engine: engine, Schema: todo.Schema, Mutators: todo.Mutators, Auth: todo.BearerAuth}
	for _, f := range tweak {
		f(&opts)
	}
	return plasmatest.NewServer(t, opts)
}

func newClient(s *plasmatest.Server[todo.AppCtx], user string, o ...func(*plasmatest.ClientOptions[todo.AppCtx])) *plasmatest.Client[todo.AppCtx] {
	opts := plasmatest.ClientOptions[todo.AppCtx]{User: user, Ctx: todo.AppCtx{UserID: user}}
	for _, f := range o {
		f(&opts)
	}
	return s.NewClient(opts)
}

func persistent(o *plasmatest.ClientOptions[todo.AppCtx]) { o.Persistent = true }
func started(o *plasmatest.ClientOptions[todo.AppCtx])    { o.Start = true }

func engines(t *testing.T, body func(t *testing.T, engine string)) {
	for _, e := range []string{plasmatest.SQLite, plasmatest.Postgres} {
		t.Run(e, func(t *testing.T) { body(t, e) })
	}
}

func mustConverge(t testing.TB, cs ...*plasmatest.Client[todo.AppCtx]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := plasmatest.WaitConverged(ctx, 15*time.Second, cs...); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
