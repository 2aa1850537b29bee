package ormtest_test

import (
	"context"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var (
	encSecrets = testschema.Secrets()
	encSchema  = orm.MustDefineSchema("1", encSecrets)
)

// An encrypted column holds its envelope as text whatever its declared
// kind: it is read, scanned and compared as text on both engines.
func TestEncryptedColumnsReadAsText(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, encSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		env := `{"v":1,"ct":"AAAA"}`
		if _, err := tg.DB.Insert(encSecrets).Values(orm.Row{"id": "s1", "pin": env, "flag": nil}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := orm.Maps(ctx, tg.DB.Select().From(encSecrets))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := rows[0]["pin"].(string); !ok || got != env {
			t.Fatalf("pin read as %#v, want the envelope text", rows[0]["pin"])
		}
		type secret struct {
			ID  string
			Pin string
		}
		got, err := orm.One[secret](ctx, tg.DB.Select(encSecrets.Col("id"), encSecrets.Col("pin")).From(encSecrets).
			Where(expr.Eq(encSecrets.Col("pin"), env)))
		if err != nil || got.Pin != env {
			t.Fatalf("compare and scan as text: %+v %v", got, err)
		}
	})
}
