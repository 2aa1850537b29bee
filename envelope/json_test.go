package envelope

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// A well-formed AES envelope (it parses; it does not decrypt).
const validAES = `{"v":1,"suite":"aes256gcm-hkdfsha256","keyId":"k1",` +
	`"cell":{"table":"todos","rowId":"row-1","column":"note"},` +
	`"nonce":"AAAAAAAAAAAAAAAA","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`

// validPQ is a well-formed X-Wing envelope (1120-byte enc, 16-byte ct).
var validPQ = `{"v":1,"suite":"hpke-mlkem768x25519-hkdfsha256-aes256gcm","keyId":"device-1",` +
	`"cell":{"table":"todos","rowId":"row-1","column":"note"},` +
	`"enc":"` + strings.Repeat("A", 1120/3*4) + `AA==","ct":"AAAAAAAAAAAAAAAAAAAAAA=="}`

func TestParseValid(t *testing.T) {
	if _, err := ParseEnvelope([]byte(validAES)); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePQEnvelope([]byte(validPQ)); err != nil {
		t.Fatal(err)
	}
	// Whitespace and escaped names are still the same JSON.
	spaced := " \n" + strings.Replace(validAES, `"v"`, `"\u0076"`, 1) + "\t\n"
	if _, err := ParseEnvelope([]byte(spaced)); err != nil {
		t.Fatal(err)
	}
}

// replace edits the valid envelope once, failing the test if old is absent.
func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("corpus: %q not in %s", old, s)
	}
	return strings.Replace(s, old, new, 1)
}

