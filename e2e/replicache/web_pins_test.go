package replicache_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// npmManifest is the part of a package.json or package-lock.json the pin
// checks read.
type npmManifest struct {
	Dependencies map[string]string `json:"dependencies"`
	Packages     map[string]struct {
		Version string `json:"version"`
	} `json:"packages"`
}

func readManifest(t *testing.T, path string) npmManifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m npmManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

var importMapRE = regexp.MustCompile(`(?s)<script type="importmap">(.*?)</script>`)

// TestWebPins keeps examples/web on the replicache this folder tests (the
// same exact version, and the same versions of its dependencies), and its
// import map in step with its package-lock.json: one entry per installed
// package, into that package's folder. It needs no node, so it runs in
// every go test.
func TestWebPins(t *testing.T) {
	web := filepath.Join("..", "..", "examples", "web")
	e2ePkg := readManifest(t, "package.json")
	webPkg := readManifest(t, filepath.Join(web, "package.json"))
	want := e2ePkg.Dependencies["replicache"]
	if got := webPkg.Dependencies["replicache"]; got != want || strings.ContainsAny(got, "^~<>=*x ") {
		t.Errorf("examples/web pins replicache %q; e2e/replicache pins %q: both must pin the same exact version", got, want)
	}

	e2eLock := readManifest(t, "package-lock.json")
	webLock := readManifest(t, filepath.Join(web, "package-lock.json"))
	var installed []string
	for path, p := range webLock.Packages {
		name, ok := strings.CutPrefix(path, "node_modules/")
		if !ok {
			continue
		}
		installed = append(installed, name)
		if e, ok := e2eLock.Packages[path]; !ok || e.Version != p.Version {
			t.Errorf("examples/web locks %s %s; e2e/replicache locks %q", name, p.Version, e.Version)
		}
	}

	html, err := os.ReadFile(filepath.Join(web, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	m := importMapRE.FindSubmatch(html)
	if m == nil {
		t.Fatal("examples/web/index.html has no import map")
	}
	var imap struct {
		Imports map[string]string `json:"imports"`
	}
	if err := json.Unmarshal(m[1], &imap); err != nil {
		t.Fatalf("examples/web/index.html's import map: %v", err)
	}
	for name, target := range imap.Imports {
		if !strings.HasPrefix(target, "./node_modules/"+name+"/") {
			t.Errorf("import map: %s -> %s, outside that package's folder", name, target)
		}
	}
	slices.Sort(installed)
	if mapped := slices.Sorted(maps.Keys(imap.Imports)); !slices.Equal(mapped, installed) {
		t.Errorf("import map maps %v; package-lock.json installs %v", mapped, installed)
	}
}
