package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

func answer(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// A hostile or broken server's pull answers are refused with a clear
// error, and the replica stays exactly as it was.
func TestHostilePullAnswersLeaveReplicaIntact(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	ann := newClient(s, "ann")
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "a"}))
	must(t, ann.Flush(ctx))
	must(t, ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t2", ListID: "L1", Title: "pending"}))
	before, err := ann.View(ctx)
	must(t, err)
	cookie, lmid := ann.Cookie(), ann.LastMutationID()
	cid := ann.ClientID()
	good := `{"op":"put","key":"todos/t9","value":{"id":"t9","list_id":"L1","title":"x","done":false,"created_by":"ann"}}`
	big := `{"order":999999,"cvr":"zz"}`
	for name, body := range map[string]string{
		"not json":             `garbage`,
		"not an object":        `[1,2]`,
		"patch null":           `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":null}`,
		"patch missing":        `{"cookie":` + big + `,"lastMutationIDChanges":{}}`,
		"lmids null":           `{"cookie":` + big + `,"lastMutationIDChanges":null,"patch":[]}`,
		"lmids array":          `{"cookie":` + big + `,"lastMutationIDChanges":[],"patch":[]}`,
		"lmid negative":        `{"cookie":` + big + `,"lastMutationIDChanges":{"x":-1},"patch":[]}`,
		"bad cookie":           `{"cookie":{"x":1},"lastMutationIDChanges":{},"patch":[]}`,
		"cookie back to null":  `{"cookie":null,"lastMutationIDChanges":{},"patch":[` + good + `]}`,
		"cookie back":          `{"cookie":{"order":0.5,"cvr":"a"},"lastMutationIDChanges":{},"patch":[` + good + `]}`,
		"cookie string vs num": `{"cookie":"zzz","lastMutationIDChanges":{},"patch":[]}`,
		"lmid ahead":           fmt.Sprintf(`{"cookie":%s,"lastMutationIDChanges":{%q:99},"patch":[]}`, big, cid),
		"lmid back":            fmt.Sprintf(`{"cookie":%s,"lastMutationIDChanges":{%q:1},"patch":[]}`, big, cid),
		"unknown op":           `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[` + good + `,{"op":"drop","key":"todos/t1"}]}`,
		"unknown table":        `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[` + good + `,{"op":"del","key":"secrets/1"}]}`,
		"internal table":       `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[{"op":"del","key":"_plasma_outbox/1"}]}`,
		"no key":               `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[` + good + `,{"op":"del"}]}`,
		"empty id":             `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[{"op":"del","key":"todos/"}]}`,
		"value not object":     `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[` + good + `,{"op":"put","key":"todos/t1","value":"x"}]}`,
		"value null":           `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[` + good + `,{"op":"put","key":"todos/t1","value":null}]}`,
		"id mismatch":          `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[{"op":"put","key":"todos/t1","value":{"id":"t2","title":"x"}}]}`,
		"no id":                `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[{"op":"put","key":"todos/t1","value":{"title":"x"}}]}`,
		"bad bool":             `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[{"op":"put","key":"todos/t1","value":{"id":"t1","done":"yes"}}]}`,
		"bad text":             `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[{"op":"put","key":"todos/t1","value":{"id":"t1","title":{"a":1}}}]}`,
		"deep json":            `{"cookie":` + big + `,"lastMutationIDChanges":{},"patch":[` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			ann.Net.Fail = func(r *http.Request) (*http.Response, error) {
				if strings.HasSuffix(r.URL.Path, "/pull") {
					return answer(200, body), nil
				}
				return nil, nil
			}
			defer func() { ann.Net.Fail = nil }()
			changed, err := ann.PullOnce(ctx)
			if !errors.Is(err, client.ErrBadResponse) || changed {
				t.Fatalf("PullOnce = %v, %v; want ErrBadResponse", changed, err)
			}
			after, err := ann.View(ctx)
			must(t, err)
			if !reflect.DeepEqual(before, after) || string(ann.Cookie()) != string(cookie) || ann.LastMutationID() != lmid {
				t.Fatalf("the replica changed:\n%v\n%v", before, after)
			}
		})
	}
	// The client goes on syncing with the real server afterwards.
	mustConverge(t, ann)
}

// A storm of 5xx answers is retried with backoff until the server
// recovers; the replica is intact and the mutations go out once.
func TestServerErrorStorm(t *testing.T) {
	ctx := context.Background()
	s := newServer(t, plasmatest.SQLite)
	var failures atomic.Int64
	ann := newClient(s, "ann", func(o *plasmatest.ClientOptions[todo.AppCtx]) {
		o.Tweak = func(co *client.Options[todo.AppCtx]) { co.NoWebSocket = true }
	})
	ann.Net.Fail = func(r *http.Request) (*http.Response, error) {
		if failures.Add(1) <= 12 {
			if failures.Load()%2 == 0 {
				return answer(503, `{"error":"Unavailable"}`), nil
			}
			return answer(500, `oops`), nil
		}
		return nil, nil
	}
	must(t, ann.Start(ctx))
	must(t, ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	plasmatest.Eventually(t, 10*time.Second, "confirmed after the storm", func() bool { return ann.LastMutationID() == 1 })
	var se *client.ServerError
	if n := ann.Errors.Load(); n < 10 {
		t.Fatalf("%d errors reported", n)
	}
	if err := ann.LastError(); !errors.As(err, &se) || !se.Temporary() {
		t.Fatalf("last error %v", err)
	}
	ann.Stop()
	mustConverge(t, ann)
}
