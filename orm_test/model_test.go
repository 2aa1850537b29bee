package ormtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/encrypt"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

// kindModel writes every column of the kinds table from a struct, with
// the field types an application would use.
type kindModel struct {
	ID   string  `db:"id"`
	Flag *bool   `db:"flag"`
	N    *int    `db:"n"`
	Big  int64   `db:"big"`
	Txt  *string `db:"txt"`
	Data []byte  `db:"data"`
	Doc  any     `db:"doc"`
}

func ptr[T any](v T) *T { return &v }

// TestModelWritesKinds writes every column kind from structs (one, a
// pointer, a slice, a slice of pointers), reads the rows back, and checks
// they equal the same rows written from maps, on every engine and driver.
func TestModelWritesKinds(t *testing.T) {
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	models := []kindModel{
		{ID: "k1", Flag: ptr(true), N: ptr(math.MaxInt32), Big: math.MaxInt64, Txt: ptr("héllo 'q' \"dq\" \\"), Data: blob,
			Doc: map[string]any{"n": 1.5, "big": json.Number("12345678901"), "s": []string{"a"}, "null": nil}},
		{ID: "k2", Flag: ptr(false), N: ptr(math.MinInt32), Big: math.MinInt64, Txt: ptr(""), Data: []byte{}, Doc: json.RawMessage(`[1,"two",null]`)},
		{ID: "k3", Big: 1<<53 + 1}, // NULLs: nil pointers, a nil slice, a nil any
		{ID: "k4", Flag: ptr(true), N: ptr(0), Big: -(1<<53 + 1), Txt: ptr("x"), Data: []byte{0}, Doc: "a JSON string"},
	}
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		if err := orm.EnsureSchema(ctx, qKindsSchema, db); err != nil {
			t.Fatal(err)
		}
		mustN(t)(db.Insert(qKinds).Model(models[0]).Exec(ctx))
		mustN(t)(db.Insert(qKinds).Model(&models[1]).Exec(ctx))
		mustN(t)(db.Insert(qKinds).Model(models[2:3]).Exec(ctx))
		mustN(t)(db.Insert(qKinds).Model([]*kindModel{&models[3]}).Exec(ctx))
		all := db.Select().From(qKinds).OrderBy(expr.Asc(qKinds.Col("id")))
		byStruct, err := orm.Maps(ctx, all)
		if err != nil {
			t.Fatal(err)
		}

		// The same rows from maps, into an empty table.
		if _, err := db.Delete(qKinds).AllRows().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rows := make([]orm.Row, len(models))
		for i, m := range models {
			rows[i] = orm.Row{"id": m.ID, "flag": m.Flag, "n": m.N, "big": m.Big, "txt": m.Txt, "data": m.Data, "doc": m.Doc}
		}
		rows[2]["data"], rows[2]["doc"] = nil, nil
		mustN(t)(db.Insert(qKinds).Values(rows...).Exec(ctx))
		byMap, err := orm.Maps(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(byStruct, byMap) {
			t.Errorf("struct writes differ from map writes:\n  struct %v\n  map    %v", byStruct, byMap)
		}
		if len(byStruct) != 4 || !bytes.Equal(byStruct[0]["data"].([]byte), blob) || byStruct[0]["big"] != int64(math.MaxInt64) ||
			byStruct[1]["big"] != int64(math.MinInt64) || len(byStruct[1]["data"].([]byte)) != 0 || byStruct[2]["data"] != nil ||
			byStruct[2]["flag"] != nil || byStruct[2]["txt"] != nil || byStruct[2]["doc"] != nil || byStruct[2]["n"] != nil {
			t.Errorf("struct writes read back as %v", byStruct)
		}
		rec("rows", byStruct)

		// Update from a struct: every mapped field but the id is assigned.
		upd := kindModel{ID: "ignored", Flag: ptr(false), N: ptr(7), Big: 8, Txt: ptr("set"), Data: []byte{1, 2}, Doc: map[string]any{"a": true}}
		mustN(t)(db.Update(qKinds).Set(&upd).Where(expr.Eq(qKinds.Col("id"), "k3")).Exec(ctx))
		got, err := orm.One[kindModel](ctx, db.Select().From(qKinds).Where(expr.Eq(qKinds.Col("id"), "k3")))
		if err != nil {
			t.Fatal(err)
		}
		upd.ID = "k3"
		if !reflect.DeepEqual(got, upd) {
			t.Errorf("after Set(struct): %+v, want %+v", got, upd)
		}
		rec("updated", got)
	})
}

