package server

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// ErrBlobsWithoutFiles reports a schema whose table names a blob storage
// (TableOptions.Blobs) given to a handler without Options.Files: the
// storage would be silently ignored.
var ErrBlobsWithoutFiles = errors.New("TableOptions.Blobs names a storage, but the handler has no Options.Files")

// checkBlobs refuses, at startup, a table's Blobs without a file server
// (the files service itself checks that the name is registered).
func checkBlobs(schema *orm.Schema, files FileServer) error {
	if files != nil {
		return nil
	}
	for _, t := range schema.Tables() {
		if b := t.Options().Blobs; b != "" {
			return &orm.SchemaError{Table: t.Name(), Err: ErrBlobsWithoutFiles, Detail: fmt.Sprintf("Blobs is %q", b)}
		}
	}
	return nil
}

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
