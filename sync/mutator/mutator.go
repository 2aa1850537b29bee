// Package mutator defines mutators: named, typed functions that change
// the database on behalf of a client. The sync server (sync/server) runs
// them for the mutations clients push, and for backend jobs
// (Handler.Invoke). Of plasma's packages it imports orm, dialect (whose
// error classifiers IsTemporary asks) and an internal JSON scanner; it
// imports neither the sync server nor any database driver.
//
//	type CreateTodo struct {
//		ID, ListID, Title string
//	}
//
//	func (a CreateTodo) Validate() error {
//		if a.Title == "" {
//			return errors.New("empty title")
//		}
//		return nil
//	}
//
//	var Mutators = mutator.Set[AppCtx]{
//		"createTodo": mutator.New(func(ctx context.Context, c mutator.Call[AppCtx], a CreateTodo) error {
//			_, err := c.DB.Insert(Todos).Values(orm.Row{"id": a.ID, "list_id": a.ListID,
//				"title": a.Title, "created_by": c.Ctx.UserID}).Exec(ctx)
//			return err
//		}),
//	}
//
// # Arguments
//
// A mutation's arguments arrive as JSON and are decoded into the
// mutator's argument type A with unknown fields refused; a body that does
// not fit A, and a Validate method (on A or *A) that fails, make an
// *ArgsError (errors.Is ErrInvalidArgs). An argument error is permanent.
// Set.Run refuses, before any mutator sees them, arguments holding a
// string that is not well-formed Unicode — invalid UTF-8, or an escaped
// lone surrogate such as "\ud800" — since Go strings, and the databases,
// cannot carry it unchanged (ErrIllFormedString). NUL characters are
// well-formed: SQLite stores them, PostgreSQL's TEXT refuses them, which
// fails the mutation there.
//
// # Errors: permanent or temporary
//
// Every error a mutator returns is permanent — the mutation is rolled
// back and counted as processed, since running it again would fail
// again — unless it is temporary: the database was unreachable, busy or
// asked for a retry (see IsTemporary), or the mutator marked it with
// Temporary. The sync server rolls a permanently failing mutation back,
// still advances the client's lastMutationID so the client is not stuck,
// and reports the error; a temporary failure aborts the push so the client
// retries it later.
package mutator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"sync"

	"github.com/plasma-go/plasma/internal/jsonx"
	"github.com/plasma-go/plasma/orm"
)

// Call is what a mutator is called with besides its context and
// arguments.
type Call[Ctx any] struct {
	// DB runs statements in the mutation's transaction, through the
	// database's middlewares: on the server row auth (for the pushing
	// identity) and the change log. Everything written through it commits
	// or rolls back together.
	DB *orm.DB
	// Ctx is the application's context for the request, as the server's
	// Auth function returned it (or as Invoke's caller gave it).
	Ctx Ctx
	// ClientID is the client that made the mutation; "" in a backend job.
	ClientID string
	// MutationID is the mutation's id in the client's sequence; 0 in a
	// backend job.
	MutationID int64
}

// Mutator runs one mutation. New makes one from a typed function; a type
// of your own can implement it to decode arguments differently (with a
// JSON Schema, say).
type Mutator[Ctx any] interface {
	// Run runs the mutation with its arguments as JSON. It returns an
	// *ArgsError for arguments that do not fit.
	Run(ctx context.Context, c Call[Ctx], args json.RawMessage) error
}

// Validator is implemented by argument types that check themselves; New's
// mutators call Validate after decoding and refuse the mutation if it
// fails.
type Validator interface {
	Validate() error
}

// New makes a mutator from fn, whose arguments are decoded from JSON into
// an A (unknown fields refused) and validated if A or *A is a Validator.
func New[Ctx, A any](fn func(ctx context.Context, c Call[Ctx], args A) error) Mutator[Ctx] {
	return &typed[Ctx, A]{fn: fn}
}

type typed[Ctx, A any] struct {
	fn func(ctx context.Context, c Call[Ctx], args A) error
}