// TestModelBadInput checks that a value that cannot be written is refused
// with a clear error, before anything reaches the database.
func TestModelBadInput(t *testing.T) {
	type unknownField struct {
		ID    string `db:"id"`
		Name  string `db:"name"`
		Extra string // no column "extra"
	}
	type unexported struct {
		ID   string `db:"id"`
		name string `db:"name"`
	}
	type skipped struct {
		ID    string `db:"id"`
		Name  string `db:"name"`
		Cache string `db:"-"`
	}
	type wrongKind struct {
		ID   string `db:"id"`
		Name int64  `db:"name"`
	}
	type other struct {
		ID string `db:"id"`
	}
	var nilPerson *skipped
	cases := []struct {
		name string
		v    any
		want error
		in   string // in the message
	}{
		{"unknown field", unknownField{ID: "x1", Name: "x"}, orm.ErrBadModel, "field Extra matches no column of people"},
		{"unexported tagged field", unexported{ID: "x1", name: "x"}, orm.ErrBadModel, "field name has a db tag but is unexported"},
		{"nil pointer", nilPerson, orm.ErrBadModel, "nil *ormtest_test.skipped"},
		{"nil", nil, orm.ErrBadModel, "nil"},
		{"not a struct", 42, orm.ErrBadModel, "int is not a struct"},
		{"slice of non-structs", []string{"a"}, orm.ErrBadModel, "element 0: string is not a struct"},
		{"nil element", []*skipped{{ID: "x1", Name: "x"}, nil}, orm.ErrBadModel, "element 1: nil"},
		{"mixed types", []any{skipped{ID: "x1", Name: "x"}, other{ID: "x2"}}, orm.ErrBadModel, "use a slice of one struct type"},
		{"wrong kind", wrongKind{ID: "x1", Name: 1}, orm.ErrValueKind, "people.name"},
		{"empty slice", []skipped{}, orm.ErrNoValues, "empty"},
	}
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, db := seed(t, tg)
		count := func() int64 {
			n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qPeople))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		for _, c := range cases {
			for _, run := range []struct {
				how string
				do  func() (int64, error)
			}{
				{"insert", func() (int64, error) { return db.Insert(qPeople).Model(c.v).Exec(ctx) }},
				{"update", func() (int64, error) {
					return db.Update(qPeople).Set(c.v).Where(expr.Eq(pc("id"), "p1")).Exec(ctx)
				}},
			} {
				if run.how == "update" && (c.name == "empty slice" || strings.Contains(c.name, "element") || c.name == "mixed types" || c.name == "slice of non-structs") {
					continue
				}
				// Twice: the first use finds the problem, the second
				// reports it again from the cached mapping.
				for range 2 {
					_, err := run.do()
					var qe *orm.QueryError
					if !errors.Is(err, c.want) || !errors.As(err, &qe) || !strings.Contains(err.Error(), c.in) {
						t.Errorf("%s %s: %v, want %v mentioning %q", run.how, c.name, err, c.want, c.in)
					}
				}
			}
		}
		// A slice given to Set is refused too.
		if _, err := db.Update(qPeople).Set([]skipped{{ID: "p1"}}).Where(expr.Eq(pc("id"), "p1")).Exec(ctx); !errors.Is(err, orm.ErrBadModel) {
			t.Errorf("Set(slice): %v", err)
		}
		// A bad row after good ones writes none of them.
		if _, err := db.Insert(qPeople).Model([]any{skipped{ID: "x1", Name: "x"}, unknownField{ID: "x2"}}).Exec(ctx); err == nil {
			t.Error("mixed good and bad rows: no error")
		}
		if n := count(); n != before {
			t.Errorf("refused writes changed the table: %d rows, had %d", n, before)
		}
		p1, err := orm.One[person](ctx, db.Select().From(qPeople).Where(expr.Eq(pc("id"), "p1")))
		if err != nil || p1.Name != "ann" {
			t.Errorf("refused updates changed p1: %+v %v", p1, err)
		}
		// db:"-" leaves a field out.
		mustN(t)(db.Insert(qPeople).Model(skipped{ID: "x9", Name: "zed", Cache: "not a column"}).Exec(ctx))
	})
}

// Notes and noteModel are the synced table of TestModelThroughPlugins:
// row auth (owner only), an encrypted column, a CRDT counter, and the
// change log.
var (
	noteOwner   = rowauth.Owner(expr.ColRef("model_notes", "owner_id")).Rule()
	notes       = testschema.ModelNotes().With(orm.TableOptions{Auth: orm.TableAuth{Read: noteOwner, Write: noteOwner}})
	notesSchema = orm.MustDefineSchema("1", notes)
)

