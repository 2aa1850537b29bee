package orm

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// validUTF8 agrees with utf8.ValidString, whatever the length and
// wherever the first byte past ASCII falls.
func TestValidUTF8(t *testing.T) {
	cases := []string{"", "a", "héllo", "\xff", "日本語", "\xed\xa0\x80", "a\xc3", "\xc3\xa9"}
	for n := 0; n <= 40; n++ {
		ascii := strings.Repeat("x", n)
		cases = append(cases, ascii, ascii+"é", ascii+"\xff", ascii+"\xc3", "é"+ascii, "\x80"+ascii)
		for i := 0; i < n; i++ {
			b := []byte(ascii)
			b[i] = 0xC3 // a lead byte, cut off or followed by ASCII
			cases = append(cases, string(b), string(b)+"\xa9")
		}
	}
	for _, s := range cases {
		if got, want := validUTF8(s), utf8.ValidString(s); got != want {
			t.Errorf("validUTF8(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"", "plain ascii text!", "héllo wörld", "\xff\xfe", "0123456\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validUTF8(s), utf8.ValidString(s); got != want {
			t.Fatalf("validUTF8(%q) = %v, want %v", s, got, want)
		}
	})
}
