package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// TestMountSeparately mounts push and pull on their own Go 1.22 method
// patterns, at paths that have nothing to do with BasePath, and syncs a
// client through them.
func TestMountSeparately(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		mux := http.NewServeMux()
		mux.Handle("POST /api/v1/push", e.h.PushHandler())
		mux.Handle("POST /api/v1/pull", e.h.PullHandler())
		srv := httptest.NewServer(mux)
		defer srv.Close()

		c := synctest.NewClient(srv.Client(), srv.URL+"/api/v1", "ann", "gA")
		if st, body, err := c.Push(synctest.Mutation{ClientID: "a1", ID: 1, Name: "createList", Args: `{"ID":"l1","Name":"n"}`}); err != nil || st != 200 || body != "{}" {
			t.Fatalf("push: %d %s %v", st, body, err)
		}
		r, err := c.Pull()
		if err != nil {
			t.Fatal(err)
		}
		if !r.Changed || c.Row("lists/l1")["name"] != "n" || c.LastMutationIDs["a1"] != 1 {
			t.Fatalf("pull: %s", r.Raw)
		}
		// The mux refuses other methods; BasePath routes are not served.
		for _, tc := range []struct{ method, path string }{{"GET", "/api/v1/push"}, {"PUT", "/api/v1/pull"}} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("%s %s: %d", tc.method, tc.path, resp.StatusCode)
			}
		}
		if st, _, _ := synctest.Post(srv.Client(), srv.URL+"/sync/pull", "ann", pullBody("gA", nil)); st != http.StatusNotFound {
			t.Fatalf("/sync/pull on the separate mux: %d", st)
		}
	})
}

// TestEndpointHandlerRefusesMethods: a PushHandler mounted on a pattern
// without a method still answers only POST.
func TestEndpointHandlerRefusesMethods(t *testing.T) {
	e := newEnv(t, nil, ormtest.SQLite(t).DB, nil)
	mux := http.NewServeMux()
	mux.Handle("/push", e.h.PushHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/push")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	if errs := e.takeErrors(); len(errs) != 1 || errs[0].Kind != server.KindBadRequest || errs[0].Endpoint != "push" {
		t.Fatalf("errors: %v", errs)
	}
}

// corsServer serves the sync endpoints on method patterns behind the
// CORS middleware for origins.
func corsServer(t *testing.T, e *env, origins ...string) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("POST /sync/push", e.h.PushHandler())
	mux.Handle("POST /sync/pull", e.h.PullHandler())
	srv := httptest.NewServer(server.CORS(origins...)(mux))
	t.Cleanup(srv.Close)
	return srv
}

// preflight sends the preflight a browser sends before a Replicache
// push from origin.
func preflight(t *testing.T, srv *httptest.Server, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/sync/push", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-replicache-requestid")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// originPull sends a pull from origin and returns the response.
func originPull(t *testing.T, srv *httptest.Server, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/sync/pull", strings.NewReader(pullBody("gA", nil)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "ann")
	req.Header.Set("X-Replicache-RequestID", "r-1")
	req.Header.Set("Origin", origin)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCORS(t *testing.T) {
	e := newEnv(t, nil, ormtest.SQLite(t).DB, nil)
	srv := corsServer(t, e, "https://app.example/")

	resp := preflight(t, srv, "https://app.example")
	allow := resp.Header.Get("Access-Control-Allow-Headers")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	for _, h := range []string{"Content-Type", "Authorization", "X-Replicache-RequestID"} {
		if !strings.Contains(allow, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allow, h)
		}
	}
	resp = originPull(t, srv, "https://app.example")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Fatalf("pull from the allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestCORSRefusesOtherOrigins(t *testing.T) {
	e := newEnv(t, nil, ormtest.SQLite(t).DB, nil)
	srv := corsServer(t, e, "https://app.example")
	if resp := preflight(t, srv, "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "" || resp.StatusCode == http.StatusNoContent {
		t.Fatalf("preflight from a foreign origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := originPull(t, srv, "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("pull from a foreign origin: %d %v", resp.StatusCode, resp.Header)
	}
	// Without origins the middleware adds nothing, even on the one-line
	// mount.
	mux := http.NewServeMux()
	mux.Handle("/sync/", e.h)
	off := httptest.NewServer(server.CORS()(mux))
	defer off.Close()
	resp := preflight(t, off, "https://app.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode == http.StatusNoContent {
		t.Fatalf("CORS off: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestCORSAnyOrigin: "*" allows every origin, echoing it back.
func TestCORSAnyOrigin(t *testing.T) {
	e := newEnv(t, nil, ormtest.SQLite(t).DB, nil)
	srv := corsServer(t, e, "*")
	if resp := preflight(t, srv, "https://anywhere.example"); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://anywhere.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
