package encrypt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/envelope"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/encrypt"
)

func ExampleMiddleware() {
	ctx := context.Background()
	users := orm.NewTable("example_users",
		orm.ID(),
		orm.Text("ssn").Encrypted(),
	)
	schema := orm.MustDefineSchema("1", users)

	// The server enforces envelopes without holding any key.
	db, err := orm.Open(sqlite.Dialect, ":memory:", encrypt.Middleware(encrypt.Options{
		Limits: envelope.Limits{AllowedKeyIDs: []string{"2026-01"}},
	}))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := orm.EnsureSchema(ctx, schema, db); err != nil {
		panic(err)
	}

	// Trusted code (or a client) that holds the key seals each cell.
	key, _ := envelope.NewKey("2026-01", bytes.Repeat([]byte{7}, envelope.KeySize))
	ks, _ := envelope.NewKeyset(key)
	sealed, err := encrypt.SealCell(ks, "example_users", "u1", "ssn", []byte("123-45-6789"))
	if err != nil {
		panic(err)
	}
	_, err = db.Insert(users).Values(orm.Row{"id": "u1", "ssn": sealed}).Exec(ctx)
	fmt.Println("sealed value:", err)

	_, err = db.Insert(users).Values(orm.Row{"id": "u2", "ssn": `{"ssn":"987-65-4321"}`}).Exec(ctx)
	fmt.Println("plaintext refused:", errors.Is(err, encrypt.ErrNotEnvelope))

	_, err = db.Insert(users).Values(orm.Row{"id": "u2", "ssn": sealed}).Exec(ctx)
	var refusal *encrypt.Error
	fmt.Println("u1's envelope refused in u2:", errors.Is(err, envelope.ErrCellMismatch), errors.As(err, &refusal) && refusal.RowID == "u2")

	stored, err := orm.Scalar[string](ctx, db.Select(users.Col("ssn")).From(users).Where(expr.Eq(users.Col("id"), "u1")))
	if err != nil {
		panic(err)
	}
	plaintext, err := encrypt.OpenCell(ks, "example_users", "u1", "ssn", stored)
	fmt.Println(string(plaintext), err)
	// Output:
	// sealed value: <nil>
	// plaintext refused: true
	// u1's envelope refused in u2: true true
	// 123-45-6789 <nil>
}

func ExampleSealCellPQ() {
	p := envelope.NewHPKEProvider()
	priv, err := p.GenerateKey("recipient-1")
	if err != nil {
		panic(err)
	}
	// Whoever holds the public key can seal; only the private key opens.
	sealed, err := encrypt.SealCellPQ(p, priv.PublicKey(), "notes", "n1", "body", []byte("hello"))
	if err != nil {
		panic(err)
	}
	plaintext, err := encrypt.OpenCellPQ(p, priv, "notes", "n1", "body", sealed)
	fmt.Println(string(plaintext), err)
	// Output: hello <nil>
}
