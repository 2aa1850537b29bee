package migrate_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/tabledef"
)

// fresh returns another empty database of tg's dialect.
func fresh(t *testing.T, tg *ormtest.Target) *ormtest.Target {
	if tg.Name == "sqlite" {
		return ormtest.SQLite(t)
	}
	return ormtest.Postgres(t)
}

// The GORM bug: a database created from a schema must diff empty against
// it, for every kind and modifier, whether EnsureSchema or Run created it,
// and stay empty run after run.
func TestUnchangedDatabaseDiffsEmpty(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		s := schema(t, "1", testschema.AllKinds()...)
		if err := orm.EnsureSchema(ctx, s, tg.DB); err != nil {
			t.Fatal(err)
		}
		diff := mustDiff(t, s, tg.DB)
		if !diff.Empty() || len(diff.Untracked) > 0 || len(diff.SQL) > 0 {
			t.Fatalf("EnsureSchema'd database: want an empty diff, got:\n%s%v", diff, diff.SQL)
		}
		first := run(t, s, tg.DB)
		if !first.Empty() || !first.Applied {
			t.Fatalf("first Run should only record the version: %+v", first)
		}
		again := run(t, s, tg.DB)
		if !again.Empty() || again.Applied || again.RecordedVersion != "1" {
			t.Fatalf("second Run: %+v", again)
		}
		// Introspected kinds come back as declared once a Run recorded them.
		live, err := migrate.Introspect(ctx, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range s.Tables() {
			lt := live.Table(tb.Name())
			for _, c := range tb.Def().Columns {
				lc := lt.Column(c.Name)
				if lc == nil || lc.Kind != c.Kind || lc.Encrypted != c.Encrypted {
					t.Errorf("%s.%s: introspected %+v, declared %s encrypted=%v", tb.Name(), c.Name, lc, c.Kind, c.Encrypted)
				}
			}
		}

		// A database Run created from nothing diffs empty too.
		other := fresh(t, tg)
		created := run(t, s, other.DB)
		if len(created.Steps) != len(s.Tables()) {
			t.Fatalf("want one add table step per table, got %v", ops(created))
		}
		for _, st := range created.Steps {
			if st.Op != migrate.OpAddTable {
				t.Fatalf("unexpected step %s", st)
			}
		}
		assertEmpty(t, s, other.DB)
		if d := run(t, s, other.DB); !d.Empty() || d.Applied {
			t.Fatalf("Run after Run: %+v", d)
		}
	})
}

// The base schema of the step tests: users, and notes that belong to a
// user (ON DELETE CASCADE).
func users(extra ...orm.Column) *orm.Table {
	return orm.NewTable("users", append([]orm.Column{orm.ID(), orm.Text("name"), orm.Text("email").Nullable()}, extra...)...)
}

func notes(opts orm.TableOptions, extra ...orm.Column) *orm.Table {
	return orm.NewTable("notes", append([]orm.Column{
		orm.ID(), orm.Text("body"), orm.Int("n").Default(0),
		orm.Text("user_id").References("users", "id", tabledef.Cascade),
	}, extra...)...).With(opts)
}

func base() []*orm.Table { return []*orm.Table{users(), notes(orm.TableOptions{})} }

func seed(t testing.TB, db *orm.DB) {
	exec(t, db, `INSERT INTO users (id, name, email) VALUES ('u1', 'ann', 'ann@x'), ('u2', 'bob', 'bob@x')`)
	exec(t, db, `INSERT INTO notes (id, body, n, user_id) VALUES ('n1', 'one', 1, 'u1'), ('n2', 'two', 2, 'u1'), ('n3', 'three', 3, 'u2')`)
}

// intact checks that the seeded rows are all there, unchanged.
func intact(t testing.TB, db *orm.DB) {
	t.Helper()
	if n := count(t, db, "users"); n != 2 {
		t.Errorf("users: %d rows, want 2", n)
	}
	if n := count(t, db, "notes"); n != 3 {
		t.Errorf("notes: %d rows, want 3", n)
	}
	got := value[string](t, db, `SELECT body || ':' || CAST(n AS TEXT) || ':' || user_id FROM notes WHERE id = 'n3'`)
	if got != "three:3:u2" {
		t.Errorf("notes n3 = %q", got)
	}
	if got := value[string](t, db, `SELECT name || ':' || email FROM users WHERE id = 'u1'`); got != "ann:ann@x" {
		t.Errorf("users u1 = %q", got)
	}
}

