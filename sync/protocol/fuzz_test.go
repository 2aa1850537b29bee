package protocol_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/plasma-go/plasma/sync/protocol"
)

// FuzzDecodePush checks that DecodePush never panics, classifies every
// refusal, and that what it accepts survives an encode/decode round
// trip unchanged.
func FuzzDecodePush(f *testing.F) {
	f.Add([]byte(pushDoc))
	f.Add([]byte(`{"pushVersion":1,"schemaVersion":"","profileID":"","clientGroupID":"g","mutations":[{"clientID":"c","id":3,"name":"n","timestamp":0}]}`))
	f.Add([]byte(`{"pushVersion":2}`))
	f.Add([]byte(`{"pushVersion":1,"mutations":[{"id":-1}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"pushVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","mutations":[{"clientID":"c","id":1,"name":"n","args":{"a":[1,"\u2028"]},"timestamp":1e308}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := protocol.DecodePush(data)
		if err != nil {
			var ve *protocol.VersionError
			if !errors.Is(err, protocol.ErrMalformed) && !errors.As(err, &ve) {
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			if p != nil {
				t.Fatal("request and error")
			}
			return
		}
		if p.PushVersion != 1 || p.ClientGroupID == "" || p.Mutations == nil {
			t.Fatalf("accepted %+v", p)
		}
		for _, m := range p.Mutations {
			if m.ID < 1 || m.ClientID == "" || m.Name == "" || !json.Valid(m.Args) {
				t.Fatalf("accepted mutation %+v", m)
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := protocol.DecodePush(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !equalPush(p, q) {
			t.Fatalf("round trip: %+v != %+v", p, q)
		}
	})
}

func equalPush(a, b *protocol.PushRequest) bool {
	if a.SchemaVersion != b.SchemaVersion || a.ProfileID != b.ProfileID || a.ClientGroupID != b.ClientGroupID || len(a.Mutations) != len(b.Mutations) {
		return false
	}
	for i := range a.Mutations {
		x, y := a.Mutations[i], b.Mutations[i]
		if x.ClientID != y.ClientID || x.ID != y.ID || x.Name != y.Name || x.Timestamp != y.Timestamp || !sameJSON(x.Args, y.Args) {
			return false
		}
	}
	return true
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// FuzzDecodePull checks that DecodePull never panics, and that no cookie
// — whatever a client sends — makes ParseCookie, CookieOrder or
// CompareCookies panic, or gives an order a response could not exceed.
func FuzzDecodePull(f *testing.F) {
	f.Add([]byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p…","clientGroupID":"g…","cookie":null}`))
	f.Add([]byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","cookie":{"order":7,"cvr":"ab"}}`))
	f.Add([]byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","cookie":"s"}`))
	f.Add([]byte(`{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","cookie":1e400}`))
	f.Add([]byte(`{"pullVersion":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := protocol.DecodePull(data)
		if err != nil {
			var ve *protocol.VersionError
			if !errors.Is(err, protocol.ErrMalformed) && !errors.As(err, &ve) {
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			return
		}
		if p.ClientGroupID == "" || !json.Valid(p.Cookie) {
			t.Fatalf("accepted %+v", p)
		}
		if c, ok := protocol.ParseCookie(p.Cookie); ok {
			if c.Order < 1 || c.Order > protocol.MaxSafeOrder || c.CVR == "" {
				t.Fatalf("parsed %+v", c)
			}
			back, ok := protocol.ParseCookie(c.JSON())
			if !ok || back != c {
				t.Fatalf("cookie round trip %+v", c)
			}
		}
		if o, ok := protocol.CookieOrder(p.Cookie); ok {
			if o < 0 || o > protocol.MaxSafeOrder {
				t.Fatalf("order %d", o)
			}
			// A response of order o+1 is above the client's cookie.
			above := protocol.Cookie{Order: o + 1, CVR: "x"}.JSON()
			if cmp, err := protocol.CompareCookies(above, p.Cookie); err != nil || cmp <= 0 {
				t.Fatalf("%s is not above %s: %d %v", above, p.Cookie, cmp, err)
			}
		}
		_, _ = protocol.CompareCookies(p.Cookie, protocol.Cookie{Order: 1, CVR: "x"}.JSON())
	})
}
