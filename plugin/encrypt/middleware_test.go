package encrypt

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var (
	notes = orm.NewTable("enc_notes",
		orm.ID(),
		orm.Text("title"),
		orm.Text("email").Unique().Nullable(),
		orm.Text("body").Encrypted(),
		orm.JSON("meta").Encrypted().Nullable(),
	)
	profiles = orm.NewTable("enc_profiles",
		orm.ID(),
		orm.Text("bio").Encrypted().Nullable(),
	)
	plain = orm.NewTable("enc_plain",
		orm.ID(),
		orm.Text("body"),
	)
	testSchema = orm.MustDefineSchema("enc-1", notes, profiles, plain)
)

// fixture is one database with the schema, a DB with the middleware and
// one without (to look at what was stored), and the keys.
type fixture struct {
	ctx context.Context
	db  *orm.DB // through the middleware
	raw *orm.DB // without it
	ks  *envelope.Keyset
}

func testKey(t testing.TB, id string, b byte) envelope.Key {
	t.Helper()
	k, err := envelope.NewKey(id, bytes.Repeat([]byte{b}, envelope.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func setup(t *testing.T, tg *ormtest.Target, opts Options) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, testSchema, tg.DB); err != nil {
		t.Fatal(err)
	}
	ks, err := envelope.NewKeyset(testKey(t, "k1", 1))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, db: tg.DB.Use(Middleware(opts)), raw: tg.DB, ks: ks}
}

func (f *fixture) seal(t *testing.T, table, row, col, text string) string {
	t.Helper()
	s, err := SealCell(f.ks, table, row, col, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) count(t *testing.T, tbl *orm.Table) int64 {
	t.Helper()
	n, err := orm.Scalar[int64](f.ctx, f.raw.Select(expr.CountAll()).From(tbl))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// body opens the stored body of a note.
func (f *fixture) body(t *testing.T, id string) string {
	t.Helper()
	stored, err := orm.Scalar[string](f.ctx, f.raw.Select(notes.Col("body")).From(notes).Where(expr.Eq(notes.Col("id"), id)))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := OpenCell(f.ks, "enc_notes", id, "body", stored)
	if err != nil {
		t.Fatalf("open %s body: %v", id, err)
	}
	return string(pt)
}

// refused checks that err is an *Error for the cell, wrapping want.
func refused(t *testing.T, err error, op orm.Op, table, col, row string, want ...error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *encrypt.Error, got %v", err)
	}
	if e.Op != op || e.Table != table || e.Column != col || e.RowID != row {
		t.Errorf("refusal names %s %s/%s.%s, want %s %s/%s.%s (%v)", e.Op, e.Table, e.RowID, e.Column, op, table, row, col, err)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("%v does not wrap %v", err, w)
		}
	}
}

type valuer string

func (v valuer) Value() (driver.Value, error) { return string(v), nil }

