package files_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
)

// Example wires the files service into a sync handler, uploads a file
// and writes its ref into a row.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "plasma-files-example")
	defer os.RemoveAll(dir)
	db, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	docs := orm.NewTable("docs", orm.ID(), orm.Text("owner_id"), orm.File("file"))
	own := rowauth.Owner(docs.Col("owner_id")).Rule()
	docs.With(orm.TableOptions{Auth: orm.TableAuth{Read: own, Write: own}})
	schema := orm.MustDefineSchema("1", docs)

	store, _ := files.Dir(filepath.Join(dir, "blobs"))
	fs, err := files.New(ctx, files.Options{
		Schema: schema, DB: db,
		Storages: map[string]files.Storage{files.DefaultStorage: store},
		Columns:  map[string]files.ColumnOptions{"docs.file": {MaxSize: 1 << 20, MIMEAllowList: []string{"text/*"}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := server.NewHandler(server.Options[struct{}]{
		Schema: schema, DB: db.Use(fs.Middleware()), Mutators: mutator.Set[struct{}]{}, Files: fs,
		Auth: func(r *http.Request) (rowauth.Identity, struct{}, error) {
			return rowauth.Identity{UserID: r.Header.Get("Authorization")}, struct{}{}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	data := []byte("hello, files")
	req, _ := http.NewRequest(http.MethodPut,
		srv.URL+"/sync/files/"+files.HashOf(data).String()+"?table=docs&column=file", bytes.NewReader(data))
	req.Header.Set("Authorization", "alice")
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("upload:", resp.Status)

	ref := files.Ref{Hash: files.HashOf(data), Size: int64(len(data)), MIME: "text/plain", Name: "hello.txt"}
	alice := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "alice"})
	_, err = h.DB().Insert(docs).Values(orm.Row{"id": "d1", "owner_id": "alice", "file": ref}).Exec(alice)
	fmt.Println("ref written:", err == nil)

	// mallory knows the hash but neither uploaded the bytes nor may
	// read d1: her ref is refused as if the blob were not stored.
	mallory := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "mallory"})
	_, err = h.DB().Insert(docs).Values(orm.Row{"id": "d2", "owner_id": "mallory", "file": ref}).Exec(mallory)
	fmt.Println(err)
	// Output:
	// upload: 201 Created
	// ref written: true
	// files: docs.file (sha256:9cd4f647ecf5ca799777561a61b5b1d54ce927d82473044d0adcde31e4c360e6): blob not stored (upload it first)
}
