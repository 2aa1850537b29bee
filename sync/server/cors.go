package server

import (
	"net/http"
	"strings"
)

// corsAllowHeaders are the request headers a Replicache client sends,
// which a cross-origin preflight must allow, and the ones a file
// download may send (Range, If-None-Match).
const corsAllowHeaders = "Authorization, Content-Type, X-Replicache-RequestID, Range, If-None-Match"

// corsAllowMethods are POST for push and pull, PUT, GET and HEAD for the
// file endpoints (Options.Files).
const corsAllowMethods = "GET, HEAD, POST, PUT, OPTIONS"

// corsExposeHeaders are the response headers of a file download a page
// may read.
const corsExposeHeaders = "Content-Disposition, Content-Range, ETag"

// CORS returns a middleware that lets browsers on origins call the
// handlers it wraps: exact origins such as "https://app.example.com"
// (a trailing slash is ignored), or "*" for any. Wrap the mux that
// serves the sync endpoints, so that preflights reach it whatever
// method patterns the routes use:
//
//	srv := server.HTTPServer(server.CORS("https://app.example.com")(mux))
//
// For a request from an allowed origin it sets Access-Control-Allow-Origin
// to that origin, and it answers a preflight (OPTIONS) itself with 204,
// allowing POST (and PUT, GET and HEAD for the file endpoints) and the
// headers in corsAllowHeaders for a day. A request
// from any other origin, or without an Origin header, gets no CORS
// headers and passes through unchanged, so a foreign preflight gets
// whatever the wrapped handler answers OPTIONS with (405 from the sync
// endpoints) and the browser refuses the call. With no origins the
// middleware returns next itself.
func CORS(origins ...string) func(http.Handler) http.Handler {
	allowed := make(map[string]bool, len(origins))
	anyOrigin := false
	for _, o := range origins {
		anyOrigin = anyOrigin || o == "*"
		allowed[strings.TrimRight(o, "/")] = true
	}
	return func(next http.Handler) http.Handler {
		if len(allowed) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			// The answer depends on Origin whether or not it is allowed:
			// caches must not reuse one origin's answer for another.
			hd := w.Header()
			hd.Add("Vary", "Origin")
			if !anyOrigin && !allowed[strings.TrimRight(origin, "/")] {
				next.ServeHTTP(w, r)
				return
			}
			hd.Set("Access-Control-Allow-Origin", origin)
			if r.Method == http.MethodOptions {
				hd.Set("Access-Control-Allow-Methods", corsAllowMethods)
				hd.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				hd.Set("Access-Control-Max-Age", "86400")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			hd.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			next.ServeHTTP(w, r)
		})
	}
}
