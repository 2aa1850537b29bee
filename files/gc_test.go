package files_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// TestGCOrphans: an orphan is spared within the grace period and
// collected after it; a referenced blob never is; a ref to a collected
// blob is refused, and uploading it again stores it again.
func TestGCOrphans(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		t0 := time.Now()
		e.now.Store(t0.UnixMilli())
		e.share("L")
		orphan := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("nobody wants me"))
		kept := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("attached"))
		e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: kept})
		grace := 10 * time.Minute

		if _, err := e.fs.GCOrphans(ctx, files.GCOptions{Grace: time.Second}); err == nil {
			t.Fatal("a grace under four touch intervals was accepted")
		}
		e.now.Store(t0.Add(5 * time.Minute).UnixMilli())
		rep, err := e.fs.GCOrphans(ctx, files.GCOptions{Grace: grace})
		must(t, err)
		if rep.Deleted != 0 {
			t.Fatalf("within the grace period: %+v", rep)
		}
		e.now.Store(t0.Add(time.Hour).UnixMilli())
		// An upload whose ref is not yet committed, made just now.
		pending := e.mustUpload("bob", "attachments", "file", "text/plain", []byte("on its way"))
		rep, err = e.fs.GCOrphans(ctx, files.GCOptions{Grace: grace})
		must(t, err)
		if rep.Deleted != 1 || rep.Bytes != orphan.Size {
			t.Fatalf("after the grace period: %+v", rep)
		}
		if _, err := e.store.Head(ctx, orphan.Hash); !errors.Is(err, files.ErrNotFound) {
			t.Fatalf("the orphan survived: %v", err)
		}
		for _, r := range []files.Ref{kept, pending} {
			if _, err := e.store.Head(ctx, r.Hash); err != nil {
				t.Fatalf("GC deleted %s: %v", r.Hash, err)
			}
		}
		e.mustPush("bob", "attach", attachArgs{ID: "B", ListID: "L", File: pending})
		e.now.Store(t0.Add(3 * time.Hour).UnixMilli())
		rep, err = e.fs.GCOrphans(ctx, files.GCOptions{Grace: grace})
		must(t, err)
		if rep.Deleted != 0 {
			t.Fatalf("referenced blobs collected: %+v", rep)
		}
		if err := e.push("alice", "attach", attachArgs{ID: "C", ListID: "L", File: orphan}); !errors.Is(err, files.ErrNotStored) {
			t.Fatalf("ref to a collected blob: %v", err)
		}
		if status, _, body := e.upload("alice", "attachments", "file", "text/plain", []byte("nobody wants me")); status != 201 {
			t.Fatalf("upload after collection: %d %s", status, body)
		}
		e.mustPush("alice", "attach", attachArgs{ID: "C", ListID: "L", File: orphan})
	})
}

// TestGCRacingUploads: uploads whose refs commit after a random delay,
// some past the grace period, race a GC running in a loop on real time.
// Nothing is lost: every committed ref names a stored blob (reconcile
// finds nothing), and a late ref is refused with ErrNotStored, never
// committed over a deleted blob.
func TestGCRacingUploads(t *testing.T) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) {
			ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
				e := newEnv(t, tg, kind, func(o *files.Options) { o.TouchInterval = 5 * time.Millisecond })
				gcRace(t, e)
			})
		})
	}
}

