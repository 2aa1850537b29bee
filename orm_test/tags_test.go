package ormtest_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// The table the models of other ORMs map onto: columns whose names the
// Go fields do not give by snake_case, and two an embedded struct fills.
var (
	tagItems = orm.NewTable("tag_items",
		orm.ID(),
		orm.Text("title"),
		orm.Text("author_name"),
		orm.Text("author_email").Nullable(),
		orm.BigInt("score").Default(0),
		orm.Text("note").Nullable(),
	)
	tagSchema = orm.MustDefineSchema("tags-1", tagItems)
)

// gormItem is a model as a GORM application declares it: a primaryKey
// setting that names nothing, column settings, an embedded struct with a
// prefix, relations and ignored fields. plasma maps it as GORM does.
type gormItem struct {
	ID      string     `gorm:"primaryKey;type:text"`
	Heading string     `gorm:"column:title;not null"`
	Author  gormAuthor `gorm:"embedded;embeddedPrefix:author_"`
	Points  int64      `gorm:"Column:score;default:0"` // GORM's keys ignore case
	Note    *string
	Parent  *gormItem   `gorm:"foreignKey:ID;references:ID"` // a relation: no column
	Tags    []gormLabel `gorm:"many2many:item_labels;"`      // a relation: no column
	Scratch string      `gorm:"-"`
	Cache   string      `gorm:"-:all"`
}

type gormAuthor struct {
	Name  string
	Email *string `gorm:"column:email"`
}

type gormLabel struct{ ID string }

// bunItem is the same model as a bun application declares it.
type bunItem struct {
	bun.BaseModel `bun:"table:tag_items,alias:ti"`

	ID      string    `bun:",pk"` // options only: the name is snake_case
	Heading string    `bun:"title,notnull"`
	Author  bunAuthor `bun:"embed:author_"`
	Points  int64     `bun:"score,nullzero"`
	Note    *string   `bun:"column:note"`
	Parent  *bunItem  `bun:"rel:belongs-to,join:id=id"` // a relation: no column
	Labels  []bunItem `bun:"m2m:item_labels,join:Item=Label"`
	Scratch string    `bun:"-"`
}

type bunAuthor struct {
	Name  string `bun:"name"`
	Email *string
}

// mixedItem has several tags on one field: db decides first, then gorm,
// then bun, and a tag that names nothing passes to the next.
type mixedItem struct {
	ID         string  `db:"id" gorm:"column:not_a_column" bun:"not_a_column"`
	Heading    string  `db:",omitempty" gorm:"column:title" bun:"not_a_column"`
	AuthorName string  `gorm:"primaryKey" bun:"author_name"`
	Email      *string `gorm:"column:author_email" bun:"not_a_column"`
	Score      int64   `bun:",notnull"`
	Note       *string `db:"note" gorm:"-" bun:"-"`
	Hidden     string  `db:"-" gorm:"column:title" bun:"title"`
}

// readOnlyItem has fields GORM and bun only read: plasma scans them and
// never writes them.
type readOnlyItem struct {
	ID         string  `gorm:"primaryKey"`
	Title      string  `bun:"title"`
	AuthorName string  `gorm:"column:author_name"`
	Score      int64   `gorm:"->"`                // GORM reads it, the database fills it
	Note       *string `bun:",scanonly"`          // bun scans it only
	Cached     string  `gorm:"->:false;<-:false"` // no column at all
}

