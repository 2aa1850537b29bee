package envelope

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// fuzzSeeds are valid envelopes and near misses for the decoders.
func fuzzSeeds(f *testing.F) {
	for _, s := range []string{
		validAES, validPQ, ``, `{}`, `null`, `{"v":1}`,
		validAES[:40], validAES + `x`,
		`{"v":1,"v":1}`, `{"cell":{"table":"t","table":"u"}}`,
		`{"v":1,"suite":"aes256gcm-hkdfsha256","keyId":"k","cell":{"table":"t","rowId":"r","column":"c"},"nonce":"AAAAAAAAAAAAAAAA","ct":""}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse checks that decoding never panics and that anything it accepts
// re-encodes to an equal envelope and passes the keyless checks' shape test.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse(data)
		if err != nil {
			if env != nil {
				t.Fatal("envelope returned with an error")
			}
			return
		}
		out, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("accepted envelope does not marshal: %v", err)
		}
		back, err := Parse(out)
		if err != nil || !reflect.DeepEqual(back, env) {
			t.Fatalf("round trip: %v\n%s\n%s", err, data, out)
		}
		if err := Validate(env, Limits{MaxCiphertextBytes: math.MaxInt, AllowedSuites: []Suite{env.Header().Suite}}); err != nil {
			t.Fatalf("parsed envelope fails Validate: %v", err)
		}
		_ = CheckCell(env, testCell)
		_ = IsPQEnvelope(data)
	})
}

// FuzzValidateJSON checks the server's entry point under several limits.
func FuzzValidateJSON(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range []Limits{{}, {MaxCiphertextBytes: 16, MaxKEMCiphertextBytes: 1}, {AllowedKeyIDs: []string{"k1"}}} {
			env, err := ValidateJSON(data, l)
			if (err == nil) == (env == nil) {
				t.Fatalf("ValidateJSON = %v, %v", env, err)
			}
			if err == nil {
				if err := Validate(env, l); err != nil {
					t.Fatalf("ValidateJSON accepted what Validate refuses: %v", err)
				}
			}
		}
	})
}

// FuzzOpen feeds mutated envelopes to Open under the key that sealed the
// seed: nothing may panic, and only the untouched ciphertext may open.
func FuzzOpen(f *testing.F) {
	// The golden envelope, not a fresh one: every fuzz worker process must
	// agree on which ciphertext is genuine.
	k, g := testKey(f, "k1"), readGolden(f)
	orig, err := ParseEnvelope(g.AES)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(g.AES))
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		pt, err := Open(k, testCell, env)
		if err != nil {
			return
		}
		if !bytes.Equal(env.Nonce, orig.Nonce) || !bytes.Equal(env.Ciphertext, orig.Ciphertext) ||
			env.KeyID != orig.KeyID || string(pt) != g.Plaintext {
			t.Fatalf("forged envelope opened: %s", data)
		}
	})
}

// FuzzOpenPQ is FuzzOpen for the X-Wing suite.
func FuzzOpenPQ(f *testing.F) {
	p, priv, g := NewHPKEProvider(), testPQKey(f), readGolden(f)
	orig, err := ParsePQEnvelope(g.PQ)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(g.PQ))
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParsePQEnvelope(data)
		if err != nil {
			return
		}
		pt, err := OpenPQ(p, priv, testCell, env)
		if err != nil {
			return
		}
		if !bytes.Equal(env.Enc, orig.Enc) || !bytes.Equal(env.Ciphertext, orig.Ciphertext) || string(pt) != g.Plaintext {
			t.Fatalf("forged envelope opened: %s", data)
		}
	})
}

// FuzzParsePQKey checks the key decoders.
func FuzzParsePQKey(f *testing.F) {
	p, priv := NewHPKEProvider(), testPQKey(f)
	pub, _ := MarshalPQPublicKey(priv.PublicKey())
	sec, _ := MarshalPQPrivateKey(priv)
	f.Add(pub)
	f.Add(sec)
	f.Add([]byte(`{"suite":"x","keyId":"k","publicKey":"AAAA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParsePQPublicKey(p, data); (err == nil) == (k == nil) {
			t.Fatalf("ParsePQPublicKey = %v, %v", k, err)
		}
		if k, err := ParsePQPrivateKey(p, data); (err == nil) == (k == nil) {
			t.Fatalf("ParsePQPrivateKey = %v, %v", k, err)
		}
	})
}
