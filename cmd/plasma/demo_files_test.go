package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoAttachments: the demo serves the file endpoints: an upload,
// attachFile with its ref, a download by the member, 404 for another
// user, and the blob on disk under <data>/blobs.
func TestDemoAttachments(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx, []string{"demo", "-addr", "127.0.0.1:0", "-data", data}, out, out)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("the demo did not stop:\n%s", out)
		}
	}()
	base := waitForURL(t, out, done)
	if !strings.Contains(out.String(), "/sync/files/") {
		t.Errorf("the banner does not name the file endpoint:\n%s", out)
	}

	for i, m := range [][2]string{{"createList", `{"id":"L","name":"trip"}`}, {"createTodo", `{"id":"T","listID":"L","title":"pack"}`}} {
		if st, body, err := pushOne(base, i+1, m[0], m[1]); err != nil || st != 200 {
			t.Fatalf("%s: %d %s %v", m[0], st, body, err)
		}
	}
	content := []byte("packing list: socks, passport")
	sum := sha256.Sum256(content)
	hash := "sha256:" + hex.EncodeToString(sum[:])
	do := func(method, user, path, ctype string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+user)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := demoClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, ref := do("PUT", "ann", "/sync/files/"+hash+"?table=attachments&column=file&name=list.txt", "text/plain", content)
	if st != 201 {
		t.Fatalf("upload: %d %s", st, ref)
	}
	if st, body, err := pushOne(base, 3, "attachFile", fmt.Sprintf(`{"id":"A","todoID":"T","file":%s}`, ref)); err != nil || st != 200 || body != "{}" {
		t.Fatalf("attachFile: %d %s %v", st, body, err)
	}
	p := pullAll(t, base)
	if p.lmid != 3 || p.value["attachments/A"] == nil {
		t.Fatalf("pull after attachFile: %+v", p)
	}
	if st, body := do("GET", "ann", "/sync/files/"+hash, "", nil); st != 200 || body != string(content) {
		t.Fatalf("download: %d %q", st, body)
	}
	if st, _ := do("GET", "eve", "/sync/files/"+hash, "", nil); st != 404 {
		t.Fatalf("download by a stranger: %d", st)
	}
	if _, err := os.Stat(filepath.Join(data, "blobs", hex.EncodeToString(sum[:1]), hex.EncodeToString(sum[1:2]), hex.EncodeToString(sum[:]))); err != nil {
		t.Fatalf("the blob is not under the data directory: %v", err)
	}
}
