package synctest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/sync/server"
)

// Serve mounts h at /sync/ on a new httptest.Server, as an application
// mounts it, and closes the server and then h (waiting for its
// background work) when the test ends.
func Serve[Ctx any](t testing.TB, h *server.Handler[Ctx]) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/sync/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := h.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// ErrorLog collects the errors a sync handler reports: use its Record
// method as Options.OnError, and Take what has arrived. It is safe for
// concurrent use.
type ErrorLog struct {
	mu   sync.Mutex
	errs []*server.Error
}

// Record appends err; its signature is Options.OnError's.
func (l *ErrorLog) Record(_ context.Context, err *server.Error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// Take returns the errors recorded since the last call.
func (l *ErrorLog) Take() []*server.Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.errs
	l.errs = nil
	return out
}
