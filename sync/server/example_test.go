package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

// The application: notes that only their owner may read and write.
var (
	exNotes = orm.NewTable("notes", orm.ID(), orm.Text("owner_id"), orm.Text("text")).
		With(orm.TableOptions{Auth: orm.TableAuth{
			Read:  rowauth.Owner(expr.ColRef("notes", "owner_id")).Rule(),
			Write: rowauth.Owner(expr.ColRef("notes", "owner_id")).Rule(),
		}})
	exSchema = orm.MustDefineSchema("1", exNotes)
)

// User is the application's context for a request.
type User struct{ ID string }

// AddNote is the argument of the addNote mutator.
type AddNote struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Validate refuses empty notes; the mutation then fails permanently.
func (a AddNote) Validate() error {
	if a.Text == "" {
		return errors.New("empty note")
	}
	return nil
}

var exMutators = mutator.Set[User]{
	"addNote": mutator.New(func(ctx context.Context, c mutator.Call[User], a AddNote) error {
		_, err := c.DB.Insert(exNotes).Values(orm.Row{"id": a.ID, "owner_id": c.Ctx.ID, "text": a.Text}).Exec(ctx)
		return err
	}),
}

func ExampleNewHandler() {
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	h, err := server.NewHandler(server.Options[User]{
		Schema:   exSchema,
		DB:       db,
		Mutators: exMutators,
		// A stand-in: a real app verifies a session token here.
		Auth: func(r *http.Request) (rowauth.Identity, User, error) {
			uid, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || uid == "" {
				return rowauth.Identity{}, User{}, errors.New("not signed in")
			}
			return rowauth.Identity{UserID: uid}, User{ID: uid}, nil
		},
		OnError: func(ctx context.Context, err *server.Error) {
			fmt.Println("reported:", err.Kind, err.Mutator)
		},
	})
	if err != nil {
		panic(err)
	}
	defer h.Close(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/sync/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, body string) string {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer ann")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", string(b))
	}
	fmt.Println(post("/sync/push", `{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1",
		"mutations":[{"clientID":"c1","id":1,"name":"addNote","args":{"id":"n1","text":"hello"},"timestamp":1},
		             {"clientID":"c1","id":2,"name":"addNote","args":{"id":"n2","text":""},"timestamp":2}]}`))

	status := post("/sync/pull", `{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":null}`)
	var resp protocol.PullResponse
	_ = json.Unmarshal([]byte(strings.TrimPrefix(status, "200 ")), &resp)
	fmt.Println(resp.LastMutationIDChanges)
	for _, op := range resp.Patch {
		fmt.Println(strings.TrimSpace(fmt.Sprint(op.Op, " ", op.Key, " ", string(op.Value))))
	}
	// Output:
	// reported: MutatorFailed addNote
	// 200 {}
	// map[c1:2]
	// clear
	// put notes/n1 {"id":"n1","owner_id":"ann","text":"hello"}
}
