package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

var notes = orm.NewTable("notes", orm.ID(), orm.Text("owner_id"), orm.Text("body").Encrypted().Nullable())

var notesSchema = func() *orm.Schema {
	owner := rowauth.Owner(notes.Col("owner_id")).Rule()
	notes.With(orm.TableOptions{Auth: orm.TableAuth{Read: owner, Write: owner}})
	return orm.MustDefineSchema("1", notes)
}()

type putNote struct {
	ID   string          `json:"id"`
	Body json.RawMessage `json:"body"`
}

var notesMutators = mutator.Set[todo.AppCtx]{
	"putNote": mutator.New(func(ctx context.Context, c mutator.Call[todo.AppCtx], a putNote) error {
		_, err := c.DB.Insert(notes).Values(orm.Row{"id": a.ID, "owner_id": c.Ctx.UserID, "body": a.Body}).
			OnConflictDoUpdate([]string{"id"}, "body").Exec(ctx)
		return err
	}),
}

func keyset(t *testing.T, id string) *envelope.Keyset {
	k, err := envelope.GenerateKey(id)
	must(t, err)
	ks, err := envelope.NewKeyset(k)
	must(t, err)
	return ks
}

func rawBody(t *testing.T, c *plasmatest.Client[todo.AppCtx], table, id string) string {
	t.Helper()
	var body string
	rows, err := c.DB().Executor().QueryContext(context.Background(), `SELECT "body" FROM `+table+` WHERE "id" = ?`, id)
	must(t, err)
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row %s in %s: %v", id, table, rows.Err())
	}
	must(t, rows.Scan(&body))
	return body
}

func TestAtRestSealsEncryptedCells(t *testing.T) {
	ctx := context.Background()
	s := plasmatest.NewServer(t, plasmatest.ServerOptions[todo.AppCtx]{Schema: notesSchema, Mutators: notesMutators, Auth: todo.BearerAuth})
	ksAnn, ksBob := keyset(t, "ann-k1"), keyset(t, "bob-k1")
	open := func(user string, ks *envelope.Keyset) *plasmatest.Client[todo.AppCtx] {
		return s.NewClient(plasmatest.ClientOptions[todo.AppCtx]{User: user, Ctx: todo.AppCtx{UserID: user}, Persistent: true,
			Tweak: func(o *client.Options[todo.AppCtx]) { o.AtRest = &client.AtRest{Keys: ks} }})
	}
	ann, bob := open("ann", ksAnn), open("ann", ksBob) // bob: ann's second replica, which only pulls the note
	// The app encrypts end to end (the server accepts only envelopes in
	// an Encrypted() column); at rest the client wraps that envelope again.
	appKey, err := envelope.GenerateKey("app-k")
	must(t, err)
	e2e, err := envelope.Seal(appKey, envelope.Cell{Table: "notes", RowID: "n1", Column: "body"}, []byte("topsecret"))
	must(t, err)
	body, err := json.Marshal(e2e)
	must(t, err)
	marker := base64.StdEncoding.EncodeToString(e2e.Ciphertext)
	must(t, ann.Mutate(ctx, "putNote", putNote{ID: "n1", Body: body}))
	raw := rawBody(t, ann, "notes", "n1")
	if strings.Contains(raw, marker) || !strings.Contains(raw, `"keyId":"ann-k1"`) {
		t.Fatalf("local write stored as %s", raw)
	}
	plain, err := ann.Unseal("notes", "n1", "body", raw)
	if err != nil || string(plain) != string(body) {
		t.Fatalf("unseal: %s %v", plain, err)
	}
	mustConverge(t, ann, bob)
	for _, table := range []string{"notes", "_plasma_srv_notes"} {
		if raw := rawBody(t, bob, table, "n1"); strings.Contains(raw, marker) || !strings.Contains(raw, `"bob-k1"`) {
			t.Fatalf("bob's %s holds %s", table, raw)
		}
	}
	must(t, bob.Close())
	file, err := os.ReadFile(bob.Replica)
	must(t, err)
	wal, _ := os.ReadFile(bob.Replica + "-wal")
	if bytes.Contains(append(file, wal...), []byte(marker)) {
		t.Fatal("the clear text is in bob's replica file")
	}
	bob.Restart() // reopens with the same keys
	if d, err := bob.Diff(ctx); err != nil || d != "" {
		t.Fatalf("after restart: %q %v", d, err)
	}

	// Rotation: every cell re-sealed under the new primary key.
	k2, err := envelope.GenerateKey("ann-k2")
	must(t, err)
	ks2, err := envelope.NewKeyset(k2)
	must(t, err)
	must(t, ann.RotateAtRest(ctx, ks2))
	for _, table := range []string{"notes", "_plasma_srv_notes"} {
		if raw := rawBody(t, ann, table, "n1"); !strings.Contains(raw, `"ann-k2"`) {
			t.Fatalf("ann's %s after rotation: %s", table, raw)
		}
	}
	mustConverge(t, ann)
	if _, err := ann.Unseal("notes", "n1", "body", rawBody(t, ann, "notes", "n1")); err != nil {
		t.Fatal(err)
	}
	// A cell moved to another row does not open.
	if _, err := ann.Unseal("notes", "n2", "body", rawBody(t, ann, "notes", "n1")); !errors.Is(err, client.ErrAtRest) {
		t.Fatalf("moved cell: %v", err)
	}
	if err := ann.RotateAtRest(ctx, nil); !errors.Is(err, client.ErrAtRest) {
		t.Fatalf("nil keyset: %v", err)
	}
}