// Run decodes the arguments and calls the function.
func (m *typed[Ctx, A]) Run(ctx context.Context, c Call[Ctx], raw json.RawMessage) error {
	args, err := DecodeArgs[A](raw)
	if err != nil {
		return err
	}
	return m.fn(ctx, c, args)
}

// runValue runs the mutator with arguments that are already an A, without
// a JSON round trip; ok is false if args is not an A.
func (m *typed[Ctx, A]) runValue(ctx context.Context, c Call[Ctx], args any) (ok bool, err error) {
	a, ok := args.(A)
	if !ok {
		return false, nil
	}
	if err := validate(&a); err != nil {
		return true, err
	}
	return true, m.fn(ctx, c, a)
}

// ArgsType returns the Go type arguments are decoded into.
func (m *typed[Ctx, A]) ArgsType() reflect.Type { return reflect.TypeFor[A]() }

// ArgsType returns the Go type a mutator decodes its arguments into: A
// for New's mutators, or whatever a Mutator of another kind reports with
// an ArgsType() reflect.Type method. It returns nil if unknown. Tools use
// it to describe a Set (a JSON Schema per mutator, say).
func ArgsType[Ctx any](m Mutator[Ctx]) reflect.Type {
	if t, ok := m.(interface{ ArgsType() reflect.Type }); ok {
		return t.ArgsType()
	}
	return nil
}

// DecodeArgs decodes a mutation's JSON arguments into an A, as New's
// mutators do: unknown object fields, values of the wrong JSON type and
// trailing data are refused, and Validate runs if A or *A has it. Every
// failure is an *ArgsError.
func DecodeArgs[A any](raw json.RawMessage) (A, error) {
	var a A
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("null")
	}
	d := getArgDecoder(raw)
	if err := d.dec.Decode(&a); err != nil {
		return a, &ArgsError{Err: err} // d is dropped: its state is unknown
	}
	if !d.drained(raw) {
		return a, &ArgsError{Err: errors.New("trailing data after the arguments")}
	}
	argDecoders.Put(d)
	if err := validate(&a); err != nil {
		return a, err
	}
	return a, nil
}

// argDecoder is a strict JSON decoder kept for the next mutation's
// arguments, with its buffer: a push decodes hundreds of small values.
// A json.Decoder that has read one whole value, with nothing but
// whitespace after it, goes on with the next input of its reader.
type argDecoder struct {
	r   *bytes.Reader
	dec *json.Decoder
}

var argDecoders sync.Pool

// jsonSpace is JSON's whitespace.
const jsonSpace = " \t\n\r"

func getArgDecoder(raw []byte) *argDecoder {
	if d, ok := argDecoders.Get().(*argDecoder); ok {
		d.r.Reset(raw)
		return d
	}
	d := &argDecoder{r: bytes.NewReader(raw)}
	d.dec = json.NewDecoder(d.r)
	d.dec.DisallowUnknownFields()
	return d
}

// drained reports whether all that is left of raw, in the decoder's
// buffer and unread, is whitespace: then nothing of it can reach the
// next input.
func (d *argDecoder) drained(raw []byte) bool {
	return onlySpace(d.dec.Buffered()) && len(bytes.TrimLeft(raw[len(raw)-d.r.Len():], jsonSpace)) == 0
}

