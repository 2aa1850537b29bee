package live

import (
	"encoding/json"
	"testing"

	"github.com/plasma-go/plasma/internal/sqleval"
	"github.com/plasma-go/plasma/orm"
)

var fuzzTable = orm.NewTable("fz", orm.ID(), orm.Text("t").Nullable(), orm.BigInt("n").Nullable(), orm.Boolean("b"), orm.JSON("j"))

// FuzzDecodeImage: a change-log image, however malformed, decodes to
// canonical values of the declared kinds or fails with an error; it never
// panics, and what it decodes can be evaluated and ordered.
func FuzzDecodeImage(f *testing.F) {
	for _, s := range []string{`{"id":"a","t":"x","n":1,"b":true,"j":{"k":[1]}}`, `{"id":"a","n":1e400}`, `{"n":"1"}`, `[]`, `{"t":null}`, `{"b":1}`, `{"n":9223372036854775808}`} {
		f.Add([]byte(s))
	}
	p := compilePlan(orm.Select(fuzzTable.Col("id"), fuzzTable.Col("t"), fuzzTable.Col("n"), fuzzTable.Col("b")).From(fuzzTable), sqleval.Options{Engine: sqleval.SQLite, ByteOrderText: true})
	if p.class != Select {
		f.Fatalf("class %v: %s", p.class, p.why)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		vals, err := decodeImage(p, json.RawMessage(img))
		if err != nil {
			return
		}
		for i, v := range vals {
			switch v.(type) {
			case nil, string, int64, bool:
			default:
				t.Fatalf("column %d decoded to %T", i, v)
			}
		}
		_ = p.pred(vals)
		_ = cmpOrder(p.order, vals, vals)
		_ = keyOf(vals)
	})
}
