package envelope

import (
	"bytes"
	"crypto/hpke"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/cryptotest"
)

func placeholder(t testing.TB) *HPKEProvider {
	t.Helper()
	p, err := NewInsecurePlaceholderProvider(PlaceholderOptions{AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSealOpenPQRoundTrip(t *testing.T) {
	for _, p := range []*HPKEProvider{NewHPKEProvider(), placeholder(t)} {
		t.Run(string(p.Suite()), func(t *testing.T) {
			priv, err := p.GenerateKey("device-1")
			if err != nil {
				t.Fatal(err)
			}
			for _, pt := range [][]byte{nil, []byte("héllo"), bytes.Repeat([]byte{1}, 1024)} {
				env := mustSealPQ(t, p, priv.PublicKey(), testCell, pt)
				if len(env.Enc) != suites[p.Suite()].encSize || len(env.Ciphertext) != len(pt)+TagSize {
					t.Fatalf("enc %d bytes, ciphertext %d bytes", len(env.Enc), len(env.Ciphertext))
				}
				data, err := json.Marshal(env)
				if err != nil {
					t.Fatal(err)
				}
				if !IsPQEnvelope(data) {
					t.Fatal("IsPQEnvelope = false")
				}
				parsed, err := ParsePQEnvelope(data)
				if err != nil {
					t.Fatal(err)
				}
				got, err := OpenPQ(p, priv, testCell, parsed)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("OpenPQ = %q, %v", got, err)
				}
			}
		})
	}
}

// Every single-bit change to the KEM encapsulation, the ciphertext or the
// tag must fail.
func TestOpenPQRejectsEveryTamperedByte(t *testing.T) {
	p, priv := NewHPKEProvider(), testPQKey(t)
	env := mustSealPQ(t, p, priv.PublicKey(), testCell, []byte("the quick brown fox"))
	for name, field := range map[string]*[]byte{"enc": &env.Enc, "ciphertext": &env.Ciphertext} {
		orig := *field
		for i := range orig {
			*field = clone(orig)
			(*field)[i] ^= 0x80
			if _, err := OpenPQ(p, priv, testCell, env); err != ErrAuth {
				t.Fatalf("%s byte %d flipped: %v", name, i, err)
			}
		}
		*field = orig
	}
	if _, err := OpenPQ(p, priv, testCell, env); err != nil {
		t.Fatalf("untampered envelope: %v", err)
	}
}

func TestOpenPQRejectsMovedAndRelabelled(t *testing.T) {
	p, priv := NewHPKEProvider(), testPQKey(t)
	for field, other := range otherCells {
		env := mustSealPQ(t, p, priv.PublicKey(), testCell, []byte("secret"))
		_, err := OpenPQ(p, priv, other, env)
		wantErr(t, err, ErrCellMismatch)
		env.Cell = other
		_, err = OpenPQ(p, priv, other, env)
		if err != ErrAuth {
			t.Fatalf("%s: claim rewritten: %v", field, err)
		}
	}

	env := mustSealPQ(t, p, priv.PublicKey(), testCell, []byte("secret"))
	env.KeyID = "device-2"
	_, err := OpenPQ(p, priv, testCell, env)
	wantErr(t, err, ErrUnknownKey)
	// The same key pair under the new id: only the AAD stops it.
	seed, _ := priv.Bytes()
	renamed, err := p.NewPrivateKey("device-2", seed)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenPQ(p, renamed, testCell, env)
	wantErr(t, err, ErrAuth)

	env = mustSealPQ(t, p, priv.PublicKey(), testCell, []byte("secret"))
	env.Version = 2
	_, err = OpenPQ(p, priv, testCell, env)
	wantErr(t, err, ErrUnsupportedVersion)
	env.Version, env.Suite = Version, SuiteInsecurePlaceholder
	_, err = OpenPQ(p, priv, testCell, env)
	wantErr(t, err, ErrMalformed) // a 1120-byte enc is not a placeholder's 32 bytes
}

func TestPQBindsEveryAADField(t *testing.T) {
	for _, p := range []*HPKEProvider{NewHPKEProvider(), placeholder(t)} {
		priv, err := p.GenerateKey("device-1")
		if err != nil {
			t.Fatal(err)
		}
		env := mustSealPQ(t, p, priv.PublicKey(), testCell, []byte("secret"))
		for field, aad := range aadVariants("device-1", p.Suite()) {
			if _, err := p.Open(priv, pqInfo, env.Enc, aad, env.Ciphertext); err != ErrAuth {
				t.Errorf("%s: changing %s in the AAD: %v", p.Suite(), field, err)
			}
		}
		if _, err := p.Open(priv, []byte("other info"), env.Enc, AAD(1, p.Suite(), "device-1", testCell), env.Ciphertext); err != ErrAuth {
			t.Errorf("%s: other info: %v", p.Suite(), err)
		}
	}
}

func TestOpenPQWrongKeyOrSuite(t *testing.T) {
	p, priv := NewHPKEProvider(), testPQKey(t)
	env := mustSealPQ(t, p, priv.PublicKey(), testCell, []byte("secret"))
	other, _ := p.GenerateKey("device-1")
	_, err := OpenPQ(p, other, testCell, env)
	wantErr(t, err, ErrAuth)

	pp := placeholder(t)
	staging, _ := pp.GenerateKey("device-1")
	_, err = OpenPQ(pp, staging, testCell, env)
	wantErr(t, err, ErrUnsupportedSuite)
	_, err = OpenPQ(p, staging, testCell, env)
	wantErr(t, err, ErrUnsupportedSuite)
	_, err = SealPQ(p, staging.PublicKey(), testCell, nil)
	wantErr(t, err, ErrUnsupportedSuite)
	_, _, err = p.Seal(staging.PublicKey(), nil, nil, nil)
	wantErr(t, err, ErrInvalidKey)
	_, err = p.Open(staging, nil, env.Enc, nil, env.Ciphertext)
	wantErr(t, err, ErrInvalidKey)

	_, err = SealPQ(nil, priv.PublicKey(), testCell, nil)
	wantErr(t, err, ErrInvalidKey)
	_, err = OpenPQ(p, nil, testCell, env)
	wantErr(t, err, ErrInvalidKey)
	_, err = SealPQ(p, priv.PublicKey(), Cell{Table: "t"}, nil)
	wantErr(t, err, ErrInvalidCell)
	var zero HPKEProvider
	_, err = zero.GenerateKey("x")
	wantErr(t, err, ErrUnsupportedSuite)
}

func TestPlaceholderRequiresOptIn(t *testing.T) {
	p, err := NewInsecurePlaceholderProvider(PlaceholderOptions{})
	if p != nil {
		t.Fatal("constructed without opt-in")
	}
	wantErr(t, err, ErrInsecureProvider)
	if placeholder(t).Suite() != SuiteInsecurePlaceholder {
		t.Fatal("wrong suite")
	}
}

func TestPQKeySerialization(t *testing.T) {
	p, priv := NewHPKEProvider(), testPQKey(t)
	pubJSON, err := MarshalPQPublicKey(priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	privJSON, err := MarshalPQPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePQPublicKey(p, pubJSON)
	if err != nil {
		t.Fatal(err)
	}
	priv2, err := ParsePQPrivateKey(p, privJSON)
	if err != nil {
		t.Fatal(err)
	}
	if pub.KeyID() != "device-1" || len(pub.Bytes()) != 1216 || priv2.KeyID() != "device-1" {
		t.Fatalf("parsed %q (%d bytes), %q", pub.KeyID(), len(pub.Bytes()), priv2.KeyID())
	}
	// A value sealed to the parsed public key opens with the parsed private key.
	env := mustSealPQ(t, p, pub, testCell, []byte("v"))
	if got, err := OpenPQ(p, priv2, testCell, env); err != nil || string(got) != "v" {
		t.Fatalf("OpenPQ = %q, %v", got, err)
	}

	_, err = ParsePQPublicKey(placeholder(t), pubJSON)
	wantErr(t, err, ErrUnsupportedSuite)
	_, err = ParsePQPublicKey(p, privJSON) // a private key where a public one belongs
	wantErr(t, err, ErrMalformed)
	_, err = ParsePQPublicKey(p, []byte(strings.Replace(string(pubJSON), `"keyId"`, `"keyId":"x","keyId"`, 1)))
	wantErr(t, err, ErrMalformed)
	short := fmt.Sprintf(`{"suite":%q,"keyId":"d","privateKey":"AAAA"}`, p.Suite())
	_, err = ParsePQPrivateKey(p, []byte(short))
	wantErr(t, err, ErrInvalidKey)
	_, err = ParsePQPrivateKey(p, []byte(strings.Replace(string(privJSON), `"device-1"`, `""`, 1)))
	wantErr(t, err, ErrInvalidKey)
	_, err = p.NewPublicKey("d", make([]byte, 10))
	wantErr(t, err, ErrInvalidKey)
}

func TestPQPrivateKeyNeverPrints(t *testing.T) {
	seed, _ := testPQKey(t).Bytes()
	out := fmt.Sprintf("%v %+v %#v %x %s", testPQKey(t), testPQKey(t), testPQKey(t), testPQKey(t), testPQKey(t))
	if strings.Contains(out, hex.EncodeToString(seed)) || strings.Contains(out, "7 7 7") {
		t.Fatalf("private key printed: %s", out)
	}
}

// Known-answer test: the X-Wing vectors of draft-ietf-hpke-pq that ship with
// the Go toolchain, opened through this package's provider code (with the
// vectors' KDF and AEAD; no vector uses our exact AEAD).
func TestHPKEProviderKnownAnswers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(goroot(t), "src", "crypto", "hpke", "testdata", "hpke-pq.json"))
	if err != nil {
		skipOutsideCI(t, "no test vectors in this Go installation: %v", err)
	}
	var vectors []struct {
		Mode                  uint16 `json:"mode"`
		KEMID                 uint16 `json:"kem_id"`
		KDFID                 uint16 `json:"kdf_id"`
		AEADID                uint16 `json:"aead_id"`
		Info, SkRm, PkRm, Enc string
		Encryptions           []struct{ Aad, Ct, Pt string }
	}
	if err := json.Unmarshal(data, &vectors); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, v := range vectors {
		if v.Mode != 0 || v.KEMID != hpke.MLKEM768X25519().ID() {
			continue
		}
		kdf, err1 := hpke.NewKDF(v.KDFID)
		aead, err2 := hpke.NewAEAD(v.AEADID)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		p := &HPKEProvider{SuiteMLKEM768X25519, hpke.MLKEM768X25519(), kdf, aead}
		priv, err := p.NewPrivateKey("kat", unhex(t, v.SkRm))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(priv.PublicKey().Bytes()); got != v.PkRm {
			t.Fatalf("public key from seed differs from the vector")
		}
		// Only the first encryption uses sequence number 0, which is what
		// a single-message context opens.
		e := v.Encryptions[0]
		pt, err := p.Open(priv, unhex(t, v.Info), unhex(t, v.Enc), unhex(t, e.Aad), unhex(t, e.Ct))
		if err != nil || hex.EncodeToString(pt) != e.Pt {
			t.Fatalf("KDF %d AEAD %d: Open = %x, %v", v.KDFID, v.AEADID, pt, err)
		}
		ran++
	}
	if ran == 0 {
		skipOutsideCI(t, "no X-Wing vectors found")
	}
}

// goroot finds the Go installation running the test: the go command sets
// GOROOT for test binaries; otherwise ask it.
func goroot(t *testing.T) string {
	if root := os.Getenv("GOROOT"); root != "" {
		return root
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		skipOutsideCI(t, "cannot locate GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// skipOutsideCI skips a known-answer test that cannot find its vectors
// on a developer's machine, and fails it in CI (CI set), where a skip
// would let the check go missing unnoticed.
func skipOutsideCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// With the standard library's deterministic randomness, key generation and
// sealing repeat exactly for a seed, and differ across seeds.
func TestPQDeterministicWithFixedRandomness(t *testing.T) {
	run := func(seed uint64) []byte {
		cryptotest.SetGlobalRandom(t, seed)
		p := NewHPKEProvider()
		priv, err := p.GenerateKey("device-1")
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(mustSealPQ(t, p, priv.PublicKey(), testCell, []byte("v")))
		if err != nil {
			t.Fatal(err)
		}
		k, err := GenerateKey("k1")
		if err != nil {
			t.Fatal(err)
		}
		aes, _ := json.Marshal(mustSeal(t, k, testCell, []byte("v")))
		return append(data, aes...)
	}
	a, b, c := run(1), run(1), run(2)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different envelopes")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds, same envelopes")
	}
}
