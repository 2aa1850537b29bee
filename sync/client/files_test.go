package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
	"github.com/plasma-go/plasma/sync/server"
)

// withFiles gives the test server the todo example's files service on a
// directory storage.
func withFiles(t *testing.T) func(*plasmatest.ServerOptions[todo.AppCtx]) {
	return func(o *plasmatest.ServerOptions[todo.AppCtx]) {
		o.Tweak = func(so *server.Options[todo.AppCtx]) {
			store, err := files.Dir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			fs, err := todo.NewFiles(context.Background(), so.DB, store)
			if err != nil {
				t.Fatal(err)
			}
			so.Files, so.DB = fs, so.DB.Use(fs.Middleware())
		}
	}
}

// TestUploadDownload: a file uploaded with Upload (from a seekable body,
// a plain reader, or with its hash given) is attached with a mutation,
// downloaded by another member with Download, and refused to a user who
// may not read it; the server's refusals of an upload are ServerErrors.
func TestUploadDownload(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		s := newServer(t, engine, withFiles(t))
		ann, bob, eve := newClient(s, "ann"), newClient(s, "bob"), newClient(s, "eve")
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L", Name: "trip"}))
		must(ann.Mutate(ctx, todo.MutAddMember, todo.AddMember{ID: "m", ListID: "L", UserID: "bob"}))
		must(ann.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "T", ListID: "L", Title: "pack"}))

		pic := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("suitcase "), 20000)...)
		up := client.FileUpload{Table: "attachments", Column: "file", Size: int64(len(pic)), MIME: "image/png", Name: "case.png"}
		for _, body := range []io.Reader{bytes.NewReader(pic), io.MultiReader(bytes.NewReader(pic))} {
			up.Body = body
			ref, err := ann.Upload(ctx, up)
			must(err)
			if ref.Hash != files.HashOf(pic) || ref.Size != int64(len(pic)) || ref.MIME != "image/png" || ref.Name != "case.png" {
				t.Fatalf("ref %+v", ref)
			}
		}
		up.Body, up.Hash = bytes.NewReader(pic), files.HashOf(pic)
		ref, err := ann.Upload(ctx, up)
		must(err)
		must(ann.Mutate(ctx, todo.MutAttachFile, todo.AttachFile{ID: "A", TodoID: "T", File: ref}))
		must(ann.Flush(ctx))

		var got bytes.Buffer
		must(bob.Download(ctx, ref, &got))
		if !bytes.Equal(got.Bytes(), pic) {
			t.Fatalf("bob downloaded %d bytes", got.Len())
		}
		var se *client.ServerError
		if err := eve.Download(ctx, ref, io.Discard); !errors.As(err, &se) || se.Status != 404 || se.Kind != "NotFound" {
			t.Fatalf("eve's download: %v", err)
		}

		zip := []byte("PK\x03\x04")
		_, err = ann.Upload(ctx, client.FileUpload{Table: "attachments", Column: "file", Body: bytes.NewReader(zip), Size: 4, MIME: "application/zip"})
		if !errors.As(err, &se) || se.Status != 415 || se.Kind != "MIMENotAllowed" || se.Endpoint != "files" || se.Temporary() {
			t.Fatalf("zip upload: %v", err)
		}
		big := make([]byte, todo.MaxAttachmentBytes+1)
		_, err = ann.Upload(ctx, client.FileUpload{Table: "attachments", Column: "file", Body: bytes.NewReader(big), Size: int64(len(big)), MIME: "text/plain"})
		if !errors.As(err, &se) || se.Status != 413 || se.Kind != "TooLarge" {
			t.Fatalf("oversized upload: %v", err)
		}
		// A body shorter than its Size fails before anything is sent.
		if _, err := ann.Upload(ctx, client.FileUpload{Table: "attachments", Column: "file", Body: strings.NewReader("abc"), Size: 4, MIME: "text/plain"}); err == nil || errors.As(err, &se) {
			t.Fatalf("short body: %v", err)
		}
		// A hash that is not the body's: the server refuses it (422).
		_, err = ann.Upload(ctx, client.FileUpload{Table: "attachments", Column: "file", Body: strings.NewReader("abcd"), Size: 4, MIME: "text/plain", Hash: files.HashOf([]byte("other"))})
		if !errors.As(err, &se) || se.Status != 422 {
			t.Fatalf("lying hash: %v", err)
		}
		empty, err := ann.Upload(ctx, client.FileUpload{Table: "attachments", Column: "file", Body: strings.NewReader(""), MIME: "text/plain"})
		if err != nil || empty.Size != 0 {
			t.Fatalf("empty file: %+v %v", empty, err)
		}
		ann.SetOffline(true)
		if _, err := ann.Upload(ctx, up); !errors.Is(err, client.ErrOffline) {
			t.Fatalf("offline upload: %v", err)
		}
	})
}

