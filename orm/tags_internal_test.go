package orm

import (
	"reflect"
	"strings"
	"testing"
)

// TestTagOf pins how each ORM's tags name a column, and the order in
// which several tags on one field decide.
func TestTagOf(t *testing.T) {
	for _, tc := range []struct {
		tag  reflect.StructTag
		want fieldTag
	}{
		{``, fieldTag{}},
		{`db:"name"`, fieldTag{name: "name"}},
		{`db:"name,omitempty"`, fieldTag{name: "name"}},
		{`db:"-"`, fieldTag{skip: true}},
		{`db:""`, fieldTag{}},
		{`gorm:"column:user_name;type:varchar(100)"`, fieldTag{name: "user_name"}},
		{`gorm:" COLUMN : spaced ;not null"`, fieldTag{name: "spaced"}},
		{`gorm:"primaryKey"`, fieldTag{}},
		{`gorm:"-"`, fieldTag{skip: true}},
		{`gorm:"-:all"`, fieldTag{skip: true}},
		{`gorm:"-:migration;column:kept"`, fieldTag{name: "kept"}},
		{`gorm:"foreignKey:OwnerID"`, fieldTag{skip: true}},
		{`gorm:"many2many:user_languages;"`, fieldTag{skip: true}},
		{`gorm:"polymorphic:Owner"`, fieldTag{skip: true}},
		{`gorm:"embedded;embeddedPrefix:author_"`, fieldTag{embed: true, prefix: "author_"}},
		{`gorm:"embeddedPrefix:author_"`, fieldTag{}}, // a prefix alone embeds nothing
		{`bun:"name"`, fieldTag{name: "name"}},
		{`bun:"name,pk,notnull"`, fieldTag{name: "name"}},
		{`bun:",pk"`, fieldTag{}},
		{`bun:"pk"`, fieldTag{}}, // an option, not a column named pk
		{`bun:"type:uuid,default:gen_random_uuid()"`, fieldTag{}},
		{`bun:",column:other"`, fieldTag{name: "other"}},
		{`bun:"-"`, fieldTag{skip: true}},
		{`bun:"rel:has-many,join:id=user_id"`, fieldTag{skip: true}},
		{`bun:"m2m:order_to_items"`, fieldTag{skip: true}},
		{`bun:"embed:author_"`, fieldTag{embed: true, prefix: "author_"}},
		{`bun:"table:users,alias:u"`, fieldTag{}},
		// Precedence: db, then gorm, then bun; a tag naming nothing passes on.
		{`db:"a" gorm:"column:b" bun:"c"`, fieldTag{name: "a"}},
		{`db:",omitempty" gorm:"column:b" bun:"c"`, fieldTag{name: "b"}},
		{`gorm:"primaryKey" bun:"c"`, fieldTag{name: "c"}},
		{`db:"a" gorm:"-"`, fieldTag{name: "a"}},
		{`db:"-" gorm:"column:b"`, fieldTag{skip: true}},
		{`gorm:"column:b" bun:"-"`, fieldTag{name: "b"}},
		// Read-only fields: scanned, never written, whichever tag names them.
		{`gorm:"->"`, fieldTag{readOnly: true}},
		{`gorm:"column:total;->"`, fieldTag{name: "total", readOnly: true}},
		{`gorm:"<-:false"`, fieldTag{readOnly: true}},
		{`gorm:"->;<-:create"`, fieldTag{}},
		{`gorm:"<-:update"`, fieldTag{}},
		{`gorm:"->:false;<-:false"`, fieldTag{skip: true}},
		{`gorm:"->:false;<-:create"`, fieldTag{}}, // write-only: scanning it is harmless
		{`bun:"total,scanonly"`, fieldTag{name: "total", readOnly: true}},
		{`bun:",scanonly"`, fieldTag{readOnly: true}},
		{`db:"total" gorm:"->"`, fieldTag{name: "total", readOnly: true}},
		{`db:"-" gorm:"->"`, fieldTag{skip: true}},
	} {
		if got := tagOf(reflect.StructField{Name: "F", Tag: tc.tag}); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.tag, got, tc.want)
		}
	}
}

// FuzzTagOf: any tag text is read without a panic, and what it names is
// either nothing or text that was in the tag.
func FuzzTagOf(f *testing.F) {
	for _, s := range []string{"column:x", "-", "-:all", "embedded;embeddedPrefix:p_", ";;:;", "rel:has-one", "x,pk", ",,,", "embed:", "\x00:\xff", "column:é;column:ü"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, gorm, bun string) {
		for key, text := range map[string]string{"gorm": gorm, "bun": bun} {
			tag := reflect.StructTag(key + `:"` + text + `"`)
			raw, _ := tag.Lookup(key) // the tag as Go reads it: unquoted
			got := tagOf(reflect.StructField{Name: "F", Tag: tag})
			if got.name != "" && !strings.Contains(raw, got.name) {
				t.Fatalf("%s names %q, which it does not hold", tag, got.name)
			}
			if got.skip && (got.name != "" || got.embed) {
				t.Fatalf("%s: skipped field with a name or embedding: %+v", tag, got)
			}
		}
	})
}
