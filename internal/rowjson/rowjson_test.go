package rowjson_test

import (
	"encoding/json"
	"testing"

	"github.com/plasma-go/plasma/internal/rowjson"
	"github.com/plasma-go/plasma/orm"
)

var (
	things = orm.NewTable("things", orm.ID(), orm.Text("name"), orm.Boolean("ok"), orm.BigInt("n"),
		orm.Blob("b").Nullable(), orm.JSON("meta").Nullable(), orm.CRDTCounter("likes"), orm.Int("pin").Encrypted())
	_ = orm.MustDefineSchema("1", things)
)

// The encoding is the same whichever driver produced the values: SQLite's
// integer booleans and PostgreSQL's bools, text as string or []byte.
func TestAppendRow(t *testing.T) {
	p := rowjson.For(things)
	if p.ID != 0 || len(p.Columns) != 8 {
		t.Fatalf("plan %+v", p)
	}
	want := `{"id":"t\"1","name":"a\u2028b","ok":true,"n":9007199254740993,"b":"AP8=","meta":{"a":[1,2]},"likes":{"c":{"x":"2"}},"pin":{"v":1}}`
	for _, vals := range [][]any{
		{"t\"1", "a\u2028b", true, int64(9007199254740993), []byte{0, 255}, `{"a":[1,2]}`, `{"c":{"x":"2"}}`, `{"v":1}`},
		{[]byte("t\"1"), []byte("a\u2028b"), int64(1), int64(9007199254740993), []byte{0, 255}, []byte(`{"a":[1,2]}`), []byte(`{"c":{"x":"2"}}`), []byte(`{"v":1}`)},
	} {
		got, err := p.AppendRow(nil, vals)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want || !json.Valid(got) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	if _, err := p.AppendRow(nil, []any{"t", "n", true, int64(1), nil, `{bad`, `{}`, `{}`}); err == nil {
		t.Error("invalid stored JSON must be refused")
	}
}