type noteModel struct {
	ID      string         `db:"id"`
	OwnerID string         `db:"owner_id"`
	Title   string         `db:"title"`
	Secret  string         `db:"secret"`
	Likes   *crdt.GCounter `db:"likes"`
}

type noteLikes struct {
	Likes crdtcol.Op `db:"likes"`
}

// TestModelThroughPlugins writes the same rows from maps and from structs
// through serverdb's stack (row auth, encrypted-column checks, CRDT
// merging, the change log) and checks that each plugin treats them alike:
// the same refusals, the same merged state, the same change rows.
func TestModelThroughPlugins(t *testing.T) {
	key, _ := envelope.NewKey("k1", bytes.Repeat([]byte{7}, envelope.KeySize))
	ks, _ := envelope.NewKeyset(key)
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db, err := serverdb.New(ctx, notesSchema, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		ann := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "ann"})
		seal := func(id string) string {
			s, err := encrypt.SealCell(ks, "model_notes", id, "secret", []byte("psst"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		var likes crdt.GCounter
		if err := likes.Increment("c1", 2); err != nil {
			t.Fatal(err)
		}
		type outcome struct {
			forbidden, plaintext error
			row                  map[string]any
			change               map[string]any
		}
		write := func(id string, useStruct bool) outcome {
			var o outcome
			sealed := seal(id)
			insert := func(m noteModel) error {
				q := db.Insert(notes)
				if useStruct {
					q = q.Model(&m)
				} else {
					q = q.Values(orm.Row{"id": m.ID, "owner_id": m.OwnerID, "title": m.Title, "secret": m.Secret, "likes": m.Likes})
				}
				_, err := q.Exec(ann)
				return err
			}
			// Row auth: ann may not write bob's row.
			o.forbidden = insert(noteModel{ID: id, OwnerID: "bob", Title: "t", Secret: sealed, Likes: &likes})
			// Encryption: plaintext in the encrypted column is refused.
			o.plaintext = insert(noteModel{ID: id, OwnerID: "ann", Title: "t", Secret: `"psst"`, Likes: &likes})
			if err := insert(noteModel{ID: id, OwnerID: "ann", Title: "t", Secret: sealed, Likes: &likes}); err != nil {
				t.Fatalf("insert %s: %v", id, err)
			}
			// CRDT merging: an increment op, then a stale state that must
			// not lower what is stored.
			upd := db.Update(notes).Where(expr.Eq(notes.Col("id"), id))
			var err error
			if useStruct {
				_, err = upd.Set(noteLikes{Likes: crdtcol.Incr(3)}).Exec(changelog.WithOrigin(ann, "c1", 1))
			} else {
				_, err = upd.Set(orm.Row{"likes": crdtcol.Incr(3)}).Exec(changelog.WithOrigin(ann, "c1", 1))
			}
			if err != nil {
				t.Fatalf("increment %s: %v", id, err)
			}
			upd = db.Update(notes).Where(expr.Eq(notes.Col("id"), id))
			stale := noteModel{ID: id, OwnerID: "ann", Title: "t2", Secret: sealed, Likes: &likes}
			if useStruct {
				_, err = upd.Set(stale).Exec(ann)
			} else {
				_, err = upd.Set(orm.Row{"owner_id": "ann", "title": "t2", "secret": sealed, "likes": &likes}).Exec(ann)
			}
			if err != nil {
				t.Fatalf("update %s: %v", id, err)
			}
			rows, err := orm.Maps(ann, db.Select().From(notes).Where(expr.Eq(notes.Col("id"), id)))
			if err != nil || len(rows) != 1 {
				t.Fatalf("read %s: %v %v", id, rows, err)
			}
			o.row = rows[0]
			changes, _, err := changelog.ChangesSince(ctx, tg.DB, changelog.DefaultRegion, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range changes {
				if c.RowID == id {
					if err := json.Unmarshal(c.Row, &o.change); err != nil {
						t.Fatal(err)
					}
				}
			}
			if o.change == nil {
				t.Fatalf("no change row for %s", id)
			}
			if plain, err := encrypt.OpenCell(ks, "model_notes", id, "secret", o.row["secret"]); err != nil || string(plain) != "psst" {
				t.Errorf("%s: the stored envelope opens to %q, %v", id, plain, err)
			}
			for _, m := range []map[string]any{o.row, o.change} {
				delete(m, "id")
				delete(m, "secret")
			}
			return o
		}
		m, s := write("viaMap", false), write("viaStruct", true)
		if !errors.Is(m.forbidden, rowauth.ErrOutsideRule) || !errors.Is(s.forbidden, rowauth.ErrOutsideRule) {
			t.Errorf("row auth: map %v, struct %v", m.forbidden, s.forbidden)
		}
		if !errors.Is(m.plaintext, encrypt.ErrNotEnvelope) || !errors.Is(s.plaintext, encrypt.ErrNotEnvelope) {
			t.Errorf("encryption: map %v, struct %v", m.plaintext, s.plaintext)
		}
		if !reflect.DeepEqual(m.row, s.row) || !reflect.DeepEqual(m.change, s.change) {
			t.Errorf("map and struct writes differ:\n  rows    %v\n          %v\n  changes %v\n          %v", m.row, s.row, m.change, s.change)
		}
		if c, _ := crdt.DecodeGCounter([]byte(mustJSON(t, s.row["likes"])), crdt.Limits{}); c == nil || c.Read() < 3 {
			t.Errorf("merged likes: %v", s.row["likes"])
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// personModel fills every column of the people table.
type personModel struct {
	ID     string `db:"id"`
	Name   string `db:"name"`
	Age    int    `db:"age"`
	Team   string `db:"team"`
	Score  int64  `db:"score"`
	Active bool   `db:"active"`
}

// TestModelValuesAreCopied: Model reads the structs when it is called
// (their strings and integers are kept in arrays of the statement's own,
// not in the caller's structs), so changing them before Exec, or reusing
// one variable for several calls, writes what each call saw; a
// middleware that replaces a row writes the replacement, and one that
// leaves the rows alone writes them all, through any executor.
func TestModelValuesAreCopied(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, qSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		batch := make([]personModel, 50)
		for i := range batch {
			batch[i] = personModel{ID: fmt.Sprintf("m%02d", i), Name: strings.Repeat("n", i), Age: 1000 + i, Team: "t" + strconv.Itoa(i),
				Score: int64(i) << 40, Active: i%2 == 0}
		}
		want := slices.Clone(batch)
		q := tg.DB.Insert(qPeople).Model(batch)
		for i := range batch { // the caller reuses its slice before the insert runs
			batch[i] = personModel{ID: "x" + strconv.Itoa(i), Name: "changed", Age: -1, Score: -1}
		}
		churn() // the statement's values must outlive a collection
		mustN(t)(q.Exec(ctx))

		// One variable, reused for each call.
		q = tg.DB.Insert(qPeople)
		var p personModel
		for i := range 3 {
			p = personModel{ID: "r" + strconv.Itoa(i), Name: "reused", Age: i, Team: "r", Score: int64(i), Active: true}
			want = append(want, p)
			q = q.Model(&p)
		}
		p.Name = "after"
		mustN(t)(q.Exec(ctx))

		// A middleware that replaces the second row of a plain insert.
		swap := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if iq, ok := st.Query.(*orm.InsertQuery); ok && len(iq.Parts().Rows) == 3 {
					c, parts := iq.Rewrite()
					parts.Rows[1] = []any{"s1", "swapped", int64(7), "s", int64(70), false}
					st.Query = c
				}
				return next(ctx, st)
			}
		}
		mw := orm.New(tg.Executor, tg.Dialect, swap)
		in := []personModel{{ID: "s0", Name: "a"}, {ID: "sX", Name: "b"}, {ID: "s2", Name: "c"}}
		for range 2 { // the second run finds the text cached
			mustN(t)(mw.Insert(qPeople).Model(in).Exec(ctx))
			if _, err := tg.DB.Delete(qPeople).Where(expr.Like(pc("id"), "s%")).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		mustN(t)(mw.Insert(qPeople).Model(in).Exec(ctx))
		want = append(want, in[0], personModel{ID: "s1", Name: "swapped", Age: 7, Team: "s", Score: 70}, in[2])

		got, err := orm.All[personModel](ctx, tg.DB.Select().From(qPeople).OrderBy(expr.Asc(pc("id"))))
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(want, func(a, b personModel) int { return strings.Compare(a.ID, b.ID) })
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read back %d rows:\n  %+v\nwant %d:\n  %+v", len(got), got, len(want), want)
		}
		rec("rows", got)
	})
}

// churn allocates and collects, so that values held only by a dangling
// pointer would be overwritten.
func churn() {
	for range 3 {
		junk := make([][]byte, 1000)
		for i := range junk {
			junk[i] = bytes.Repeat([]byte{0xAA}, 64)
		}
		runtime.GC()
	}
}
