package mutator_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/mutator"
)

var (
	accounts = orm.NewTable("accounts", orm.ID(), orm.BigInt("balance"))
	ledger   = orm.NewTable("ledger", orm.ID(), orm.Text("account_id"), orm.BigInt("amount"))
	bank     = orm.MustDefineSchema("1", accounts, ledger)
)

// Job is the context backend jobs give their mutators.
type Job struct{ Name string }

// Credit is the argument of the credit mutator.
type Credit struct {
	Entry   string `json:"entry"`
	Account string `json:"account"`
	Amount  int64  `json:"amount"`
}

// Validate runs before the mutator.
func (c Credit) Validate() error {
	if c.Amount <= 0 {
		return errors.New("the amount must be positive")
	}
	return nil
}

var bankMutators = mutator.Set[Job]{
	// credit writes two tables; they commit or roll back together.
	"credit": mutator.New(func(ctx context.Context, c mutator.Call[Job], a Credit) error {
		if _, err := c.DB.Insert(ledger).Values(orm.Row{"id": a.Entry, "account_id": a.Account, "amount": a.Amount}).Exec(ctx); err != nil {
			return err
		}
		n, err := c.DB.Update(accounts).Set(orm.Row{"balance": expr.SQL("? + ?", accounts.Col("balance"), a.Amount)}).
			Where(expr.Eq(accounts.Col("id"), a.Account)).Exec(ctx)
		if err == nil && n == 0 {
			err = fmt.Errorf("no account %q", a.Account)
		}
		return err
	}),
}

func ExampleInvoke() {
	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := orm.EnsureSchema(ctx, bank, db); err != nil {
		panic(err)
	}
	if _, err := db.Insert(accounts).Values(orm.Row{"id": "a1", "balance": 0}).Exec(ctx); err != nil {
		panic(err)
	}
	// On a sync server, pass Handler.DB() and a context with
	// rowauth.AsSystem (or an identity) instead, so the writes are
	// authorised and reach clients.
	job := Job{Name: "monthly interest"}
	fmt.Println(mutator.Invoke(ctx, bankMutators, "credit", db, job, Credit{Entry: "e1", Account: "a1", Amount: 5}))
	err = mutator.Invoke(ctx, bankMutators, "credit", db, job, Credit{Entry: "e2", Account: "nope", Amount: 5})
	fmt.Println(err, mutator.IsTemporary(err))
	err = mutator.Invoke(ctx, bankMutators, "credit", db, job, []byte(`{"entry":"e3","account":"a1","amount":-1}`))
	fmt.Println(errors.Is(err, mutator.ErrInvalidArgs))

	balance, _ := orm.Scalar[int64](ctx, db.Select(accounts.Col("balance")).From(accounts))
	entries, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(ledger))
	fmt.Println(balance, entries)
	// Output:
	// <nil>
	// plasma: mutator "credit": no account "nope" false
	// true
	// 5 1
}