func TestAdditiveSteps(t *testing.T) {
	cases := []struct {
		name  string
		v2    func() []*orm.Table
		want  []string
		check func(t *testing.T, tg *ormtest.Target)
	}{
		{
			name: "table added",
			v2: func() []*orm.Table {
				return append(base(), orm.NewTable("tags", orm.ID(), orm.Text("label"), orm.Text("note_id").References("notes", "id", tabledef.Cascade)))
			},
			want: []string{"add table tags"},
			check: func(t *testing.T, tg *ormtest.Target) {
				exec(t, tg.DB, `INSERT INTO tags (id, label, note_id) VALUES ('t1', 'x', 'n1')`)
			},
		},
		{
			name: "tables in a reference cycle added",
			v2: func() []*orm.Table {
				return append(base(),
					orm.NewTable("a", orm.ID(), orm.Text("b_id").Nullable().References("b", "id", tabledef.SetNull)),
					orm.NewTable("b", orm.ID(), orm.Text("a_id").Nullable().References("a", "id", tabledef.Cascade)))
			},
			want: []string{"add table b", "add table a"}, // a references b: b first
			check: func(t *testing.T, tg *ormtest.Target) {
				exec(t, tg.DB, `INSERT INTO a (id) VALUES ('a1')`)
				exec(t, tg.DB, `INSERT INTO b (id, a_id) VALUES ('b1', 'a1')`)
				exec(t, tg.DB, `UPDATE a SET b_id = 'b1'`)
				exec(t, tg.DB, `DELETE FROM a`)
				if n := count(t, tg.DB, "b"); n != 0 {
					t.Errorf("ON DELETE CASCADE across the cycle: %d rows left", n)
				}
			},
		},
		{
			name: "nullable column added",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{}, orm.Text("title").Nullable())}
			},
			want: []string{"add column notes.title"},
			check: func(t *testing.T, tg *ormtest.Target) {
				if n := value[int64](t, tg.DB, `SELECT COUNT(*) FROM notes WHERE title IS NULL`); n != 3 {
					t.Errorf("%d NULL titles", n)
				}
			},
		},
		{
			name: "NOT NULL column with a default added",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{}, orm.Boolean("pinned").Default(true), orm.JSON("meta").Default(map[string]int{"v": 1}))}
			},
			want: []string{"add column notes.pinned", "add column notes.meta"},
			check: func(t *testing.T, tg *ormtest.Target) {
				if n := value[int64](t, tg.DB, `SELECT COUNT(*) FROM notes WHERE pinned = ?`, true); n != 3 {
					t.Errorf("%d rows got the default", n)
				}
			},
		},
		{
			name: "foreign key column added",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{}, orm.Text("editor_id").Nullable().References("users", "id", tabledef.SetNull))}
			},
			want: []string{"add column notes.editor_id"},
			check: func(t *testing.T, tg *ormtest.Target) {
				exec(t, tg.DB, `UPDATE notes SET editor_id = 'u2' WHERE id = 'n1'`)
				if _, err := tg.DB.Exec(ctx, `UPDATE notes SET editor_id = 'nobody' WHERE id = 'n1'`); err == nil {
					t.Error("the new foreign key is not enforced")
				}
			},
		},
		{
			name: "index added",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_n", Columns: []string{"n", "body"}}}})}
			},
			want: []string{"add index notes.notes_n"},
		},
		{
			name: "unique index added",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_body", Columns: []string{"body"}, Unique: true}}})}
			},
			want: []string{"add index notes.notes_body"},
			check: func(t *testing.T, tg *ormtest.Target) {
				if _, err := tg.DB.Exec(ctx, `INSERT INTO notes (id, body, user_id) VALUES ('n4', 'one', 'u1')`); err == nil {
					t.Error("the unique index is not enforced")
				}
			},
		},
		{
			// On SQLite this rebuilds users, which notes reference with ON
			// DELETE CASCADE: the notes must survive.
			name: "unique constraint added",
			v2: func() []*orm.Table {
				return []*orm.Table{orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Text("email").Nullable().Unique()), notes(orm.TableOptions{})}
			},
			want: []string{"add unique users.email"},
			check: func(t *testing.T, tg *ormtest.Target) {
				if _, err := tg.DB.Exec(ctx, `INSERT INTO users (id, name, email) VALUES ('u3', 'cat', 'ann@x')`); err == nil {
					t.Error("the unique constraint is not enforced")
				}
				exec(t, tg.DB, `DELETE FROM users WHERE id = 'u2'`)
				if n := count(t, tg.DB, "notes"); n != 2 {
					t.Errorf("ON DELETE CASCADE lost in the rebuild: %d notes", n)
				}
			},
		},
		{
			name: "unique column added",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{}, orm.Text("slug").Nullable().Unique())}
			},
			want: []string{"add column notes.slug"},
		},
		{
			name: "NOT NULL relaxed",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), orm.NewTable("notes", orm.ID(), orm.Text("body").Nullable(), orm.Int("n").Default(0),
					orm.Text("user_id").References("users", "id", tabledef.Cascade))}
			},
			want: []string{"drop not null notes.body"},
			check: func(t *testing.T, tg *ormtest.Target) {
				exec(t, tg.DB, `INSERT INTO notes (id, body, user_id) VALUES ('n4', NULL, 'u1')`)
			},
		},
		{
			name: "default changed",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.Int("n").Default(5),
					orm.Text("user_id").References("users", "id", tabledef.Cascade))}
			},
			want: []string{"change default notes.n"},
			check: func(t *testing.T, tg *ormtest.Target) {
				exec(t, tg.DB, `INSERT INTO notes (id, body, user_id) VALUES ('n4', 'four', 'u1')`)
				if n := value[int64](t, tg.DB, `SELECT n FROM notes WHERE id = 'n4'`); n != 5 {
					t.Errorf("new default not used: %d", n)
				}
			},
		},
		{
			name: "NOT NULL column without a default added to an empty table",
			v2: func() []*orm.Table {
				return append(base(), orm.NewTable("empty", orm.ID(), orm.Text("color")))
			},
			want: []string{"add table empty"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			each(t, func(t *testing.T, tg *ormtest.Target) {
				v1 := schema(t, "1", base()...)
				if err := orm.EnsureSchema(ctx, v1, tg.DB); err != nil {
					t.Fatal(err)
				}
				seed(t, tg.DB)
				v2 := schema(t, "2", c.v2()...)
				var progressed []string
				diff, err := migrate.Run(ctx, v2, tg.DB, migrate.Options{Progress: func(s migrate.Step) { progressed = append(progressed, s.ID()) }})
				if err != nil {
					t.Fatalf("%v\n%s", err, diff)
				}
				if got := ops(diff); !slices.Equal(got, c.want) {
					t.Fatalf("steps %v, want %v\n%s", got, c.want, diff)
				}
				if !slices.Equal(progressed, c.want) {
					t.Errorf("progress reported %v", progressed)
				}
				if !diff.Applied || len(diff.Destructive()) > 0 {
					t.Fatalf("%+v", diff)
				}
				intact(t, tg.DB)
				assertEmpty(t, v2, tg.DB)
				if c.check != nil {
					c.check(t, tg)
				}
				if d := run(t, v2, tg.DB); !d.Empty() || d.Applied {
					t.Fatalf("second Run: %+v", d)
				}
			})
		})
	}
	// The empty-table case needs the table to exist first: do it on its own.
	t.Run("NOT NULL column without a default added to an existing empty table", func(t *testing.T) {
		each(t, func(t *testing.T, tg *ormtest.Target) {
			run(t, schema(t, "1", append(base(), orm.NewTable("empty", orm.ID()))...), tg.DB)
			seed(t, tg.DB)
			v2 := schema(t, "2", append(base(), orm.NewTable("empty", orm.ID(), orm.Text("color")))...)
			if got := ops(run(t, v2, tg.DB)); !slices.Equal(got, []string{"add column empty.color"}) {
				t.Fatalf("steps %v", got)
			}
			intact(t, tg.DB)
			assertEmpty(t, v2, tg.DB)
		})
	})
}

