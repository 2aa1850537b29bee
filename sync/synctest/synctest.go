// Package synctest helps test applications built on sync/server. Client
// is a strict simulator of a Replicache client group: it pushes and
// pulls over HTTP and fails on any response a real client would reject
// or misread (the push/pull protocol's rules, listed on Client).
// Post sends raw push and pull bodies, so tests can use JSON exactly as
// the protocol shows it; Serve and ErrorLog set a handler up in a test.
package synctest

import (
	"io"
	"net/http"
	"strings"
)

// Post sends body to url (a push or pull endpoint) with the headers a
// Replicache client sends: Content-Type, X-Replicache-RequestID and, when
// auth is not empty, Authorization carrying auth verbatim. It returns the
// status code and the response body.
func Post(client *http.Client, url, auth, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Replicache-RequestID", "test-0-0")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