// onlySpace reports whether r holds nothing but JSON whitespace.
func onlySpace(r io.Reader) bool {
	br, ok := r.(*bytes.Reader) // what json.Decoder.Buffered returns
	if !ok {
		rest, err := io.ReadAll(r)
		return err == nil && len(bytes.TrimLeft(rest, jsonSpace)) == 0
	}
	for br.Len() > 0 {
		c, _ := br.ReadByte()
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func validate[A any](a *A) error {
	var err error
	switch v := any(a).(type) {
	case Validator:
		err = v.Validate()
	default:
		if v, ok := any(*a).(Validator); ok {
			err = v.Validate()
		}
	}
	if err != nil {
		return &ArgsError{Err: err, Invalid: true}
	}
	return nil
}

// Set is an application's mutators by name. The names are what clients
// push; a name may only ever be added (give a changed signature a new
// name), since old clients keep pushing the mutations they recorded.
type Set[Ctx any] map[string]Mutator[Ctx]

// Run looks up the mutator name and runs it with call and the JSON
// arguments, in whatever transaction call.DB runs in. An unknown name is
// an error matching ErrUnknownMutator; a panic in the mutator is recovered
// into a *PanicError. Every error except a temporary one is wrapped in a
// *Error naming the mutator. Run does not start a transaction: the caller
// gives one (the server does; see Invoke for backend jobs).
func (s Set[Ctx]) Run(ctx context.Context, name string, call Call[Ctx], args json.RawMessage) (err error) {
	m := s[name]
	if m == nil {
		return &Error{Mutator: name, Err: ErrUnknownMutator}
	}
	if _, ok := jsonx.Scan(args); !ok {
		return wrap(name, &ArgsError{Err: ErrIllFormedString})
	}
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Mutator: name, Err: &PanicError{Value: p, Stack: debug.Stack()}}
		}
	}()
	return wrap(name, m.Run(ctx, call, args))
}

// runValue is Run with Go arguments (Invoke).
func (s Set[Ctx]) runValue(ctx context.Context, name string, call Call[Ctx], args any) (err error) {
	m := s[name]
	if m == nil {
		return &Error{Mutator: name, Err: ErrUnknownMutator}
	}
	raw, isJSON := rawJSON(args)
	if !isJSON {
		if v, ok := m.(interface {
			runValue(context.Context, Call[Ctx], any) (bool, error)
		}); ok {
			var handled bool
			func() {
				defer func() {
					if p := recover(); p != nil {
						handled, err = true, &PanicError{Value: p, Stack: debug.Stack()}
					}
				}()
				handled, err = v.runValue(ctx, call, args)
			}()
			if handled {
				return wrap(name, err)
			}
		}
		b, merr := json.Marshal(args)
		if merr != nil {
			return &Error{Mutator: name, Err: &ArgsError{Err: merr}}
		}
		raw = b
	}
	return s.Run(ctx, name, call, raw)
}

func rawJSON(args any) (json.RawMessage, bool) {
	switch a := args.(type) {
	case json.RawMessage:
		return a, true
	case []byte:
		return a, true
	case nil:
		return json.RawMessage("null"), true
	}
	return nil, false
}

// wrap names the mutator in a permanent error; temporary errors and nil
// pass as they are.
func wrap(name string, err error) error {
	if err == nil {
		return nil
	}
	var ae *ArgsError
	if errors.As(err, &ae) && ae.Mutator == "" {
		ae.Mutator = name
	}
	if IsTemporary(err) {
		return err
	}
	var me *Error
	if errors.As(err, &me) {
		return err
	}
	return &Error{Mutator: name, Err: err}
}

// Invoke runs the mutator name once, for a backend job: in a transaction
// on db (commit if it succeeds, roll back if it fails, so several tables
// written by one mutator change together), with appCtx as Call.Ctx and no
// client. args is the argument value — JSON (json.RawMessage or []byte),
// or a Go value, which is used as it is when it is the mutator's argument
// type and encoded to JSON and decoded otherwise; Validate runs either
// way.
//
// db decides what applies: the sync server's DB (Handler.DB) has row
// auth and the change log installed, so give ctx an identity
// (rowauth.WithIdentity) or mark it trusted (rowauth.AsSystem), and the
// writes reach clients at their next pull. Invoke does not retry; check
// IsTemporary to decide.
func Invoke[Ctx any](ctx context.Context, set Set[Ctx], name string, db *orm.DB, appCtx Ctx, args any) error {
	if db == nil {
		return fmt.Errorf("plasma: mutator.Invoke %q: nil database", name)
	}
	if set[name] == nil {
		return &Error{Mutator: name, Err: ErrUnknownMutator}
	}
	return db.Tx(ctx, func(tx *orm.Tx) error {
		return set.runValue(ctx, name, Call[Ctx]{DB: tx.DB, Ctx: appCtx}, args)
	})
}
