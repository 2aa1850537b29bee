package envelope

import (
	"bytes"
	"testing"
)

func TestValidateAcceptsBothKinds(t *testing.T) {
	priv := testPQKey(t)
	envs := []Sealed{
		mustSeal(t, testKey(t, "k1"), testCell, []byte("v")),
		mustSealPQ(t, NewHPKEProvider(), priv.PublicKey(), testCell, []byte("v")),
	}
	for _, env := range envs {
		if err := Validate(env, Limits{}); err != nil {
			t.Fatalf("%s: %v", env.Header().Suite, err)
		}
		if err := Validate(env, Limits{AllowedKeyIDs: []string{"k1", "device-1"}}); err != nil {
			t.Fatalf("%s with allowed ids: %v", env.Header().Suite, err)
		}
	}
}

func TestValidateLimits(t *testing.T) {
	aes := mustSeal(t, testKey(t, "k1"), testCell, make([]byte, 200))
	pq := mustSealPQ(t, NewHPKEProvider(), testPQKey(t).PublicKey(), testCell, []byte("v"))
	placeholder, err := NewInsecurePlaceholderProvider(PlaceholderOptions{AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	staging, err := placeholder.GenerateKey("staging")
	if err != nil {
		t.Fatal(err)
	}
	insecure := mustSealPQ(t, placeholder, staging.PublicKey(), testCell, []byte("v"))

	cases := []struct {
		name string
		env  Sealed
		l    Limits
		want error
	}{
		{"oversized ciphertext", aes, Limits{MaxCiphertextBytes: 100}, ErrTooLarge},
		{"oversized default", mustSeal(t, testKey(t, "k1"), testCell, make([]byte, DefaultMaxCiphertextBytes)), Limits{}, ErrTooLarge},
		{"oversized KEM ciphertext", pq, Limits{MaxKEMCiphertextBytes: 1000}, ErrTooLarge},
		{"unknown key id", aes, Limits{AllowedKeyIDs: []string{"k2"}}, ErrUnknownKey},
		{"suite not allowed", aes, Limits{AllowedSuites: []Suite{SuiteMLKEM768X25519}}, ErrUnsupportedSuite},
		{"placeholder refused by default", insecure, Limits{}, ErrUnsupportedSuite},
		{"unknown suite", &Envelope{Version: 1, Suite: "rot13", KeyID: "k1", Cell: testCell, Nonce: aes.Nonce, Ciphertext: aes.Ciphertext}, Limits{}, ErrUnsupportedSuite},
		{"bad version", &Envelope{Version: 9, Suite: SuiteAES256GCM, KeyID: "k1", Cell: testCell, Nonce: aes.Nonce, Ciphertext: aes.Ciphertext}, Limits{}, ErrUnsupportedVersion},
		{"short nonce", &Envelope{Version: 1, Suite: SuiteAES256GCM, KeyID: "k1", Cell: testCell, Nonce: aes.Nonce[:8], Ciphertext: aes.Ciphertext}, Limits{}, ErrMalformed},
		{"truncated ciphertext", &Envelope{Version: 1, Suite: SuiteAES256GCM, KeyID: "k1", Cell: testCell, Nonce: aes.Nonce, Ciphertext: aes.Ciphertext[:5]}, Limits{}, ErrTruncated},
		{"truncated enc", &PQEnvelope{Version: 1, Suite: pq.Suite, KeyID: pq.KeyID, Cell: testCell, Enc: pq.Enc[:1000], Ciphertext: pq.Ciphertext}, Limits{}, ErrTruncated},
		{"empty cell", &Envelope{Version: 1, Suite: SuiteAES256GCM, KeyID: "k1", Nonce: aes.Nonce, Ciphertext: aes.Ciphertext}, Limits{}, ErrMalformed},
		{"nil", nil, Limits{}, ErrMalformed},
		{"typed nil", (*Envelope)(nil), Limits{}, ErrMalformed},
		{"typed nil PQ", (*PQEnvelope)(nil), Limits{}, ErrMalformed},
		{"wrong kind", &Envelope{Version: 1, Suite: pq.Suite, KeyID: "k1", Cell: testCell, Nonce: aes.Nonce, Ciphertext: aes.Ciphertext}, Limits{}, ErrUnsupportedSuite},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, Validate(c.env, c.l), c.want) })
	}
	if err := Validate(insecure, Limits{AllowedSuites: []Suite{SuiteInsecurePlaceholder}}); err != nil {
		t.Fatalf("placeholder explicitly allowed: %v", err)
	}
}

func TestValidateJSON(t *testing.T) {
	env := mustSeal(t, testKey(t, "k1"), testCell, []byte("v"))
	data, _ := env.MarshalJSON()
	got, err := ValidateJSON(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := got.(*Envelope); !ok || !bytes.Equal(e.Ciphertext, env.Ciphertext) {
		t.Fatalf("ValidateJSON returned %#v", got)
	}
	huge := append([]byte(`{"v":1,"ct":"`), bytes.Repeat([]byte("A"), 200_000)...)
	_, err = ValidateJSON(huge, Limits{})
	wantErr(t, err, ErrTooLarge)
	_, err = ValidateJSON(data[:len(data)-3], Limits{})
	wantErr(t, err, ErrTruncated)
	_, err = ValidateJSON([]byte(`{"v":1}`), Limits{})
	wantErr(t, err, ErrMalformed)
	_, err = ValidateJSON(data, Limits{AllowedKeyIDs: []string{"other"}})
	wantErr(t, err, ErrUnknownKey)
}

func TestCheckCell(t *testing.T) {
	aes := mustSeal(t, testKey(t, "k1"), testCell, nil)
	pq := mustSealPQ(t, NewHPKEProvider(), testPQKey(t).PublicKey(), testCell, nil)
	for _, env := range []Sealed{aes, pq} {
		if err := CheckCell(env, testCell); err != nil {
			t.Fatal(err)
		}
		for field, other := range otherCells {
			if err := CheckCell(env, other); err == nil {
				t.Fatalf("%s differs but CheckCell passed", field)
			} else {
				wantErr(t, err, ErrCellMismatch)
			}
		}
	}
	wantErr(t, CheckCell(aes, Cell{}), ErrInvalidCell)
	wantErr(t, CheckCell(nil, testCell), ErrMalformed)
	wantErr(t, CheckCell((*PQEnvelope)(nil), testCell), ErrMalformed)
}
