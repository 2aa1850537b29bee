package main

import (
	"fmt"
	"net/http"
	"os"
)

// demoWebPath is where plasma demo -web serves a folder of static files:
// a web client on the same origin as the sync endpoints needs no CORS.
const demoWebPath = "/web/"

// serveWebDir mounts the files in dir at demoWebPath on mux, for the
// -web flag (examples/web: a page on the replicache npm client). It fails
// when dir is not a readable folder, so a typo shows at start-up rather
// than as a 404 in the browser.
func serveWebDir(mux *http.ServeMux, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("-web: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("-web: %s is not a folder", dir)
	}
	// os.DirFS refuses paths that climb out of dir ("..").
	files := http.StripPrefix(demoWebPath[:len(demoWebPath)-1], http.FileServerFS(os.DirFS(dir)))
	mux.Handle("GET "+demoWebPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Revalidate on every load: the files are edited in place while
		// the demo runs.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
	return nil
}
