package synctest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/plasma-go/plasma/sync/synctest"
)

// Post sends a raw protocol body with a client's headers; here to a stub
// that echoes what it received.
func ExamplePost() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Header.Get("Authorization"), r.Header.Get("Content-Type"), b)
	}))
	defer srv.Close()
	status, body, err := synctest.Post(srv.Client(), srv.URL+"/sync/pull", "Bearer ann",
		`{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":null}`)
	if err != nil {
		panic(err)
	}
	fmt.Println(status, body)
	// Output: 200 Bearer ann application/json {"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g1","cookie":null}
}
