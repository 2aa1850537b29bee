package envelope

import (
	"bytes"
	"slices"
	"testing"
)

func TestKeysetRotation(t *testing.T) {
	k1, k2 := testKey(t, "k1"), testKey(t, "k2")
	ks1, err := NewKeyset(k1)
	if err != nil {
		t.Fatal(err)
	}
	old, err := ks1.Seal(testCell, []byte("old"))
	if err != nil {
		t.Fatal(err)
	}

	ks2, err := ks1.Rotate(k2)
	if err != nil {
		t.Fatal(err)
	}
	if ks2.PrimaryID() != "k2" || ks1.PrimaryID() != "k1" {
		t.Fatalf("primaries %q, %q: Rotate must not change the original", ks2.PrimaryID(), ks1.PrimaryID())
	}
	if got := ks2.KeyIDs(); !slices.Equal(got, []string{"k1", "k2"}) {
		t.Fatalf("KeyIDs = %q", got)
	}

	// An old envelope still opens with the decrypt-only key.
	if got, err := ks2.Open(testCell, old); err != nil || string(got) != "old" {
		t.Fatalf("old envelope: %q, %v", got, err)
	}
	// New envelopes use the new primary.
	fresh, err := ks2.Seal(testCell, []byte("new"))
	if err != nil || fresh.KeyID != "k2" {
		t.Fatalf("new envelope key %q, %v", fresh.KeyID, err)
	}
	// A reader that never got k2 cannot open them.
	_, err = ks1.Open(testCell, fresh)
	wantErr(t, err, ErrUnknownKey)

	// After retiring k1 its envelopes no longer open.
	ks3, err := ks2.Retire("k1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ks3.Open(testCell, old)
	wantErr(t, err, ErrUnknownKey)
	if got, err := ks3.Open(testCell, fresh); err != nil || string(got) != "new" {
		t.Fatalf("fresh envelope after retiring k1: %q, %v", got, err)
	}
}

// Tink's rollout: add the key everywhere first, promote it later.
func TestKeysetAddThenPromote(t *testing.T) {
	ks, err := NewKeyset(testKey(t, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err = ks.Add(testKey(t, "k2"))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := ks.Seal(testCell, nil)
	if env.KeyID != "k1" {
		t.Fatalf("added key sealed before promotion: %q", env.KeyID)
	}
	ks, err = ks.Promote("k2")
	if err != nil {
		t.Fatal(err)
	}
	env, _ = ks.Seal(testCell, nil)
	if env.KeyID != "k2" {
		t.Fatalf("promoted key not used: %q", env.KeyID)
	}
	_, err = ks.Promote("k9")
	wantErr(t, err, ErrUnknownKey)
}

func TestKeysetRejectsBadKeys(t *testing.T) {
	k1 := testKey(t, "k1")
	_, err := NewKeyset(k1, testKey(t, "k1"))
	wantErr(t, err, ErrInvalidKey)
	_, err = NewKeyset(Key{ID: "zero"})
	wantErr(t, err, ErrInvalidKey)
	ks, _ := NewKeyset(k1)
	_, err = ks.Add(k1)
	wantErr(t, err, ErrInvalidKey)
	_, err = ks.Retire("k1")
	wantErr(t, err, ErrInvalidKey)
	_, err = ks.Retire("k9")
	wantErr(t, err, ErrUnknownKey)
}

// Relabelling an envelope to another key of the same keyset picks that key,
// and the AAD (which names the original key id) makes it fail.
func TestKeysetRelabelledKeyID(t *testing.T) {
	ks, _ := NewKeyset(testKey(t, "k1"), testKey(t, "k2"))
	env, _ := ks.Seal(testCell, []byte("secret"))
	env.KeyID = "k2"
	_, err := ks.Open(testCell, env)
	wantErr(t, err, ErrAuth)
	env.KeyID = "k3"
	_, err = ks.Open(testCell, env)
	wantErr(t, err, ErrUnknownKey)
}

func TestZeroKeysetFailsCleanly(t *testing.T) {
	var ks Keyset
	_, err := ks.Seal(testCell, nil)
	wantErr(t, err, ErrInvalidKey)
	env := mustSeal(t, testKey(t, "k1"), testCell, nil)
	_, err = ks.Open(testCell, env)
	wantErr(t, err, ErrUnknownKey)
	if got, _ := ks.Open(testCell, env); !bytes.Equal(got, nil) {
		t.Fatal("zero keyset opened an envelope")
	}
}