func TestInsertAcceptsAndRoundTrips(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		row := orm.Row{
			"id": "n1", "title": "t",
			"body": f.seal(t, "enc_notes", "n1", "body", "secret body"),
			"meta": f.seal(t, "enc_notes", "n1", "meta", `{"tags":["a"]}`),
		}
		if _, err := f.db.Insert(notes).Values(row).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n1"); got != "secret body" {
			t.Errorf("body %q", got)
		}
		// A JSON-kind encrypted column read with Maps comes back decoded;
		// OpenCell takes that too.
		rows, err := orm.Maps(f.ctx, f.raw.Select(notes.Col("meta")).From(notes))
		if err != nil || len(rows) != 1 {
			t.Fatal(rows, err)
		}
		pt, err := OpenCell(f.ks, "enc_notes", "n1", "meta", rows[0]["meta"])
		if err != nil || string(pt) != `{"tags":["a"]}` {
			t.Errorf("meta %q %v", pt, err)
		}
		// An *envelope.Envelope value is encoded by the orm and accepted.
		env, err := f.ks.Seal(envelope.Cell{Table: "enc_notes", RowID: "n2", Column: "body"}, []byte("two"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.Insert(notes).Values(orm.Row{"id": "n2", "title": "t", "body": env, "meta": nil}).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n2"); got != "two" {
			t.Errorf("body %q", got)
		}
		// A driver.Valuer holding an envelope is accepted too.
		v := valuer(f.seal(t, "enc_notes", "n3", "body", "three"))
		if _, err := f.db.Insert(notes).Values(orm.Row{"id": "n3", "title": "t", "body": v}).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n3"); got != "three" {
			t.Errorf("body %q", got)
		}
		// Tables without encrypted columns are not touched.
		if _, err := f.db.Insert(plain).Values(orm.Row{"id": "p1", "body": "clear"}).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInsertRefusesPlaintext(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		type ssn struct{ SSN string }
		for name, v := range map[string]any{
			"json object":   `{"ssn":"123-45-6789"}`,
			"json string":   `"123-45-6789"`,
			"struct":        ssn{"123-45-6789"},
			"number":        json123(),
			"valuer":        valuer("123-45-6789"),
			"valuer object": valuer(`{"v":1}`),
		} {
			_, err := f.db.Insert(notes).Values(orm.Row{"id": "n1", "title": "t", "body": v}).Exec(f.ctx)
			refused(t, err, orm.OpInsert, "enc_notes", "body", "n1", ErrNotEnvelope)
			if err != nil && strings.Contains(err.Error(), "45-6789") {
				t.Errorf("%s: the error shows the plaintext: %v", name, err)
			}
		}
		// The nullable JSON column refuses plaintext too.
		_, err := f.db.Insert(notes).Values(orm.Row{"id": "n1", "title": "t",
			"body": f.seal(t, "enc_notes", "n1", "body", "ok"), "meta": map[string]any{"x": 1}}).Exec(f.ctx)
		refused(t, err, orm.OpInsert, "enc_notes", "meta", "n1", ErrNotEnvelope, envelope.ErrMalformed)
		if n := f.count(t, notes); n != 0 {
			t.Errorf("%d rows written", n)
		}
	})
}

func json123() any { return 123 }

func TestInsertRefusesForeignCell(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		for _, env := range map[string]string{
			"other row":    f.seal(t, "enc_notes", "n2", "body", "x"),
			"other column": f.seal(t, "enc_notes", "n1", "meta", "x"),
			"other table":  f.seal(t, "enc_profiles", "n1", "body", "x"),
		} {
			_, err := f.db.Insert(notes).Values(orm.Row{"id": "n1", "title": "t", "body": env}).Exec(f.ctx)
			refused(t, err, orm.OpInsert, "enc_notes", "body", "n1", envelope.ErrCellMismatch)
		}
		// An insert without the id cannot be bound to a row.
		_, err := f.db.Insert(profiles).Values(orm.Row{"bio": f.seal(t, "enc_profiles", "u1", "bio", "x")}).Exec(f.ctx)
		refused(t, err, orm.OpInsert, "enc_profiles", "bio", "", ErrNoRowID)
		if n := f.count(t, notes) + f.count(t, profiles); n != 0 {
			t.Errorf("%d rows written", n)
		}
	})
}

