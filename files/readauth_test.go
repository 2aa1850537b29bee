package files_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/synctest"
)

// TestReadAuthMaxRefs: a download checks at most ReadAuthMaxRefs rows
// referencing the hash (by id); a readable row past them does not grant
// access. HEAD answers like GET without a body.
func TestReadAuthMaxRefs(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, "dir", func(o *files.Options) { o.ReadAuthMaxRefs = 3 })
		sys := rowauth.AsSystem(context.Background())
		data := []byte("shared by many lists")
		ref := e.mustUpload("alice", "attachments", "file", "text/plain", data)
		for i := range 4 {
			l := fmt.Sprint("L", i)
			_, err := e.fsWrites.Insert(tLists).Values(orm.Row{"id": l, "name": l, "owner_id": "alice"}).Exec(sys)
			must(t, err)
			_, err = e.fsWrites.Insert(tAttachments).Values(orm.Row{"id": fmt.Sprint("A", i), "list_id": l, "file": ref}).Exec(sys)
			must(t, err)
		}
		// bob is a member of L3 only, whose row A3 is the fourth by id.
		_, err := e.fsWrites.Insert(tMembers).Values(orm.Row{"id": "m", "list_id": "L3", "user_id": "bob"}).Exec(sys)
		must(t, err)
		if status, _, _ := e.download("bob", ref.Hash.String()); status != 404 {
			t.Fatalf("readable row past the cap: %d", status)
		}
		_, err = e.fsWrites.Insert(tMembers).Values(orm.Row{"id": "m2", "list_id": "L2", "user_id": "bob"}).Exec(sys)
		must(t, err)
		if status, _, body := e.download("bob", ref.Hash.String()); status != 200 || body != string(data) {
			t.Fatalf("readable row within the cap: %d", status)
		}
		many := "bytes=0-0"
		for i := 1; i < 40; i++ {
			many += fmt.Sprintf(",%d-%d", i, i)
		}
		if status, _, body := e.download("bob", ref.Hash.String(), "Range: "+many); status != 200 || body != string(data) {
			t.Fatalf("40 ranges: %d (want the whole blob)", status)
		}
		if status, _, _ := e.download("bob", ref.Hash.String(), "Range: bytes=0-0,2-2"); status != 206 {
			t.Fatalf("2 ranges: %d", status)
		}
		req, _ := http.NewRequest(http.MethodHead, e.srv.URL+"/sync/files/"+ref.Hash.String(), nil)
		req.Header.Set("Authorization", "bob")
		resp, err := e.srv.Client().Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(data)) {
			t.Fatalf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
		}
	})
}

// TestStandaloneHandler: Service.Handler serves the endpoints on any
// mount with its own auth; no identity answers 401.
func TestStandaloneHandler(t *testing.T) {
	e := newEnv(t, ormtest.SQLite(t), "dir", nil)
	ref := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("standalone"))
	e.share("L")
	e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
	mux := http.NewServeMux()
	mux.Handle("/blobs/", e.fs.Handler(func(r *http.Request) (rowauth.Identity, error) {
		return rowauth.Identity{UserID: r.Header.Get("X-User")}, nil
	}))
	for _, c := range []struct {
		user string
		want int
	}{{"bob", 200}, {"eve", 404}, {"", 401}} {
		req := httptest.NewRequest(http.MethodGet, "/blobs/"+ref.Hash.String(), nil)
		req.Header.Set("X-User", c.user)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%q: %d, want %d", c.user, rec.Code, c.want)
		}
	}
}

// TestReadAuthCache: a download's positive decision is reused; a write
// committed through the handler (to any table) drops it at once, and a
// write the process cannot see (raw SQL on another DB) goes unnoticed for
// ReadAuthCacheTTL at most. Refusals are not reused.
func TestReadAuthCache(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, "dir", nil)
		t0 := time.Now()
		e.now.Store(t0.UnixMilli())
		e.share("L")
		ref := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("cached"))
		e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
		get := func(want int, what string) {
			t.Helper()
			if status, _, body := e.download("bob", ref.Hash.String()); status != want {
				t.Fatalf("%s: %d %s, want %d", what, status, body, want)
			}
		}
		sys := rowauth.AsSystem(context.Background())
		setMember := func(in bool) {
			t.Helper()
			q := `DELETE FROM "members" WHERE "user_id" = 'bob'`
			if in {
				q = `INSERT INTO "members" ("id", "list_id", "user_id") VALUES ('L:bob', 'L', 'bob')`
			}
			_, err := tg.DB.Exec(sys, q)
			must(t, err)
		}
		get(200, "member")
		setMember(false) // behind the process's back
		get(200, "within the TTL of a cached decision")
		// A pull writes only the sync server's bookkeeping: the decision
		// stays.
		status, body, err := synctest.Post(e.srv.Client(), e.srv.URL+"/sync/pull", "alice", synctest.PullBody("g-alice", "1", nil))
		if err != nil || status != 200 {
			t.Fatalf("pull: %d %s %v", status, body, err)
		}
		get(200, "after a pull, within the TTL")
		if status, _, _ := e.download("mallory", ref.Hash.String()); status != 404 {
			t.Fatalf("another identity got bob's decision: %d", status)
		}
		e.now.Store(t0.Add(files.DefaultReadAuthCacheTTL + time.Millisecond).UnixMilli())
		get(404, "after the TTL")
		setMember(true)
		get(200, "a grant is seen at once")
		setMember(false)
		e.mustPush("alice", "createList", map[string]string{"ID": "M"}) // any write through the handler
		get(404, "after a write through the handler")

		// Off: every download is checked.
		e2 := newEnv(t, tg, "dir", func(o *files.Options) {
			o.ReadAuthCacheTTL = -1
			o.Storages = map[string]files.Storage{files.DefaultStorage: e.store, "avatars": e.avatars}
		})
		setMember(true)
		if status, _, _ := e2.download("bob", ref.Hash.String()); status != 200 {
			t.Fatalf("cache off, member: %d", status)
		}
		setMember(false)
		if status, _, _ := e2.download("bob", ref.Hash.String()); status != 404 {
			t.Fatalf("cache off, removed: %d", status)
		}
	})
}
