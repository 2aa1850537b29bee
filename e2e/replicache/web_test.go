package replicache_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// webTimeout bounds browser/web.mjs (its own deadline is 150 s).
const webTimeout = 3 * time.Minute

// TestWebPage drives examples/web, the page on the replicache npm client,
// in headless Chromium against plasma demo -web examples/web: sign in
// through the page, create a list and todos with its forms, check the
// server holds them, share the list with a second page in another
// browser context, and see that page's changes, and a push by a client
// that is not a page, appear on the first one (pulled on the server's
// poke). Like TestReplicacheClient it runs only with PLASMA_E2E=1; it
// then needs node, npm and Chromium (PLASMA_CHROMIUM, else chromium on
// PATH), and fails rather than skips when one is missing.
func TestWebPage(t *testing.T) {
	if os.Getenv(e2eEnvVarName) != "1" {
		t.Skipf("set %s=1 to drive examples/web in headless Chromium (needs node, npm and chromium)", e2eEnvVarName)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "..", "..")
	webDir := filepath.Join(root, "examples", "web")
	driverDir := filepath.Join(dir, "browser")
	node := lookPath(t, "node")
	chrome := findChromium(t)

	// The page's packages (replicache) and the driver's (playwright-core),
	// each from its package-lock.json.
	npmCI(t, webDir, filepath.Join("replicache", "package.json"))
	npmCI(t, driverDir, filepath.Join("playwright-core", "package.json"))

	bin := filepath.Join(t.TempDir(), "plasma")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := runTimed(t, buildTimeout, root, nil, lookPath(t, "go"), "build", "-o", bin, "./cmd/plasma"); err != nil {
		t.Fatalf("go build ./cmd/plasma: %v\n%s", err, out)
	}

	addr := freeAddr(t)
	srvLog := &syncBuffer{}
	srv := exec.Command(bin, "demo", "-addr", addr, "-data", t.TempDir(), "-web", webDir)
	srv.Stdout, srv.Stderr = srvLog, srvLog
	if err := srv.Start(); err != nil {
		t.Fatalf("start plasma demo: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() { stopServer(t, srv, exited, srvLog) })
	waitForPort(t, addr, exited, srvLog)

	env := append(os.Environ(), "PLASMA_URL=http://"+addr, "PLASMA_CHROMIUM="+chrome)
	out, err := runTimed(t, webTimeout, driverDir, env, node, "web.mjs")
	if err != nil {
		t.Fatalf("node browser/web.mjs: %v\n--- node output:\n%s\n--- plasma demo log:\n%s", err, out, srvLog.String())
	}
	t.Logf("node browser/web.mjs:\n%s", out)
	if !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("node browser/web.mjs exited 0 without its summary line:\n%s", out)
	}
}

// npmCI runs npm ci in dir unless node_modules already holds marker.
func npmCI(t *testing.T, dir, marker string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", marker)); err == nil {
		return
	}
	out, err := runTimed(t, npmTimeout, dir, nil, lookPath(t, "npm"), "ci", "--no-audit", "--no-fund")
	if err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

// findChromium returns PLASMA_CHROMIUM, else the first Chromium or Chrome
// on PATH; without one the test fails (.ci/run installs Debian's
// chromium package when it can).
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PLASMA_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PLASMA_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	var errs []error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		p, err := exec.LookPath(name)
		if err == nil {
			return p
		}
		errs = append(errs, err)
	}
	t.Fatalf("%s=1 but no Chromium was found (apt-get install chromium, or set PLASMA_CHROMIUM): %v", e2eEnvVarName, errors.Join(errs...))
	return ""
}
