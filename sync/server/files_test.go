package server_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// recordingFiles is a FileServer that answers with the identity and
// path it was given.
type recordingFiles struct{}

func (recordingFiles) ServeFiles(w http.ResponseWriter, r *http.Request, id rowauth.Identity) {
	io.WriteString(w, id.UserID+" "+r.Method+" "+r.URL.Path)
}

// TestFilesMount: Options.Files is served under {BasePath}/files/ by
// ServeHTTP and wherever FilesHandler is mounted, after Auth; without
// it, the paths are 404.
func TestFilesMount(t *testing.T) {
	db := ormtest.SQLite(t).DB
	withFiles := newEnv(t, nil, db, func(o *server.Options[appCtx]) { o.Files = recordingFiles{} })
	without := newEnv(t, nil, db, nil)
	mux := http.NewServeMux()
	mux.Handle("/blobs/", withFiles.h.FilesHandler())
	mux.Handle("/nofiles/", without.h.FilesHandler())
	own := httptest.NewServer(mux)
	defer own.Close()

	get := func(url, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get(withFiles.srv.URL+"/sync/files/sha256:ab", "ann"); st != 200 || body != "ann GET /sync/files/sha256:ab" {
		t.Fatalf("ServeHTTP: %d %q", st, body)
	}
	if st, _ := get(withFiles.srv.URL+"/sync/files/sha256:ab", ""); st != 401 {
		t.Fatalf("unauthenticated: %d", st)
	}
	if st, _ := get(without.srv.URL+"/sync/files/sha256:ab", "ann"); st != 404 {
		t.Fatalf("without Files: %d", st)
	}
	if st, body := get(own.URL+"/blobs/sha256:cd", "bo"); st != 200 || body != "bo GET /blobs/sha256:cd" {
		t.Fatalf("FilesHandler: %d %q", st, body)
	}
	if st, _ := get(own.URL+"/nofiles/sha256:cd", "bo"); st != 404 {
		t.Fatalf("FilesHandler without Files: %d", st)
	}
	withFiles.takeErrors()
}

// TestFilesCORS: a preflight from an allowed origin allows the file
// endpoints' methods and headers; a response exposes the download's.
func TestFilesCORS(t *testing.T) {
	h := server.CORS("https://app.example")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	pre := httptest.NewRequest(http.MethodOptions, "/sync/files/x", nil)
	pre.Header.Set("Origin", "https://app.example")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, pre)
	m, hd := rec.Header().Get("Access-Control-Allow-Methods"), rec.Header().Get("Access-Control-Allow-Headers")
	for _, want := range []string{"PUT", "GET", "HEAD", "POST"} {
		if !strings.Contains(m, want) {
			t.Errorf("preflight methods %q lack %s", m, want)
		}
	}
	if !strings.Contains(hd, "Range") {
		t.Errorf("preflight headers %q lack Range", hd)
	}
	get := httptest.NewRequest(http.MethodGet, "/sync/files/x", nil)
	get.Header.Set("Origin", "https://app.example")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, get)
	if !strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("expose headers: %q", rec.Header().Get("Access-Control-Expose-Headers"))
	}
}

// TestBlobsNeedFiles: a table naming a blob storage is refused at
// startup by a handler without Options.Files.
func TestBlobsNeedFiles(t *testing.T) {
	tb := orm.NewTable("pics", orm.ID(), orm.File("f")).With(orm.TableOptions{Blobs: "pictures"})
	s := orm.MustDefineSchema("1", tb)
	_, err := server.NewHandler(server.Options[appCtx]{Schema: s, DB: ormtest.SQLite(t).DB, Mutators: testMutators, Auth: testAuth})
	var se *orm.SchemaError
	if !errors.Is(err, server.ErrBlobsWithoutFiles) || !errors.As(err, &se) || se.Table != "pics" {
		t.Fatalf("NewHandler: %v", err)
	}
}
