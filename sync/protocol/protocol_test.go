package protocol_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/sync/protocol"
)

const pushDoc = `{"pushVersion":1,"schemaVersion":"1","profileID":"p…","clientGroupID":"g…",
 "mutations":[{"clientID":"c…","id":1,"name":"createTodo","args":{"id":"t1","title":"hi"},"timestamp":2722.1}]}`

func TestDecodePush(t *testing.T) {
	p, err := protocol.DecodePush([]byte(pushDoc))
	if err != nil {
		t.Fatal(err)
	}
	m := p.Mutations[0]
	if p.PushVersion != 1 || p.SchemaVersion != "1" || p.ClientGroupID != "g…" || m.ClientID != "c…" || m.ID != 1 ||
		m.Name != "createTodo" || string(m.Args) != `{"id":"t1","title":"hi"}` || m.Timestamp != 2722.1 {
		t.Fatalf("%+v", p)
	}
	// args may be omitted (a JavaScript undefined): null.
	p, err = protocol.DecodePush([]byte(`{"pushVersion":1,"schemaVersion":"","profileID":"","clientGroupID":"g","mutations":[{"clientID":"c","id":3,"name":"n","timestamp":0,"future":true}],"unknown":1}`))
	if err != nil || string(p.Mutations[0].Args) != "null" {
		t.Fatal(p, err)
	}
	bad := map[string]string{
		"not json":         `{`,
		"empty":            ``,
		"array":            `[]`,
		"null":             `null`,
		"string":           `"x"`,
		"no pushVersion":   `{"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[]}`,
		"pushVersion str":  `{"pushVersion":"1","schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[]}`,
		"no schema":        `{"pushVersion":1,"profileID":"p","clientGroupID":"g","mutations":[]}`,
		"schema number":    `{"pushVersion":1,"schemaVersion":1,"profileID":"p","clientGroupID":"g","mutations":[]}`,
		"no profile":       `{"pushVersion":1,"schemaVersion":"1","clientGroupID":"g","mutations":[]}`,
		"empty group":      `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"","mutations":[]}`,
		"long group":       `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"` + strings.Repeat("g", 300) + `","mutations":[]}`,
		"mutations object": `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":{}}`,
		"no mutations":     `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g"}`,
		"id 0":             `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":0,"name":"n","args":1,"timestamp":1}]}`,
		"id negative":      `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":-4,"name":"n","args":1,"timestamp":1}]}`,
		"id fraction":      `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":1.5,"name":"n","args":1,"timestamp":1}]}`,
		"id huge":          `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":1e40,"name":"n","args":1,"timestamp":1}]}`,
		"no id":            `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","name":"n","args":1,"timestamp":1}]}`,
		"no client":        `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"id":1,"name":"n","args":1,"timestamp":1}]}`,
		"name null":        `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":1,"name":null,"args":1,"timestamp":1}]}`,
		"empty name":       `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":1,"name":"","args":1,"timestamp":1}]}`,
		"no timestamp":     `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":1,"name":"n","args":1}]}`,
		"mutation array":   `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[[1]]}`,
		"trailing":         `{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[]} x`,
	}
	for name, body := range bad {
		_, err := protocol.DecodePush([]byte(body))
		var de *protocol.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, body := range []string{
		`{"pushVersion":2,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[]}`,
		`{"pushVersion":0,"mutations":"whatever shape version 0 had"}`,
	} {
		_, err := protocol.DecodePush([]byte(body))
		var ve *protocol.VersionError
		if !errors.As(err, &ve) || ve.VersionType != protocol.VersionTypePush {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestDecodePull(t *testing.T) {
	for _, ck := range []string{`null`, `7`, `"s"`, `{"order":1,"cvr":"x"}`, `{"order":"a"}`} {
		p, err := protocol.DecodePull([]byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p…","clientGroupID":"g…","cookie":` + ck + `}`))
		if err != nil || string(p.Cookie) != ck {
			t.Fatal(ck, p, err)
		}
	}
	for _, body := range []string{
		`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g"}`,
		`{"pullVersion":1,"schemaVersion":"1","profileID":"p","cookie":null}`,
		`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":7,"cookie":null}`,
		`{"pullVersion":null,"schemaVersion":"1","profileID":"p","clientGroupID":"g","cookie":null}`,
	} {
		if _, err := protocol.DecodePull([]byte(body)); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%s: %v", body, err)
		}
	}
	_, err := protocol.DecodePull([]byte(`{"pullVersion":0,"cookie":1}`))
	var ve *protocol.VersionError
	if !errors.As(err, &ve) || ve.VersionType != protocol.VersionTypePull {
		t.Fatal(err)
	}
}

func TestEncoding(t *testing.T) {
	r := protocol.PullResponse{
		Cookie:                protocol.Cookie{Order: 7, CVR: "ab"}.JSON(),
		LastMutationIDChanges: map[string]int64{"c2": 3, "c1": 1},
		Patch: []protocol.PatchOp{{Op: protocol.OpClear}, {Op: protocol.OpPut, Key: "todos/t\"1", Value: json.RawMessage(`{"id":"t\"1"}`)},
			{Op: protocol.OpDel, Key: "todos/t2"}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cookie":{"order":7,"cvr":"ab"},"lastMutationIDChanges":{"c1":1,"c2":3},"patch":[{"op":"clear"},{"op":"put","key":"todos/t\"1","value":{"id":"t\"1"}},{"op":"del","key":"todos/t2"}]}`
	if string(b) != want {
		t.Fatalf("%s\n%s", b, want)
	}
	var back protocol.PullResponse
	if err := json.Unmarshal(b, &back); err != nil || len(back.Patch) != 3 || back.Patch[1].Key != `todos/t"1` {
		t.Fatal(back, err)
	}
	b, _ = json.Marshal(protocol.PushRequest{PushVersion: 1, ClientGroupID: "g"})
	if !strings.Contains(string(b), `"mutations":[]`) {
		t.Fatal(string(b))
	}
	b, _ = json.Marshal(protocol.PullRequest{PullVersion: 1})
	if !strings.Contains(string(b), `"cookie":null`) {
		t.Fatal(string(b))
	}
	b, _ = json.Marshal(protocol.VersionNotSupported(protocol.VersionTypeSchema))
	if string(b) != `{"error":"VersionNotSupported","versionType":"schema"}` {
		t.Fatal(string(b))
	}
	b, _ = json.Marshal(protocol.ClientStateNotFound())
	if string(b) != `{"error":"ClientStateNotFound"}` {
		t.Fatal(string(b))
	}
}

func TestCookies(t *testing.T) {
	c := protocol.Cookie{Order: 42, CVR: "abc"}
	got, ok := protocol.ParseCookie(c.JSON())
	if !ok || got != c {
		t.Fatal(got, ok)
	}
	for _, raw := range []string{``, `null`, `42`, `"42"`, `{"order":42}`, `{"order":42,"cvr":""}`, `{"order":0,"cvr":"a"}`,
		`{"order":42.5,"cvr":"a"}`, `{"order":"42","cvr":"a"}`, `{"order":42,"cvr":"a","x":1}`, `{"order":42,"cvr":null}`, `[`, `{"order":1e16,"cvr":"a"}`} {
		if _, ok := protocol.ParseCookie(json.RawMessage(raw)); ok {
			t.Errorf("ParseCookie(%s) accepted", raw)
		}
	}
	orders := map[string]int64{`7`: 7, `7.2`: 8, `{"order":9,"x":[1]}`: 9, ` 3 `: 3, `0`: 0}
	for raw, want := range orders {
		if got, ok := protocol.CookieOrder(json.RawMessage(raw)); !ok || got != want {
			t.Errorf("CookieOrder(%s) = %d, %v", raw, got, ok)
		}
	}
	for _, raw := range []string{``, `null`, `"7"`, `{"order":"7"}`, `-1`, `1e300`, `{}`, `[7]`, `true`, `{"order":`} {
		if _, ok := protocol.CookieOrder(json.RawMessage(raw)); ok {
			t.Errorf("CookieOrder(%s) ok", raw)
		}
	}
	cmp := []struct {
		a, b string
		want int
	}{
		{`null`, `1`, -1}, {`1`, `null`, 1}, {`null`, `null`, 0}, {`2`, `10`, -1},
		{`"10"`, `"9"`, -1}, {`10`, `"9"`, -1}, // mixed: compared as strings
		{`{"order":3}`, `2`, 1}, {`{"order":"b"}`, `"a"`, 1}, {`{"order":5,"x":1}`, `{"order":5,"y":2}`, 0},
		{`"\ud83d\ude00"`, `"\uffff"`, -1}, // UTF-16 code units: a surrogate is below U+FFFF
	}
	for _, c := range cmp {
		got, err := protocol.CompareCookies(json.RawMessage(c.a), json.RawMessage(c.b))
		if err != nil || got != c.want {
			t.Errorf("CompareCookies(%s, %s) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
	}
	if _, err := protocol.CompareCookies(json.RawMessage(`[1]`), nil); !errors.Is(err, protocol.ErrBadCookie) {
		t.Fatal(err)
	}
}

func TestDecodePullRefusesBadCookies(t *testing.T) {
	body := func(cookie string) []byte {
		return []byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","cookie":` + cookie + `}`)
	}
	for _, ck := range []string{`null`, `7`, `9007199254740991`, `1e300`, `"zzzz"`, `{"order":9007199254740991}`, `{"order":"x","cvr":1}`, `{"order":1,"cvr":"a"}`} {
		if _, err := protocol.DecodePull(body(ck)); err != nil {
			t.Errorf("cookie %s: %v", ck, err)
		}
	}
	for _, ck := range []string{`[1]`, `true`, `false`, `{}`, `{"order":null}`, `{"order":[1]}`, `{"cvr":"a"}`, `1e400`} {
		_, err := protocol.DecodePull(body(ck))
		var de *protocol.DecodeError
		if !errors.As(err, &de) || de.Field != "cookie" {
			t.Errorf("cookie %s: %v; want a DecodeError of field cookie", ck, err)
		}
	}
}

func TestIDsRefuseNUL(t *testing.T) {
	if _, err := protocol.DecodePull([]byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g\u0000","cookie":null}`)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("group with NUL: %v", err)
	}
	if _, err := protocol.DecodePush([]byte(`{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c\u0000","id":1,"name":"m","args":{},"timestamp":1}]}`)); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("client with NUL: %v", err)
	}
	for _, raw := range []string{`{"order":1,"cvr":"a\u0000"}`, `{"order":1,"cvr":"\u00e9"}`, `{"order":1,"cvr":"a\nb"}`} {
		if _, ok := protocol.ParseCookie(json.RawMessage(raw)); ok {
			t.Errorf("ParseCookie(%s) accepted", raw)
		}
	}
}
