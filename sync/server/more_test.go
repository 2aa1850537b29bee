package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

func TestSwallowedError(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "g1", mut{"c1", 1, "swallow", `{"id":"x"}`}, mut{"c1", 2, "bump", `{"id":"k"}`})
		if e.lmid(t, "c1") != 2 || e.count(t, "counters") != 1 {
			t.Fatalf("lmid %d counters %d", e.lmid(t, "c1"), e.count(t, "counters"))
		}
		errs := e.takeErrors()
		if tg.Name == "postgres" {
			// The aborted transaction is detected and the mutation counts
			// as failed; the next one runs normally.
			if len(errs) != 1 || !errors.Is(errs[0], server.KindMutatorFailed) || errs[0].MutationID != 1 {
				t.Fatalf("errors %v", errs)
			}
		} else if len(errs) != 0 {
			t.Fatalf("errors %v", errs)
		}
	})
}

// countingReader counts what the handler reads of a body of unknown
// length.
type countingReader struct {
	n    int64
	left int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.left {
		n = c.left
	}
	for i := range p[:n] {
		p[i] = ' '
	}
	c.left -= n
	c.n += n
	return int(n), nil
}

func TestPayloadNotReadPastLimit(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.MaxPayloadBytes = 1000 })
	body := &countingReader{left: 10 << 20}
	req := httptest.NewRequest(http.MethodPost, "/sync/push", body)
	req.ContentLength = -1 // chunked: the size is not announced
	req.Header.Set("Authorization", "ann")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 413 || body.n > 1001 {
		t.Fatalf("status %d after reading %d bytes", rec.Code, body.n)
	}
	// An announced size over the limit is refused without reading.
	body = &countingReader{left: 5000}
	req = httptest.NewRequest(http.MethodPost, "/sync/pull", body)
	req.ContentLength = 5000
	req.Header.Set("Authorization", "ann")
	rec = httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != 413 || body.n != 0 {
		t.Fatalf("status %d after reading %d bytes", rec.Code, body.n)
	}
}

func TestDisableFastPath(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		// A change the change log does not see (raw SQL without
		// changelog.Record) reaches clients only without the fast path.
		for _, disable := range []bool{false, true} {
			e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.DisableFastPath = disable })
			c := e.newClient("ann", "g-"+map[bool]string{false: "fast", true: "slow"}[disable])
			c.pull(t)
			id := map[bool]string{false: "raw1", true: "raw2"}[disable]
			if _, err := e.h.DB().Exec(context.Background(), `INSERT INTO "notes" ("id", "body") VALUES (?, 'hidden from the log')`, id); err != nil {
				t.Fatal(err)
			}
			r := c.pull(t)
			if r.Changed != disable {
				t.Fatalf("DisableFastPath=%v: changed=%v %s", disable, r.Changed, r.Raw)
			}
			if disable {
				c.checkConverged(t)
			}
		}
	})
}

func TestIdentityClaimsInvalidateFastPath(t *testing.T) {
	tg := ormtest.SQLite(t)
	role := "reader"
	e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) {
		o.Auth = func(r *http.Request) (rowauth.Identity, appCtx, error) {
			u := r.Header.Get("Authorization")
			return rowauth.Identity{UserID: u, Claims: map[string]any{"role": role}}, appCtx{UserID: u}, nil
		}
	})
	c := e.newClient("ann", "g1")
	c.pull(t)
	if r := c.pull(t); r.Changed {
		t.Fatal("changed")
	}
	role = "admin" // rules may depend on claims: the next pull rescans
	if r := c.pull(t); r.Changed {
		t.Fatal("changed without a visible change")
	}
}