func TestDestructiveStepsRefused(t *testing.T) {
	cases := []struct {
		name  string
		v1    func() []*orm.Table // default base()
		v2    func() []*orm.Table
		want  []string // the refused steps
		allow []migrate.Allowance
		check func(t *testing.T, tg *ormtest.Target)
	}{
		{
			name: "column dropped",
			v2: func() []*orm.Table {
				return []*orm.Table{orm.NewTable("users", orm.ID(), orm.Text("name")), notes(orm.TableOptions{})}
			},
			want:  []string{"drop column users.email"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpDropColumn, "users", "email")},
			check: func(t *testing.T, tg *ormtest.Target) {
				if n := count(t, tg.DB, "notes"); n != 3 {
					t.Errorf("notes: %d rows", n)
				}
			},
		},
		{
			name:  "table dropped",
			v1:    func() []*orm.Table { return append(base(), orm.NewTable("tags", orm.ID())) },
			v2:    base,
			want:  []string{"drop table tags"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpDropTable, "tags", "")},
		},
		{
			name: "kind changed",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.BigInt("n").Default(0),
					orm.Text("user_id").References("users", "id", tabledef.Cascade))}
			},
			want:  []string{"change kind notes.n"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpChangeKind, "notes", "n")},
			check: func(t *testing.T, tg *ormtest.Target) {
				exec(t, tg.DB, `UPDATE notes SET n = ? WHERE id = 'n1'`, int64(1)<<40)
			},
		},
		{
			name: "kind changed within one SQL type",
			v1: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{}, orm.Text("meta").Nullable())}
			},
			v2: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{}, orm.CRDTLWWRegister("meta").Nullable())}
			},
			want:  []string{"change kind notes.meta"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpChangeKind, "notes", "meta")},
		},
		{
			name: "nullability tightened",
			v2: func() []*orm.Table {
				return []*orm.Table{orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Text("email")), notes(orm.TableOptions{})}
			},
			want:  []string{"set not null users.email"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpSetNotNull, "users", "email")},
			check: func(t *testing.T, tg *ormtest.Target) {
				if _, err := tg.DB.Exec(ctx, `INSERT INTO users (id, name, email) VALUES ('u3', 'x', NULL)`); err == nil {
					t.Error("NOT NULL not enforced")
				}
			},
		},
		{
			name: "foreign key changed",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.Int("n").Default(0),
					orm.Text("user_id").References("users", "id", tabledef.Restrict))}
			},
			want:  []string{"change foreign key notes.user_id"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpChangeForeignKey, "notes", "user_id")},
			check: func(t *testing.T, tg *ormtest.Target) {
				if _, err := tg.DB.Exec(ctx, `DELETE FROM users WHERE id = 'u2'`); err == nil {
					t.Error("ON DELETE RESTRICT not enforced")
				}
			},
		},
		{
			name: "unique dropped",
			v1: func() []*orm.Table {
				return []*orm.Table{orm.NewTable("users", orm.ID(), orm.Text("name").Unique(), orm.Text("email").Nullable()), notes(orm.TableOptions{})}
			},
			v2:    base,
			want:  []string{"drop unique users.name"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpDropUnique, "users", "name")},
			check: func(t *testing.T, tg *ormtest.Target) {
				exec(t, tg.DB, `INSERT INTO users (id, name) VALUES ('u3', 'ann')`)
			},
		},
		{
			name: "unique index dropped",
			v1: func() []*orm.Table {
				return []*orm.Table{users(), notes(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_body", Columns: []string{"body"}, Unique: true}}})}
			},
			v2:    base,
			want:  []string{"drop index notes.notes_body"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpDropIndex, "notes", "notes_body")},
		},
		{
			name: "primary key changed",
			v1: func() []*orm.Table {
				return append(base(), orm.NewTable("pairs", orm.Text("a").PrimaryKey(), orm.Text("b")).With(orm.TableOptions{External: true}))
			},
			v2: func() []*orm.Table {
				return append(base(), orm.NewTable("pairs", orm.Text("a").PrimaryKey(), orm.Text("b").PrimaryKey()).With(orm.TableOptions{External: true}))
			},
			want:  []string{"change primary key pairs"},
			allow: []migrate.Allowance{migrate.Allow(migrate.OpChangePrimaryKey, "pairs", "")},
		},
		{
			// Renames are never guessed: a rename is a drop and an add
			// (blocked, too: NOT NULL without a default) until declared.
			name: "column renamed",
			v2: func() []*orm.Table {
				return []*orm.Table{users(), orm.NewTable("notes", orm.ID(), orm.Text("text"), orm.Int("n").Default(0),
					orm.Text("user_id").References("users", "id", tabledef.Cascade))}
			},
			want:  []string{"add column notes.text", "drop column notes.body"},
			allow: []migrate.Allowance{migrate.AllowRenameColumn("notes", "body", "text")},
			check: func(t *testing.T, tg *ormtest.Target) {
				if got := value[string](t, tg.DB, `SELECT text FROM notes WHERE id = 'n2'`); got != "two" {
					t.Errorf("renamed column holds %q", got)
				}
			},
		},
		{
			name: "table renamed",
			v1: func() []*orm.Table {
				return append(base(), orm.NewTable("tags", orm.ID(), orm.Text("label").Default("x")))
			},
			v2: func() []*orm.Table {
				return append(base(), orm.NewTable("labels", orm.ID(), orm.Text("label").Default("x")))
			},
			want: []string{"drop table tags"},
			allow: []migrate.Allowance{
				migrate.AllowRenameTable("tags", "labels"),
			},
			check: func(t *testing.T, tg *ormtest.Target) {
				if n := count(t, tg.DB, "labels"); n != 1 {
					t.Errorf("renamed table has %d rows", n)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			each(t, func(t *testing.T, tg *ormtest.Target) {
				v1tables := base()
				if c.v1 != nil {
					v1tables = c.v1()
				}
				v1 := schema(t, "1", v1tables...)
				run(t, v1, tg.DB) // Run, so the snapshot knows plasma's tables and kinds
				seed(t, tg.DB)
				if v1.Table("tags") != nil {
					exec(t, tg.DB, `INSERT INTO tags (id) VALUES ('t1')`)
				}
				before := state(t, tg.DB)
				v2 := schema(t, "2", c.v2()...)

				diff, err := migrate.Run(ctx, v2, tg.DB, migrate.Options{})
				r := refused(t, err)
				if r.Diff != diff || diff.Applied {
					t.Fatal("the error must carry the diff, unapplied")
				}
				var got []string
				for _, s := range r.Diff.Refused() {
					got = append(got, s.ID())
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("refused %v, want %v\n%s", got, c.want, diff)
				}
				if after := state(t, tg.DB); after != before {
					t.Fatalf("a refused migration changed the database:\nbefore %s\nafter %s", before, after)
				}
				if v, _ := migrate.Version(ctx, v2, tg.DB); v.Recorded != "1" {
					t.Fatalf("recorded version %q after a refusal", v.Recorded)
				}

				// The allowance applies exactly the named step.
				var applied []string
				diff, err = migrate.Run(ctx, v2, tg.DB, migrate.Options{Allow: c.allow,
					Progress: func(s migrate.Step) { applied = append(applied, s.ID()) }})
				if err != nil {
					t.Fatalf("with allowance: %v\n%s", err, diff)
				}
				var want []string
				for _, a := range c.allow {
					want = append(want, a.String())
				}
				if !slices.Equal(applied, want) {
					t.Fatalf("applied %v, want exactly %v", applied, want)
				}
				assertEmpty(t, v2, tg.DB)
				if v, _ := migrate.Version(ctx, v2, tg.DB); !v.Current() {
					t.Fatalf("version %+v", v)
				}
				if n := count(t, tg.DB, "users"); n != 2 {
					t.Errorf("users: %d rows", n)
				}
				if c.check != nil {
					c.check(t, tg)
				}
			})
		})
	}
}

