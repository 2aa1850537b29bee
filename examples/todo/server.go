package todo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// ErrNoCredentials is BearerAuth's error for a request without a usable
// "Authorization: Bearer <userID>" header; the handler answers it with 401.
var ErrNoCredentials = errors.New("todo: want an Authorization: Bearer <userID> header")

// BearerAuth is the demo's stand-in for authentication: the request acts
// for the user named by its "Authorization: Bearer <userID>" header, taken
// on trust. A missing or malformed header is an error, which the sync
// handler answers with 401 (a Replicache client then asks the app for new
// credentials). A real application verifies a session or a signed token
// here instead (and may put claims in the Identity for its rules).
func BearerAuth(r *http.Request) (rowauth.Identity, AppCtx, error) {
	h := r.Header.Get("Authorization")
	scheme, user, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return rowauth.Identity{}, AppCtx{}, ErrNoCredentials
	}
	user = strings.TrimSpace(user)
	if err := checkID("user id", user); err != nil {
		return rowauth.Identity{}, AppCtx{}, fmt.Errorf("%w: %v", ErrNoCredentials, err)
	}
	if strings.ContainsFunc(user, func(r rune) bool { return r == ' ' || r == '\t' }) {
		return rowauth.Identity{}, AppCtx{}, fmt.Errorf("%w: the user id contains a space", ErrNoCredentials)
	}
	return rowauth.Identity{UserID: user}, AppCtx{UserID: user}, nil
}

// NewServer returns the example application's sync handler on db: it
// serves POST {BasePath}/push and POST {BasePath}/pull (BasePath default
// "/sync") with Schema and Mutators. opts supplies everything else
// (OnError, limits ...); its Schema, DB and Mutators are
// replaced, and its Auth defaults to BearerAuth. Unless opts.SkipEnsure is
// set, the schema's tables, the change log and the sync tables are
// created where missing. db must be the database itself, without
// plasma's server middlewares (the handler installs them); close the
// handler (Handler.Close) before db.
//
//	h, err := todo.NewServer(ctx, db, server.Options[todo.AppCtx]{})
//	mux.Handle("/sync/", h)
//	srv := server.HTTPServer(server.CORS("http://localhost:5173")(mux))
func NewServer(ctx context.Context, db *orm.DB, opts server.Options[AppCtx]) (*server.Handler[AppCtx], error) {
	if db == nil {
		return nil, errors.New("todo: NewServer: nil database")
	}
	if !opts.SkipEnsure {
		// NewHandler ensures the tables too; doing it here first honours
		// ctx, and NewHandler's second look is cheap.
		if err := orm.EnsureSchema(ctx, Schema, db); err != nil {
			return nil, err
		}
		if err := server.Ensure(ctx, db); err != nil {
			return nil, err
		}
	}
	opts.Schema, opts.DB, opts.Mutators = Schema, db, Mutators
	if opts.Auth == nil {
		opts.Auth = BearerAuth
	}
	return server.NewHandler(opts)
}
