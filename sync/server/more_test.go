package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/capture"
	"github.com/plasma-go/plasma/orm"
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
		// A change the change log does not see (raw SQL on a database
		// whose capture triggers were dropped) reaches clients only
		// without the fast path.
		for _, disable := range []bool{false, true} {
			e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.DisableFastPath = disable })
			if err := capture.Drop(context.Background(), tg.SQL, tg.Dialect); err != nil {
				t.Fatal(err)
			}
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

// tRoleDocs is readable by identities whose "role" claim equals a row's
// level: what a user sees depends on claims alone.
var tRoleDocs = orm.NewTable("role_docs", orm.ID(), orm.Text("level"))

func init() {
	tRoleDocs.With(orm.TableOptions{Auth: orm.TableAuth{
		Read: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			role, _ := id.Claims["role"].(string)
			return expr.Eq(tRoleDocs.Col("level"), role), nil
		}).Rule(),
	}})
}

// TestIdentityClaimsInvalidateFastPath: with no change in the database,
// a change of the identity's claims alone must make the next pull scan
// again, since read rules may depend on them. Were claims left out of
// the fast path's fingerprint, the pull after the role change would
// answer "nothing changed" and the client would never see role_docs/d1.
func TestIdentityClaimsInvalidateFastPath(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		var role atomic.Value
		role.Store("reader")
		e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) {
			o.Schema = orm.MustDefineSchema("1", tRoleDocs)
			o.Auth = func(r *http.Request) (rowauth.Identity, appCtx, error) {
				u := r.Header.Get("Authorization")
				return rowauth.Identity{UserID: u, Claims: map[string]any{"role": role.Load()}}, appCtx{UserID: u}, nil
			}
		})
		ctx := rowauth.AsSystem(context.Background())
		if _, err := e.h.DB().Insert(tRoleDocs).Values(orm.Row{"id": "d1", "level": "admin"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		c := e.newClient("ann", "g1")
		c.pull(t)
		if r := c.pull(t); r.Changed || len(c.View) != 0 {
			t.Fatalf("a reader's second pull: %s", r.Raw)
		}
		role.Store("admin")
		if r := c.pull(t); !r.Changed || c.Row("role_docs/d1")["level"] != "admin" {
			t.Fatalf("after the claim became admin: %s", r.Raw)
		}
		role.Store("reader")
		if r := c.pull(t); !r.Changed || len(c.View) != 0 {
			t.Fatalf("after the claim went back to reader: %s", r.Raw)
		}
	})
}