func TestNotNullWithoutDefaultOnRowsRefused(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		v1 := schema(t, "1", base()...)
		if err := orm.EnsureSchema(ctx, v1, tg.DB); err != nil {
			t.Fatal(err)
		}
		seed(t, tg.DB)
		before := state(t, tg.DB)
		v2 := schema(t, "2", users(), notes(orm.TableOptions{}, orm.Text("title"), orm.Text("ok").Nullable()))
		// Even an allowance cannot make it work.
		_, err := migrate.Run(ctx, v2, tg.DB, migrate.Options{Allow: []migrate.Allowance{migrate.Allow(migrate.OpAddColumn, "notes", "title")}})
		r := refused(t, err)
		msg := err.Error()
		for _, want := range []string{"add column notes.title", "NOT NULL", "without a default", "has rows"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q: %s", want, msg)
			}
		}
		if len(r.Diff.Refused()) != 1 || r.Diff.Refused()[0].Blocked == "" {
			t.Fatalf("%s", r.Diff)
		}
		if after := state(t, tg.DB); after != before {
			t.Fatal("nothing may be applied, not even the other, additive step")
		}
	})
}

// An allowance names one step: it does not cover another destructive step
// of the same kind, and a step it names is the only destructive one
// applied.
func TestAllowanceIsExact(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		run(t, schema(t, "1", base()...), tg.DB)
		seed(t, tg.DB)
		before := state(t, tg.DB)
		both := schema(t, "2", orm.NewTable("users", orm.ID(), orm.Text("name")),
			orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.Text("user_id").References("users", "id", tabledef.Cascade)))
		allowN := migrate.Allow(migrate.OpDropColumn, "notes", "n")
		_, err := migrate.Run(ctx, both, tg.DB, migrate.Options{Allow: []migrate.Allowance{allowN}})
		r := refused(t, err)
		if got := r.Diff.Refused(); len(got) != 1 || got[0].ID() != "drop column users.email" {
			t.Fatalf("refused %v", got)
		}
		if state(t, tg.DB) != before {
			t.Fatal("partly applied")
		}
		// Only notes.n goes; an allowance naming a step the diff lacks is
		// harmless.
		onlyN := schema(t, "2", users(), orm.NewTable("notes", orm.ID(), orm.Text("body"),
			orm.Text("user_id").References("users", "id", tabledef.Cascade)))
		diff := run(t, onlyN, tg.DB, allowN, migrate.Allow(migrate.OpDropColumn, "users", "email"))
		if got := ops(diff); !slices.Equal(got, []string{"drop column notes.n"}) {
			t.Fatalf("steps %v", got)
		}
		if got := value[string](t, tg.DB, `SELECT email FROM users WHERE id = 'u2'`); got != "bob@x" {
			t.Fatalf("users.email touched: %q", got)
		}
		assertEmpty(t, onlyN, tg.DB)
	})
}

