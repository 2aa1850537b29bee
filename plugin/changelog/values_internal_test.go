package changelog

import (
	"database/sql/driver"
	"encoding/json"
	"testing"

	"github.com/plasma-go/plasma/orm"
)

type valuer struct{}

func (valuer) Value() (driver.Value, error) { return "v", nil }

// Which INSERTs get their images from their values, and which are read
// back.
func TestValueImagesChoice(t *testing.T) {
	plain := orm.NewTable("plain", orm.ID(), orm.Text("t"), orm.Int("i").Default(3),
		orm.Boolean("b").Default(false), orm.Blob("bl").Nullable())
	withJSON := orm.NewTable("withjson", orm.ID(), orm.JSON("j").Nullable())
	jsonDefault := orm.NewTable("jsondefault", orm.ID(), orm.JSON("j").Default(map[string]int{"a": 1}))
	orm.MustDefineSchema("1", plain, withJSON, jsonDefault)

	cases := []struct {
		name string
		t    *orm.Table
		q    *orm.InsertQuery
		want bool
		img  string
	}{
		{"plain values and defaults", plain, orm.Insert(plain).Values(orm.Row{"id": "x", "t": "a\"b"}), true,
			`{"id":"x","t":"a\"b","i":3,"b":false,"bl":null}`},
		{"every column", plain, orm.Insert(plain).Values(orm.Row{"id": "x", "t": "", "i": 5, "b": true, "bl": []byte("hi")}), true,
			`{"id":"x","t":"","i":5,"b":true,"bl":"aGk="}`},
		{"upsert", plain, orm.Insert(plain).Values(orm.Row{"id": "x", "t": "a"}).OnConflictDoNothing(), false, ""},
		{"json value", withJSON, orm.Insert(withJSON).Values(orm.Row{"id": "x", "j": json.RawMessage(`[1]`)}), false, ""},
		{"json null", withJSON, orm.Insert(withJSON).Values(orm.Row{"id": "x"}), true, `{"id":"x","j":null}`},
		{"json default", jsonDefault, orm.Insert(jsonDefault).Values(orm.Row{"id": "x"}), false, ""},
		{"driver.Valuer", plain, orm.Insert(plain).Values(orm.Row{"id": "x", "t": valuer{}}), false, ""},
	}
	for _, c := range cases {
		imgs, ok := valueImages(c.t, planFor(c.t), c.q)
		if ok != c.want {
			t.Errorf("%s: from values %v, want %v", c.name, ok, c.want)
			continue
		}
		if ok && string(imgs[0]) != c.img {
			t.Errorf("%s: image %s, want %s", c.name, imgs[0], c.img)
		}
	}
}
