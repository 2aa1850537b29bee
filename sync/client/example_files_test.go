package client_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/server"
)

// A file travels by upload, then ref: Upload returns the ref a mutator
// writes into a row, and Download fetches (and checks) the bytes.
func ExampleClient_Upload() {
	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	dir, err := os.MkdirTemp("", "blobs")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := files.Dir(dir)
	if err != nil {
		panic(err)
	}
	fs, err := todo.NewFiles(ctx, db, store)
	if err != nil {
		panic(err)
	}
	h, err := todo.NewServer(ctx, db, server.Options[todo.AppCtx]{Files: fs})
	if err != nil {
		panic(err)
	}
	defer h.Close(ctx)
	mux := http.NewServeMux()
	mux.Handle("/sync/", h) // push, pull and /sync/files/
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := client.Open(ctx, client.Options[todo.AppCtx]{
		Server: srv.URL + "/sync", Schema: todo.Schema, Mutators: todo.Mutators,
		Auth: client.Bearer(func(context.Context) (string, error) { return "alice", nil }),
		Ctx:  todo.AppCtx{UserID: "alice"},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_ = c.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "groceries"})
	_ = c.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "milk"})

	list := []byte("milk, eggs, bread")
	ref, err := c.Upload(ctx, client.FileUpload{Table: "attachments", Column: "file",
		Body: bytes.NewReader(list), Size: int64(len(list)), MIME: "text/plain", Name: "list.txt"})
	fmt.Println(ref.Size, ref.MIME, ref.Name, err)
	err = c.Mutate(ctx, todo.MutAttachFile, todo.AttachFile{ID: "a1", TodoID: "t1", File: ref})
	fmt.Println("attached:", err, c.Flush(ctx))

	var got bytes.Buffer
	err = c.Download(ctx, ref, &got)
	fmt.Println(got.String(), err)
	// Output:
	// 17 text/plain list.txt <nil>
	// attached: <nil> <nil>
	// milk, eggs, bread <nil>
}
