package client

import (
	"errors"
	"fmt"
)

// Errors the client returns; match them with errors.Is.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("plasma: client: closed")
	// ErrOffline is returned by PushOnce, PullOnce and Flush while the
	// client is offline (Options.Offline, SetOffline).
	ErrOffline = errors.New("plasma: client: offline")
	// ErrSchemaMismatch reports that the server does not serve the
	// client's schema version, or that the replica was written under
	// another one. With SchemaStay, syncing stops until ResetLocalState.
	ErrSchemaMismatch = errors.New("plasma: client: schema version mismatch")
	// ErrBadResponse is the class of every answer from the server the
	// client refuses (see ResponseError); the replica is left as it was.
	ErrBadResponse = errors.New("plasma: client: bad response from the server")
	// ErrUnknownMutation is returned by DiscardMutation for an id that is
	// not pending.
	ErrUnknownMutation = errors.New("plasma: client: no such pending mutation")
	// ErrMutationSent is returned by DiscardMutation for a mutation that
	// was sent to the server already: the server may have applied it, so
	// it can no longer be taken back.
	ErrMutationSent = errors.New("plasma: client: the mutation was sent already")
	// ErrReplicaInUse is returned by Open for a replica file another
	// client (in this process or another) has open: two clients on one
	// replica would push as the same client.
	ErrReplicaInUse = errors.New("plasma: client: the replica is in use by another client")
	// ErrReplica reports a replica file that is not a plasma replica, or
	// one written for another schema than the client's tables.
	ErrReplica = errors.New("plasma: client: unusable replica")
)

// ResponseError is a server answer the client refused: a malformed pull
// response, a cookie going backwards, a lastMutationID going back or
// beyond the mutations the client ever made, an upload answered with
// another file's ref, a download that is not the file asked for. It
// matches ErrBadResponse.
type ResponseError struct {
	Endpoint string // "push", "pull" or "files"
	Problem  string
}

// Error describes the refused answer.
func (e *ResponseError) Error() string {
	return fmt.Sprintf("plasma: client: bad %s response: %s", e.Endpoint, e.Problem)
}

// Is makes a ResponseError match ErrBadResponse.
func (e *ResponseError) Is(target error) bool { return target == ErrBadResponse }

func badPull(format string, args ...any) error {
	return &ResponseError{Endpoint: "pull", Problem: fmt.Sprintf(format, args...)}
}

// ServerError is an HTTP answer other than 200, or a 200 carrying one of
// the protocol's error bodies. Kind is the server's error kind (the
// "error" field of its JSON body, such as "Unauthorized",
// "VersionNotSupported" or "Unavailable"; empty when the body had none).
type ServerError struct {
	Endpoint    string // "push", "pull" or "files"
	Status      int
	Kind        string
	VersionType string // for VersionNotSupported: "push", "pull" or "schema"
	Message     string
}

// Error describes the server's answer.
func (e *ServerError) Error() string {
	msg := fmt.Sprintf("plasma: client: %s: status %d", e.Endpoint, e.Status)
	if e.Kind != "" {
		msg += " " + e.Kind
	}
	if e.VersionType != "" {
		msg += " (" + e.VersionType + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is makes a schema-version answer match ErrSchemaMismatch.
func (e *ServerError) Is(target error) bool {
	return target == ErrSchemaMismatch && e.Kind == "VersionNotSupported" && e.VersionType == "schema"
}

// Temporary reports whether a retry may succeed: a 5xx answer (or 429,
// or 408). Any other 4xx is final.
func (e *ServerError) Temporary() bool {
	return e.Status >= 500 || e.Status == 429 || e.Status == 408
}

// NetworkError wraps a failure to reach the server (dial, TLS, a reset
// connection, a body cut short). It is always retried.
type NetworkError struct {
	Endpoint string
	Err      error
}

// Error describes the transport's failure.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("plasma: client: %s: %v", e.Endpoint, e.Err)
}

// Unwrap returns the transport's error.
func (e *NetworkError) Unwrap() error { return e.Err }

// retryable reports whether the loop should retry after err.
func retryable(err error) bool {
	var ne *NetworkError
	if errors.As(err, &ne) {
		return true
	}
	var se *ServerError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return false
}