func TestInsertRefusesInvalidEnvelopes(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{Limits: envelope.Limits{MaxCiphertextBytes: 512, AllowedKeyIDs: []string{"k1"}}})
		ins := func(body string) error {
			_, err := f.db.Insert(notes).Values(orm.Row{"id": "n1", "title": "t", "body": body}).Exec(f.ctx)
			return err
		}
		// Oversized.
		big := f.seal(t, "enc_notes", "n1", "body", strings.Repeat("x", 1024))
		refused(t, ins(big), orm.OpInsert, "enc_notes", "body", "n1", envelope.ErrTooLarge)
		// Sealed with a key id the limits do not allow.
		other, err := envelope.NewKeyset(testKey(t, "k2", 2))
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := SealCell(other, "enc_notes", "n1", "body", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		refused(t, ins(foreign), orm.OpInsert, "enc_notes", "body", "n1", envelope.ErrUnknownKey)
		// Truncated ciphertext (shorter than a tag).
		ok := f.seal(t, "enc_notes", "n1", "body", "x")
		cut := replaceField(t, ok, "ct", "AAAA")
		refused(t, ins(cut), orm.OpInsert, "enc_notes", "body", "n1", envelope.ErrTruncated)
		// A placeholder-suite envelope is refused unless allowed.
		ph, err := envelope.NewInsecurePlaceholderProvider(envelope.PlaceholderOptions{AllowInsecure: true})
		if err != nil {
			t.Fatal(err)
		}
		priv, err := ph.GenerateKey("k1")
		if err != nil {
			t.Fatal(err)
		}
		phEnv, err := SealCellPQ(ph, priv.PublicKey(), "enc_notes", "n1", "body", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		refused(t, ins(phEnv), orm.OpInsert, "enc_notes", "body", "n1", envelope.ErrUnsupportedSuite)
		// A valid one within the limits is accepted.
		if err := ins(ok); err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n1"); got != "x" {
			t.Errorf("body %q", got)
		}
	})
}

// replaceField sets a string field of an envelope's JSON text.
func replaceField(t *testing.T, env, field, value string) string {
	t.Helper()
	i := strings.Index(env, `"`+field+`":"`)
	if i < 0 {
		t.Fatalf("no %s in %s", field, env)
	}
	start := i + len(field) + 4
	end := start + strings.IndexByte(env[start:], '"')
	return env[:start] + value + env[end:]
}

func TestMultiRowInsertWritesNothing(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		_, err := f.db.Insert(notes).Values(
			orm.Row{"id": "n1", "title": "t", "body": f.seal(t, "enc_notes", "n1", "body", "one")},
			orm.Row{"id": "n2", "title": "t", "body": f.seal(t, "enc_notes", "n2", "body", "two")},
			orm.Row{"id": "n3", "title": "t", "body": f.seal(t, "enc_notes", "n2", "body", "copied from n2")},
		).Exec(f.ctx)
		refused(t, err, orm.OpInsert, "enc_notes", "body", "n3", envelope.ErrCellMismatch)
		if n := f.count(t, notes); n != 0 {
			t.Errorf("%d rows written", n)
		}
		// NULL in a nullable encrypted column is accepted.
		if _, err := f.db.Insert(notes).Values(
			orm.Row{"id": "n1", "title": "t", "body": f.seal(t, "enc_notes", "n1", "body", "one"), "meta": nil},
			orm.Row{"id": "n2", "title": "t", "body": f.seal(t, "enc_notes", "n2", "body", "two"), "meta": f.seal(t, "enc_notes", "n2", "meta", "{}")},
		).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, notes); n != 2 {
			t.Errorf("%d rows written", n)
		}
	})
}

