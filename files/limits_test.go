package files_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

var png = append([]byte("\x89PNG\r\n\x1a\n"), []byte("tiny avatar")...)

// TestAvatarLimits: MIME and size limits at upload and at write,
// immutability, and the avatars table's own storage.
func TestAvatarLimits(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		if status, _, body := e.upload("alice", "avatars", "file", "text/html", png); status != 415 {
			t.Fatalf("text/html avatar: %d %s", status, body)
		}
		if status, _, body := e.upload("alice", "avatars", "file", "image/png", make([]byte, 65)); status != 413 {
			t.Fatalf("65-byte avatar: %d %s", status, body)
		}
		ref := e.mustUpload("alice", "avatars", "file", "image/png", png)
		ctx := context.Background()
		if _, err := e.avatars.Head(ctx, ref.Hash); err != nil {
			t.Fatalf("the avatar is not in the avatars storage: %v", err)
		}
		if _, err := e.store.Head(ctx, ref.Hash); !errors.Is(err, files.ErrNotFound) {
			t.Fatalf("the avatar went to the default storage too: %v", err)
		}
		// The blob lives in the avatars storage only: an attachment
		// cannot reference it.
		e.mustPush("alice", "createList", map[string]string{"ID": "L"})
		if err := e.push("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref}); !errors.Is(err, files.ErrNotStored) {
			t.Fatalf("attachment to a blob of another storage: %v", err)
		}

		e.mustPush("alice", "setAvatar", map[string]any{"file": ref})
		e.mustPush("alice", "setAvatar", map[string]any{"file": ref}) // the same ref again
		other := e.mustUpload("alice", "avatars", "file", "image/png", append(png, '!'))
		if err := e.push("alice", "setAvatar", map[string]any{"file": other}); !errors.Is(err, files.ErrImmutable) {
			t.Fatalf("changing an immutable ref: %v", err)
		}
		renamed := ref
		renamed.Name = "new.png"
		if err := e.push("alice", "setAvatar", map[string]any{"file": renamed}); !errors.Is(err, files.ErrImmutable) {
			t.Fatalf("renaming an immutable ref: %v", err)
		}
		if status, _, body := e.download("alice", ref.Hash.String()); status != 200 || body != string(png) {
			t.Fatalf("avatar download: %d", status)
		}

		// Through the ORM directly: every refusal is typed and writes
		// nothing.
		db := e.fsWrites
		sys := rowauth.AsSystem(ctx)
		tooBig := ref
		tooBig.Size = 100
		wrongMIME := ref
		wrongMIME.MIME = "application/pdf"
		wrongSize := ref
		wrongSize.Size = ref.Size + 1
		// Raw non-JSON bytes never reach the check: the ORM refuses them
		// as the wrong kind. An INSERT encodes an expression value as
		// JSON, which is no ref.
		cases := []struct {
			name string
			v    any
			want error
		}{
			{"too large", tooBig, files.ErrTooLarge},
			{"MIME", wrongMIME, files.ErrMIMENotAllowed},
			{"size differs from the blob", wrongSize, files.ErrSizeMismatch},
			{"not stored", files.Ref{Hash: files.HashOf([]byte("x")), Size: 1, MIME: "image/png"}, files.ErrNotStored},
			{"raw bytes", []byte("\x89PNG raw bytes"), orm.ErrValueKind},
			{"base64 text", `"iVBORw0KGgo="`, files.ErrMalformed},
			{"expression", expr.SQL("'{}'"), files.ErrExpression},
			{"malformed JSON object", `{"hash":"sha256:00","size":1,"mime":"image/png"}`, files.ErrMalformed},
		}
		before := e.count(tAvatars)
		for _, c := range cases {
			_, err := db.Insert(tAvatars).Values(orm.Row{"id": "x-" + c.name, "owner_id": "x", "file": c.v}).Exec(sys)
			want := c.want
			if c.name == "expression" {
				want = files.ErrMalformed
			}
			var we *files.WriteError
			var qe *orm.QueryError
			if !errors.Is(err, want) || !(errors.As(err, &we) && we.Table == "avatars" && we.Column == "file" || errors.As(err, &qe)) {
				t.Errorf("%s: insert: %v, want a WriteError wrapping %v", c.name, err, want)
			}
			_, err = db.Update(tAvatars).Set(orm.Row{"file": c.v}).Where(expr.Eq(tAvatars.Col("id"), "alice")).Exec(sys)
			if c.name != "raw bytes" && c.name != "base64 text" && c.name != "expression" && c.name != "malformed JSON object" {
				if !errors.Is(err, files.ErrImmutable) && !errors.Is(err, c.want) {
					t.Errorf("%s: update: %v", c.name, err)
				}
			} else if !errors.Is(err, c.want) {
				t.Errorf("%s: update: %v, want %v", c.name, err, c.want)
			}
		}
		if n := e.count(tAvatars); n != before {
			t.Fatalf("refused writes left rows: %d, want %d", n, before)
		}
		// An upsert may not change an immutable ref either.
		_, err := db.Insert(tAvatars).Values(orm.Row{"id": "alice", "owner_id": "alice", "file": other}).
			OnConflictDoUpdate([]string{"id"}, "file").Exec(sys)
		if !errors.Is(err, files.ErrImmutable) {
			t.Fatalf("upsert over an immutable ref: %v", err)
		}
	})
}

