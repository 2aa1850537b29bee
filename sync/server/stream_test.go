package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/protocol"
)

// writeRecorder is a ResponseWriter that keeps the body and the size of
// each Write.
type writeRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	writes []int
}

func (w *writeRecorder) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *writeRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.writes = append(w.writes, len(p))
	return w.body.Write(p)
}

func (w *writeRecorder) maxWrite() int {
	m := 0
	for _, n := range w.writes {
		m = max(m, n)
	}
	return m
}

// pullTo runs one pull through the handler, to a writeRecorder.
func (e *env) pullTo(user, group string, cookie json.RawMessage) *writeRecorder {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/sync/pull", strings.NewReader(pullBody(group, cookie)))
	req.Header.Set("Authorization", user)
	w := &writeRecorder{}
	e.h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		e.t.Fatalf("pull: %d %s", w.code, w.body.String())
	}
	return w
}

// reencoded decodes a pull response and encodes it again with
// protocol.PullResponse.AppendJSON, the encoding every response used
// before responses were streamed.
func reencoded(t *testing.T, body []byte) ([]byte, protocol.PullResponse) {
	t.Helper()
	var resp protocol.PullResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("%v: %.300s", err, body)
	}
	return resp.AppendJSON(nil), resp
}

// A pull with a large patch is written as it is encoded, in pieces,
// never as one body built in memory, and its bytes are exactly what
// protocol.PullResponse.AppendJSON makes: cookie, lastMutationIDChanges
// and patch in that order, {} and [] never null, a clear first on a reset.
func TestPullStreamsLargeResponse(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		ctx := rowauth.AsSystem(context.Background())
		// Keys that need escaping, next to plain ones.
		odd := []string{`q"uote`, `back\slash`, "new\nline", "tab\tx", "\u2028sep", "émoji😀", "ctl\x01"}
		rows := []orm.Row{}
		for i := range 3000 {
			id := fmt.Sprintf("n%05d", i)
			if i < len(odd) {
				id = odd[i]
			}
			rows = append(rows, orm.Row{"id": id, "body": strings.Repeat("x", 80), "meta": json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`)})
			if len(rows) == 500 {
				if _, err := e.h.DB().Insert(tNotes).Values(rows...).Exec(ctx); err != nil {
					t.Fatal(err)
				}
				rows = rows[:0]
			}
		}
		w := e.pullTo("ann", "g1", nil)
		want, resp := reencoded(t, w.body.Bytes())
		if !bytes.Equal(w.body.Bytes(), want) {
			t.Fatalf("the streamed response differs from AppendJSON's:\n%.400s\n%.400s", w.body.Bytes(), want)
		}
		if len(resp.Patch) != 3001 || resp.Patch[0].Op != protocol.OpClear || resp.LastMutationIDChanges == nil {
			t.Fatalf("%d ops, first %+v, lmids %v", len(resp.Patch), resp.Patch[0], resp.LastMutationIDChanges)
		}
		if w.body.Len() < 300_000 || len(w.writes) < 4 || w.maxWrite() > 64<<10 {
			t.Fatalf("a %d-byte response written in %d writes, the largest %d bytes: want pieces of at most 64 KiB",
				w.body.Len(), len(w.writes), w.maxWrite())
		}
		if cl := w.Header().Get("Content-Length"); cl != "" {
			t.Fatalf("Content-Length %s on a streamed response", cl)
		}

		// An incremental pull: one row changed, one deleted.
		if _, err := e.h.DB().Update(tNotes).Set(orm.Row{"body": "changed"}).Where(expr.Eq(tNotes.Col("id"), "n01000")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.h.DB().Delete(tNotes).Where(expr.Eq(tNotes.Col("id"), `q"uote`)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		w = e.pullTo("ann", "g1", resp.Cookie)
		want, resp = reencoded(t, w.body.Bytes())
		if !bytes.Equal(w.body.Bytes(), want) {
			t.Fatalf("the streamed response differs from AppendJSON's:\n%s\n%s", w.body.Bytes(), want)
		}
		if len(resp.Patch) != 2 || resp.Patch[0].Op != protocol.OpPut || resp.Patch[0].Key != "notes/n01000" ||
			resp.Patch[1].Op != protocol.OpDel || resp.Patch[1].Key != `notes/q"uote` {
			t.Fatalf("patch %s", w.body.Bytes())
		}
		if w.Header().Get("Content-Length") != fmt.Sprint(w.body.Len()) {
			t.Fatalf("a small response without its Content-Length: %v", w.Header())
		}
		// Nothing changed: the same cookie, an empty patch.
		w = e.pullTo("ann", "g1", resp.Cookie)
		if w.body.String() != `{"cookie":`+string(resp.Cookie)+`,"lastMutationIDChanges":{},"patch":[]}` {
			t.Fatalf("unchanged pull: %s", w.body.Bytes())
		}
	})
}

// failingWriter fails every Write, as a connection the client closed.
type failingWriter struct {
	writeRecorder
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return 0, errors.New("connection reset by peer")
}

// A client that goes away mid-response costs the handler nothing more:
// it stops writing after the first failed write, reports no error (the
// view record was stored before the first byte), and the client's next
// pull from its old cookie is answered in full.
func TestPullClientGoneMidStream(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		ctx := rowauth.AsSystem(context.Background())
		rows := []orm.Row{}
		for i := range 2000 {
			rows = append(rows, orm.Row{"id": fmt.Sprintf("n%05d", i), "body": strings.Repeat("y", 100)})
		}
		if _, err := e.h.DB().Insert(tNotes).Values(rows...).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/sync/pull", strings.NewReader(pullBody("g1", nil)))
		req.Header.Set("Authorization", "ann")
		w := &failingWriter{}
		e.h.ServeHTTP(w, req)
		if w.code != http.StatusOK || len(w.writes) != 1 {
			t.Fatalf("status %d, %d writes after the first failed", w.code, len(w.writes)-1)
		}
		if errs := e.takeErrors(); len(errs) != 0 {
			t.Fatalf("errors %v", errs)
		}
		resp := decodePull(t, mustPull(t, e, "ann", "g1", nil))
		if len(resp.Patch) != 2001 {
			t.Fatalf("%d ops", len(resp.Patch))
		}
	})
}
