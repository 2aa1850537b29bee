package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/server"
)

// pushers is how many clients push at once in BenchmarkPushers.
const pushers = 64

// BenchmarkPushers: 64 clients of 64 users push at once to the example
// app on a SQLite file database opened as plasma opens it (WAL, a 5 s busy
// timeout). One op is one push of createTodo mutations (1 or 50 per
// push); the ops are shared among the 64 pushers, each a goroutine
// pushing as fast as its previous push is answered. SQLite has one writer
// at a time: the handler queues the pushes' write transactions
// in-process. Reported: pushes/s, and 5xx, the number of pushes answered
// with a 5xx (the goal is 0).
func BenchmarkPushers(b *testing.B) {
	for _, n := range []int64{1, 50} {
		b.Run(fmt.Sprintf("mutations=%d", n), func(b *testing.B) { benchPushers(b, n) })
	}
}

func benchPushers(b *testing.B, perPush int64) {
	var fivexx atomic.Int64
	e := newSyncEnv(b, func(o *server.Options[todo.AppCtx]) {
		o.OnError = func(_ context.Context, err *server.Error) {
			if err.Status >= 500 {
				b.Logf("sync error: %v", err)
			}
		}
	})
	push := func(user string, body []byte) int {
		req := httptest.NewRequest(http.MethodPost, "/sync/push", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+user)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w.Code
	}
	// Each pusher's list, created before the clock starts.
	for p := range pushers {
		user := fmt.Sprintf("u%d", p)
		body := syncPushBody("g-"+user, "c-"+user, 1, 1, func(dst []byte, _ int64) []byte {
			return fmt.Appendf(dst, `"name":"createList","args":{"id":"L-%s","name":"bench"}`, user)
		})
		if code := push(user, body); code != http.StatusOK {
			b.Fatalf("setup push: %d", code)
		}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Go(func() {
			user := fmt.Sprintf("u%d", p)
			for id := int64(2); left.Add(-1) >= 0; id += perPush {
				body := syncPushBody("g-"+user, "c-"+user, id, perPush, func(dst []byte, id int64) []byte {
					return fmt.Appendf(dst, `"name":"createTodo","args":{"id":"t-%s-%d","listID":"L-%s","title":"todo"}`, user, id, user)
				})
				if code := push(user, body); code >= 500 {
					fivexx.Add(1)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/took.Seconds(), "pushes/s")
	b.ReportMetric(float64(fivexx.Load()), "5xx")
}