// TestRawBytesRefused: a mutator argument carrying the file's bytes
// instead of a ref is refused, whether the argument is typed as a Ref
// (decoding fails) or passed through as raw JSON (the write check
// fails); nothing is written.
func TestRawBytesRefused(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.mustPush("alice", "createList", map[string]string{"ID": "L"})
		for i, file := range []any{"aGVsbG8gd29ybGQ=", []int{104, 101, 108, 108, 111}, map[string]any{"bytes": "aGVsbG8="}} {
			args := map[string]any{"id": "A", "listID": "L", "file": file}
			if err := e.push("alice", "attach", args); err == nil {
				t.Errorf("%d: attach accepted %v", i, file)
			}
			if err := e.push("alice", "attachRaw", args); !errors.Is(err, files.ErrMalformed) {
				t.Errorf("%d: attachRaw: %v", i, err)
			}
		}
		if n := e.count(tAttachments); n != 0 {
			t.Fatalf("%d attachments written", n)
		}
	})
}

// TestSchemaErrors: an unknown storage name, an unknown column key and a
// bad allow list are refused at startup.
func TestSchemaErrors(t *testing.T) {
	st, _ := files.Dir(t.TempDir())
	bad := orm.NewTable("bad", orm.ID(), orm.File("f")).With(orm.TableOptions{Blobs: "nope"})
	s := orm.MustDefineSchema("1", bad)
	_, err := files.New(context.Background(), files.Options{Schema: s, DB: nil, Storages: map[string]files.Storage{"default": st}})
	if err == nil {
		t.Fatal("nil DB accepted")
	}
	db := openSQLite(t)
	_, err = files.New(context.Background(), files.Options{Schema: s, DB: db, Storages: map[string]files.Storage{"default": st}})
	var se *orm.SchemaError
	if !errors.Is(err, files.ErrUnknownStorage) || !errors.As(err, &se) || se.Table != "bad" {
		t.Fatalf("unknown storage: %v", err)
	}
	_, err = files.New(context.Background(), files.Options{Schema: testSchema, DB: db,
		Storages: map[string]files.Storage{"default": st, "avatars": st}, Columns: map[string]files.ColumnOptions{"lists.name": {}}})
	if !errors.Is(err, files.ErrUnknownColumn) {
		t.Fatalf("unknown column: %v", err)
	}
	_, err = files.New(context.Background(), files.Options{Schema: testSchema, DB: db,
		Storages: map[string]files.Storage{"default": st, "avatars": st}, Columns: map[string]files.ColumnOptions{"avatars.file": {MIMEAllowList: []string{"Image/*"}}}})
	if !errors.Is(err, files.ErrMalformed) {
		t.Fatalf("bad allow list: %v", err)
	}
	_, err = files.New(context.Background(), files.Options{Schema: testSchema, DB: db,
		Storages: map[string]files.Storage{"default": st, "avatars": st}, Columns: map[string]files.ColumnOptions{"avatars.file": {MIMEAllowList: []string{"image/png", "image/*", "text/plain"}}}})
	if err != nil {
		t.Fatalf("a good allow list: %v", err)
	}
	_, err = files.New(context.Background(), files.Options{Schema: testSchema, DB: db, Storages: map[string]files.Storage{"avatars": st}})
	if err == nil {
		t.Fatal("no default storage accepted")
	}
}

// TestNoIdentity: on a database without row auth, code with a bare
// context writes refs under the same limits (the possession rule needs an
// identity, so it does not apply).
func TestNoIdentity(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, "dir", nil)
		ctx := context.Background()
		db := tg.DB.Use(e.fs.Middleware())
		ref := e.mustUpload("alice", "avatars", "file", "image/png", png)
		_, err := db.Insert(tAvatars).Values(orm.Row{"id": "x", "owner_id": "x", "file": ref}).Exec(ctx)
		must(t, err)
		other := e.mustUpload("alice", "avatars", "file", "image/png", append(png, '?'))
		_, err = db.Update(tAvatars).Set(orm.Row{"file": other}).Where(expr.Eq(tAvatars.Col("id"), "x")).Exec(ctx)
		if !errors.Is(err, files.ErrImmutable) {
			t.Fatalf("immutable without identity: %v", err)
		}
		big := ref
		big.Size = 1000
		_, err = db.Insert(tAvatars).Values(orm.Row{"id": "y", "owner_id": "x", "file": big}).Exec(ctx)
		if !errors.Is(err, files.ErrTooLarge) {
			t.Fatalf("limit without identity: %v", err)
		}
	})
}