// seedNotes inserts n1 and n2, both titled "same".
func seedNotes(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := f.db.Insert(notes).Values(
		orm.Row{"id": "n1", "title": "same", "email": "a@x", "body": f.seal(t, "enc_notes", "n1", "body", "old1")},
		orm.Row{"id": "n2", "title": "same", "email": "b@x", "body": f.seal(t, "enc_notes", "n2", "body", "old2")},
	).Exec(f.ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUpdate(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		seedNotes(t, f)
		id := notes.Col("id")
		upd := func(body any, where ...expr.Expr) error {
			_, err := f.db.Update(notes).Set(orm.Row{"body": body}).Where(where...).Exec(f.ctx)
			return err
		}
		// The row the envelope names.
		if err := upd(f.seal(t, "enc_notes", "n1", "body", "new1"), expr.Eq(id, "n1")); err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n1"); got != "new1" {
			t.Errorf("n1 %q", got)
		}
		// A WHERE matching two rows: refused, naming the other row.
		err := upd(f.seal(t, "enc_notes", "n1", "body", "both"), expr.Eq(notes.Col("title"), "same"))
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "n2", envelope.ErrCellMismatch)
		// Another row than the envelope's.
		err = upd(f.seal(t, "enc_notes", "n1", "body", "wrong"), expr.Eq(id, "n2"))
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "n2", envelope.ErrCellMismatch)
		// Another column's or table's envelope.
		err = upd(f.seal(t, "enc_notes", "n1", "meta", "wrong"), expr.Eq(id, "n1"))
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "n1", envelope.ErrCellMismatch)
		err = upd(f.seal(t, "enc_profiles", "n1", "body", "wrong"), expr.Eq(id, "n1"))
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "n1", envelope.ErrCellMismatch)
		// Plaintext.
		err = upd(`{"plain":"text"}`, expr.Eq(id, "n1"))
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "", ErrNotEnvelope)
		// Two envelopes naming different rows in one UPDATE.
		_, err = f.db.Update(notes).Set(orm.Row{
			"body": f.seal(t, "enc_notes", "n1", "body", "x"),
			"meta": f.seal(t, "enc_notes", "n2", "meta", "{}"),
		}).Where(expr.Eq(id, "n1")).Exec(f.ctx)
		refused(t, err, orm.OpUpdate, "enc_notes", "meta", "n1", envelope.ErrCellMismatch)
		// An SQL expression cannot be checked; a bound parameter can.
		err = upd(expr.SQL("body"), expr.Eq(id, "n1"))
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "", ErrUnverifiable)
		if err := upd(expr.Bind(f.seal(t, "enc_notes", "n1", "body", "bound")), expr.Eq(id, "n1")); err != nil {
			t.Fatal(err)
		}
		// Nothing refused was written.
		if a, b := f.body(t, "n1"), f.body(t, "n2"); a != "bound" || b != "old2" {
			t.Errorf("bodies %q %q", a, b)
		}
		// A WHERE matching only the named row (and a missing one) is fine.
		if err := upd(f.seal(t, "enc_notes", "n2", "body", "new2"), expr.InArray(id, []string{"n2", "n9"})); err != nil {
			t.Fatal(err)
		}
		// NULL may be written to many rows; the plaintext column freely.
		n, err := f.db.Update(notes).Set(orm.Row{"meta": nil, "title": "t2"}).AllRows().Exec(f.ctx)
		if err != nil || n != 2 {
			t.Fatalf("NULL update: %d %v", n, err)
		}
		// An unsafe UPDATE is still the orm's to refuse.
		_, err = f.db.Update(notes).Set(orm.Row{"body": f.seal(t, "enc_notes", "n1", "body", "x")}).Exec(f.ctx)
		if !errors.Is(err, orm.ErrUnsafeWrite) {
			t.Errorf("unsafe update: %v", err)
		}
		if a, b := f.body(t, "n1"), f.body(t, "n2"); a != "bound" || b != "new2" {
			t.Errorf("bodies %q %q", a, b)
		}
	})
}