// Two processes migrate at once: one applies, the other waits for the
// schema lock and then finds nothing to do.
func TestConcurrentRuns(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		v1 := schema(t, "1", base()...)
		if err := orm.EnsureSchema(ctx, v1, tg.DB); err != nil {
			t.Fatal(err)
		}
		seed(t, tg.DB)
		v2 := schema(t, "2", users(orm.Text("bio").Nullable()),
			notes(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_n", Columns: []string{"n"}}}}, orm.Boolean("pinned").Default(false)),
			orm.NewTable("tags", orm.ID(), orm.Text("label")))
		dbA := orm.New(tg.Open(t), tg.Dialect)
		dbB := orm.New(tg.Open(t), tg.Dialect)

		var steps atomic.Int64
		holding := make(chan struct{})
		bStarted := make(chan struct{})
		var once sync.Once
		progressA := func(migrate.Step) {
			steps.Add(1)
			once.Do(func() {
				close(holding)
				<-bStarted
				waitForWaiter(t, tg)
			})
		}
		var diffA, diffB *migrate.SchemaDiff
		var errA, errB error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			diffA, errA = migrate.Run(ctx, v2, dbA, migrate.Options{Progress: progressA})
		}()
		go func() {
			defer wg.Done()
			<-holding
			close(bStarted)
			diffB, errB = migrate.Run(ctx, v2, dbB, migrate.Options{Progress: func(migrate.Step) { steps.Add(1) }})
		}()
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("A: %v\nB: %v", errA, errB)
		}
		if diffA.Empty() || !diffA.Applied {
			t.Fatalf("A should have applied: %s", diffA)
		}
		if !diffB.Empty() || diffB.Applied || diffB.RecordedVersion != "2" {
			t.Fatalf("B should have found nothing to do: %s", diffB)
		}
		if n := steps.Load(); n != int64(len(diffA.Steps)) {
			t.Fatalf("%d steps applied in all, want %d (no double DDL)", n, len(diffA.Steps))
		}
		intact(t, tg.DB)
		assertEmpty(t, v2, tg.DB)
	})
}

// waitForWaiter gives the second Run time to block on the schema lock: on
// PostgreSQL until an advisory lock request is seen waiting, on SQLite a
// moment (its busy timeout is 5 s).
func waitForWaiter(t *testing.T, tg *ormtest.Target) {
	deadline := time.Now().Add(3 * time.Second)
	if tg.Name != "postgres" {
		time.Sleep(150 * time.Millisecond)
		return
	}
	for time.Now().Before(deadline) {
		rows, err := tg.SQL.QueryContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)
		if err != nil {
			t.Error(err)
			return
		}
		var n int
		rows.Next()
		_ = rows.Scan(&n)
		rows.Close()
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Log("the second Run was not seen waiting; it ran after the first")
}

