package gormtest

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gormMarker is the line before a guide's ```go block that this module
// runs; the main module's docs test only checks such blocks.
const gormMarker = "<!-- docs-test: gorm -->"

// gormSnippet is one such block.
type gormSnippet struct {
	name string // guide:line
	code string
}

// gormSnippets returns the marked blocks of the guides in docs/.
func gormSnippets(t *testing.T) []gormSnippet {
	t.Helper()
	guides, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []gormSnippet
	for _, g := range guides {
		md, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(md), "\n")
		for i := 1; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```go" || strings.TrimSpace(lines[i-1]) != gormMarker {
				continue
			}
			var code strings.Builder
			j := i + 1
			for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
				code.WriteString(lines[j] + "\n")
			}
			if j == len(lines) {
				t.Fatalf("%s:%d: ```go block never closed", g, i+1)
			}
			out = append(out, gormSnippet{name: fmt.Sprintf("%s:%d", filepath.Base(g), i+2), code: code.String()})
			i = j
		}
	}
	return out
}

// TestGuideSnippets builds and runs every Go program of the guides marked
// for this module, and checks what each prints against its "// Output:"
// comment, as the main module's docs test does for the others.
func TestGuideSnippets(t *testing.T) {
	snippets := gormSnippets(t)
	if len(snippets) == 0 {
		t.Fatal("no guide block is marked " + gormMarker + ": docs/migrating.md should have some")
	}
	dir, err := os.MkdirTemp(".", "_snippets") // in this module, ignored by ./...
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for i, s := range snippets {
		t.Run(s.name, func(t *testing.T) {
			want, err := expectedOutput(s.code)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			pkg := filepath.Join(dir, fmt.Sprintf("s%d", i))
			if err := os.MkdirAll(pkg, 0o755); err != nil {
				t.Fatal(err)
			}
			src := fmt.Sprintf("//line docs/%s\n%s", s.name, s.code)
			if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(t.TempDir(), "snippet")
			if out, err := exec.Command("go", "build", "-o", bin, "./"+filepath.ToSlash(pkg)).CombinedOutput(); err != nil {
				t.Fatalf("%s does not compile:\n%s", s.name, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Dir = t.TempDir() // the database file lands there
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s failed: %v\nstdout:\n%s\nstderr:\n%s", s.name, err, stdout.String(), stderr.String())
			}
			if got := trimLines(stdout.String()); got != trimLines(want) {
				t.Errorf("%s printed:\n%s\nwant:\n%s", s.name, got, want)
			}
		})
	}
}

// expectedOutput returns the text of the "// Output:" comment in main.
func expectedOutput(code string) (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", code, parser.ParseComments)
	if err != nil {
		return "", err
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != "main" {
			continue
		}
		for _, cg := range f.Comments {
			if cg.Pos() > fd.Body.Lbrace && cg.End() < fd.Body.Rbrace {
				if text, ok := strings.CutPrefix(cg.Text(), "Output:"); ok {
					return text, nil
				}
			}
		}
		return "", fmt.Errorf("main has no // Output: comment")
	}
	return "", fmt.Errorf("no func main")
}

func trimLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}
