package jsonx_test

import (
	"strings"
	"testing"

	"github.com/plasma-go/plasma/internal/jsonx"
)

func TestScan(t *testing.T) {
	cases := []struct {
		raw   string
		depth int
		ok    bool
	}{
		{`1`, 0, true}, {`"x"`, 0, true}, {`{}`, 1, true}, {`[1,[2,{"a":[3]}]]`, 4, true},
		{`"[[[{"`, 0, true}, {`{"a\"]]":"}"}`, 1, true}, {`"\\"`, 0, true}, {`["\\\"["]`, 1, true},
		{`"\ud83d\ude00"`, 0, true}, {`"\uD83D\uDE00"`, 0, true}, {`"\u00e9 é 😀"`, 0, true}, {`"\u0000"`, 0, true},
		{`"\ud800"`, 0, false}, {`"\udc00"`, 0, false}, {`"\ud800\u0041"`, 0, false}, {`"\ud800\ud800"`, 0, false},
		{`"\ud800x"`, 0, false}, {`{"k":["\udfff"]}`, 2, false}, {"\"\xff\"", 0, false}, {"[\"\xed\xa0\x80\"]", 1, false},
	}
	for _, c := range cases {
		d, ok := jsonx.Scan([]byte(c.raw))
		if d != c.depth || ok != c.ok {
			t.Errorf("Scan(%q) = %d, %v; want %d, %v", c.raw, d, ok, c.depth, c.ok)
		}
	}
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if d, ok := jsonx.Scan([]byte(deep)); d != 10000 || !ok {
		t.Errorf("deep: %d %v", d, ok)
	}
}