// Tables the schema does not declare, and plasma did not create, are left
// alone: the database may be shared. plasma's own tables are ignored.
func TestUntrackedTablesAndIndexes(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		exec(t, tg.DB, `CREATE TABLE other_app (k INTEGER PRIMARY KEY, v TEXT)`)
		exec(t, tg.DB, `INSERT INTO other_app (k, v) VALUES (1, 'keep me')`)
		exec(t, tg.DB, `CREATE TABLE _plasma_changes (seq INTEGER PRIMARY KEY)`)
		v1 := schema(t, "1", base()...)
		run(t, v1, tg.DB)
		seed(t, tg.DB)
		exec(t, tg.DB, `CREATE INDEX notes_by_body ON notes (body)`)
		if tg.Name == "sqlite" {
			exec(t, tg.DB, `CREATE TABLE audit (what TEXT)`)
			exec(t, tg.DB, `CREATE TRIGGER notes_audit AFTER INSERT ON notes BEGIN INSERT INTO audit (what) VALUES (NEW.id); END`)
			exec(t, tg.DB, `CREATE VIEW note_bodies AS SELECT id, body FROM notes`)
		}
		diff := mustDiff(t, v1, tg.DB)
		if !diff.Empty() {
			t.Fatalf("%s", diff)
		}
		want := []migrate.Untracked{{Table: "notes", Index: "notes_by_body"}, {Table: "other_app"}}
		if tg.Name == "sqlite" {
			want = append(want, migrate.Untracked{Table: "audit"})
		}
		slices.SortFunc(want, func(a, b migrate.Untracked) int { return strings.Compare(a.Table+a.Index, b.Table+b.Index) })
		got := slices.Clone(diff.Untracked)
		slices.SortFunc(got, func(a, b migrate.Untracked) int { return strings.Compare(a.Table+a.Index, b.Table+b.Index) })
		if !slices.Equal(got, want) {
			t.Fatalf("untracked %v, want %v", got, want)
		}
		// A change that rebuilds notes on SQLite keeps the untracked index,
		// the trigger and the view working.
		v2 := schema(t, "2", users(), orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.Int("n").Default(9),
			orm.Text("user_id").References("users", "id", tabledef.Cascade)))
		if got := ops(run(t, v2, tg.DB)); !slices.Equal(got, []string{"change default notes.n"}) {
			t.Fatalf("steps %v", got)
		}
		intact(t, tg.DB)
		live, err := migrate.Introspect(ctx, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		if live.Table("notes").Index("notes_by_body") == nil {
			t.Error("untracked index lost")
		}
		if tg.Name == "sqlite" {
			exec(t, tg.DB, `INSERT INTO notes (id, body, user_id) VALUES ('n9', 'nine', 'u1')`)
			if n := count(t, tg.DB, "audit"); n != 1 {
				t.Errorf("trigger lost: %d audit rows", n)
			}
			if n := count(t, tg.DB, "note_bodies"); n != 4 {
				t.Errorf("view: %d rows", n)
			}
		}
		if got := value[string](t, tg.DB, `SELECT v FROM other_app WHERE k = 1`); got != "keep me" {
			t.Fatal(got)
		}
		// Naming an untracked table drops it.
		d := run(t, v2, tg.DB, migrate.Allow(migrate.OpDropTable, "other_app", ""))
		if got := ops(d); !slices.Equal(got, []string{"drop table other_app"}) {
			t.Fatalf("steps %v", got)
		}
		tables, _ := orm.ExistingTables(ctx, tg.DB)
		if tables["other_app"] || !tables["_plasma_changes"] {
			t.Fatalf("tables %v", tables)
		}
	})
}

// A rebuilt table keeps its rows, the rows that reference it, and its
// AUTOINCREMENT high-water mark.
func TestRebuildKeepsSequenceAndReferences(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		run(t, schema(t, "1", testschema.MigrateRebuild("a")...), tg.DB)
		exec(t, tg.DB, `INSERT INTO counters (v) VALUES ('x'), ('y'), ('z')`)
		exec(t, tg.DB, `DELETE FROM counters WHERE v = 'z'`)
		exec(t, tg.DB, `INSERT INTO refs (counter) VALUES (1), (2)`)
		v2 := schema(t, "2", testschema.MigrateRebuild("b")...)
		if got := ops(run(t, v2, tg.DB)); !slices.Equal(got, []string{"change default counters.v"}) {
			t.Fatalf("steps %v", got)
		}
		exec(t, tg.DB, `INSERT INTO counters (v) VALUES ('w')`)
		if n := value[int64](t, tg.DB, `SELECT n FROM counters WHERE v = 'w'`); n != 4 {
			t.Errorf("new id %d, want 4: the sequence went back", n)
		}
		if n := count(t, tg.DB, "refs"); n != 2 {
			t.Errorf("refs: %d rows", n)
		}
		exec(t, tg.DB, `DELETE FROM counters WHERE n = 1`)
		if n := count(t, tg.DB, "refs"); n != 1 {
			t.Errorf("cascade after rebuild: %d refs", n)
		}
		assertEmpty(t, v2, tg.DB)
	})
}

