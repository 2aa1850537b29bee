package files_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/files"
)

const helloHash = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // "hello"

func TestParseRef(t *testing.T) {
	good := `{"hash":"` + helloHash + `","size":5,"mime":"text/plain","name":"hi.txt"}`
	r, err := files.ParseRef([]byte(good))
	if err != nil || r.Size != 5 || r.MIME != "text/plain" || r.Name != "hi.txt" || r.Hash.String() != helloHash {
		t.Fatalf("ParseRef = %+v, %v", r, err)
	}
	b, _ := json.Marshal(r)
	if string(b) != good {
		t.Fatalf("Marshal = %s", b)
	}
	bad := map[string]string{
		"base64 bytes":     `"aGVsbG8="`,
		"byte array":       `[104,101,108,108,111]`,
		"null":             `null`,
		"number":           `5`,
		"missing size":     `{"hash":"` + helloHash + `","mime":"text/plain"}`,
		"unknown key":      `{"hash":"` + helloHash + `","size":5,"mime":"text/plain","data":"aGVsbG8="}`,
		"case-folded key":  `{"HASH":"` + helloHash + `","size":5,"mime":"text/plain"}`,
		"duplicate key":    `{"hash":"` + helloHash + `","size":5,"size":6,"mime":"text/plain"}`,
		"negative size":    `{"hash":"` + helloHash + `","size":-1,"mime":"text/plain"}`,
		"fraction size":    `{"hash":"` + helloHash + `","size":5.0,"mime":"text/plain"}`,
		"exponent size":    `{"hash":"` + helloHash + `","size":5e0,"mime":"text/plain"}`,
		"huge size":        `{"hash":"` + helloHash + `","size":99999999999999999999,"mime":"text/plain"}`,
		"string size":      `{"hash":"` + helloHash + `","size":"5","mime":"text/plain"}`,
		"upper hex":        `{"hash":"` + strings.ToUpper(helloHash) + `","size":5,"mime":"text/plain"}`,
		"md5":              `{"hash":"md5:5d41402abc4b2a76b9719d911017c592","size":5,"mime":"text/plain"}`,
		"traversal hash":   `{"hash":"sha256:../../../../etc/passwd","size":5,"mime":"text/plain"}`,
		"bad mime":         `{"hash":"` + helloHash + `","size":5,"mime":"text"}`,
		"empty mime":       `{"hash":"` + helloHash + `","size":5,"mime":""}`,
		"slash name":       `{"hash":"` + helloHash + `","size":5,"mime":"text/plain","name":"../x"}`,
		"control name":     `{"hash":"` + helloHash + `","size":5,"mime":"text/plain","name":"a\r\nb"}`,
		"trailing data":    `{"hash":"` + helloHash + `","size":5,"mime":"text/plain"}{}`,
		"nested":           `{"hash":{"x":1},"size":5,"mime":"text/plain"}`,
		"oversized":        `{"hash":"` + helloHash + `","size":5,"mime":"text/plain","name":"` + strings.Repeat("a", 3000) + `"}`,
		"truncated":        `{"hash":"` + helloHash + `","size":5`,
		"invalid utf8 key": "{\"\xff\":1}",
	}
	for name, in := range bad {
		if _, err := files.ParseRef([]byte(in)); !errors.Is(err, files.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
		var r files.Ref
		if err := json.Unmarshal([]byte(in), &r); err == nil {
			t.Errorf("%s: json.Unmarshal accepted it", name)
		}
	}
}

func TestParseHash(t *testing.T) {
	for _, s := range []string{"", "sha256:", "sha256:abc", "../../etc/passwd", "sha256:" + strings.Repeat("g", 64),
		"sha256:" + strings.Repeat("a", 63) + "/", "SHA256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("a", 65)} {
		if _, err := files.ParseHash(s); !errors.Is(err, files.ErrMalformed) {
			t.Errorf("ParseHash(%q) = %v", s, err)
		}
	}
	h, err := files.ParseHash(helloHash)
	if err != nil || h != files.HashOf([]byte("hello")) {
		t.Fatal(h, err)
	}
}

// FuzzParseRef: the decoder never panics, and whatever it accepts
// re-encodes to a ref that decodes to the same value.
func FuzzParseRef(f *testing.F) {
	f.Add([]byte(`{"hash":"` + helloHash + `","size":5,"mime":"text/plain","name":"hi.txt"}`))
	f.Add([]byte(`{"hash":"` + helloHash + `","size":0,"mime":"image/png; charset=x"}`))
	f.Add([]byte(`"aGVsbG8="`))
	f.Add([]byte(`{"size":1e3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := files.ParseRef(b)
		if err != nil {
			if !errors.Is(err, files.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := files.ParseRef(out)
		if err != nil || r2 != r {
			t.Fatalf("re-decoding %s: %+v, %v", out, r2, err)
		}
	})
}