// TestTagsOfOtherORMs writes rows from GORM-, bun- and mixed-tagged
// models, reads each back as every model and as maps, and updates from a
// model, on every engine: the tags map the fields to the same columns.
func TestTagsOfOtherORMs(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		db, c := tg.DB, t.Context()
		if err := orm.EnsureSchema(c, tagSchema, db); err != nil {
			t.Fatal(err)
		}
		note := "n'1"
		g := gormItem{ID: "g1", Heading: "from gorm", Author: gormAuthor{Name: "ann", Email: ptr("a@x")}, Points: 7, Note: &note,
			Parent: &gormItem{ID: "ignored"}, Tags: []gormLabel{{"l"}}, Scratch: "not written", Cache: "not written"}
		b := bunItem{ID: "b1", Heading: "from bun", Author: bunAuthor{Name: "bob"}, Points: 8,
			Parent: &bunItem{ID: "ignored"}, Scratch: "not written"}
		m := mixedItem{ID: "m1", Heading: "mixed", AuthorName: "cat", Email: ptr("c@x"), Score: 9, Note: ptr("m"), Hidden: "not written"}
		mustN(t)(db.Insert(tagItems).Model(&g).Exec(c))
		mustN(t)(db.Insert(tagItems).Model([]bunItem{b}).Exec(c))
		mustN(t)(db.Insert(tagItems).Model(m).Exec(c))

		all := db.Select().From(tagItems).OrderBy(expr.Asc(tagItems.Col("id")))
		maps, err := orm.Maps(c, all)
		if err != nil {
			t.Fatal(err)
		}
		want := []orm.Row{
			{"id": "b1", "title": "from bun", "author_name": "bob", "author_email": nil, "score": int64(8), "note": nil},
			{"id": "g1", "title": "from gorm", "author_name": "ann", "author_email": "a@x", "score": int64(7), "note": "n'1"},
			{"id": "m1", "title": "mixed", "author_name": "cat", "author_email": "c@x", "score": int64(9), "note": "m"},
		}
		if !reflect.DeepEqual(maps, want) {
			t.Fatalf("rows written from tagged models:\n got %v\nwant %v", maps, want)
		}
		rec("maps", maps)

		gs, err := orm.All[gormItem](c, all)
		if err != nil {
			t.Fatal(err)
		}
		wantG := []gormItem{
			{ID: "b1", Heading: "from bun", Author: gormAuthor{Name: "bob"}, Points: 8},
			{ID: "g1", Heading: "from gorm", Author: gormAuthor{Name: "ann", Email: ptr("a@x")}, Points: 7, Note: &note},
			{ID: "m1", Heading: "mixed", Author: gormAuthor{Name: "cat", Email: ptr("c@x")}, Points: 9, Note: ptr("m")},
		}
		if !reflect.DeepEqual(gs, wantG) {
			t.Errorf("scanned as the GORM model:\n got %+v\nwant %+v", gs, wantG)
		}
		bs, err := orm.All[bunItem](c, all)
		if err != nil {
			t.Fatal(err)
		}
		wantB := []bunItem{
			{ID: "b1", Heading: "from bun", Author: bunAuthor{Name: "bob"}, Points: 8},
			{ID: "g1", Heading: "from gorm", Author: bunAuthor{Name: "ann", Email: ptr("a@x")}, Points: 7, Note: &note},
			{ID: "m1", Heading: "mixed", Author: bunAuthor{Name: "cat", Email: ptr("c@x")}, Points: 9, Note: ptr("m")},
		}
		if !reflect.DeepEqual(bs, wantB) {
			t.Errorf("scanned as the bun model:\n got %+v\nwant %+v", bs, wantB)
		}
		ms, err := orm.All[mixedItem](c, all)
		if err != nil {
			t.Fatal(err)
		}
		wantM := []mixedItem{
			{ID: "b1", Heading: "from bun", AuthorName: "bob", Score: 8},
			{ID: "g1", Heading: "from gorm", AuthorName: "ann", Email: ptr("a@x"), Score: 7, Note: &note},
			{ID: "m1", Heading: "mixed", AuthorName: "cat", Email: ptr("c@x"), Score: 9, Note: ptr("m")},
		}
		if !reflect.DeepEqual(ms, wantM) {
			t.Errorf("scanned as the mixed model:\n got %+v\nwant %+v", ms, wantM)
		}
		rec("models", []any{gs, bs, ms})

		// Read-only fields are scanned and never written: the score keeps
		// its default, the note stays NULL, on insert and on update.
		mustN(t)(db.Insert(tagItems).Model(readOnlyItem{ID: "r1", Title: "ro", AuthorName: "dan", Score: 99, Note: ptr("x"), Cached: "y"}).Exec(c))
		mustN(t)(db.Update(tagItems).Set(readOnlyItem{ID: "r1", Title: "ro2", AuthorName: "dan", Score: 98, Note: ptr("z")}).Where(expr.Eq(tagItems.Col("id"), "r1")).Exec(c))
		ro, err := orm.One[readOnlyItem](c, db.Select().From(tagItems).Where(expr.Eq(tagItems.Col("id"), "r1")))
		if err != nil || ro != (readOnlyItem{ID: "r1", Title: "ro2", AuthorName: "dan"}) {
			t.Errorf("read-only fields: %+v, %v; want them unwritten", ro, err)
		}
		back, err := orm.One[readOnlyItem](c, db.Select().From(tagItems).Where(expr.Eq(tagItems.Col("id"), "g1")))
		if err != nil || back.Score != 7 || back.Note == nil || *back.Note != note {
			t.Errorf("read-only fields are not scanned: %+v, %v", back, err)
		}
		mustN(t)(db.Delete(tagItems).Where(expr.Eq(tagItems.Col("id"), "r1")).Exec(c))

		// Update's Set maps a model the same way, and leaves the key alone.
		g.Heading, g.Points, g.Author.Email = "renamed", 70, nil
		mustN(t)(db.Update(tagItems).Set(g).Where(expr.Eq(tagItems.Col("id"), "g1")).Exec(c))
		got, err := orm.One[bunItem](c, db.Select().From(tagItems).Where(expr.Eq(tagItems.Col("id"), "g1")))
		if err != nil || got.Heading != "renamed" || got.Points != 70 || got.Author.Email != nil || got.Author.Name != "ann" {
			t.Errorf("after Set(gorm model): %+v, %v", got, err)
		}
	})
}

// A tag that names a column the table lacks is refused before anything
// is written, whichever ORM's tag it is; so is a relation-less field of
// no column, as with db tags.
func TestTagsBadModels(t *testing.T) {
	type gormTypo struct {
		ID    string `gorm:"primaryKey"`
		Title string `gorm:"column:titel"`
	}
	type bunTypo struct {
		ID    string `bun:"id,pk"`
		Title string `bun:"titel"`
	}
	type untaggedRelation struct {
		ID       string
		Title    string
		Children []gormLabel // GORM finds has-many by type; plasma needs a tag
	}
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		c := t.Context()
		if err := orm.EnsureSchema(c, tagSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			model any
			want  string
		}{
			{gormTypo{ID: "x", Title: "t"}, "field Title matches no column of tag_items"},
			{bunTypo{ID: "x", Title: "t"}, "field Title matches no column of tag_items"},
			{untaggedRelation{ID: "x", Title: "t"}, "field Children matches no column of tag_items"},
		} {
			_, err := tg.DB.Insert(tagItems).Model(tc.model).Exec(c)
			if !errors.Is(err, orm.ErrBadModel) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%T: %v; want ErrBadModel saying %q", tc.model, err, tc.want)
			}
		}
		n, err := orm.Scalar[int64](c, tg.DB.Select(expr.CountAll()).From(tagItems))
		if err != nil || n != 0 {
			t.Errorf("bad models wrote %d rows (%v)", n, err)
		}
	})
}
