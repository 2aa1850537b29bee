package files_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/files"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

var smallQuota = func(o *files.Options) { o.Quota = files.Quota{Bytes: 100, Uploads: 2} }

// eachQuota runs body on both engines and both storages with smallQuota.
func eachQuota(t *testing.T, body func(t *testing.T, e *env)) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) {
			ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) { body(t, newEnv(t, tg, kind, smallQuota)) })
		})
	}
}

// quotaRefused checks an upload answer is the quota's, with status want.
func quotaRefused(t *testing.T, what string, status int, body string, want int) {
	t.Helper()
	var e struct{ Error string }
	json.Unmarshal([]byte(body), &e)
	if status != want || e.Error != "QuotaExceeded" {
		t.Fatalf("%s: %d %s, want %d QuotaExceeded", what, status, body, want)
	}
}

// TestUploadQuota: a user's unreferenced uploads are capped in number
// and bytes; a reference frees its upload's share, deleting the row
// takes it back (upload, reference, delete does not get past the quota),
// GC frees the rest, and other users are not affected.
func TestUploadQuota(t *testing.T) {
	eachQuota(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		t0 := time.Now()
		e.now.Store(t0.UnixMilli())
		e.share("L")
		text := func(s string) []byte { return []byte(fmt.Sprintf("%-10s", s)) }
		a := e.mustUpload("alice", "attachments", "file", "text/plain", text("a"))
		e.mustUpload("alice", "attachments", "file", "text/plain", text("b"))
		status, _, body := e.upload("alice", "attachments", "file", "text/plain", text("c"))
		quotaRefused(t, "third pending upload", status, body, 429)
		if _, err := e.store.Head(ctx, files.HashOf(text("c"))); !errors.Is(err, files.ErrNotFound) {
			t.Fatalf("a refused upload was stored: %v", err)
		}
		if status, _, body := e.upload("alice", "attachments", "file", "text/plain", text("a")); status != 200 {
			t.Fatalf("re-upload of own content at the quota: %d %s", status, body)
		}
		status, _, body = e.upload("alice", "attachments", "file", "text/plain", make([]byte, 101))
		quotaRefused(t, "upload over the byte quota alone", status, body, 413)

		// bob has his own quota, in bytes here.
		e.mustUpload("bob", "attachments", "file", "text/plain", make([]byte, 60))
		status, _, body = e.upload("bob", "attachments", "file", "text/plain", make([]byte, 50))
		quotaRefused(t, "bytes over the quota", status, body, 429)

		// A reference frees a's share.
		e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: a})
		e.mustUpload("alice", "attachments", "file", "text/plain", text("c"))
		// Deleting the row makes a pending again at the next recount.
		e.mustPush("alice", "removeAttachment", map[string]string{"ID": "A"})
		status, _, body = e.upload("alice", "attachments", "file", "text/plain", text("d"))
		quotaRefused(t, "upload after reference and delete", status, body, 429)

		// GC collects the orphans and their records: the quota is free.
		e.now.Store(t0.Add(time.Hour).UnixMilli())
		rep, err := e.fs.GCOrphans(ctx, files.GCOptions{Grace: 10 * time.Minute})
		must(t, err)
		if rep.Deleted != 4 {
			t.Fatalf("GC: %+v, want alice's 3 orphans and bob's", rep)
		}
		e.mustUpload("alice", "attachments", "file", "text/plain", text("d"))
		e.mustUpload("alice", "attachments", "file", "text/plain", text("e"))

		// Backend code importing for a user gets the typed error.
		f := text("f")
		_, err = e.fs.Put(ctx, files.DefaultStorage, files.Ref{Hash: files.HashOf(f), Size: 10, MIME: "text/plain"}, bytes.NewReader(f), "alice")
		var qe *files.QuotaError
		if !errors.Is(err, files.ErrQuotaExceeded) || !errors.As(err, &qe) || qe.User != "alice" || qe.Uploads != 2 || qe.Bytes != 20 || qe.TooLarge() {
			t.Fatalf("Put over the quota: %v (%+v)", err, qe)
		}
		// An import with no user is not counted.
		if _, err := e.fs.Put(ctx, files.DefaultStorage, files.Ref{Hash: files.HashOf(f), Size: 10, MIME: "text/plain"}, bytes.NewReader(f), ""); err != nil {
			t.Fatalf("Put with no user: %v", err)
		}
	})
}

// TestUploadQuotaConcurrent: uploads of distinct content racing for one
// user's quota: exactly the quota gets through, in flight included, and
// many uploads of one content count once.
func TestUploadQuotaConcurrent(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, "dir", smallQuota)
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				data := []byte(fmt.Sprintf("upload number %d", i))
				target := "/sync/files/" + files.HashOf(data).String() + "?table=attachments&column=file"
				status, _ := e.serve("PUT", target, "mallory", "text/plain", int64(len(data)), bytes.NewReader(data))
				mu.Lock()
				codes[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[201] != 2 || codes[429] != 18 {
			t.Fatalf("statuses %v, want 2 stored and 18 refused", codes)
		}
		same := []byte("one content, uploaded at once by many")
		target := "/sync/files/" + files.HashOf(same).String() + "?table=attachments&column=file"
		clear(codes)
		for range 50 {
			wg.Go(func() {
				status, _ := e.serve("PUT", target, "carol", "text/plain", int64(len(same)), bytes.NewReader(same))
				mu.Lock()
				codes[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[201]+codes[200] != 50 {
			t.Fatalf("one content uploaded 50 times: %v", codes)
		}
	})
}

// TestUploadQuotaOff: negative limits turn the quota off.
func TestUploadQuotaOff(t *testing.T) {
	e := newEnv(t, ormtest.SQLite(t), "dir", func(o *files.Options) { o.Quota = files.Quota{Bytes: -1, Uploads: -1} })
	for i := range 5 {
		e.mustUpload("alice", "attachments", "file", "text/plain", []byte(fmt.Sprint("file ", i)))
	}
}

// TestUploadQuotaOldTable: a database whose owners table predates the
// quota gets its columns; its records count as referenced.
func TestUploadQuotaOldTable(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the files service serves a pool", ormtest.ExecTx, ormtest.ExecConn)
		ctx := rowauth.AsSystem(context.Background())
		_, err := tg.DB.Exec(ctx, `CREATE TABLE "_plasma_blob_owners" ("hash" TEXT NOT NULL, "user_id" TEXT NOT NULL, PRIMARY KEY ("hash", "user_id"))`)
		must(t, err)
		_, err = tg.DB.Exec(ctx, `INSERT INTO "_plasma_blob_owners" ("hash", "user_id") VALUES ('sha256:00', 'alice'), ('sha256:01', 'alice')`)
		must(t, err)
		e := newEnv(t, tg, "dir", smallQuota)
		e.mustUpload("alice", "attachments", "file", "text/plain", []byte("one"))
		e.mustUpload("alice", "attachments", "file", "text/plain", []byte("two"))
		status, _, body := e.upload("alice", "attachments", "file", "text/plain", []byte("three"))
		quotaRefused(t, "third upload", status, body, 429)
	})
}
