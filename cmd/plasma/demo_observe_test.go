package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startDemo runs the demo with args on a fresh data directory and
// returns its URL, its output and the function that stops it.
func startDemo(t *testing.T, args ...string) (base string, out *lockedBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &lockedBuffer{}
	done := make(chan struct{})
	code := -1
	go func() {
		defer close(done)
		code = run(ctx, append([]string{"demo", "-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...), out, out)
	}()
	base = waitForURL(t, out, done)
	return base, out, func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("the demo did not stop:\n%s", out)
		}
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	}
}

func demoGet(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := demoClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDemoMetrics: the demo serves /metrics, whose counters move with a
// push and a pull; the devtools are off (404) without -devtools.
func TestDemoMetrics(t *testing.T) {
	base, _, stop := startDemo(t)
	defer stop()
	if status, body, err := pushOne(base, 1, "createList", `{"id":"L1","name":"groceries"}`); err != nil || status != 200 {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	pullAll(t, base)
	status, body := demoGet(t, base+"/metrics", nil)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^plasma_sync_mutations_total\{[^}]*status="applied"[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^plasma_sync_push_duration_seconds_count\{[^}]*outcome="ok"[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^plasma_sync_pull_duration_seconds_count\{[^}]*outcome="ok"[^}]*\} 1$`),
		regexp.MustCompile(`(?m)^plasma_changelog_rows\{[^}]*\} 2$`),
		regexp.MustCompile(`(?m)^plasma_sync_websocket_connections\{[^}]*\} 0$`),
	} {
		if status != 200 || !want.MatchString(body) {
			t.Errorf("GET /metrics: %d; no line matching %s in\n%s", status, want, body)
		}
	}
	for _, p := range []string{"/sync/devtools", "/sync/devtools/", "/sync/devtools/api/snapshot"} {
		if status, body := demoGet(t, base+p, nil); status != 404 {
			t.Errorf("GET %s without -devtools: %d %s", p, status, body)
		}
	}
}

// TestDemoDevtools: with -devtools the demo prints an admin token; the
// page and its API answer requests with it and refuse (403) the others.
func TestDemoDevtools(t *testing.T) {
	base, out, stop := startDemo(t, "-devtools")
	defer stop()
	m := regexp.MustCompile(`devtools: (http://\S+/sync/devtools/)\?token=([0-9a-f]{32})`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no devtools URL printed:\n%s", out)
	}
	page, token := m[1], m[2]
	if status, _ := demoGet(t, page, nil); status != 403 {
		t.Errorf("page without the token: %d", status)
	}
	if status, _ := demoGet(t, page+"?token="+strings.Repeat("0", 32), nil); status != 403 {
		t.Errorf("page with a wrong token: %d", status)
	}
	if status, body := demoGet(t, page+"?token="+token, nil); status != 200 || !strings.Contains(body, "plasma devtools") {
		t.Errorf("page with the token: %d %s", status, body)
	}
	if status, body, err := pushOne(base, 1, "createList", `{"id":"L1","name":"groceries"}`); err != nil || status != 200 {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	status, body := demoGet(t, page+"api/snapshot", map[string]string{"X-Plasma-Devtools-Token": token})
	if status != 200 || !strings.Contains(body, `"source":"plasma-devtools"`) || !strings.Contains(body, `"id":"g-ann"`) {
		t.Errorf("snapshot: %d %s", status, body)
	}
}