func TestParseMalformedCorpus(t *testing.T) {
	r := func(old, new string) string { return replace(t, validAES, old, new) }
	rpq := func(old, new string) string { return replace(t, validPQ, old, new) }
	corpus := []struct {
		name string
		data string
		want error
	}{
		{"empty", ``, ErrTruncated},
		{"null", `null`, ErrMalformed},
		{"array", `[]`, ErrMalformed},
		{"number", `1`, ErrMalformed},
		{"string", `"x"`, ErrMalformed},
		{"empty object", `{}`, ErrMalformed},
		{"truncated", validAES[:len(validAES)/2], ErrTruncated},
		{"truncated at end", validAES[:len(validAES)-1], ErrTruncated},
		{"trailing object", validAES + `{}`, ErrMalformed},
		{"trailing garbage", validAES + `x`, ErrMalformed},
		{"trailing comma", r(`"}`, `",}`), ErrMalformed},
		{"unknown field", r(`{"v":1`, `{"extra":1,"v":1`), ErrMalformed},
		{"duplicate field", r(`{"v":1`, `{"v":1,"v":1`), ErrMalformed},
		{"duplicate cell field", r(`"table":"todos"`, `"table":"todos","table":"x"`), ErrMalformed},
		{"name case", r(`"keyId"`, `"keyid"`), ErrMalformed},
		{"missing keyId", r(`"keyId":"k1",`, ``), ErrMalformed},
		{"missing ct", r(`,"ct":"AAAAAAAAAAAAAAAAAAAAAA=="`, ``), ErrMalformed},
		{"missing nonce", r(`"nonce":"AAAAAAAAAAAAAAAA",`, ``), ErrMalformed},
		{"v string", r(`"v":1`, `"v":"1"`), ErrMalformed},
		{"v float", r(`"v":1`, `"v":1.0`), ErrMalformed},
		{"v exponent", r(`"v":1`, `"v":1e0`), ErrMalformed},
		{"v huge", r(`"v":1`, `"v":123456789012345678901234567890`), ErrMalformed},
		{"v null", r(`"v":1`, `"v":null`), ErrMalformed},
		{"v bool", r(`"v":1`, `"v":true`), ErrMalformed},
		{"suite number", r(`"suite":"aes256gcm-hkdfsha256"`, `"suite":5`), ErrMalformed},
		{"keyId array", r(`"keyId":"k1"`, `"keyId":["k1"]`), ErrMalformed},
		{"keyId empty", r(`"keyId":"k1"`, `"keyId":""`), ErrMalformed},
		{"cell string", r(`{"table":"todos","rowId":"row-1","column":"note"}`, `"todos/row-1.note"`), ErrMalformed},
		{"cell null", r(`{"table":"todos","rowId":"row-1","column":"note"}`, `null`), ErrMalformed},
		{"cell table number", r(`"table":"todos"`, `"table":1`), ErrMalformed},
		{"cell missing column", r(`,"column":"note"`, ``), ErrMalformed},
		{"cell extra field", r(`"column":"note"`, `"column":"note","x":"y"`), ErrMalformed},
		{"cell empty rowId", r(`"rowId":"row-1"`, `"rowId":""`), ErrMalformed},
		{"nonce number", r(`"nonce":"AAAAAAAAAAAAAAAA"`, `"nonce":123`), ErrMalformed},
		{"ct null", r(`"ct":"AAAAAAAAAAAAAAAAAAAAAA=="`, `"ct":null`), ErrMalformed},
		{"bad base64", r(`"nonce":"AAAAAAAAAAAAAAAA"`, `"nonce":"!!!!AAAAAAAAAAAA"`), ErrMalformed},
		{"url base64", r(`"nonce":"AAAAAAAAAAAAAAAA"`, `"nonce":"AAAAAAAAAAAAAA-_"`), ErrMalformed},
		{"unpadded base64", r(`"ct":"AAAAAAAAAAAAAAAAAAAAAA=="`, `"ct":"AAAAAAAAAAAAAAAAAAAAAA"`), ErrMalformed},
		{"base64 stray bits", r(`"ct":"AAAAAAAAAAAAAAAAAAAAAA=="`, `"ct":"AAAAAAAAAAAAAAAAAAAAAB=="`), ErrMalformed},
		{"base64 newline", r(`"nonce":"AAAAAAAAAAAAAAAA"`, `"nonce":"AAAAAAAA\nAAAAAAAA"`), ErrMalformed},
		{"nonce 11 bytes", r(`"nonce":"AAAAAAAAAAAAAAAA"`, `"nonce":"AAAAAAAAAAAAAA=="`), ErrMalformed},
		{"nonce 15 bytes", r(`"nonce":"AAAAAAAAAAAAAAAA"`, `"nonce":"AAAAAAAAAAAAAAAAAAAA"`), ErrMalformed},
		{"ct shorter than tag", r(`"ct":"AAAAAAAAAAAAAAAAAAAAAA=="`, `"ct":"AAAAAAAAAAAAAAAAAAAA"`), ErrTruncated},
		{"ct empty", r(`"ct":"AAAAAAAAAAAAAAAAAAAAAA=="`, `"ct":""`), ErrTruncated},
		{"version 0", r(`"v":1`, `"v":0`), ErrUnsupportedVersion},
		{"version 2", r(`"v":1`, `"v":2`), ErrUnsupportedVersion},
		{"unknown suite", r(`aes256gcm-hkdfsha256`, `aes128gcm`), ErrUnsupportedSuite},
		{"enc in AES envelope", r(`"ct"`, `"enc":"AAAA","ct"`), ErrMalformed},
		{"nonce in PQ envelope", rpq(`"ct"`, `"nonce":"AAAAAAAAAAAAAAAA","ct"`), ErrMalformed},
		{"PQ missing enc", rpq(`"enc":"`+strings.Repeat("A", 1120/3*4)+`AA==",`, ``), ErrMalformed},
		{"PQ short enc", rpq(`AA==",`, `",`), ErrTruncated},
		{"PQ long enc", rpq(`AA==",`, `AAAAAAAA",`), ErrMalformed},
		{"AES suite with enc only", rpq(`hpke-mlkem768x25519-hkdfsha256-aes256gcm`, `aes256gcm-hkdfsha256`), ErrMalformed},
		{"invalid UTF-8", r(`"k1"`, "\"k\xff\""), ErrMalformed},
		{"deep nesting", r(`"ct":"AAAAAAAAAAAAAAAAAAAAAA=="`, `"ct":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)), ErrMalformed},
	}
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.data))
			if got != nil || err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			wantErr(t, err, c.want)
		})
	}
}

func TestParseKindMismatch(t *testing.T) {
	_, err := ParseEnvelope([]byte(validPQ))
	wantErr(t, err, ErrUnsupportedSuite)
	_, err = ParsePQEnvelope([]byte(validAES))
	wantErr(t, err, ErrUnsupportedSuite)
	if IsPQEnvelope([]byte(validAES)) || IsPQEnvelope([]byte(`{}`)) || !IsPQEnvelope([]byte(validPQ)) {
		t.Fatal("IsPQEnvelope misclassifies")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	env := mustSeal(t, testKey(t, "k1"), Cell{"t<>&", "row \"1\"", "c\u00e9"}, []byte("v"))
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, env) {
		t.Fatalf("round trip changed the envelope:\n%+v\n%+v", back, env)
	}
}

// Envelopes embedded in a row decode strictly through encoding/json too.
func TestUnmarshalJSONInsideStruct(t *testing.T) {
	var row struct {
		Note  Envelope    `json:"note"`
		Other *PQEnvelope `json:"other"`
	}
	if err := json.Unmarshal([]byte(`{"note":`+validAES+`,"other":`+validPQ+`}`), &row); err != nil {
		t.Fatal(err)
	}
	if row.Note.KeyID != "k1" || row.Other == nil || len(row.Other.Enc) != 1120 {
		t.Fatalf("decoded %+v", row)
	}
	bad := replace(t, validAES, `{"v":1`, `{"V":1`)
	err := json.Unmarshal([]byte(`{"note":`+bad+`}`), &row)
	wantErr(t, err, ErrMalformed)
	// null leaves the value alone, as encoding/json does for its own types.
	if err := json.Unmarshal([]byte(`{"note":null}`), &row); err != nil || row.Note.KeyID != "k1" {
		t.Fatalf("null: %v, %+v", err, row.Note)
	}
}

func TestMarshalRefusesInvalidEnvelope(t *testing.T) {
	env := mustSeal(t, testKey(t, "k1"), testCell, nil)
	env.Nonce = env.Nonce[:3]
	_, err := json.Marshal(env)
	wantErr(t, err, ErrMalformed)
	_, err = json.Marshal(&PQEnvelope{})
	wantErr(t, err, ErrUnsupportedVersion)
}

func TestParseDoesNotAliasInput(t *testing.T) {
	data := []byte(validAES)
	env, err := ParseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	before := clone(env.Ciphertext)
	for i := range data {
		data[i] = 'x'
	}
	if !bytes.Equal(env.Ciphertext, before) || env.KeyID != "k1" {
		t.Fatal("envelope shares memory with its input")
	}
}