func TestUpdateInTransactionAndReturning(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		seedNotes(t, f)
		id := notes.Col("id")
		// In the caller's transaction: a refusal leaves it usable.
		err := f.db.Tx(f.ctx, func(tx *orm.Tx) error {
			_, err := tx.Update(notes).Set(orm.Row{"body": f.seal(t, "enc_notes", "n1", "body", "x")}).
				Where(expr.Eq(notes.Col("title"), "same")).Exec(f.ctx)
			refused(t, err, orm.OpUpdate, "enc_notes", "body", "n2", envelope.ErrCellMismatch)
			_, err = tx.Update(notes).Set(orm.Row{"body": f.seal(t, "enc_notes", "n1", "body", "in tx")}).
				Where(expr.Eq(id, "n1")).Exec(f.ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n1"); got != "in tx" {
			t.Errorf("n1 %q", got)
		}
		// RETURNING outside a transaction: committed when the rows close.
		got, err := orm.All[string](f.ctx, f.db.Update(notes).
			Set(orm.Row{"body": f.seal(t, "enc_notes", "n2", "body", "returned")}).
			Where(expr.Eq(id, "n2")).Returning(id))
		if err != nil || len(got) != 1 || got[0] != "n2" {
			t.Fatalf("returning %v %v", got, err)
		}
		if got := f.body(t, "n2"); got != "returned" {
			t.Errorf("n2 %q", got)
		}
		// And on the raw pool, to be sure it was committed.
		var stored string
		if err := tg.SQL.QueryRowContext(f.ctx, `SELECT body FROM enc_notes WHERE id = 'n2'`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if pt, err := OpenCell(f.ks, "enc_notes", "n2", "body", stored); err != nil || string(pt) != "returned" {
			t.Errorf("committed %q %v", pt, err)
		}
	})
}

func TestUpdateChangingID(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		seedNotes(t, f)
		id := notes.Col("id")
		// n1's body names n1: moving the row would strand it.
		_, err := f.db.Update(notes).Set(orm.Row{"id": "n9"}).Where(expr.Eq(id, "n1")).Exec(f.ctx)
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "n1", envelope.ErrCellMismatch)
		// Re-sealing for the new id in the same UPDATE is fine.
		_, err = f.db.Update(notes).Set(orm.Row{"id": "n9", "body": f.seal(t, "enc_notes", "n9", "body", "moved")}).
			Where(expr.Eq(id, "n1")).Exec(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n9"); got != "moved" {
			t.Errorf("n9 %q", got)
		}
		// But not for another id than the new one.
		_, err = f.db.Update(notes).Set(orm.Row{"id": "n8", "body": f.seal(t, "enc_notes", "n9", "body", "x")}).
			Where(expr.Eq(id, "n9")).Exec(f.ctx)
		refused(t, err, orm.OpUpdate, "enc_notes", "body", "n8", envelope.ErrCellMismatch)
	})
}

