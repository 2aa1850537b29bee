package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/plasma-go/plasma/internal/replay"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// Rows become T the way orm scans query results: the values are served
// through a database/sql connection of an in-process driver
// (internal/replay, which plugin/internal/rowbuf uses for middlewares too),
// so database/sql's conversions and orm's scanning (orm.Collect) apply
// exactly as to a real result.

// collect turns rows of driver values into T.
func collect[T any](names []string, kinds []tabledef.Kind, rows [][]any) ([]T, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	r, err := replay.Rows(context.Background(), names, rows)
	if err != nil {
		return nil, err
	}
	return orm.Collect[T](&orm.Result{Rows: r, Kinds: kinds})
}

// canon turns a driver value of a column of kind k into the canonical
// value evaluation uses: nil, int64, string or bool (other kinds: as
// given, with bytes as string).
func canon(k tabledef.Kind, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		v = string(x)
	}
	switch k {
	case tabledef.KindBool:
		switch b := v.(type) {
		case int64:
			return b != 0, nil
		case bool:
			return b, nil
		}
		return nil, fmt.Errorf("a boolean column holds %T", v)
	case tabledef.KindInt, tabledef.KindBigInt:
		switch n := v.(type) {
		case int64:
			return n, nil
		case string:
			return strconv.ParseInt(n, 10, 64)
		}
		return nil, fmt.Errorf("an integer column holds %T", v)
	case tabledef.KindText, tabledef.KindID:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("a text column holds %T", v)
	}
	return v, nil
}

// decodeImage reads a change-log row image into canonical values in the
// table's column order. Columns of kinds that are not evaluated are left
// nil: no Select or Aggregate plan reads them.
func decodeImage(p *plan, img json.RawMessage) ([]any, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(img, &m); err != nil {
		return nil, fmt.Errorf("live: a row image: %w", err)
	}
	out := make([]any, len(p.kinds))
	for i, c := range p.t.Columns() {
		raw, ok := m[c.Name()]
		if !ok || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var err error
		switch p.kinds[i] {
		case tabledef.KindBool:
			var b bool
			err = json.Unmarshal(raw, &b)
			out[i] = b
		case tabledef.KindInt, tabledef.KindBigInt:
			var n int64
			err = json.Unmarshal(raw, &n)
			out[i] = n
		case tabledef.KindText, tabledef.KindID:
			var s string
			err = json.Unmarshal(raw, &s)
			out[i] = s
		}
		if err != nil {
			return nil, fmt.Errorf("live: column %q of a row image: %w", c.Name(), err)
		}
	}
	return out, nil
}
