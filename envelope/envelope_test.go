package envelope

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	k := testKey(t, "k1")
	for _, pt := range [][]byte{nil, {0}, []byte("héllo"), bytes.Repeat([]byte{0xAB}, 1024)} {
		env := mustSeal(t, k, testCell, pt)
		if env.Version != Version || env.Suite != SuiteAES256GCM || env.KeyID != "k1" || env.Cell != testCell {
			t.Fatalf("header = %+v", env.Header())
		}
		if len(env.Nonce) != NonceSize || len(env.Ciphertext) != len(pt)+TagSize {
			t.Fatalf("nonce %d bytes, ciphertext %d bytes", len(env.Nonce), len(env.Ciphertext))
		}
		data, err := env.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseEnvelope(data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		got, err := Open(k, testCell, parsed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v; want %q", got, err, pt)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	k := testKey(t, "k1")
	a, b := mustSeal(t, k, testCell, []byte("x")), mustSeal(t, k, testCell, []byte("x"))
	if bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("two seals of the same value are identical")
	}
}

// Every single-bit change to the nonce, the ciphertext or the tag must fail.
func TestOpenRejectsEveryTamperedByte(t *testing.T) {
	k := testKey(t, "k1")
	env := mustSeal(t, k, testCell, []byte("the quick brown fox"))
	for name, field := range map[string]*[]byte{"nonce": &env.Nonce, "ciphertext": &env.Ciphertext} {
		orig := *field
		for i := range orig {
			*field = clone(orig)
			(*field)[i] ^= 0x01
			if _, err := Open(k, testCell, env); !errors.Is(err, ErrAuth) {
				t.Fatalf("%s byte %d flipped: %v", name, i, err)
			}
		}
		*field = orig
	}
	if _, err := Open(k, testCell, env); err != nil {
		t.Fatalf("untampered envelope: %v", err)
	}
}

func TestOpenRejectsResizedCiphertext(t *testing.T) {
	k := testKey(t, "k1")
	env := mustSeal(t, k, testCell, []byte("the quick brown fox"))
	orig := env.Ciphertext
	env.Ciphertext = orig[:len(orig)-1]
	_, err := Open(k, testCell, env)
	wantErr(t, err, ErrAuth)
	env.Ciphertext = append(clone(orig), 0)
	_, err = Open(k, testCell, env)
	wantErr(t, err, ErrAuth)
	env.Ciphertext = orig[:TagSize-1]
	_, err = Open(k, testCell, env)
	wantErr(t, err, ErrTruncated)
}

// otherCells moves testCell along each AAD cell field.
var otherCells = map[string]Cell{
	"table":  {Table: "notes", RowID: testCell.RowID, Column: testCell.Column},
	"rowId":  {Table: testCell.Table, RowID: "row-2", Column: testCell.Column},
	"column": {Table: testCell.Table, RowID: testCell.RowID, Column: "title"},
}

func TestOpenRejectsMovedCiphertext(t *testing.T) {
	k := testKey(t, "k1")
	for field, other := range otherCells {
		t.Run(field, func(t *testing.T) {
			env := mustSeal(t, k, testCell, []byte("secret"))
			// Copied as is: the clear-text claim gives it away.
			_, err := Open(k, other, env)
			wantErr(t, err, ErrCellMismatch)
			// Claim rewritten to match: the AAD gives it away.
			env.Cell = other
			_, err = Open(k, other, env)
			wantErr(t, err, ErrAuth)
		})
	}
}

func TestOpenRejectsRelabelledKeyID(t *testing.T) {
	k := testKey(t, "k1")
	env := mustSeal(t, k, testCell, []byte("secret"))
	env.KeyID = "k2"
	_, err := Open(k, testCell, env)
	wantErr(t, err, ErrUnknownKey)
	// Even a key with the same secret under the new id cannot open it.
	same := Key{ID: "k2", Secret: k.Secret}
	_, err = Open(same, testCell, env)
	wantErr(t, err, ErrAuth)
}

func TestOpenRejectsWrongKey(t *testing.T) {
	env := mustSeal(t, testKey(t, "k1"), testCell, []byte("secret"))
	other, err := GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(other, testCell, env)
	wantErr(t, err, ErrAuth)
}

func TestOpenRejectsRelabelledSuiteAndVersion(t *testing.T) {
	k := testKey(t, "k1")
	cases := []struct {
		edit func(*Envelope)
		want error
	}{
		{func(e *Envelope) { e.Version = 2 }, ErrUnsupportedVersion},
		{func(e *Envelope) { e.Version = 0 }, ErrUnsupportedVersion},
		{func(e *Envelope) { e.Suite = "aes128gcm" }, ErrUnsupportedSuite},
		{func(e *Envelope) { e.Suite = SuiteMLKEM768X25519 }, ErrUnsupportedSuite},
	}
	for i, c := range cases {
		env := mustSeal(t, k, testCell, []byte("secret"))
		c.edit(env)
		_, err := Open(k, testCell, env)
		if !errors.Is(err, c.want) {
			t.Errorf("case %d: got %v, want %v", i, err, c.want)
		}
	}
}

// aadVariants changes one AAD input at a time, including version and suite,
// which the envelope checks refuse before they reach the AAD.
func aadVariants(keyID string, suite Suite) map[string][]byte {
	v := map[string][]byte{
		"version": AAD(Version+1, suite, keyID, testCell),
		"keyId":   AAD(Version, suite, keyID+"x", testCell),
		"suite":   AAD(Version, suite+"x", keyID, testCell),
	}
	for field, c := range otherCells {
		v[field] = AAD(Version, suite, keyID, c)
	}
	return v
}

func TestAESBindsEveryAADField(t *testing.T) {
	k := testKey(t, "k1")
	env := mustSeal(t, k, testCell, []byte("secret"))
	for field, aad := range aadVariants("k1", SuiteAES256GCM) {
		gcm, err := cellAEAD(&k.Secret, aad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gcm.Open(nil, env.Nonce, env.Ciphertext, aad); err == nil {
			t.Errorf("changing %s in the AAD still opens", field)
		}
	}
}

func TestAADIsCanonical(t *testing.T) {
	got := hex.EncodeToString(AAD(1, "s", "k", Cell{"t", "r", "c"}))
	want := "0000000f" + hex.EncodeToString([]byte(aadLabel)) + "00000001" +
		"0000000174" + "0000000172" + "0000000163" + "000000016b" + "0000000173"
	if got != want {
		t.Fatalf("AAD = %s\nwant  %s", got, want)
	}
	// Moving a separator between fields must change the AAD.
	a := AAD(1, "s", "k", Cell{"a/b", "c", "d"})
	b := AAD(1, "s", "k", Cell{"a", "b/c", "d"})
	if bytes.Equal(a, b) {
		t.Fatal("AAD is ambiguous across field boundaries")
	}
}

func TestSealRejectsBadInput(t *testing.T) {
	k := testKey(t, "k1")
	_, err := Seal(Key{ID: "k1"}, testCell, nil)
	wantErr(t, err, ErrInvalidKey)
	_, err = Seal(Key{Secret: k.Secret}, testCell, nil)
	wantErr(t, err, ErrInvalidKey)
	for _, c := range []Cell{
		{"", "r", "c"}, {"t", "", "c"}, {"t", "r", ""},
		{"t", "r\xff", "c"}, {strings.Repeat("t", MaxCellFieldBytes+1), "r", "c"},
	} {
		_, err = Seal(k, c, nil)
		wantErr(t, err, ErrInvalidCell)
	}
	_, err = NewKey("k", make([]byte, 16))
	wantErr(t, err, ErrInvalidKey)
}

func TestKeyNeverPrintsSecret(t *testing.T) {
	secret := make([]byte, KeySize)
	for i := range secret {
		secret[i] = byte(200 + i)
	}
	k, err := NewKey("k1", secret)
	if err != nil {
		t.Fatal(err)
	}
	secretHex := hex.EncodeToString(secret)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k)
	outputs := []string{logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, []Key{k}))
	}
	for _, out := range outputs {
		if strings.Contains(strings.ToLower(out), secretHex[:8]) ||
			strings.Contains(out, "200 201") || !strings.Contains(out, "k1") {
			t.Errorf("leaks or lacks the id: %s", out)
		}
	}
}
