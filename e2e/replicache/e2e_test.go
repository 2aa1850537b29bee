// Package replicache_test runs the real replicache npm client (15.3.0,
// unmodified, in Node) against plasma's sync server serving the todo demo
// (plasma demo). It needs Node and npm, so it runs only with PLASMA_E2E=1:
//
//	PLASMA_E2E=1 go test ./e2e/replicache/
//
// See README.md in this folder.
package replicache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Time limits of the steps.
const (
	npmTimeout    = 5 * time.Minute
	buildTimeout  = 5 * time.Minute
	startTimeout  = 30 * time.Second
	nodeTimeout   = 3 * time.Minute
	stopTimeout   = 15 * time.Second
	pollInterval  = 50 * time.Millisecond
	e2eEnvVarName = "PLASMA_E2E"
)

func TestReplicacheClient(t *testing.T) {
	if os.Getenv(e2eEnvVarName) != "1" {
		t.Skipf("set %s=1 to run the end-to-end test with the real replicache npm client (needs node and npm)", e2eEnvVarName)
	}
	dir, err := os.Getwd() // go test runs in the package's folder
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "..", "..")
	node := lookPath(t, "node")

	// The npm packages, from package-lock.json.
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "replicache", "package.json")); err != nil {
		npm := lookPath(t, "npm")
		out, err := runTimed(t, npmTimeout, dir, nil, npm, "ci", "--no-audit", "--no-fund")
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}

	// plasma, built from this tree (go test puts its own toolchain's bin
	// first on PATH).
	bin := filepath.Join(t.TempDir(), "plasma")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := runTimed(t, buildTimeout, root, nil, lookPath(t, "go"), "build", "-o", bin, "./cmd/plasma"); err != nil {
		t.Fatalf("go build ./cmd/plasma: %v\n%s", err, out)
	}

	// plasma demo on a free port with a fresh data directory.
	addr := freeAddr(t)
	srvLog := &syncBuffer{}
	srv := exec.Command(bin, "demo", "-addr", addr, "-data", t.TempDir())
	srv.Stdout, srv.Stderr = srvLog, srvLog
	if err := srv.Start(); err != nil {
		t.Fatalf("start plasma demo: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() { stopServer(t, srv, exited, srvLog) })
	waitForPort(t, addr, exited, srvLog)

	// The scenario, in Node.
	env := append(os.Environ(), "PLASMA_URL=http://"+addr)
	out, err := runTimed(t, nodeTimeout, dir, env, node, "sync.mjs")
	if err != nil {
		t.Fatalf("node sync.mjs: %v\n--- node output:\n%s\n--- plasma demo log:\n%s", err, out, srvLog.String())
	}
	t.Logf("node sync.mjs:\n%s", out)
	if !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("node sync.mjs exited 0 without its summary line:\n%s", out)
	}
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s=1 but %s is not on PATH: %v", e2eEnvVarName, name, err)
	}
	return p
}

// runTimed runs a command in dir with a deadline and returns its combined
// output.
func runTimed(t *testing.T, limit time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second // output pipes held by a stray child
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: no result within %v: %w", filepath.Base(name), strings.Join(args, " "), limit, err)
	}
	return buf.String(), err
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// waitForPort waits until the server accepts connections on addr, fails
// the test if it exits first or does not within startTimeout.
func waitForPort(t *testing.T, addr string, exited <-chan error, log *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case werr := <-exited:
			t.Fatalf("plasma demo exited before listening on %s: %v\n%s", addr, werr, log.String())
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			t.Fatalf("plasma demo did not listen on %s within %v: %v\n%s", addr, startTimeout, err, log.String())
		}
	}
}

// stopServer interrupts the server, kills it if it does not stop in time,
// and reports a failed shutdown.
func stopServer(t *testing.T, srv *exec.Cmd, exited <-chan error, log *syncBuffer) {
	if srv.Process == nil {
		return
	}
	if err := srv.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = srv.Process.Kill()
	}
	select {
	case err := <-exited:
		if err != nil && !t.Failed() {
			t.Errorf("plasma demo did not stop cleanly: %v\n%s", err, log.String())
		}
	case <-time.After(stopTimeout):
		_ = srv.Process.Kill()
		<-exited
		t.Errorf("plasma demo did not stop within %v of SIGINT; killed\n%s", stopTimeout, log.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a
// process's stdout and stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
