package plasmatest

import (
	"context"
	"sync"

	"github.com/plasma-go/plasma/sync/server"
)

// ErrorLog collects the errors a sync handler reports.
type ErrorLog struct {
	mu   sync.Mutex
	errs []*server.Error
}

func (l *ErrorLog) record(_ context.Context, err *server.Error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// Take returns the errors recorded since the last Take.
func (l *ErrorLog) Take() []*server.Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.errs
	l.errs = nil
	return out
}
