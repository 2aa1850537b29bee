package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
)

// lockedBuffer is an io.Writer the demo writes to while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingRE = regexp.MustCompile(`serving the todo example .* on (http://\S+)/`)

// waitForURL polls out until the demo prints its URL.
func waitForURL(t *testing.T, out fmt.Stringer, done <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case <-done:
			t.Fatalf("the demo exited before serving:\n%s", out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the demo printed no URL:\n%s", out)
	return ""
}

var demoClient = &http.Client{Timeout: 10 * time.Second}

// demoPost posts body to base+path as user ("" for no Authorization).
func demoPost(base, path, user, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	resp, err := demoClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func pushOne(base string, id int, name, args string) (int, string, error) {
	body := fmt.Sprintf(`{"pushVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g-ann",`+
		`"mutations":[{"clientID":"c-ann","id":%d,"name":%q,"args":%s,"timestamp":%d.5}]}`, id, name, args, id)
	return demoPost(base, "/sync/push", "ann", body)
}

// pulled is what a first pull of ann's group returns.
type pulled struct {
	lmid  int64
	keys  []string
	value map[string]map[string]any
}

func pullAll(t *testing.T, base string) pulled {
	t.Helper()
	status, body, err := demoPost(base, "/sync/pull", "ann",
		`{"pullVersion":1,"schemaVersion":"1","profileID":"p1","clientGroupID":"g-ann","cookie":null}`)
	if err != nil || status != http.StatusOK {
		t.Fatalf("pull: %d %s %v", status, body, err)
	}
	var resp struct {
		LMIDs map[string]int64 `json:"lastMutationIDChanges"`
		Patch []struct {
			Op    string         `json:"op"`
			Key   string         `json:"key"`
			Value map[string]any `json:"value"`
		} `json:"patch"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	p := pulled{lmid: resp.LMIDs["c-ann"], value: map[string]map[string]any{}}
	for i, op := range resp.Patch {
		if (i == 0) != (op.Op == "clear") || (i > 0 && op.Op != "put") {
			t.Fatalf("first pull's patch: %s", body)
		}
		if op.Op == "put" {
			p.keys = append(p.keys, op.Key)
			p.value[op.Key] = op.Value
		}
	}
	slices.Sort(p.keys)
	return p
}

// wsConn is a WebSocket client just good enough to read the hub's
// text frames.
type wsConn struct {
	c  net.Conn
	br *bufio.Reader
}

// wsDial opens a WebSocket to base/sync/ws?query; it returns the HTTP
// status of the handshake, and the connection if it is 101.
func wsDial(t *testing.T, base, query string) (*wsConn, int) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req, err := http.NewRequest(http.MethodGet, base+"/sync/ws?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "13")
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	return &wsConn{c: c, br: br}, resp.StatusCode
}

// read returns the next text message, skipping control frames.
func (w *wsConn) read(t *testing.T) string {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			t.Fatalf("ws read: %v", err)
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(w.br, ext[:]); err != nil {
				t.Fatal(err)
			}
			n = int(ext[0])<<8 | int(ext[1])
		case 127:
			t.Fatal("ws: frame too large for this test client")
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(w.br, payload); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0f == 1 { // a text frame
			return string(payload)
		}
	}
}

// waitPoke reads messages until a poke, skipping presence.
func (w *wsConn) waitPoke(t *testing.T) {
	t.Helper()
	for {
		msg := w.read(t)
		if msg == `{"type":"poke"}` {
			return
		}
		if !strings.HasPrefix(msg, `{"type":"presence"`) {
			t.Fatalf("ws message: %s", msg)
		}
	}
}

// TestDemo runs the command in-process: the page, the endpoints, CORS,
// 401, a clean shutdown, and a restart on the same data.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	start := func() (base string, stop func() string) {
		ctx, cancel := context.WithCancel(context.Background())
		out := &lockedBuffer{}
		done := make(chan struct{})
		code := -1
		go func() {
			defer close(done)
			code = run(ctx, []string{"demo", "-addr", "127.0.0.1:0", "-data", data, "-cors", "http://app.test, http://other.test"}, out, out)
		}()
		base = waitForURL(t, out, done)
		return base, func() string {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("the demo did not stop:\n%s", out)
			}
			if code != 0 || !strings.Contains(out.String(), "plasma demo: stopped") {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			return out.String()
		}
	}

	base, stop := start()
	resp, err := demoClient.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), base+"/sync/push") || !strings.Contains(string(page), "curl") {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, page)
	}
	if resp, err := demoClient.Get(base + "/nothing"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("GET /nothing: %v %v", resp, err)
	}

	// A CORS preflight from an allowed origin, and one from elsewhere.
	for origin, want := range map[string]string{"http://app.test": "http://app.test", "http://evil.test": ""} {
		req, _ := http.NewRequest(http.MethodOptions, base+"/sync/push", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, x-replicache-requestid")
		resp, err := demoClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want %q (status %d)", origin, got, want, resp.StatusCode)
		}
	}

	if status, body, err := demoPost(base, "/sync/pull", "", `{"pullVersion":1,"schemaVersion":"1","profileID":"p","clientGroupID":"g","cookie":null}`); err != nil || status != 401 {
		t.Fatalf("pull without auth: %d %s %v", status, body, err)
	}
	if status, body, err := pushOne(base, 1, "createList", `{"id":"L1","name":"groceries"}`); err != nil || status != 200 || body != "{}" {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	if status, body, err := pushOne(base, 2, "createTodo", `{"id":"t1","listID":"L1","title":"milk"}`); err != nil || status != 200 {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	if p := pullAll(t, base); p.lmid != 2 || len(p.keys) != 3 || p.value["todos/t1"]["title"] != "milk" {
		t.Fatalf("pull: %+v", p)
	}

	// The WebSocket: refused without credentials; with them, a poke on
	// connecting and another after a push.
	if _, status := wsDial(t, base, "clientGroupID=g-ann&clientID=c-ann"); status != http.StatusUnauthorized {
		t.Fatalf("ws without auth: %d", status)
	}
	if _, status := wsDial(t, base, "clientGroupID=g-ann&clientID=c-ann&auth=Bearer%20bob"); status != http.StatusForbidden {
		t.Fatalf("ws to ann's group as bob: %d", status)
	}
	ws, status := wsDial(t, base, "clientGroupID=g-ann&clientID=c-ann&auth=Bearer%20ann")
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("ws: %d", status)
	}
	ws.waitPoke(t)
	if status, body, err := pushOne(base, 3, "updateTodo", `{"id":"t1","done":true}`); err != nil || status != 200 {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	ws.waitPoke(t)
	stop()

	// Restarted on the same data, it has everything.
	base, stop = start()
	if p := pullAll(t, base); p.lmid != 3 || len(p.keys) != 3 || p.value["todos/t1"]["done"] != true {
		t.Fatalf("pull after restart: %+v", p)
	}
	stop()

	if code, out, _ := runCLI(t, "demo", "-h"); code != 0 || !strings.Contains(out, "-cors") || !strings.Contains(out, "Bearer") {
		t.Fatalf("demo -h: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "demo", "-addr", "256.0.0.1:99999", "-data", t.TempDir()); code != 1 || errOut == "" {
		t.Fatalf("bad -addr: exit %d %s", code, errOut)
	}
}

// TestDemoSurvivesSIGKILL builds the binary, pushes mutations one by one,
// kills the process without warning while pushes are in flight, restarts
// it on the same -data and checks that every acknowledged mutation is
// there. Then SIGTERM stops it cleanly.
func TestDemoSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL and SIGTERM")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "plasma")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")

	type proc struct {
		cmd  *exec.Cmd
		out  *lockedBuffer
		done chan struct{}
		err  error
	}
	start := func() (*proc, string) {
		p := &proc{out: &lockedBuffer{}, done: make(chan struct{})}
		p.cmd = exec.Command(bin, "demo", "-addr", "127.0.0.1:0", "-data", data)
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		t.Cleanup(func() {
			select {
			case <-p.done:
			default:
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		})
		return p, waitForURL(t, p.out, p.done)
	}

	p, base := start()
	if status, body, err := pushOne(base, 1, "createList", `{"id":"L1","name":"groceries"}`); err != nil || status != 200 || body != "{}" {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	// Push createTodo mutations 2, 3, ... one per request until the
	// process dies; acked is the last one answered 200 {}.
	const killAfter = 40
	var ackedN atomic.Int64
	reached := make(chan struct{})
	pusherDone := make(chan struct{})
	go func() {
		defer close(pusherDone)
		for id := 2; ; id++ {
			status, body, err := pushOne(base, id, "createTodo", fmt.Sprintf(`{"id":"t%d","listID":"L1","title":"todo %d"}`, id, id))
			if err != nil || status != 200 || body != "{}" {
				return
			}
			ackedN.Store(int64(id))
			if id == killAfter {
				close(reached)
			}
		}
	}()
	select {
	case <-reached:
	case <-pusherDone:
		t.Fatalf("pushes failed after %d:\n%s", ackedN.Load(), p.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d pushes in 30 s", ackedN.Load())
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	<-pusherDone
	acked := ackedN.Load()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the demo was not killed by SIGKILL: %v", p.err)
	}
	t.Logf("killed with %d mutations acknowledged", acked)

	p, base = start()
	got := pullAll(t, base)
	if got.lmid < acked || got.lmid > acked+1 {
		t.Fatalf("after the restart lastMutationID is %d; %d were acknowledged", got.lmid, acked)
	}
	want := []string{"lists/L1", "members/" + todo.MemberID("L1", "ann")}
	for id := 2; id <= int(got.lmid); id++ {
		want = append(want, fmt.Sprintf("todos/t%d", id))
	}
	slices.Sort(want)
	if !slices.Equal(got.keys, want) {
		t.Fatalf("after the restart the rows are\n%v\nwant\n%v", got.keys, want)
	}
	// The client goes on where it stopped.
	next := int(got.lmid) + 1
	if status, body, err := pushOne(base, next, "createTodo", fmt.Sprintf(`{"id":"t%d","listID":"L1","title":"after"}`, next)); err != nil || status != 200 || body != "{}" {
		t.Fatalf("push after restart: %d %s %v", status, body, err)
	}

	// SIGTERM: a clean exit.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20 s after SIGTERM:\n%s", p.out)
	}
	if p.err != nil || !strings.Contains(p.out.String(), "plasma demo: stopped") {
		t.Fatalf("after SIGTERM: %v\n%s", p.err, p.out)
	}
	if _, err := os.Stat(filepath.Join(data, "plasma.db")); err != nil {
		t.Fatal(err)
	}
}

// TestDemoMaintenance runs the demo with a short -maintain interval: the
// change log is compacted and idle client groups are collected on
// schedule, errors would be logged, and shutdown stops the schedule.
func TestDemoMaintenance(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan struct{})
	code := -1
	go func() {
		defer close(done)
		code = run(ctx, []string{"demo", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-maintain", "50ms"}, out, out)
	}()
	base := waitForURL(t, out, done)
	if status, body, err := pushOne(base, 1, "createList", `{"id":"L1","name":"groceries"}`); err != nil || status != 200 {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	if status, body, err := pushOne(base, 2, "createTodo", `{"id":"t1","listID":"L1","title":"milk"}`); err != nil || status != 200 {
		t.Fatalf("push: %d %s %v", status, body, err)
	}
	// Each update logs a change of t1: all but the last can be folded.
	for id := 3; id <= 6; id++ {
		if status, body, err := pushOne(base, id, "updateTodo", fmt.Sprintf(`{"id":"t1","title":"milk %d"}`, id)); err != nil || status != 200 {
			t.Fatalf("push: %d %s %v", status, body, err)
		}
	}
	compacted := regexp.MustCompile(`compacted the change log" .*removed=[1-9]`)
	collected := regexp.MustCompile(`collected idle client groups" groups=0`)
	deadline := time.Now().Add(20 * time.Second)
	for !compacted.MatchString(out.String()) || !collected.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no compaction and collection logged:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p := pullAll(t, base); p.lmid != 6 || p.value["todos/t1"]["title"] != "milk 6" {
		t.Fatalf("pull after compaction: %+v", p)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the demo did not stop:\n%s", out)
	}
	if code != 0 || !strings.Contains(out.String(), "plasma demo: stopped") || strings.Contains(out.String(), "level=ERROR") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
