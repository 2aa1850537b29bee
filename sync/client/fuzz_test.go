package client

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/plasma-go/plasma/orm"
)

var fuzzSchema = func() *orm.Schema {
	t := orm.NewTable("items", orm.ID(), orm.Text("title"), orm.Int("n"), orm.BigInt("big"), orm.Boolean("done"),
		orm.Blob("data"), orm.JSON("meta"), orm.Text("secret").Encrypted().Nullable())
	return orm.MustDefineSchema("1", t)
}()

// FuzzDecodePull: any bytes either decode into a patch of the replica's
// tables or are refused with a ResponseError; never a panic.
func FuzzDecodePull(f *testing.F) {
	for _, s := range []string{
		`{"cookie":1,"lastMutationIDChanges":{},"patch":[]}`,
		`{"cookie":{"order":3,"cvr":"x"},"lastMutationIDChanges":{"c":2},"patch":[{"op":"clear"},{"op":"put","key":"items/a","value":{"id":"a","title":"t","n":3,"big":9007199254740993,"done":true,"data":"AAE=","meta":{"x":[1]},"secret":{"v":1}}},{"op":"del","key":"items/b"}]}`,
		`{"cookie":null,"lastMutationIDChanges":{},"patch":[{"op":"put","key":"items/a","value":{"id":"b"}}]}`,
		`{"cookie":"s","lastMutationIDChanges":null,"patch":[]}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	byName, _, err := planTables(fuzzSchema)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodePull(data, byName)
		if err != nil {
			if _, ok := err.(*ResponseError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for ti, tp := range r.tables {
			if len(tp.ids) != len(tp.keys) {
				t.Fatal("ids and keys differ in length")
			}
			for _, key := range tp.keys {
				row, ok := tp.rows[key]
				if !ok {
					t.Fatalf("key %q without a row entry", key)
				}
				if row != nil && len(row) != len(ti.cols) {
					t.Fatalf("row of %d values", len(row))
				}
			}
		}
	})
}

// FuzzEachMember: on any valid JSON object the scanner finds the members
// encoding/json finds (the last of duplicate keys winning), byte for byte.
func FuzzEachMember(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":"x\"y","c":{"d":[1,{"e":"}"}]},"a":null}`, ` { "k" : true , "\u00e9" : [ ] } `, `{"\ud800":"\xff"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]json.RawMessage
		if json.Unmarshal(data, &want) != nil || want == nil {
			return
		}
		got := map[string]json.RawMessage{}
		ok, err := eachMember(data, func(k string, v []byte) error { got[k] = v; return nil })
		if !ok || err != nil {
			t.Fatalf("not an object: %q", data)
		}
		if len(got) != len(want) {
			t.Fatalf("%d members, want %d: %q", len(got), len(want), data)
		}
		for k, v := range want {
			if string(bytes.TrimSpace(got[k])) != string(bytes.TrimSpace(v)) {
				t.Fatalf("member %q = %q, want %q", k, got[k], v)
			}
		}
	})
}