func TestUpsert(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		seedNotes(t, f)
		// Conflict on id: the DO UPDATE writes the row the envelope names.
		_, err := f.db.Insert(notes).Values(orm.Row{"id": "n1", "title": "t", "body": f.seal(t, "enc_notes", "n1", "body", "upserted")}).
			OnConflictDoUpdate([]string{"id"}, "body").Exec(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n1"); got != "upserted" {
			t.Errorf("n1 %q", got)
		}
		// A foreign envelope in an upsert is refused like in an insert.
		_, err = f.db.Insert(notes).Values(orm.Row{"id": "n1", "title": "t", "body": f.seal(t, "enc_notes", "n2", "body", "x")}).
			OnConflictDoUpdate([]string{"id"}, "body").Exec(f.ctx)
		refused(t, err, orm.OpInsert, "enc_notes", "body", "n1", envelope.ErrCellMismatch)
		// Conflict on email with n1: the DO UPDATE would put n3's envelope
		// into n1.
		_, err = f.db.Insert(notes).Values(orm.Row{"id": "n3", "title": "t", "email": "a@x", "body": f.seal(t, "enc_notes", "n3", "body", "x")}).
			OnConflictDoUpdate([]string{"email"}, "body").Exec(f.ctx)
		refused(t, err, orm.OpInsert, "enc_notes", "body", "n1", envelope.ErrCellMismatch)
		if got := f.body(t, "n1"); got != "upserted" {
			t.Errorf("n1 %q", got)
		}
		// Without a conflict the same upsert inserts.
		_, err = f.db.Insert(notes).Values(orm.Row{"id": "n3", "title": "t", "email": "c@x", "body": f.seal(t, "enc_notes", "n3", "body", "three")}).
			OnConflictDoUpdate([]string{"email"}, "body").Exec(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A DO UPDATE of plaintext columns only is fine.
		_, err = f.db.Insert(notes).Values(orm.Row{"id": "n4", "title": "renamed", "email": "a@x", "body": f.seal(t, "enc_notes", "n4", "body", "x")}).
			OnConflictDoUpdate([]string{"email"}, "title").Exec(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The default DO UPDATE list sets the id too, moving n1 (whose
		// body is replaced for the new id): accepted.
		_, err = f.db.Insert(notes).Values(orm.Row{"id": "n5", "title": "t", "email": "a@x", "body": f.seal(t, "enc_notes", "n5", "body", "five")}).
			OnConflictDoUpdate([]string{"email"}).Exec(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.body(t, "n5"); got != "five" {
			t.Errorf("n5 %q", got)
		}
		if n := f.count(t, notes); n != 3 {
			t.Errorf("%d rows", n)
		}
	})
}

func TestPQEnvelope(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		p := envelope.NewHPKEProvider()
		priv, err := p.GenerateKey("pq1")
		if err != nil {
			t.Fatal(err)
		}
		env, err := SealCellPQ(p, priv.PublicKey(), "enc_profiles", "u1", "bio", []byte("post-quantum"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.Insert(profiles).Values(orm.Row{"id": "u1", "bio": env}).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		stored, err := orm.Scalar[[]byte](f.ctx, f.raw.Select(profiles.Col("bio")).From(profiles))
		if err != nil {
			t.Fatal(err)
		}
		pt, err := OpenCellPQ(p, priv, "enc_profiles", "u1", "bio", stored)
		if err != nil || string(pt) != "post-quantum" {
			t.Errorf("open %q %v", pt, err)
		}
		if _, err := OpenCell(f.ks, "enc_profiles", "u1", "bio", stored); !errors.Is(err, envelope.ErrUnsupportedSuite) {
			t.Errorf("OpenCell on a PQ envelope: %v", err)
		}
		// A PQ envelope for another row is refused like an AES one.
		other, err := SealCellPQ(p, priv.PublicKey(), "enc_profiles", "u1", "bio", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.db.Insert(profiles).Values(orm.Row{"id": "u2", "bio": other}).Exec(f.ctx)
		refused(t, err, orm.OpInsert, "enc_profiles", "bio", "u2", envelope.ErrCellMismatch)
		// And it updates like one.
		again, err := SealCellPQ(p, priv.PublicKey(), "enc_profiles", "u1", "bio", []byte("again"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.Update(profiles).Set(orm.Row{"bio": again}).Where(expr.Eq(profiles.Col("id"), "u1")).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestUpdateRunsInOneTransaction: outside a transaction, the lookup and
// the UPDATE run in one the middleware opens, and the UPDATE carries the
// guard that keeps it to the checked row.
func TestUpdateRunsInOneTransaction(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		f := setup(t, tg, Options{})
		seedNotes(t, f)
		type seen struct {
			op   orm.Op
			inTx bool
			sql  string
		}
		var log []seen
		record := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				s := seen{op: st.Op, inTx: st.DB.IsTx()}
				if r, ok := st.Query.(interface {
					Render(dialect.Dialect) (string, []any, error)
				}); ok {
					s.sql, _, _ = r.Render(st.DB.Dialect())
				}
				log = append(log, s)
				return next(ctx, st)
			}
		}
		db := f.db.Use(record)
		_, err := db.Update(notes).Set(orm.Row{"body": f.seal(t, "enc_notes", "n1", "body", "x")}).
			Where(expr.Eq(notes.Col("title"), "same"), expr.Eq(notes.Col("id"), "n1")).Exec(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || log[0].op != orm.OpSelect || log[1].op != orm.OpUpdate || !log[0].inTx || !log[1].inTx {
			t.Fatalf("statements %+v", log)
		}
		if !strings.Contains(log[1].sql, "NOT (") || !strings.Contains(log[1].sql, `"enc_notes"."id" <> `) {
			t.Errorf("the UPDATE has no guard: %s", log[1].sql)
		}
		// A NULL write needs no lookup and no transaction.
		log = nil
		if _, err := db.Update(notes).Set(orm.Row{"meta": nil}).AllRows().Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || log[0].inTx {
			t.Errorf("statements %+v", log)
		}
	})
}
