package plasmatest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// Engines are the server engines a test can run on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres" // skipped unless PLASMA_TEST_POSTGRES is set
)

// ServerOptions configure an in-process server.
type ServerOptions[C any] struct {
	// Engine is SQLite (default) or Postgres.
	Engine string
	// Schema and Mutators are the app's.
	Schema   *orm.Schema
	Mutators mutator.Set[C]
	// Auth authenticates a request, as server.Options.Auth. Required.
	Auth func(r *http.Request) (rowauth.Identity, C, error)
	// Header returns the Authorization header of a user's clients
	// (default "Bearer <user>").
	Header func(user string) string
	// NoRealtime serves no WebSocket endpoint: clients pull on their
	// interval only.
	NoRealtime bool
	// AuthorizeRoom decides who may join a named presence room (nil:
	// everyone, in tests).
	AuthorizeRoom func(ctx context.Context, id rowauth.Identity, room string) error
	// Tweak may change the sync handler's options before it is made.
	Tweak func(*server.Options[C])
}

// Server is a sync server on a real database, served by httptest: the
// handler at /sync/ and, unless NoRealtime, the realtime hub at /sync/ws.
type Server[C any] struct {
	t       testing.TB
	opts    ServerOptions[C]
	Target  *ormtest.Target
	Handler *server.Handler[C]
	Hub     *realtime.Hub
	HTTP    *httptest.Server
	// URL is the sync base URL, for client.Options.Server.
	URL string
	// Errors records the errors the handler reports.
	Errors synctest.ErrorLog
}

// NewServer starts a server for t; it stops when t ends.
func NewServer[C any](t testing.TB, opts ServerOptions[C]) *Server[C] {
	t.Helper()
	ctx := context.Background()
	if opts.Header == nil {
		opts.Header = func(user string) string { return "Bearer " + user }
	}
	if opts.AuthorizeRoom == nil {
		opts.AuthorizeRoom = func(context.Context, rowauth.Identity, string) error { return nil }
	}
	s := &Server[C]{t: t, opts: opts}
	switch opts.Engine {
	case Postgres:
		s.Target = ormtest.Postgres(t)
	default:
		s.Target = ormtest.SQLite(t)
	}
	db := s.Target.DB
	if err := orm.EnsureSchema(ctx, opts.Schema, db); err != nil {
		t.Fatal(err)
	}
	if err := server.Ensure(ctx, db); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	sopts := server.Options[C]{Schema: opts.Schema, DB: db, Mutators: opts.Mutators, Auth: opts.Auth, OnError: s.Errors.Record}
	if !opts.NoRealtime {
		hub, err := realtime.New(realtime.Options{DB: db, Schema: opts.Schema,
			Auth: func(r *http.Request) (rowauth.Identity, error) {
				id, _, err := opts.Auth(r)
				return id, err
			},
			Logger:        slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
			PollInterval:  50 * time.Millisecond,
			AuthorizeRoom: opts.AuthorizeRoom,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Hub = hub
		sopts.Notifier = hub
		mux.Handle("/sync/ws", hub)
	}
	if opts.Tweak != nil {
		opts.Tweak(&sopts)
	}
	h, err := server.NewHandler(sopts)
	if err != nil {
		t.Fatal(err)
	}
	s.Handler = h
	mux.Handle("/sync/", h)
	s.HTTP = httptest.NewServer(mux)
	s.URL = s.HTTP.URL + "/sync"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.HTTP.CloseClientConnections()
		if s.Hub != nil {
			_ = s.Hub.Close(ctx)
		}
		s.HTTP.Close()
		_ = h.Close(ctx)
	})
	return s
}
