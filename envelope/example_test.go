package envelope_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/envelope"
)

func ExampleSeal() {
	key, err := envelope.GenerateKey("2026-01")
	if err != nil {
		panic(err)
	}
	cell := envelope.Cell{Table: "todos", RowID: "t1", Column: "note"}

	env, err := envelope.Seal(key, cell, []byte("buy milk"))
	if err != nil {
		panic(err)
	}
	stored, _ := json.Marshal(env) // the value of the encrypted column

	parsed, err := envelope.ParseEnvelope(stored)
	if err != nil {
		panic(err)
	}
	plaintext, err := envelope.Open(key, cell, parsed)
	fmt.Println(string(plaintext), err)

	// The same envelope copied to another row does not open.
	_, err = envelope.Open(key, envelope.Cell{Table: "todos", RowID: "t2", Column: "note"}, parsed)
	fmt.Println(errors.Is(err, envelope.ErrCellMismatch))
	// Output:
	// buy milk <nil>
	// true
}

func ExampleKeyset_Rotate() {
	cell := envelope.Cell{Table: "users", RowID: "u1", Column: "ssn"}
	k1, _ := envelope.GenerateKey("k1")
	k2, _ := envelope.GenerateKey("k2")

	ks, err := envelope.NewKeyset(k1)
	if err != nil {
		panic(err)
	}
	old, _ := ks.Seal(cell, []byte("123-45-6789"))

	ks, err = ks.Rotate(k2) // k2 seals from now on; k1 only decrypts
	if err != nil {
		panic(err)
	}
	fresh, _ := ks.Seal(cell, []byte("987-65-4321"))

	a, _ := ks.Open(cell, old)
	b, _ := ks.Open(cell, fresh)
	fmt.Println(old.KeyID, string(a))
	fmt.Println(fresh.KeyID, string(b))
	// Output:
	// k1 123-45-6789
	// k2 987-65-4321
}

func ExampleSealPQ() {
	p := envelope.NewHPKEProvider() // ML-KEM-768 + X25519, HKDF-SHA256, AES-256-GCM
	priv, err := p.GenerateKey("alice-laptop")
	if err != nil {
		panic(err)
	}
	// The public key is what senders get.
	pubJSON, _ := envelope.MarshalPQPublicKey(priv.PublicKey())
	pub, err := envelope.ParsePQPublicKey(p, pubJSON)
	if err != nil {
		panic(err)
	}

	cell := envelope.Cell{Table: "notes", RowID: "n1", Column: "body"}
	env, err := envelope.SealPQ(p, pub, cell, []byte("quantum-safe"))
	if err != nil {
		panic(err)
	}
	stored, _ := json.Marshal(env)
	fmt.Println(envelope.IsPQEnvelope(stored), len(env.Enc))

	parsed, _ := envelope.ParsePQEnvelope(stored)
	plaintext, err := envelope.OpenPQ(p, priv, cell, parsed)
	fmt.Println(string(plaintext), err)
	// Output:
	// true 1120
	// quantum-safe <nil>
}

// A server that holds no key checks what a client writes to an encrypted
// column: well formed, within limits, and naming the cell being written.
func ExampleValidateJSON() {
	key, _ := envelope.GenerateKey("client-key")
	env, _ := envelope.Seal(key, envelope.Cell{Table: "todos", RowID: "t1", Column: "note"}, []byte("x"))
	fromClient, _ := json.Marshal(env)

	limits := envelope.Limits{MaxCiphertextBytes: 4096, AllowedKeyIDs: []string{"client-key"}}
	sealed, err := envelope.ValidateJSON(fromClient, limits)
	fmt.Println(err)

	// The client tries to write it into another row.
	err = envelope.CheckCell(sealed, envelope.Cell{Table: "todos", RowID: "t9", Column: "note"})
	fmt.Println(errors.Is(err, envelope.ErrCellMismatch))

	_, err = envelope.ValidateJSON([]byte(`"plain text"`), limits)
	fmt.Println(errors.Is(err, envelope.ErrMalformed))
	// Output:
	// <nil>
	// true
	// true
}

func ExampleNewInsecurePlaceholderProvider() {
	_, err := envelope.NewInsecurePlaceholderProvider(envelope.PlaceholderOptions{})
	fmt.Println(errors.Is(err, envelope.ErrInsecureProvider))

	p, err := envelope.NewInsecurePlaceholderProvider(envelope.PlaceholderOptions{AllowInsecure: true})
	fmt.Println(p.Suite(), err)
	// Output:
	// true
	// insecure-placeholder-hpke-x25519 <nil>
}
