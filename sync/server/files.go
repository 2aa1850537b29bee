package server

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/plasma-go/plasma/plugin/rowauth"
)

// FileServer serves the file endpoints for an identity the handler has
// authenticated; the hash is the last segment of the request's path.
// files.Service implements it (the files package documents the
// endpoints); the interface keeps this package free of storage code.
type FileServer interface {
	ServeFiles(w http.ResponseWriter, r *http.Request, id rowauth.Identity)
}

// FilesHandler returns an http.Handler serving the file endpoints
// (Options.Files) at whatever path it is mounted on, authenticated by
// Options.Auth, for applications that route each endpoint themselves:
//
//	mux.Handle("/sync/files/", h.FilesHandler())
//
// Without Options.Files it answers 404.
func (h *Handler[Ctx]) FilesHandler() http.Handler {
	return http.HandlerFunc(h.serveFiles)
}

// serveFiles authenticates the request and hands it to Options.Files.
// Bodies are the file server's to read: MaxPayloadBytes, which bounds
// push and pull bodies, does not apply, the file column's MaxSize does.
func (h *Handler[Ctx]) serveFiles(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.opts.Files == nil {
		http.NotFound(w, r)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.fail(ctx, w, &Error{Kind: KindInternal, Endpoint: "files",
				Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())})
		}
	}()
	ident, _, err := h.opts.Auth(r)
	if err == nil && ident.UserID == "" {
		err = errors.New("the Auth function returned no user id")
	}
	if err != nil {
		h.fail(ctx, w, &Error{Kind: KindUnauthorized, Endpoint: "files", Err: err})
		return
	}
	h.opts.Files.ServeFiles(w, r, ident)
}
