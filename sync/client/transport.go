package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
)

var requestSeq atomic.Uint64

// post sends one push or pull and returns the 200 answer's body. Any
// other status, and a 200 carrying one of the protocol's error bodies,
// is a *ServerError; a failure to get an answer is a *NetworkError.
func (c *Client[C]) post(ctx context.Context, endpoint string, body []byte, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.Server+"/"+endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Replicache-RequestID", c.ClientID()+"-"+strconv.FormatUint(requestSeq.Add(1), 10))
	if c.opts.Auth != nil {
		auth, err := c.opts.Auth(ctx)
		if err != nil {
			return nil, fmt.Errorf("plasma: client: %s: auth: %w", endpoint, err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NetworkError{Endpoint: endpoint, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NetworkError{Endpoint: endpoint, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &ResponseError{Endpoint: endpoint, Problem: fmt.Sprintf("over %d bytes", limit)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, serverError(endpoint, resp.StatusCode, data)
	}
	if e := protocolError(endpoint, data); e != nil {
		return nil, e
	}
	return data, nil
}

// errorBody is the shape of the server's error answers.
type errorBody struct {
	Error       *string `json:"error"`
	VersionType string  `json:"versionType"`
	Message     string  `json:"message"`
}

func serverError(endpoint string, status int, data []byte) *ServerError {
	e := &ServerError{Endpoint: endpoint, Status: status}
	var b errorBody
	if json.Unmarshal(data, &b) == nil && b.Error != nil {
		e.Kind, e.VersionType, e.Message = *b.Error, b.VersionType, truncate(b.Message, 300)
	} else {
		e.Message = truncate(string(data), 120)
	}
	return e
}

// protocolError finds the two 200 bodies that change a client's course:
// ClientStateNotFound and VersionNotSupported.
func protocolError(endpoint string, data []byte) *ServerError {
	if !bytes.Contains(data, []byte(`"error"`)) {
		return nil
	}
	var b errorBody
	if json.Unmarshal(data, &b) != nil || b.Error == nil {
		return nil
	}
	return &ServerError{Endpoint: endpoint, Status: http.StatusOK, Kind: *b.Error, VersionType: b.VersionType, Message: truncate(b.Message, 300)}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// isClientStateNotFound reports the answer telling the client its group
// is gone on the server.
func isClientStateNotFound(err error) bool {
	var se *ServerError
	return errors.As(err, &se) && se.Kind == "ClientStateNotFound"
}