func gcRace(t *testing.T, e *env) {
	ctx := context.Background()
	e.share("L")
	alice := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "alice"})
	stop := make(chan struct{})
	gcDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if _, err := e.fs.GCOrphans(ctx, files.GCOptions{Grace: 20 * time.Millisecond}); err != nil {
				gcDone <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed, refused := 0, 0
	for i := range 24 {
		wg.Go(func() {
			data := []byte(fmt.Sprintf("upload %d", i))
			ref := e.mustUpload("alice", "attachments", "file", "text/plain", data)
			time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
			_, err := e.fsWrites.Insert(tAttachments).Values(orm.Row{"id": fmt.Sprint("R", i), "list_id": "L", "file": ref}).Exec(alice)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				committed++
			case errors.Is(err, files.ErrNotStored):
				refused++
			default:
				t.Errorf("ref %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	must(t, <-gcDone)
	noLostRefs(t, e)
	if n := e.count(tAttachments); n != committed {
		t.Fatalf("%d rows, %d committed", n, committed)
	}
	t.Logf("%d refs committed, %d refused after collection", committed, refused)
}

// TestReconcile: a blob deleted behind the service's back is reported;
// Clear sets the nullable column to NULL through the sync handler's DB,
// so the change is logged for clients.
func TestReconcile(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.share("L")
		a := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("doomed"))
		b := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("fine"))
		av := e.mustUpload("alice", "avatars", "file", "image/png", png)
		e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: a})
		e.mustPush("alice", "attach", attachArgs{ID: "B", ListID: "L", File: b})
		e.mustPush("alice", "setAvatar", map[string]any{"file": av})
		must(t, e.store.Delete(ctx, a.Hash))
		must(t, e.avatars.Delete(ctx, av.Hash))

		broken, err := e.fs.ReconcileRefs(ctx, files.ReconcileOptions{})
		must(t, err)
		if len(broken) != 2 || broken[0].Table != "attachments" || broken[0].RowID != "A" || broken[0].Ref.Hash != a.Hash ||
			broken[1].Table != "avatars" || broken[1].RowID != "alice" {
			t.Fatalf("report: %+v", broken)
		}
		broken, err = e.fs.ReconcileRefs(ctx, files.ReconcileOptions{Clear: true, DB: e.h.DB()})
		must(t, err)
		if !broken[0].Cleared || broken[1].Cleared {
			t.Fatalf("clear: %+v (avatars.file is NOT NULL: reported only)", broken)
		}
		rows, err := orm.Maps(rowauth.AsSystem(ctx), e.tg.DB.Select(tAttachments.Col("file")).From(tAttachments).Where(expr.Eq(tAttachments.Col("id"), "A")))
		must(t, err)
		if len(rows) != 1 || rows[0]["file"] != nil {
			t.Fatalf("row A after clear: %v", rows)
		}
		broken, err = e.fs.ReconcileRefs(ctx, files.ReconcileOptions{})
		must(t, err)
		if len(broken) != 1 {
			t.Fatalf("after clear: %+v", broken)
		}
	})
}

// TestGarbageRow: a row whose file column holds text that is not JSON
// (written with raw SQL, around the check) breaks neither downloads nor
// GC nor reconcile; reconcile reports it.
func TestGarbageRow(t *testing.T) {
	e := newEnv(t, ormtest.SQLite(t), "dir", nil)
	ctx := context.Background()
	e.share("L")
	ref := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("fine"))
	e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
	_, err := e.tg.SQL.Exec(`INSERT INTO attachments (id, list_id, file) VALUES ('G', 'L', 'not json {')`)
	must(t, err)
	if status, _, _ := e.download("bob", ref.Hash.String()); status != 200 {
		t.Fatalf("download next to a garbage row: %d", status)
	}
	if _, err := e.fs.GCOrphans(ctx, files.GCOptions{Grace: 10 * time.Minute}); err != nil {
		t.Fatalf("GC next to a garbage row: %v", err)
	}
	broken, err := e.fs.ReconcileRefs(ctx, files.ReconcileOptions{})
	if err != nil || len(broken) != 1 || broken[0].RowID != "G" {
		t.Fatalf("reconcile: %+v, %v", broken, err)
	}
}

// collectingStore deletes a blob behind the service's back on the n-th
// Head after arm, as a GC in another process could between an upload's
// checks.
type collectingStore struct {
	files.Storage
	mu    sync.Mutex
	heads int // Heads left before the deletion; 0: disarmed
}

func (c *collectingStore) Head(ctx context.Context, h files.Hash) (files.Info, error) {
	c.mu.Lock()
	if c.heads > 0 {
		if c.heads--; c.heads == 0 {
			c.Storage.Delete(ctx, h)
		}
	}
	c.mu.Unlock()
	return c.Storage.Head(ctx, h)
}

// TestUploadCollectedMidway: content already stored, collected while a
// repeated upload verifies it, is answered 503 with Retry-After, not
// 200 for a blob that is gone; the retry stores it again.
func TestUploadCollectedMidway(t *testing.T) {
	var cs *collectingStore
	e := newEnv(t, ormtest.SQLite(t), "dir", func(o *files.Options) {
		cs = &collectingStore{Storage: o.Storages[files.DefaultStorage]}
		o.Storages[files.DefaultStorage] = cs
	})
	data := []byte("stored once, collected during the second upload")
	e.mustUpload("alice", "attachments", "file", "text/plain", data)
	cs.mu.Lock()
	cs.heads = 2
	cs.mu.Unlock()
	if status, _, body := e.upload("bob", "attachments", "file", "text/plain", data); status != 503 {
		t.Fatalf("upload of collected content: %d %s", status, body)
	}
	if status, _, body := e.upload("bob", "attachments", "file", "text/plain", data); status != 201 {
		t.Fatalf("retry: %d %s", status, body)
	}
}
