package replicache_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// devtoolsTokenRE finds the admin token plasma demo -devtools prints.
var devtoolsTokenRE = regexp.MustCompile(`devtools: \S+/sync/devtools/\?token=([0-9a-f]{32})`)

// TestDevtoolsPage drives the sync server's devtools page
// (browser/devtools.mjs) in headless Chromium against plasma demo
// -devtools, with a second demo without -devtools for the 404: after
// pushes from two users the page lists both groups with the right
// lastMutationIDs; Poke, Drop view and Disconnect work; a request
// without the admin token gets 403. Like TestWebPage it runs only with
// PLASMA_E2E=1 and then fails rather than skips without node, npm or
// Chromium. With PLASMA_DEVTOOLS_SCREENSHOT=FILE it saves the page there
// (docs/devtools.png was made so).
func TestDevtoolsPage(t *testing.T) {
	if os.Getenv(e2eEnvVarName) != "1" {
		t.Skipf("set %s=1 to drive the devtools page in headless Chromium (needs node, npm and chromium)", e2eEnvVarName)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "..", "..")
	driverDir := filepath.Join(dir, "browser")
	node := lookPath(t, "node")
	chrome := findChromium(t)
	npmCI(t, driverDir, filepath.Join("playwright-core", "package.json"))

	bin := filepath.Join(t.TempDir(), "plasma")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := runTimed(t, buildTimeout, root, nil, lookPath(t, "go"), "build", "-o", bin, "./cmd/plasma"); err != nil {
		t.Fatalf("go build ./cmd/plasma: %v\n%s", err, out)
	}
	start := func(args ...string) (addr string, log *syncBuffer) {
		addr = freeAddr(t)
		log = &syncBuffer{}
		srv := exec.Command(bin, append([]string{"demo", "-addr", addr, "-data", t.TempDir()}, args...)...)
		srv.Stdout, srv.Stderr = log, log
		if err := srv.Start(); err != nil {
			t.Fatalf("start plasma demo: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- srv.Wait() }()
		t.Cleanup(func() { stopServer(t, srv, exited, log) })
		waitForPort(t, addr, exited, log)
		return addr, log
	}
	addr, log := start("-devtools")
	offAddr, _ := start()
	var token string
	for deadline := time.Now().Add(10 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := devtoolsTokenRE.FindStringSubmatch(log.String()); m != nil {
			token = m[1]
		}
	}
	if token == "" {
		t.Fatalf("plasma demo -devtools printed no token:\n%s", log)
	}

	shot := os.Getenv("PLASMA_DEVTOOLS_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "devtools.png")
	}
	env := append(os.Environ(), "PLASMA_URL=http://"+addr, "PLASMA_URL_OFF=http://"+offAddr,
		"PLASMA_DEVTOOLS_TOKEN="+token, "PLASMA_CHROMIUM="+chrome, "E2E_SCREENSHOT="+shot)
	out, err := runTimed(t, webTimeout, driverDir, env, node, "devtools.mjs")
	if err != nil {
		t.Fatalf("node browser/devtools.mjs: %v\n--- node output:\n%s\n--- plasma demo log:\n%s", err, out, log.String())
	}
	t.Logf("node browser/devtools.mjs:\n%s", out)
	if !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("node browser/devtools.mjs exited 0 without its summary line:\n%s", out)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
}
