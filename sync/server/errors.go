package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/plasma-go/plasma/sync/internal/store"
)

// Kind classifies an Error. There are exactly eleven kinds. A
// Kind is itself an error, so errors.Is(err, server.KindForbidden) tells
// whether err is an Error of that kind.
type Kind string

// The kinds of Error, with the HTTP status the handler answers.
const (
	// KindBadRequest: the body is not a valid push or pull (not JSON, a
	// field missing or of the wrong type, an empty id or one with NUL, a
	// mutation id below 1, a value that is no cookie), an id is over
	// Options.MaxIDBytes, a mutation's arguments are nested deeper than
	// Options.MaxArgsDepth, the method is not POST, or the body did not
	// arrive before the server's read timeout. 400 (405 for the method,
	// 408 for the timeout). Nothing is applied.
	KindBadRequest Kind = "BadRequest"
	// KindUnauthorized: Options.Auth refused the request, or returned no
	// user id. 401: the Replicache client asks the app for new auth and
	// retries.
	KindUnauthorized Kind = "Unauthorized"
	// KindForbidden: the client group belongs to another user, or a
	// client of the push belongs to another group. 403, with one body
	// whatever the reason (the details go to OnError only). Nothing is
	// applied.
	KindForbidden Kind = "Forbidden"
	// KindPayloadTooLarge: the body is over Options.MaxPayloadBytes. 413;
	// the body is not read past the limit. Nothing is applied.
	KindPayloadTooLarge Kind = "PayloadTooLarge"
	// KindTooManyMutations: a push carries more than
	// Options.MaxMutationsPerPush mutations. 400. Nothing is applied.
	KindTooManyMutations Kind = "TooManyMutations"
	// KindVersionNotSupported: a pushVersion or pullVersion other than 1
	// (200 with {"error":"VersionNotSupported","versionType":"push"} or
	// "pull"), or a schemaVersion other than the schema's (status
	// Options.SchemaVersionMismatchStatus, 409 by default, with
	// versionType "schema"). Nothing is applied.
	KindVersionNotSupported Kind = "VersionNotSupported"
	// KindClientStateNotFound: the server lost the state of a client it
	// must have known: a push's first mutation for a client it has no
	// record of has an id above 1, so earlier ones were acknowledged by a
	// pull of a database that no longer has them (restored from a backup,
	// client records deleted). 200 with {"error":"ClientStateNotFound"}:
	// the client drops its group and starts over. The push stops there;
	// mutations before it stay applied.
	KindClientStateNotFound Kind = "ClientStateNotFound"
	// KindMutationOutOfOrder: a known client's mutation id is above its
	// lastMutationID+1 (a gap). The rest of that client's mutations in the
	// push are not processed; other clients' are. The push still answers
	// 200: the client keeps the mutations pending, and the error is only
	// reported through OnError.
	KindMutationOutOfOrder Kind = "MutationOutOfOrder"
	// KindMutatorFailed: a mutator failed permanently — an application
	// error, arguments that do not fit (mutator.ErrInvalidArgs), an
	// authorization error, a statement the ORM or the database refused,
	// a panic, or a name no mutator has (mutator.ErrUnknownMutator). Its
	// effects are rolled back, the client's lastMutationID still advances,
	// and the push goes on: 200. Reported through OnError.
	KindMutatorFailed Kind = "MutatorFailed"
	// KindUnavailable: a temporary failure (mutator.IsTemporary): the
	// database is unreachable, busy, or kept failing the transaction
	// with serialization failures or deadlocks after retries. 500; the
	// push stops, and the failed mutation and every one
	// after it stay pending on the client (mutations of batches that
	// committed before it stay applied; see
	// Options.MutationsPerTransaction).
	KindUnavailable Kind = "Unavailable"
	// KindInternal: anything else that went wrong on the server: a
	// bookkeeping statement the database refused, a panic outside a
	// mutator. 500.
	KindInternal Kind = "Internal"
)

// Kinds lists the eleven kinds.
var Kinds = []Kind{
	KindBadRequest, KindUnauthorized, KindForbidden, KindPayloadTooLarge, KindTooManyMutations,
	KindVersionNotSupported, KindClientStateNotFound, KindMutationOutOfOrder, KindMutatorFailed,
	KindUnavailable, KindInternal,
}

// Error returns the kind's name, so a Kind can be an errors.Is target.
func (k Kind) Error() string { return string(k) }

// Error is something that went wrong serving a push or pull.
// The handler reports every one through Options.OnError. Match it with
// errors.As, or its kind with errors.Is(err, server.KindX).
type Error struct {
	// Kind classifies the error.
	Kind Kind
	// Status is the HTTP status the request was answered with: 200 for
	// errors that did not fail the request (MutatorFailed,
	// MutationOutOfOrder, ClientStateNotFound, VersionNotSupported of the
	// protocol).
	Status int
	// Endpoint is "push" or "pull" ("" when unknown).
	Endpoint string
	// UserID is the authenticated user, when known.
	UserID string
	// ClientGroupID is the request's client group, when known.
	ClientGroupID string
	// ClientID is the client of the mutation concerned, if any.
	ClientID string
	// MutationID is the id of the mutation concerned, if any.
	MutationID int64
	// Mutator is the name of the mutation concerned, if any.
	Mutator string
	// Err is the underlying error.
	Err error
}

// Error describes the error: kind, endpoint, mutation and cause.
func (e *Error) Error() string {
	msg := "plasma: sync"
	if e.Endpoint != "" {
		msg += " " + e.Endpoint
	}
	msg += ": " + string(e.Kind)
	if e.Mutator != "" || e.ClientID != "" {
		msg += fmt.Sprintf(" (mutation %s/%d %q)", e.ClientID, e.MutationID, e.Mutator)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// defaultStatus is the HTTP status each kind answers with, unless the
// handler decides otherwise.
func (k Kind) defaultStatus() int {
	switch k {
	case KindBadRequest, KindTooManyMutations:
		return http.StatusBadRequest
	case KindUnauthorized:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindPayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindVersionNotSupported, KindClientStateNotFound, KindMutationOutOfOrder, KindMutatorFailed:
		return http.StatusOK
	}
	return http.StatusInternalServerError
}

// ErrForbiddenGroup is the error of a KindForbidden Error for a
// client group owned by another user.
var ErrForbiddenGroup = store.ErrForbiddenGroup

// forbiddenMessage is the message of every 403 body: the same whichever
// of the request's ids belongs to someone else, and whether or not it
// exists.
const forbiddenMessage = "the client group, or a client of the request, belongs to another user or group"

// ErrForeignClient is the error of a KindForbidden Error for a
// client that belongs to another client group.
var ErrForeignClient = errors.New("the client belongs to another client group")
