package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/tabledef"
)

// pullResult is a decoded, checked pull response, reduced to the final
// state of each key it touches.
type pullResult struct {
	cookie json.RawMessage
	lmids  map[string]int64
	clear  bool
	tables map[*tableInfo]*tablePatch
	nops   int
	// touched are the tables whose view rows the rebase restored or a
	// replayed mutation wrote: with the patch's, those a rebase changed.
	touched map[string]bool
}

// tablePatch is one table's part of a patch: the final image of each
// key (nil for a del), in first-seen order.
type tablePatch struct {
	ids  []any            // the row ids, in the id column's type
	keys []string         // the same ids as the keys spell them
	rows map[string][]any // by the key's id; nil value = deleted
}

// MaxPullBytes bounds a pull response the client reads.
const MaxPullBytes = protocol.MaxMessageBytes

type rawPull struct {
	Cookie json.RawMessage   `json:"cookie"`
	LMIDs  *map[string]int64 `json:"lastMutationIDChanges"`
	Patch  *[]rawOp          `json:"patch"`
}

type rawOp struct {
	Op    string          `json:"op"`
	Key   *string         `json:"key"`
	Value json.RawMessage `json:"value"`
}

// decodePull parses and checks a pull response body against the
// replica's tables. It writes nothing.
func decodePull(body []byte, tables map[string]*tableInfo) (*pullResult, error) {
	var raw rawPull
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, badPull("not a pull response: %v", err)
	}
	if raw.LMIDs == nil {
		return nil, badPull("lastMutationIDChanges is missing or null; want an object")
	}
	if raw.Patch == nil {
		return nil, badPull("patch is missing or null; want an array")
	}
	if _, err := protocol.CompareCookies(raw.Cookie, nil); err != nil {
		return nil, badPull("cookie %.60s: want null, a number, a string or an object with an order", raw.Cookie)
	}
	r := &pullResult{cookie: raw.Cookie, lmids: *raw.LMIDs, tables: map[*tableInfo]*tablePatch{}, nops: len(*raw.Patch)}
	if len(bytes.TrimSpace(r.cookie)) == 0 || string(bytes.TrimSpace(r.cookie)) == "null" {
		r.cookie = nil
	}
	for id, n := range r.lmids {
		if n < 0 {
			return nil, badPull("lastMutationIDChanges[%q] is %d", id, n)
		}
	}
	for i, op := range *raw.Patch {
		if err := r.add(i, op, tables); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *pullResult) add(i int, op rawOp, tables map[string]*tableInfo) error {
	switch op.Op {
	case protocol.OpClear:
		r.clear = true
		clear(r.tables)
		return nil
	case protocol.OpPut, protocol.OpDel:
	default:
		return badPull("patch[%d]: unknown op %.40q", i, op.Op)
	}
	if op.Key == nil {
		return badPull("patch[%d]: %s without a key", i, op.Op)
	}
	name, id, ok := strings.Cut(*op.Key, "/")
	ti := tables[name]
	if !ok || id == "" || ti == nil {
		return badPull("patch[%d]: key %.80q is not <synced table>/<row id>", i, *op.Key)
	}
	tp := r.tables[ti]
	if tp == nil {
		tp = &tablePatch{rows: map[string][]any{}}
		r.tables[ti] = tp
	}
	var row []any
	if op.Op == protocol.OpPut {
		var err error
		if row, err = ti.decodeRow(op.Value, id); err != nil {
			return badPull("patch[%d] (%.80s): %v", i, *op.Key, err)
		}
	}
	if _, seen := tp.rows[id]; !seen {
		idv, err := ti.idValue(id)
		if err != nil {
			return badPull("patch[%d]: key %.80q: %v", i, *op.Key, err)
		}
		tp.ids = append(tp.ids, idv)
		tp.keys = append(tp.keys, id)
	}
	tp.rows[id] = row
	return nil
}

type patchError string

func (e patchError) Error() string { return string(e) }

// idValue converts a key's row id into the id column's stored type.
func (ti *tableInfo) idValue(id string) (any, error) {
	switch ti.cols[ti.idCol].kind {
	case tabledef.KindInt, tabledef.KindBigInt:
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, patchError("row id is not an integer")
		}
		return n, nil
	}
	return id, nil
}

// decodeRow turns a put's value into the table's column values.
func (ti *tableInfo) decodeRow(value json.RawMessage, keyID string) ([]any, error) {
	row := make([]any, len(ti.cols))
	seenID := false
	isObject, err := eachMember(value, func(key string, raw []byte) error {
		i := ti.colIndex(key)
		if i < 0 {
			return nil // a column this client does not know
		}
		v, err := decodeCell(ti.cols[i], raw)
		if err != nil {
			return patchError("column " + strconv.Quote(key) + ": " + err.Error())
		}
		row[i] = v
		seenID = seenID || i == ti.idCol
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case !isObject:
		return nil, patchError("value is not a JSON object")
	case !seenID || row[ti.idCol] == nil:
		return nil, patchError("value has no id")
	}
	if got := idText(row[ti.idCol]); got != keyID {
		return nil, patchError("value's id " + strconv.Quote(got) + " differs from the key's")
	}
	return row, nil
}

// colIndex returns the index of the named column, or -1.
func (ti *tableInfo) colIndex(name string) int {
	for i := range ti.cols {
		if ti.cols[i].name == name {
			return i
		}
	}
	return -1
}

func idText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	}
	return ""
}

// decodeCell converts one JSON value of the wire format (see
// internal/rowjson) into what the column stores on SQLite.
func decodeCell(c columnInfo, raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil, nil
	}
	if c.encrypted || c.kind.IsJSONText() {
		return string(raw), nil // JSON text, stored as it is
	}
	switch c.kind {
	case tabledef.KindBool:
		switch string(raw) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, patchError("want a boolean")
	case tabledef.KindInt, tabledef.KindBigInt:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			var f float64
			if json.Unmarshal(raw, &f) != nil || f != float64(int64(f)) {
				return nil, patchError("want an integer")
			}
			n = int64(f)
		}
		return n, nil
	case tabledef.KindBlob:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, patchError("want a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, patchError("want a base64 string")
		}
		return b, nil
	}
	s, ok := jsonString(raw)
	if !ok {
		return nil, patchError("want a string")
	}
	return s, nil
}
