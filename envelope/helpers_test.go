package envelope

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

var testCell = Cell{Table: "todos", RowID: "row-1", Column: "note"}

// testKey returns a fixed key so failures reproduce.
func testKey(t testing.TB, id string) Key {
	t.Helper()
	k, err := NewKey(id, bytes.Repeat([]byte{byte(len(id)) + 1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSeal(t testing.TB, k Key, c Cell, pt []byte) *Envelope {
	t.Helper()
	env, err := Seal(k, c, pt)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// wantErr fails unless err matches target under errors.Is.
func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// pqKey is one X-Wing key pair shared by the tests: generating one is cheap,
// but sharing keeps golden data and fuzz seeds consistent.
var pqKey = sync.OnceValues(func() (PQPrivateKey, error) {
	return NewHPKEProvider().NewPrivateKey("device-1", bytes.Repeat([]byte{7}, 32))
})

func testPQKey(t testing.TB) PQPrivateKey {
	t.Helper()
	k, err := pqKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSealPQ(t testing.TB, p PQHybridProvider, pub PQPublicKey, c Cell, pt []byte) *PQEnvelope {
	t.Helper()
	env, err := SealPQ(p, pub, c, pt)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }
