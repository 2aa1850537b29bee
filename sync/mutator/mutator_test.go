package mutator_test

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/lib/pq"

	_ "github.com/plasma-go/plasma/dialect/postgres" // its error classifier, for the pq errors below
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/mutator"
)

type args struct {
	Title string `json:"title"`
	N     int    `json:"n"`
}

func (a *args) Validate() error {
	if a.Title == "" {
		return errors.New("empty title")
	}
	return nil
}

type valueArgs struct{ X int }

func (v valueArgs) Validate() error {
	if v.X < 0 {
		return errors.New("negative")
	}
	return nil
}

func TestDecodeArgs(t *testing.T) {
	a, err := mutator.DecodeArgs[args](json.RawMessage(`{"title":"t","n":2}`))
	if err != nil || a.Title != "t" || a.N != 2 {
		t.Fatal(a, err)
	}
	for _, raw := range []string{`{"title":"t","extra":1}`, `{"title":5}`, `[1]`, `{"title":"t"} {}`, `{`, `{"title":""}`, `null`} {
		_, err := mutator.DecodeArgs[args](json.RawMessage(raw))
		var ae *mutator.ArgsError
		if !errors.Is(err, mutator.ErrInvalidArgs) || !errors.As(err, &ae) {
			t.Errorf("%s: %v", raw, err)
		}
	}
	if _, err := mutator.DecodeArgs[valueArgs](json.RawMessage(`{"X":-1}`)); !errors.Is(err, mutator.ErrInvalidArgs) {
		t.Fatal("value-receiver Validate did not run:", err)
	}
	if v, err := mutator.DecodeArgs[int](nil); err != nil || v != 0 {
		t.Fatal(v, err)
	}
}

func TestSetRun(t *testing.T) {
	var got args
	set := mutator.Set[string]{
		"ok": mutator.New(func(ctx context.Context, c mutator.Call[string], a args) error {
			if c.Ctx != "app" || c.ClientID != "c1" || c.MutationID != 7 {
				return fmt.Errorf("call %+v", c)
			}
			got = a
			return nil
		}),
		"fails": mutator.New(func(context.Context, mutator.Call[string], struct{}) error { return errors.New("no") }),
		"temp": mutator.New(func(context.Context, mutator.Call[string], struct{}) error {
			return mutator.Temporary(errors.New("later"))
		}),
		"panics": mutator.New(func(context.Context, mutator.Call[string], struct{}) error { panic(errors.New("bug")) }),
	}
	call := mutator.Call[string]{Ctx: "app", ClientID: "c1", MutationID: 7}
	ctx := context.Background()
	if err := set.Run(ctx, "ok", call, json.RawMessage(`{"title":"x"}`)); err != nil || got.Title != "x" {
		t.Fatal(err)
	}
	err := set.Run(ctx, "fails", call, nil)
	var me *mutator.Error
	if !errors.As(err, &me) || me.Mutator != "fails" || mutator.IsTemporary(err) {
		t.Fatal(err)
	}
	if err := set.Run(ctx, "temp", call, nil); !mutator.IsTemporary(err) {
		t.Fatal(err)
	}
	err = set.Run(ctx, "panics", call, nil)
	var pe *mutator.PanicError
	if !errors.As(err, &pe) || pe.Error() != "panic: bug" || len(pe.Stack) == 0 || mutator.IsTemporary(err) {
		t.Fatal(err)
	}
	if got := mutator.ArgsType(set["ok"]); got != reflect.TypeFor[args]() {
		t.Fatal(got)
	}
	if err := set.Run(ctx, "nope", call, nil); !errors.Is(err, mutator.ErrUnknownMutator) {
		t.Fatal(err)
	}
	if err := set.Run(ctx, "ok", call, json.RawMessage(`{"title":""}`)); !errors.Is(err, mutator.ErrInvalidArgs) {
		t.Fatal(err)
	}
}

type netErr struct{}

func (netErr) Error() string   { return "connection refused" }
func (netErr) Timeout() bool   { return false }
func (netErr) Temporary() bool { return false }

func TestIsTemporary(t *testing.T) {
	temporary := []error{
		mutator.Temporary(errors.New("x")),
		fmt.Errorf("wrapped: %w", driver.ErrBadConn),
		context.DeadlineExceeded,
		&net.OpError{Op: "dial", Err: netErr{}},
		netErr{},
		&pq.Error{Code: "40001"},
		&pq.Error{Code: "40P01"},
		&pq.Error{Code: "08006"},
		&pq.Error{Code: "53300"},
		&pq.Error{Code: "57P01"},
		&orm.ExecError{Err: &pq.Error{Code: "40001"}},
	}
	for _, err := range temporary {
		if !mutator.IsTemporary(err) {
			t.Errorf("%v: not temporary", err)
		}
	}
	permanent := []error{
		nil,
		errors.New("app"),
		&pq.Error{Code: "23505"}, // unique violation
		&pq.Error{Code: "42P01"}, // undefined table
		&orm.QueryError{Err: orm.ErrUnknownColumn},
		&mutator.ArgsError{Err: errors.New("x")},
	}
	for _, err := range permanent {
		if mutator.IsTemporary(err) {
			t.Errorf("%v: temporary", err)
		}
	}
	if !mutator.IsRetryable(&pq.Error{Code: "40P01"}) || mutator.IsRetryable(&pq.Error{Code: "08006"}) || mutator.Temporary(nil) != nil {
		t.Fatal("IsRetryable / Temporary(nil)")
	}
}

func TestInvoke(t *testing.T) {
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	notes := orm.NewTable("notes", orm.ID(), orm.Text("body"))
	tags := orm.NewTable("tags", orm.ID(), orm.Text("note_id"))
	schema := orm.MustDefineSchema("1", notes, tags)
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, schema, db); err != nil {
		t.Fatal(err)
	}
	type add struct{ ID, Body, Tag string }
	set := mutator.Set[struct{}]{
		"add": mutator.New(func(ctx context.Context, c mutator.Call[struct{}], a add) error {
			if _, err := c.DB.Insert(notes).Values(orm.Row{"id": a.ID, "body": a.Body}).Exec(ctx); err != nil {
				return err
			}
			if a.Tag == "" {
				return errors.New("no tag")
			}
			_, err := c.DB.Insert(tags).Values(orm.Row{"id": a.ID + a.Tag, "note_id": a.ID}).Exec(ctx)
			return err
		}),
	}
	if err := mutator.Invoke(ctx, set, "add", db, struct{}{}, add{ID: "n1", Body: "b", Tag: "t"}); err != nil {
		t.Fatal(err)
	}
	// The mutator itself fails, after its first write: that write must
	// be rolled back with it.
	if err := mutator.Invoke(ctx, set, "add", db, struct{}{}, json.RawMessage(`{"ID":"n2","Body":"b"}`)); err == nil || !strings.Contains(err.Error(), "no tag") {
		t.Fatalf("want the mutator's own error, got %v", err)
	}
	if err := mutator.Invoke(ctx, set, "add", db, struct{}{}, map[string]any{"ID": "n3", "Body": "b", "Tag": "x", "Nope": 1}); !errors.Is(err, mutator.ErrInvalidArgs) {
		t.Fatal(err)
	}
	// The failed call left nothing: notes and tags commit together.
	for _, tb := range []*orm.Table{notes, tags} {
		n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(tb))
		if err != nil || n != 1 {
			t.Fatalf("%s: %d rows, %v", tb.Name(), n, err)
		}
	}
}

// Arguments that would not round-trip are refused before the mutator
// runs: encoding/json would turn them into U+FFFD silently.
func TestRunRefusesIllFormedStrings(t *testing.T) {
	var got []string
	set := mutator.Set[struct{}]{"m": mutator.New(func(_ context.Context, _ mutator.Call[struct{}], a args) error {
		got = append(got, a.Title)
		return nil
	})}
	for _, raw := range []string{`{"title":"\ud800"}`, `{"title":"x\udfffy"}`, "{\"title\":\"\xff\"}", `{"title":"\ud800\u0041"}`} {
		err := set.Run(context.Background(), "m", mutator.Call[struct{}]{}, json.RawMessage(raw))
		if !errors.Is(err, mutator.ErrInvalidArgs) || !errors.Is(err, mutator.ErrIllFormedString) || mutator.IsTemporary(err) {
			t.Errorf("%q: %v", raw, err)
		}
	}
	if len(got) != 0 {
		t.Fatalf("the mutator ran with %q", got)
	}
	for _, raw := range []string{`{"title":"\ud83d\ude00"}`, `{"title":"a\u0000b"}`, `{"title":"é"}`} {
		if err := set.Run(context.Background(), "m", mutator.Call[struct{}]{}, json.RawMessage(raw)); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
	if fmt.Sprintf("%q", got) != `["😀" "a\x00b" "é"]` {
		t.Fatalf("got %q", got)
	}
}
