package files_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/files/internal/storagetest"
	"github.com/plasma-go/plasma/files/s3"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/synctest"
)

// TestFlow: upload → ref → pull shows the ref → download by another
// member (whole, ranged, revalidated) → removal → 404, identical to a
// hash never stored; a stranger gets the same 404 throughout.
func TestFlow(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.share("L")
		data := []byte("the quarterly report, in full")
		ref := e.mustUpload("alice", "attachments", "file", "text/plain", data)
		ref.Name = "report.txt"
		e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})

		bob := synctest.NewClient(e.srv.Client(), e.srv.URL+"/sync", "bob", "g-bob-pull")
		if _, err := bob.Pull(); err != nil {
			t.Fatal(err)
		}
		row := bob.Row("attachments/A")
		if row == nil {
			t.Fatalf("bob's view lacks the attachment: %v", bob.View)
		}
		got, _ := row["file"].(map[string]any)
		if got["hash"] != ref.Hash.String() || got["name"] != "report.txt" {
			t.Fatalf("pulled file = %v", row["file"])
		}

		status, hd, body := e.download("bob", ref.Hash.String())
		if status != 200 || body != string(data) {
			t.Fatalf("bob's download: %d %q", status, body)
		}
		if hd.Get("ETag") != `"`+ref.Hash.String()+`"` || !strings.Contains(hd.Get("Cache-Control"), "immutable") ||
			hd.Get("Content-Type") != "text/plain" || hd.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.Contains(hd.Get("Content-Disposition"), "report.txt") {
			t.Fatalf("headers: %v", hd)
		}
		if status, _, body := e.download("bob", ref.Hash.String(), "Range: bytes=4-13"); status != 206 || body != string(data[4:14]) {
			t.Fatalf("ranged download: %d %q", status, body)
		}
		if status, _, _ := e.download("bob", ref.Hash.String(), `If-None-Match: "`+ref.Hash.String()+`"`); status != 304 {
			t.Fatalf("revalidation: %d", status)
		}

		s404, h404, b404 := e.download("carol", files.HashOf([]byte("never stored")).String())
		if s404 != 404 {
			t.Fatalf("unknown hash: %d", s404)
		}
		if status, hd, body := e.download("carol", ref.Hash.String()); status != 404 || body != b404 || hd.Get("Content-Type") != h404.Get("Content-Type") {
			t.Fatalf("stranger: %d %q, want the unknown hash's %q", status, body, b404)
		}

		e.mustPush("alice", "removeAttachment", map[string]string{"ID": "A"})
		if status, _, body := e.download("bob", ref.Hash.String()); status != 404 || body != b404 {
			t.Fatalf("after removal: %d %q", status, body)
		}
	})
}

// TestOthersBlob: the rule for a ref to someone else's blob. Mallory
// learns the hash of a file in alice's list and writes it into a row of
// her own list: refused with ErrNotStored (as if it were not stored),
// so she cannot read it. A member who may read a row referencing the
// blob may reuse the ref; and anyone who uploads the bytes themselves
// has shown they hold them.
func TestOthersBlob(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.share("L")
		e.mustPush("mallory", "createList", map[string]string{"ID": "M"})
		secret := []byte("alice's secret plans")
		ref := e.mustUpload("alice", "attachments", "file", "text/plain", secret)
		e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})

		err := e.push("mallory", "attach", attachArgs{ID: "MA", ListID: "M", File: ref})
		if !errors.Is(err, files.ErrNotStored) {
			t.Fatalf("mallory's ref write: %v, want ErrNotStored", err)
		}
		missing := ref
		missing.Hash = files.HashOf([]byte("nothing"))
		errMissing := e.push("mallory", "attach", attachArgs{ID: "MB", ListID: "M", File: missing})
		if !errors.Is(errMissing, files.ErrNotStored) {
			t.Fatalf("missing blob: %v", errMissing)
		}
		if status, _, _ := e.download("mallory", ref.Hash.String()); status != 404 {
			t.Fatalf("mallory downloads: %d", status)
		}
		// An upload claiming the hash with other bytes proves nothing.
		if status, _, _ := e.uploadAs("mallory", ref.Hash, []byte("guess guess guess guess")); status != 422 {
			t.Fatalf("forged upload: %d", status)
		}
		if err := e.push("mallory", "attach", attachArgs{ID: "MA", ListID: "M", File: ref}); !errors.Is(err, files.ErrNotStored) {
			t.Fatalf("after a forged upload: %v", err)
		}

		// bob may read A, so he may reference its blob in the shared list.
		e.mustPush("bob", "attach", attachArgs{ID: "B", ListID: "L", File: ref})

		// Uploading the very bytes is proof of possession.
		e.mustUpload("mallory", "attachments", "file", "text/plain", secret)
		e.mustPush("mallory", "attach", attachArgs{ID: "MA", ListID: "M", File: ref})
		if status, _, body := e.download("mallory", ref.Hash.String()); status != 200 || body != string(secret) {
			t.Fatalf("mallory after uploading the bytes: %d", status)
		}
	})
}

// TestLargeThroughHandler: a file larger than the S3 adapter's
// in-memory limit goes up through the handler as a multipart upload
// (two parts) and comes back whole and by range, on both storages.
func TestLargeThroughHandler(t *testing.T) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, ormtest.SQLite(t), kind, func(o *files.Options) {
				o.Columns = map[string]files.ColumnOptions{"attachments.file": {MaxSize: 16 << 20}}
			})
			e.share("L")
			data := storagetest.Bytes(s3.MinPartSize+s3.SmallSize+3, 5)
			ref := e.mustUpload("alice", "attachments", "file", "application/octet-stream", data)
			e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
			if status, _, body := e.download("bob", ref.Hash.String()); status != 200 || body != string(data) {
				t.Fatalf("download: %d, %d bytes", status, len(body))
			}
			n := len(data)
			if status, _, body := e.download("bob", ref.Hash.String(), fmt.Sprintf("Range: bytes=%d-", n-10)); status != 206 || body != string(data[n-10:]) {
				t.Fatalf("tail range: %d %q", status, body)
			}
		})
	}
}
