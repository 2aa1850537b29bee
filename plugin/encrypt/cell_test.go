package encrypt

import (
	"database/sql"
	"encoding/json"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/envelope"
)

// TestSealOpenCell seals and opens cells with one keyset and refuses
// what does not match. It is one long function on purpose: the cases
// share the keys and the cells sealed first.
func TestSealOpenCell(t *testing.T) {
	k1, k2 := testKey(t, "k1", 1), testKey(t, "k2", 2)
	ks, err := envelope.NewKeyset(k1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := SealCell(ks, "t", "r1", "c", []byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	str := s
	for name, stored := range map[string]any{
		"string":     s,
		"bytes":      []byte(s),
		"raw":        json.RawMessage(s),
		"*string":    &str,
		"NullString": sql.NullString{String: s, Valid: true},
		"decoded":    decoded(t, s),
	} {
		pt, err := OpenCell(ks, "t", "r1", "c", stored)
		if err != nil || string(pt) != "value" {
			t.Errorf("%s: %q %v", name, pt, err)
		}
	}
	for name, stored := range map[string]any{
		"nil": nil, "nil bytes": []byte(nil), "nil *string": (*string)(nil), "NULL": sql.NullString{},
	} {
		if _, err := OpenCell(ks, "t", "r1", "c", stored); !errors.Is(err, ErrNull) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := OpenCell(ks, "t", "r1", "c", 42); !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("an int: %v", err)
	}
	if _, err := OpenCell(ks, "t", "r2", "c", s); !errors.Is(err, envelope.ErrCellMismatch) {
		t.Errorf("other row: %v", err)
	}
	if _, err := OpenCell(ks, "t", "r1", "c", `{"plain":1}`); !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("plaintext: %v", err)
	}
	// Rotation: the old key opens, new cells use the new primary.
	ks2, err := ks.Rotate(k2)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := OpenCell(ks2, "t", "r1", "c", s); err != nil || string(pt) != "value" {
		t.Errorf("after rotation: %q %v", pt, err)
	}
	s2, err := SealCell(ks2, "t", "r1", "c", []byte("v2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCell(ks, "t", "r1", "c", s2); !errors.Is(err, envelope.ErrUnknownKey) {
		t.Errorf("new key with the old keyset: %v", err)
	}
	if _, err := SealCell(nil, "t", "r1", "c", nil); !errors.Is(err, envelope.ErrInvalidKey) {
		t.Errorf("nil keyset: %v", err)
	}
	if _, err := SealCell(ks, "t", "", "c", nil); !errors.Is(err, envelope.ErrInvalidCell) {
		t.Errorf("empty row id: %v", err)
	}
	// PQ helpers refuse AES envelopes and the reverse.
	p := envelope.NewHPKEProvider()
	priv, err := p.GenerateKey("pq")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCellPQ(p, priv, "t", "r1", "c", s); !errors.Is(err, envelope.ErrUnsupportedSuite) {
		t.Errorf("AES envelope to OpenCellPQ: %v", err)
	}
	pq, err := SealCellPQ(p, priv.PublicKey(), "t", "r1", "c", []byte("pq"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := OpenCellPQ(p, priv, "t", "r1", "c", []byte(pq)); err != nil || string(pt) != "pq" {
		t.Errorf("PQ: %q %v", pt, err)
	}
	if _, err := OpenCellPQ(p, priv, "t", "r1", "other", pq); !errors.Is(err, envelope.ErrCellMismatch) {
		t.Errorf("PQ other column: %v", err)
	}
}

func decoded(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
