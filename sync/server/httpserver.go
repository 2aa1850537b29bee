package server

import (
	"net/http"
	"time"
)

// The settings HTTPServer gives an http.Server. A server without them
// lets a client hold a connection, and a body buffer, for as long as it
// likes by sending a request slowly.
const (
	// DefaultReadHeaderTimeout bounds the wait for a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the wait for a whole request, body
	// included: a stalled body is cut off after it.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the time from the end of the request's
	// headers to the end of the response (a large first pull included).
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout bounds how long an idle keep-alive connection is
	// kept.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxHeaderBytes caps the size of a request's headers.
	DefaultMaxHeaderBytes = 64 << 10
)

// HTTPServer returns an http.Server serving h with ReadHeaderTimeout,
// ReadTimeout, WriteTimeout, IdleTimeout and MaxHeaderBytes set to the
// Default values above, the settings plasma recommends for a server
// exposed to clients:
//
//	srv := server.HTTPServer(mux) // mux serves the Handler, and the realtime Hub
//	srv.Addr = ":8080"
//	err := srv.ListenAndServe()
//
// The timeouts do not cut WebSocket connections the realtime Hub upgrades:
// once hijacked, a connection's deadlines are the Hub's (its pings). Nor
// do they cut file transfers (Options.Files): the files endpoints replace
// ReadTimeout and WriteTimeout, per request, by deadlines that follow the
// transfer's progress and a minimum rate (files.Options.MinRate and
// StallTimeout), so a large upload on a slow link finishes while a
// stalled or trickling one is still cut.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
	}
}
