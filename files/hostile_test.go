package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plasma-go/plasma/files"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// serve runs one request through the sync handler in process, so a test
// can send what a well-behaved HTTP client never would (a body longer
// than its Content-Length).
func (e *env) serve(method, target, user, ctype string, length int64, body io.Reader) (int, string) {
	req := httptest.NewRequest(method, target, body)
	req.ContentLength = length
	if user != "" {
		req.Header.Set("Authorization", user)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestHostileUploads: every malformed, oversized or lying upload gets a
// clear status and stores nothing.
func TestHostileUploads(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		data := []byte("twenty bytes of data")
		h := files.HashOf(data).String()
		q := "?table=attachments&column=file"
		big := bytes.Repeat([]byte("x"), 1<<20+1)
		cases := []struct {
			name, method, path, user, ctype string
			length                          int64
			body                            io.Reader
			want                            int
		}{
			{"no auth", "PUT", h + q, "", "text/plain", 20, bytes.NewReader(data), 401},
			{"hash mismatch", "PUT", files.HashOf([]byte("other")).String() + q, "alice", "text/plain", 20, bytes.NewReader(data), 422},
			{"shorter than declared", "PUT", h + q, "alice", "text/plain", 21, bytes.NewReader(data), 422},
			{"longer than declared", "PUT", h + q, "alice", "text/plain", 19, bytes.NewReader(data), 422},
			{"longer body, right length", "PUT", h + q, "alice", "text/plain", 20, io.MultiReader(bytes.NewReader(data), strings.NewReader("tail")), 422},
			{"no length", "PUT", h + q, "alice", "text/plain", -1, bytes.NewReader(data), 411},
			{"over MaxSize", "PUT", files.HashOf(big).String() + q, "alice", "text/plain", int64(len(big)), bytes.NewReader(big), 413},
			{"absurd length", "PUT", h + q, "alice", "text/plain", 1 << 62, bytes.NewReader(data), 413},
			{"traversal", "PUT", "..%2F..%2Fetc%2Fpasswd" + q, "alice", "text/plain", 20, bytes.NewReader(data), 400},
			{"traversal in hash", "PUT", "sha256:..%2F..%2F..%2Fetc" + q, "alice", "text/plain", 20, bytes.NewReader(data), 400},
			{"upper-case hash", "PUT", strings.ToUpper(h) + q, "alice", "text/plain", 20, bytes.NewReader(data), 400},
			{"unknown table", "PUT", h + "?table=lists&column=name", "alice", "text/plain", 20, bytes.NewReader(data), 400},
			{"no MIME", "PUT", h + q, "alice", "", 20, bytes.NewReader(data), 400},
			{"bad MIME", "PUT", h + q, "alice", "text", 20, bytes.NewReader(data), 400},
			{"bad name", "PUT", h + q + "&name=a%2Fb", "alice", "text/plain", 20, bytes.NewReader(data), 400},
			{"method", "DELETE", h, "alice", "", 0, nil, 405},
			{"GET traversal", "GET", "sha256:..%2F..", "alice", "", 0, nil, 400},
		}
		for _, c := range cases {
			status, body := e.serve(c.method, "/sync/files/"+c.path, c.user, c.ctype, c.length, c.body)
			if status != c.want {
				t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
			}
		}
		n := 0
		e.store.List(context.Background(), func(files.Info) error { n++; return nil })
		if n != 0 {
			t.Fatalf("hostile uploads stored %d blobs", n)
		}
		// Nor did they record anything: a record (proof of possession)
		// is written only for a body that verified.
		for _, h := range []files.Hash{files.HashOf(data), files.HashOf([]byte("other"))} {
			if b, o := e.records(h); b != 0 || o != 0 {
				t.Fatalf("hostile uploads recorded %d blobs, %d owners for %s", b, o, h)
			}
		}
		if d, ok := e.store.(*files.DirStorage); ok {
			if tmp, _ := os.ReadDir(filepath.Join(d.Root(), "tmp")); len(tmp) != 0 {
				t.Fatalf("%d temporary files left", len(tmp))
			}
		}
	})
}

// TestConcurrentSameContent: 10,000 concurrent uploads of one content
// (in process, through the sync handler) all succeed, exactly one
// stores it, and the storage holds one whole blob. Uploads of one hash
// are serialised, and each later one verifies its body instead of
// writing it.
func TestConcurrentSameContent(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, "dir", nil)
		data := bytes.Repeat([]byte("same content "), 100)
		target := "/sync/files/" + files.HashOf(data).String() + "?table=attachments&column=file"
		n := 10000
		if testing.Short() || raceEnabled {
			n = 2000 // see raceEnabled
		}
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				user := []string{"alice", "bob", "carol", "dave"}[i%4]
				status, _ := e.serve("PUT", target, user, "text/plain", int64(len(data)), bytes.NewReader(data))
				mu.Lock()
				codes[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		// Usually one 201; an upload that waited over a second for the
		// lock goes ahead alone and may store the blob again.
		if codes[201] < 1 || codes[201]+codes[200] != n {
			t.Fatalf("statuses %v, want %d uploads answered 201 or 200", codes, n)
		}
		blobs := 0
		e.store.List(context.Background(), func(i files.Info) error {
			blobs++
			if i.Size != int64(len(data)) {
				t.Errorf("blob of %d bytes", i.Size)
			}
			return nil
		})
		if blobs != 1 {
			t.Fatalf("%d blobs stored", blobs)
		}
		_ = http.StatusOK
	})
}

// TestStalledUploadDoesNotBlock: an upload that stalls mid-body holds its
// hash's lock, but another upload of the same content waits at most a
// second for it and then goes ahead.
func TestStalledUploadDoesNotBlock(t *testing.T) {
	e := newEnv(t, ormtest.SQLite(t), "dir", nil)
	data := []byte("a popular file everyone uploads")
	target := "/sync/files/" + files.HashOf(data).String() + "?table=attachments&column=file"
	pr, pw := io.Pipe()
	stalled := make(chan int, 1)
	go func() {
		status, _ := e.serve("PUT", target, "mallory", "text/plain", int64(len(data)), pr)
		stalled <- status
	}()
	pw.Write(data[:5])
	start := time.Now()
	status, body := e.serve("PUT", target, "alice", "text/plain", int64(len(data)), bytes.NewReader(data))
	if status != 201 || time.Since(start) > 10*time.Second {
		t.Fatalf("upload behind a stalled one: %d %s after %v", status, body, time.Since(start))
	}
	pw.CloseWithError(errors.New("gone"))
	if s := <-stalled; s != 422 {
		t.Fatalf("the stalled upload: %d", s)
	}
}
