package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startDemoWeb runs plasma demo with extra flags on a fresh data dir and
// returns its URL; the demo stops when the test ends.
func startDemoWeb(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan struct{})
	code := -1
	go func() {
		defer close(done)
		code = run(ctx, append([]string{"demo", "-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...), out, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("the demo did not stop:\n%s", out)
		}
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	return waitForURL(t, out, done)
}

func getBody(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := demoClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// rawGet sends path verbatim (no client-side cleaning of "..").
func rawGet(t *testing.T, base, path string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestDemoWeb(t *testing.T) {
	dir := t.TempDir()
	web := filepath.Join(dir, "site")
	if err := os.MkdirAll(filepath.Join(web, "js"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(web, "index.html"):  "<!doctype html><title>site</title>",
		filepath.Join(web, "js", "a.mjs"): "export const a = 1;",
		filepath.Join(dir, "secret.txt"):  "outside the folder",
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	base := startDemoWeb(t, "-web", web)
	if code, h, body := getBody(t, base+"/web/"); code != 200 || body != files[filepath.Join(web, "index.html")] ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /web/: %d %v %q", code, h, body)
	}
	// ES modules load only with a JavaScript MIME type.
	if code, h, _ := getBody(t, base+"/web/js/a.mjs"); code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") ||
		h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /web/js/a.mjs: %d %v", code, h)
	}
	if code, _, _ := getBody(t, base+"/web"); code != 200 { // redirected to /web/
		t.Fatalf("GET /web: %d", code)
	}
	if code, _, _ := getBody(t, base+"/web/missing.js"); code != 404 {
		t.Fatalf("GET /web/missing.js: %d", code)
	}
	// Nothing outside the folder, however the path is spelled.
	for _, p := range []string{"/web/../secret.txt", "/web/..%2fsecret.txt", "/web/%2e%2e/secret.txt", "/web/js/../../secret.txt"} {
		if resp := rawGet(t, base, p); strings.Contains(resp, "outside the folder") {
			t.Errorf("GET %s served a file outside -web:\n%s", p, resp)
		}
	}
	if resp, err := demoClient.Post(base+"/web/index.html", "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /web/index.html: %v %v", resp, err)
	}
	// The sync endpoints and the demo's own page are still there.
	if code, _, body := getBody(t, base+"/"); code != 200 || !strings.Contains(body, "/sync/push") {
		t.Fatalf("GET /: %d", code)
	}

	// Without -web, nothing is served there.
	plain := startDemoWeb(t)
	if code, _, _ := getBody(t, plain+"/web/"); code != 404 {
		t.Fatalf("GET /web/ without -web: %d", code)
	}

	// A -web that is not a folder stops the demo at start-up.
	for _, bad := range []string{filepath.Join(dir, "nope"), filepath.Join(dir, "secret.txt")} {
		if code, _, errOut := runCLI(t, "demo", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-web", bad); code != 1 || !strings.Contains(errOut, "-web") {
			t.Errorf("-web %s: exit %d %q", bad, code, errOut)
		}
	}
	if code, out, _ := runCLI(t, "demo", "-h"); code != 0 || !strings.Contains(out, "-web") {
		t.Fatalf("demo -h: exit %d\n%s", code, out)
	}
}
