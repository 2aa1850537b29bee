package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/plasma-go/plasma/sync/protocol"
)

// MaxDevtoolsMessage caps a message Devtools reads.
const MaxDevtoolsMessage = 4 << 10

// Devtools answers one devtools message: a command in the seed's
// devtools protocol (protocol.DevtoolsCommand, "source":"plasma-devtools")
// from a devtools window the application wires to the client (an HTTP
// endpoint of a desktop app, a local socket of a CLI). "snapshot"
// answers the client's protocol.DevtoolsClientSnapshot; "flush", "pull",
// "reset-local-state" and "ping" act and answer a protocol.DevtoolsResult;
// anything else, or a command that failed, a protocol.DevtoolsError.
// The answer is always a devtools message.
func (c *Client[C]) Devtools(ctx context.Context, msg []byte) []byte {
	cmd, err := decodeDevtools(msg)
	if err != nil {
		return devtoolsError("BadRequest", err.Error())
	}
	var out any
	switch cmd.Command {
	case protocol.DevtoolsSnapshotCommand:
		snap, err := c.DevtoolsSnapshot(ctx)
		if err != nil {
			return devtoolsError("Failed", err.Error())
		}
		out = snap
	case protocol.DevtoolsFlush, protocol.DevtoolsPull, protocol.DevtoolsResetLocalState, protocol.DevtoolsPing:
		res := protocol.DevtoolsResult{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeResult, Command: cmd.Command}
		switch cmd.Command {
		case protocol.DevtoolsFlush:
			err = c.Flush(ctx)
		case protocol.DevtoolsPull:
			res.Changed, err = c.PullOnce(ctx)
		case protocol.DevtoolsResetLocalState:
			err = c.ResetLocalState(ctx)
		}
		if err != nil {
			return devtoolsError("Failed", err.Error())
		}
		res.ClientGroupID = c.ClientGroupID()
		out = res
	default:
		return devtoolsError("BadRequest", fmt.Sprintf("unknown command %q; want snapshot, flush, pull, reset-local-state or ping", truncateID(cmd.Command)))
	}
	b, err := json.Marshal(out)
	if err != nil {
		return devtoolsError("Failed", err.Error())
	}
	return b
}

// DevtoolsSnapshot returns the client's state as its devtools show it:
// ids, lastMutationID, cookie, the pending mutations (ids and names) and
// whether it is offline or connected.
func (c *Client[C]) DevtoolsSnapshot(ctx context.Context) (protocol.DevtoolsClientSnapshot, error) {
	pending, err := c.Pending(ctx)
	if err != nil {
		return protocol.DevtoolsClientSnapshot{}, err
	}
	c.mu.Lock()
	snap := protocol.DevtoolsClientSnapshot{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeSnapshot,
		At: time.Now().UTC(), ClientID: c.st.clientID, ClientGroupID: c.st.group, LastMutationID: c.st.lmid,
		Cookie: append(json.RawMessage(nil), c.st.cookie...), Pending: make([]protocol.DevtoolsPending, len(pending)),
		Offline: c.offline.Load(), Connected: c.socketUp.Load()}
	c.mu.Unlock()
	if len(snap.Cookie) == 0 {
		snap.Cookie = json.RawMessage("null")
	}
	for i, m := range pending {
		snap.Pending[i] = protocol.DevtoolsPending{ID: m.ID, Name: m.Name, Sent: m.Sent}
	}
	return snap, nil
}

// decodeDevtools decodes one devtools command: a single JSON object of
// valid UTF-8, with the discriminant, type "command" and no unknown
// fields.
func decodeDevtools(msg []byte) (*protocol.DevtoolsCommand, error) {
	if len(msg) > MaxDevtoolsMessage {
		return nil, fmt.Errorf("message of %d bytes, over the limit of %d", len(msg), MaxDevtoolsMessage)
	}
	if !utf8.Valid(msg) {
		return nil, errors.New("the message is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.DisallowUnknownFields()
	var cmd protocol.DevtoolsCommand
	if err := dec.Decode(&cmd); err != nil {
		return nil, fmt.Errorf("not a devtools command: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	switch {
	case cmd.Source != protocol.DevtoolsSource:
		return nil, fmt.Errorf("source %q; want %q", truncateID(cmd.Source), protocol.DevtoolsSource)
	case cmd.Type != protocol.DevtoolsTypeCommand:
		return nil, fmt.Errorf("type %q; want %q", truncateID(cmd.Type), protocol.DevtoolsTypeCommand)
	case cmd.ClientGroupID != "":
		return nil, errors.New("a client's devtools command takes no clientGroupID")
	}
	return &cmd, nil
}

func devtoolsError(code, msg string) []byte {
	b, _ := json.Marshal(protocol.DevtoolsError{Source: protocol.DevtoolsSource, Type: protocol.DevtoolsTypeError, Error: code, Message: msg})
	return b
}

// truncateID shortens s for an error message.
func truncateID(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}