// TestFilesHostileServer: answers that are not the file sent or asked
// for are refused with ErrBadResponse.
func TestFilesHostileServer(t *testing.T) {
	data := []byte("the real file")
	ref := files.Ref{Hash: files.HashOf(data), Size: int64(len(data)), MIME: "text/plain"}
	answers := map[string]func(w http.ResponseWriter){
		"other ref": func(w http.ResponseWriter) {
			w.WriteHeader(201)
			io.WriteString(w, `{"hash":"`+files.HashOf([]byte("x")).String()+`","size":13,"mime":"text/plain"}`)
		},
		"other size": func(w http.ResponseWriter) {
			w.WriteHeader(201)
			io.WriteString(w, `{"hash":"`+ref.Hash.String()+`","size":14,"mime":"text/plain"}`)
		},
		"not a ref":    func(w http.ResponseWriter) { w.WriteHeader(200); io.WriteString(w, `{"hash":"sha256:../../etc"}`) },
		"huge answer":  func(w http.ResponseWriter) { w.WriteHeader(200); w.Write(bytes.Repeat([]byte(" "), 1<<20)) },
		"wrong bytes":  func(w http.ResponseWriter) { w.Write([]byte("the fake file")) },
		"longer":       func(w http.ResponseWriter) { w.Write(append(data, "and more"...)) },
		"endless":      func(w http.ResponseWriter) { w.Write(bytes.Repeat(data, 100000)) },
		"shorter":      func(w http.ResponseWriter) { w.(http.Flusher).Flush(); w.Write(data[:5]) },
		"wrong length": func(w http.ResponseWriter) { w.Header().Set("Content-Length", "5"); w.Write(data[:5]) },
	}
	var answer func(w http.ResponseWriter)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		answer(w)
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := client.Open(ctx, client.Options[todo.AppCtx]{Server: srv.URL + "/sync", Schema: todo.Schema, Mutators: todo.Mutators})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range []string{"other ref", "other size", "not a ref", "huge answer"} {
		answer = answers[name]
		_, err := c.Upload(ctx, client.FileUpload{Table: "t", Column: "c", Body: bytes.NewReader(data), Size: ref.Size, MIME: ref.MIME})
		if !errors.Is(err, client.ErrBadResponse) {
			t.Errorf("upload, %s: %v", name, err)
		}
	}
	for _, name := range []string{"wrong bytes", "longer", "endless", "shorter", "wrong length"} {
		answer = answers[name]
		var got bytes.Buffer
		err := c.Download(ctx, ref, &got)
		if !errors.Is(err, client.ErrBadResponse) || got.Len() > len(data)+1 {
			t.Errorf("download, %s: %v (%d bytes written)", name, err, got.Len())
		}
	}
	if err := c.Download(ctx, files.Ref{Hash: ref.Hash, Size: -1, MIME: "text/plain"}, io.Discard); err == nil {
		t.Error("a malformed ref was downloaded")
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestUploadRefusedBeforeBody: a large upload waits for the server's
// go-ahead (Expect: 100-continue), so one the server refuses up front (a
// limit, a full quota) does not send its body.
func TestUploadRefusedBeforeBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"QuotaExceeded","message":"full"}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := client.Open(ctx, client.Options[todo.AppCtx]{Server: srv.URL + "/sync", Schema: todo.Schema, Mutators: todo.Mutators})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := make([]byte, 8<<20)
	body := &countingReader{r: bytes.NewReader(data)}
	_, err = c.Upload(ctx, client.FileUpload{Table: "t", Column: "c", Body: body, Size: int64(len(data)), MIME: "text/plain", Hash: files.HashOf(data)})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Status != 429 || se.Kind != "QuotaExceeded" || !se.Temporary() {
		t.Fatalf("refused upload: %v", err)
	}
	if body.n != 0 {
		t.Fatalf("%d bytes of the body were sent to a server that refused it", body.n)
	}
}
