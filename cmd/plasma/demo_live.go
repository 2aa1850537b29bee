package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// openCount is one row of the demo's live query.
type openCount struct {
	ListID string `db:"list_id" json:"list_id"`
	N      int64  `db:"n" json:"n"`
}

// demoOpenCounts streams, as server-sent events, a live query: the
// number of open todos per list the user may read,
//
//	SELECT list_id, COUNT(*) AS n FROM todos WHERE done = false GROUP BY list_id
//
// under the identity of ?auth=Bearer <userID> (an EventSource cannot set
// headers). Each event is the whole result as JSON, sent on every delta.
// db must run row auth and the change log (serverdb.New).
//
// Each stream is a subscription that every todo write makes re-run (the
// read rule has a membership subquery), so a user may hold at most
// maxStreamsPerUser streams and the server maxStreams in all; more get
// 429. A write that the client does not take within streamWriteTimeout
// ends its stream, so a reader that stops reading frees its subscription.
func demoOpenCounts(db *orm.DB) http.HandlerFunc {
	var lim streamLimiter
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Clone(r.Context())
		auth.Header.Set("Authorization", r.URL.Query().Get("auth"))
		id, _, err := todo.BearerAuth(auth)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if !lim.acquire(id.UserID) {
			http.Error(w, "too many live streams", http.StatusTooManyRequests)
			return
		}
		defer lim.release(id.UserID)
		ctx := rowauth.WithIdentity(r.Context(), id)
		q := db.Select(todo.Todos.Col("list_id"), expr.As(expr.CountAll(), "n")).From(todo.Todos).
			Where(expr.Eq(todo.Todos.Col("done"), false)).GroupBy(todo.Todos.Col("list_id"))
		sub, err := live.Subscribe[openCount](ctx, db, q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer sub.Close()
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		send := func() bool {
			// Each event gets its own deadline: the stream outlives the
			// server's write timeout, a stalled reader does not.
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			b, _ := json.Marshal(sub.Snapshot())
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		select {
		case <-sub.Ready():
		case <-ctx.Done():
			return
		}
		for ok := send(); ok; ok = send() {
			select {
			case <-ctx.Done():
				return
			case _, open := <-sub.Deltas():
				if !open {
					return
				}
			}
		}
	}
}

// The bounds of the live stream endpoint.
const (
	maxStreamsPerUser  = 4
	maxStreams         = 1000
	streamWriteTimeout = 10 * time.Second
)

// streamLimiter counts open streams per user and in all; a user's entry
// goes when their last stream ends.
type streamLimiter struct {
	mu     sync.Mutex
	total  int
	byUser map[string]int
}

func (l *streamLimiter) acquire(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= maxStreams || l.byUser[user] >= maxStreamsPerUser {
		return false
	}
	if l.byUser == nil {
		l.byUser = map[string]int{}
	}
	l.total++
	l.byUser[user]++
	return true
}

func (l *streamLimiter) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byUser[user]--; l.byUser[user] <= 0 {
		delete(l.byUser, user)
	}
}