// Names with quotes, unicode, dots, spaces and keywords survive
// introspection, diff and migration.
func TestHostileNames(t *testing.T) {
	tbl, kids, col, dot, index := testschema.HostileTable, testschema.HostileKids, testschema.HostileColumn, testschema.HostileDotted, testschema.HostileIndex
	kw, newCol := testschema.HostileKeyword, testschema.HostileNewColumn
	each(t, func(t *testing.T, tg *ormtest.Target) {
		v1 := schema(t, "1", testschema.MigrateHostile(false)...)
		if err := orm.EnsureSchema(ctx, v1, tg.DB); err != nil {
			t.Fatal(err)
		}
		exec(t, tg.DB, `INSERT INTO `+quote(tbl)+` (id, `+quote(kw)+`) VALUES ('r1', 1), ('r2', 2)`)
		exec(t, tg.DB, `INSERT INTO `+quote(kids)+` (id, `+quote(`parent "id"`)+`) VALUES ('k1', 'r1')`)
		assertEmpty(t, v1, tg.DB)
		live, err := migrate.Introspect(ctx, tg.DB)
		if err != nil {
			t.Fatal(err)
		}
		lt := live.Table(tbl)
		if lt == nil || lt.Column(col) == nil || lt.Column(dot) == nil || lt.Index(index) == nil {
			t.Fatalf("introspection lost names: %+v", lt)
		}
		if fk := live.Table(kids).Column(`parent "id"`).References; fk == nil || fk.Table != tbl || fk.Column != "id" {
			t.Fatalf("foreign key %+v", fk)
		}
		// Add a column and a UNIQUE constraint (a rebuild on SQLite).
		v2 := schema(t, "2", testschema.MigrateHostile(true)...)
		diff := run(t, v2, tg.DB)
		want := []string{`add column "we""ird ☃.t"."new ""col"" ✓"`, `add unique "we""ird ☃.t".select`}
		if got := ops(diff); !slices.Equal(got, want) {
			t.Fatalf("steps %q, want %q", got, want)
		}
		assertEmpty(t, v2, tg.DB)
		if n := count(t, tg.DB, kids); n != 1 {
			t.Fatalf("kids: %d", n)
		}
		if got := value[string](t, tg.DB, `SELECT `+quote(newCol)+` FROM `+quote(tbl)+` WHERE id = 'r2'`); got != `d"q's` {
			t.Fatalf("new column default: %q", got)
		}
		// The step IDs parse back to allowances for these names.
		for _, st := range diff.Steps {
			a, err := migrate.ParseAllowance(st.ID())
			if err != nil || a != st.Allowance() {
				t.Fatalf("%s: %+v %v", st.ID(), a, err)
			}
		}
	})
}

func TestVersionAndDryRun(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		v1 := schema(t, "1", base()...)
		st, err := migrate.Version(ctx, v1, tg.DB)
		if err != nil || st.Recorded != "" || st.Declared != "1" || st.Current() {
			t.Fatalf("%+v %v", st, err)
		}
		before := state(t, tg.DB)
		dry := mustDiff(t, v1, tg.DB)
		if len(dry.Steps) != 2 || dry.Applied || len(dry.SQL) == 0 || !strings.HasPrefix(dry.SQL[0], "CREATE TABLE") {
			t.Fatalf("%+v", dry)
		}
		if state(t, tg.DB) != before {
			t.Fatal("a dry run changed the database")
		}
		run(t, v1, tg.DB)
		if st, _ := migrate.Version(ctx, v1, tg.DB); !st.Current() || st.Recorded != "1" {
			t.Fatalf("%+v", st)
		}
		v2 := schema(t, "2", base()...)
		if st, _ := migrate.Version(ctx, v2, tg.DB); st.Current() || st.Recorded != "1" || st.Declared != "2" {
			t.Fatalf("%+v", st)
		}
		// A version bump without schema changes is recorded, with no steps.
		d := run(t, v2, tg.DB)
		if !d.Empty() || !d.Applied {
			t.Fatalf("%+v", d)
		}
		if st, _ := migrate.Version(ctx, v2, tg.DB); !st.Current() {
			t.Fatalf("%+v", st)
		}
		// The diff marshals to JSON with readable ops.
		dry = mustDiff(t, schema(t, "3", users(), notes(orm.TableOptions{}, orm.Text("x").Nullable())), tg.DB)
		p, _ := json.Marshal(dry)
		if !strings.Contains(string(p), `"op":"add column"`) {
			t.Fatalf("%s", p)
		}
	})
}

