package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plasma-go/plasma/internal/jsonx"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/protocol"
	"github.com/plasma-go/plasma/sync/server"
)

// hostileStrings are JSON string tokens as a client may send them: NUL,
// lone surrogates, invalid UTF-8, and well-formed controls.
var hostileStrings = []string{
	`"a\u0000b"`, `"\ud800"`, `"x\udc00y"`, "\"\xff\xfe\"", `"\ud800\u0041"`, "\"ok\xed\xa0\x80\"",
	`"\ud83d\ude00"`, `"\u2028\u0001"`, `"plain"`,
}

// Hostile strings in mutation arguments are either refused as a mutation
// error or round-trip exactly; no later pull fails or emits invalid JSON.
// A text column (notes.body) and a JSON column (notes.meta) carry them.
func TestHostileStrings(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, tg.DB, nil)
		var muts []mut
		type sent struct{ key, field, token string }
		byID := map[int64]sent{}
		for i, s := range hostileStrings {
			id := int64(2*i + 1)
			muts = append(muts, mut{"c1", id, "note", fmt.Sprintf(`{"id":"b%d","body":%s}`, i, s)})
			byID[id] = sent{fmt.Sprintf("notes/b%d", i), "body", s}
			muts = append(muts, mut{"c1", id + 1, "note", fmt.Sprintf(`{"id":"m%d","body":"b","meta":{"k":%s}}`, i, s)})
			byID[id+1] = sent{fmt.Sprintf("notes/m%d", i), "meta", `{"k":` + s + `}`}
		}
		e.mustPush("ann", "g1", muts...)
		failed := map[int64]bool{}
		for _, err := range e.takeErrors() {
			if !errors.Is(err, server.KindMutatorFailed) {
				t.Fatalf("error %v", err)
			}
			failed[err.MutationID] = true
		}
		if got := e.lmid(t, "c1"); got != int64(len(muts)) {
			t.Fatalf("lmid %d", got)
		}
		for _, user := range []string{"ann", "bob"} {
			status, body := e.post("pull", user, pullBody("g-"+user, nil))
			if status != 200 || !json.Valid([]byte(body)) || !utf8.ValidString(body) {
				t.Fatalf("%s's pull: %d %q", user, status, body)
			}
			var resp protocol.PullResponse
			if err := json.Unmarshal([]byte(body), &resp); err != nil {
				t.Fatal(err)
			}
			puts := map[string]json.RawMessage{}
			for _, op := range resp.Patch {
				puts[op.Key] = op.Value
			}
			for id, s := range byID {
				_, wellFormed := jsonx.Scan([]byte(s.token))
				row, present := puts[s.key]
				switch {
				case failed[id] && present:
					t.Errorf("%s: failed, yet pulled: %s", s.token, row)
				case failed[id] && wellFormed && !(tg.Name == "postgres" && strings.Contains(s.token, `\u0000`)):
					t.Errorf("%s: well-formed, yet refused", s.token)
				case failed[id]:
					// Refused: by plasma (ill-formed) or by the database
					// (PostgreSQL and NUL).
				case !wellFormed:
					t.Errorf("%q was applied: it cannot round-trip", s.token)
				case !present:
					t.Errorf("%s: applied, but not pulled", s.token)
				default:
					var fields map[string]json.RawMessage
					if err := json.Unmarshal(row, &fields); err != nil {
						t.Fatal(err)
					}
					if !sameJSON(fields[s.field], []byte(s.token)) {
						t.Errorf("%s: pulled %s", s.token, fields[s.field])
					}
				}
			}
		}
		// What plasma itself refuses, it refuses on every engine, as a
		// mutation error naming the arguments.
		for id, s := range byID {
			if _, ok := jsonx.Scan([]byte(s.token)); !ok && !failed[id] {
				t.Errorf("%q was not refused", s.token)
			}
		}
		noServerErrors(t, e)
	})
}

// sameJSON compares two JSON texts by value (a JSONB column reorders and
// respaces); well-formed strings decode exactly.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return jsonEqualAny(x, y)
}

// The refusal is an argument error, ErrIllFormedString.
func TestIllFormedArgsError(t *testing.T) {
	tg := ormtest.SQLite(t)
	e := newEnv(t, tg, tg.DB, nil)
	e.mustPush("ann", "g1", mut{"c1", 1, "note", `{"id":"n","body":"\ud800"}`})
	errs := e.takeErrors()
	if len(errs) != 1 || !errors.Is(errs[0], server.KindMutatorFailed) || !errors.Is(errs[0], mutator.ErrIllFormedString) || !errors.Is(errs[0], mutator.ErrInvalidArgs) {
		t.Fatalf("errors %v", errs)
	}
}
