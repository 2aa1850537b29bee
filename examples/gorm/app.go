package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gorm.io/gorm"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlitedialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

// App is the notes app halfway through its move: GORM owns users and
// activities, plasma owns notes and syncs them, on one database.
type App struct {
	gorm *gorm.DB
	db   *orm.DB // plasma with row auth and the change log, for the app's own writes
	sync *server.Handler[AppCtx]
	hub  *realtime.Hub // pokes connected clients after commits, at /sync/ws
}

// New sets the app up on gdb (SQLite through github.com/glebarez/sqlite,
// or PostgreSQL through gorm.io/driver/postgres): GORM migrates its
// tables, plasma creates notes and the change log, and the sync handler
// runs on GORM's pool. Close the app before the pool.
//
// The realtime hub pokes the clients that can read a changed note, so
// that they pull: after a push, and after any other write to notes, GORM's
// own included, which plasma's capture triggers log in the change log and
// the hub finds by polling it.
func New(ctx context.Context, gdb *gorm.DB) (*App, error) {
	var d dialect.Dialect
	switch name := gdb.Name(); name {
	case "sqlite":
		d = sqlitedialect.Dialect // the driver is GORM's (glebarez)
	case "postgres":
		d = postgres.Dialect
	default:
		return nil, fmt.Errorf("notes: GORM dialector %q is neither sqlite nor postgres", name)
	}
	if err := gdb.WithContext(ctx).AutoMigrate(&User{}, &Activity{}); err != nil {
		return nil, err
	}
	pool, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	base := orm.New(pool, d)
	// The hub is the handler's Notifier, so it comes first; it binds
	// client groups through the handler, set below before anything is
	// served, by the same rules as pushes and pulls.
	var h *server.Handler[AppCtx]
	hub, err := realtime.New(realtime.Options{
		DB:     base,
		Schema: Schema,
		Auth: func(r *http.Request) (rowauth.Identity, error) {
			id, _, err := bearerAuth(r)
			return id, err
		},
		BindGroup: func(ctx context.Context, groupID, userID string) error {
			return h.BindGroup(ctx, groupID, userID)
		},
	})
	if err != nil {
		return nil, err
	}
	h, err = server.NewHandler(server.Options[AppCtx]{Schema: Schema, DB: base, Mutators: mutators(gdb), Auth: bearerAuth, Notifier: hub})
	if err != nil {
		_ = hub.Close(ctx)
		return nil, err
	}
	db, err := serverdb.New(ctx, Schema, base, serverdb.SkipEnsure()) // the handler made the tables
	if err != nil {
		_ = errors.Join(hub.Close(ctx), h.Close(ctx))
		return nil, err
	}
	return &App{gorm: gdb, db: db, sync: h, hub: hub}, nil
}

// Close stops the realtime hub and the sync handler.
func (a *App) Close(ctx context.Context) error {
	return errors.Join(a.hub.Close(ctx), a.sync.Close(ctx))
}

// Routes serves the sync endpoints under /sync/, the WebSocket that pokes
// clients at /sync/ws, and the app's REST API, which its older clients and
// other services still call.
func (a *App) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/sync/", a.sync)
	mux.Handle("GET /sync/ws", a.hub)
	mux.HandleFunc("POST /api/notes", a.postNote)
	mux.HandleFunc("GET /api/activity", a.getActivity)
	return mux
}

// maxRequest bounds a REST request's body.
const maxRequest = 64 << 10

// postNote is the REST endpoint that created notes with GORM before the
// move. It now writes through plasma, so synced clients see the note, and
// GORM records the activity in the same transaction.
func (a *App) postNote(w http.ResponseWriter, r *http.Request) {
	id, _, err := bearerAuth(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest))
	dec.DisallowUnknownFields()
	var args NoteArgs
	if err := dec.Decode(&args); err != nil {
		http.Error(w, "bad note: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := args.Validate(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := rowauth.WithIdentity(r.Context(), id)
	err = a.db.Tx(ctx, func(tx *orm.Tx) error { return createNote(ctx, a.gorm, tx.DB, id.UserID, args) })
	if err != nil {
		// A taken id is the client's mistake; say no more than that.
		if c, ok := a.db.Dialect().(dialect.ErrorClassifier); ok && c.IsUniqueViolation(err) {
			http.Error(w, "a note with that id exists", http.StatusConflict)
			return
		}
		http.Error(w, "could not save the note", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// getActivity lists the caller's activity: a read that stays GORM's.
func (a *App) getActivity(w http.ResponseWriter, r *http.Request) {
	id, _, err := bearerAuth(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var acts []Activity
	if err := a.gorm.WithContext(r.Context()).Where("user_id = ?", id.UserID).Order("id").Limit(100).Find(&acts).Error; err != nil {
		http.Error(w, "could not read activity", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(acts)
}

// errNoCredentials answers a request without a usable bearer header.
var errNoCredentials = errors.New("notes: want an Authorization: Bearer <userID> header")

// bearerAuth is the example's stand-in for authentication: the request
// acts for the user its "Authorization: Bearer <userID>" header names,
// taken on trust. A real app verifies a session or a signed token.
func bearerAuth(r *http.Request) (rowauth.Identity, AppCtx, error) {
	user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || user == "" || len(user) > 64 || strings.ContainsAny(user, " \t\r\n") {
		return rowauth.Identity{}, AppCtx{}, errNoCredentials
	}
	return rowauth.Identity{UserID: user}, AppCtx{UserID: user}, nil
}