func TestRunNeedsAPool(t *testing.T) {
	tg := ormtest.SQLite(t)
	err := tg.DB.Tx(ctx, func(tx *orm.Tx) error {
		_, err := migrate.Run(ctx, schema(t, "1", base()...), tx.DB, migrate.Options{})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "not a transaction") {
		t.Fatalf("got %v", err)
	}
}

// FuzzNames: any valid table and column name survives introspection and a
// diff on SQLite (the seed corpus runs in every go test).
func FuzzNames(f *testing.F) {
	for _, s := range []string{"t", `q"uote`, "it's", "☃ snow", "a.b", "select", "[x]", "`x`", "-- c", "/* x */", "x\ny", "CHECK"} {
		f.Add(s, s+"_col")
	}
	f.Fuzz(func(t *testing.T, table, column string) {
		tb := orm.NewTable(table, orm.ID(), orm.Text(column).Nullable())
		s, err := orm.DefineSchema("1", tb)
		if err != nil || column == "id" {
			return // not a valid schema
		}
		db, err := orm.Open(sqlite.Dialect, ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := orm.EnsureSchema(ctx, s, db); err != nil {
			t.Fatal(err)
		}
		if diff := mustDiff(t, s, db); !diff.Empty() {
			t.Fatalf("%s", diff)
		}
		s2, err := orm.DefineSchema("2", orm.NewTable(table, orm.ID(), orm.Text(column).Nullable().Unique(), orm.Text(column+"2").Default(column)))
		if err != nil {
			return
		}
		run(t, s2, db)
		assertEmpty(t, s2, db)
	})
}

// A table another tool created, with the engine's own spellings (serial,
// varchar, FALSE), maps onto a declaration without a diff.
func TestExistingTableMapsCleanly(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		ddl := map[string]string{
			"sqlite":   `CREATE TABLE ext (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(50) NOT NULL, flag BOOLEAN DEFAULT FALSE, n INT DEFAULT (-1), body CLOB)`,
			"postgres": `CREATE TABLE ext (id bigserial PRIMARY KEY, name varchar(50) NOT NULL, flag bool DEFAULT FALSE, n int4 DEFAULT (-1), body text)`,
		}[tg.Name]
		exec(t, tg.DB, ddl)
		exec(t, tg.DB, `INSERT INTO ext (name) VALUES ('a')`)
		s := schema(t, "1", orm.NewTable("ext", orm.AutoIncrement("id"), orm.Text("name"), orm.Boolean("flag").Nullable().Default(false),
			orm.Int("n").Nullable().Default(-1), orm.Text("body").Nullable()).With(orm.TableOptions{External: true}))
		assertEmpty(t, s, tg.DB)
		run(t, s, tg.DB)
		assertEmpty(t, s, tg.DB)
	})
}

func TestSetNotNullOnNullsRefused(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		run(t, schema(t, "1", base()...), tg.DB)
		seed(t, tg.DB)
		exec(t, tg.DB, `UPDATE users SET email = NULL WHERE id = 'u2'`)
		before := state(t, tg.DB)
		v2 := schema(t, "2", orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Text("email")), notes(orm.TableOptions{}))
		_, err := migrate.Run(ctx, v2, tg.DB, migrate.Options{Allow: []migrate.Allowance{migrate.Allow(migrate.OpSetNotNull, "users", "email")}})
		r := refused(t, err)
		if got := r.Diff.Refused(); len(got) != 1 || !strings.Contains(got[0].Blocked, "NULL") {
			t.Fatalf("%s", r.Diff)
		}
		if state(t, tg.DB) != before {
			t.Fatal("changed")
		}
	})
}

// A step the database rejects (a UNIQUE constraint over duplicates) rolls
// the whole migration back, the steps before it included.
func TestFailedStepRollsBackEverything(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		run(t, schema(t, "1", base()...), tg.DB)
		seed(t, tg.DB)
		exec(t, tg.DB, `UPDATE notes SET body = 'same'`)
		before := state(t, tg.DB)
		v2 := schema(t, "2", users(orm.Text("bio").Nullable()), orm.NewTable("tags", orm.ID()),
			orm.NewTable("notes", orm.ID(), orm.Text("body").Unique(), orm.Int("n").Default(0),
				orm.Text("user_id").References("users", "id", tabledef.Cascade)))
		diff, err := migrate.Run(ctx, v2, tg.DB, migrate.Options{})
		if err == nil || diff.Applied {
			t.Fatalf("want an error, got %v\n%s", err, diff)
		}
		if state(t, tg.DB) != before {
			t.Fatal("a failed migration left changes behind")
		}
		if v, _ := migrate.Version(ctx, v2, tg.DB); v.Recorded != "1" {
			t.Fatalf("version %+v", v)
		}
	})
}

// Run turns foreign key enforcement off on its connection for a SQLite
// migration and must turn it back on, whether the migration succeeds,
// is refused or fails.
func TestSQLiteConnectionRestored(t *testing.T) {
	db, err := orm.Open(sqlite.Dialect, ":memory:") // one connection: the one Run uses
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fkOn := func() {
		t.Helper()
		if v := value[int64](t, db, `PRAGMA foreign_keys`); v != 1 {
			t.Fatalf("foreign_keys = %d after Run", v)
		}
		if v := value[int64](t, db, `PRAGMA legacy_alter_table`); v != 0 {
			t.Fatalf("legacy_alter_table = %d after Run", v)
		}
	}
	run(t, schema(t, "1", base()...), db)
	fkOn()
	seed(t, db)
	exec(t, db, `UPDATE notes SET body = 'same'`)
	_, err = migrate.Run(ctx, schema(t, "2", users(), notes(orm.TableOptions{}, orm.Text("x"))), db, migrate.Options{})
	refused(t, err)
	fkOn()
	_, err = migrate.Run(ctx, schema(t, "2", users(), orm.NewTable("notes", orm.ID(), orm.Text("body").Unique(), orm.Int("n").Default(0),
		orm.Text("user_id").References("users", "id", tabledef.Cascade))), db, migrate.Options{})
	if err == nil {
		t.Fatal("want a unique violation")
	}
	fkOn()
	if _, err := db.Exec(ctx, `INSERT INTO notes (id, body, user_id) VALUES ('x', 'x', 'nobody')`); err == nil {
		t.Fatal("foreign keys not enforced")
	}
}
