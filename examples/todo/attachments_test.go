package todo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/files"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/server"
	"github.com/plasma-go/plasma/sync/synctest"
)

// TestAttachFile: the demo's attachments, end to end. ann uploads a
// picture and attaches it to a todo of a list shared with bob; bob's
// pull shows the ref and he downloads it; eve gets 404; deleting the
// todo deletes the attachment and bob's download turns 404. A file's
// bytes in the arguments, or a type outside the allow list, are refused.
func TestAttachFile(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "a server owns its pool", ormtest.ExecTx, ormtest.ExecConn)
		ctx := context.Background()
		store, err := files.Dir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fs, err := todo.NewFiles(ctx, tg.DB, store)
		if err != nil {
			t.Fatal(err)
		}
		e := &env{t: t, tg: tg}
		h, err := todo.NewServer(ctx, tg.DB, server.Options[todo.AppCtx]{OnError: e.errors.Record, Files: fs})
		if err != nil {
			t.Fatal(err)
		}
		e.h, e.srv = h, synctest.Serve(t, h)
		ann, bob := e.client("ann"), e.client("bob")
		ann.mustApply(todo.MutCreateList, `{"id":"L","name":"trip"}`)
		ann.mustApply(todo.MutAddMember, `{"id":"m","listID":"L","userID":"bob"}`)
		ann.mustApply(todo.MutCreateTodo, `{"id":"T","listID":"L","title":"pack"}`)

		pic := []byte("\x89PNG\r\n\x1a\n a picture of a suitcase")
		h256 := files.HashOf(pic).String()
		req := func(method, user, path, ctype string, body []byte) (int, []byte) {
			r, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+user)
			if ctype != "" {
				r.Header.Set("Content-Type", ctype)
			}
			resp, err := e.srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		if st, _ := req("PUT", "ann", "/sync/files/"+h256+"?table=attachments&column=file", "text/html", pic); st != 415 {
			t.Fatalf("text/html upload: %d", st)
		}
		st, body := req("PUT", "ann", "/sync/files/"+h256+"?table=attachments&column=file&name=suitcase.png", "image/png", pic)
		if st != 201 {
			t.Fatalf("upload: %d %s", st, body)
		}
		ann.mustApply(todo.MutAttachFile, `{"id":"A","todoID":"T","file":`+string(body)+`}`)
		ann.mustFail(todo.MutAttachFile, `{"id":"B","todoID":"T","file":"iVBORw0KGgo="}`, nil)

		bob.pull()
		var ref files.Ref
		raw, _ := json.Marshal(bob.Row("attachments/A")["file"])
		if err := json.Unmarshal(raw, &ref); err != nil || ref.Hash.String() != h256 || ref.Name != "suitcase.png" {
			t.Fatalf("bob's attachment: %s (%v)", raw, err)
		}
		if st, got := req("GET", "bob", "/sync/files/"+h256, "", nil); st != 200 || !bytes.Equal(got, pic) {
			t.Fatalf("bob's download: %d", st)
		}
		if st, _ := req("GET", "eve", "/sync/files/"+h256, "", nil); st != 404 {
			t.Fatalf("eve's download: %d", st)
		}
		ann.mustApply(todo.MutDeleteTodo, `{"id":"T"}`)
		if st, _ := req("GET", "bob", "/sync/files/"+h256, "", nil); st != 404 {
			t.Fatalf("download after the todo's deletion: %d", st)
		}
	})
}
