package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
)

// envPostgres names the PostgreSQL server snippets marked
// <!-- docs-test: postgres --> run against (in a schema of their own,
// passed to them as DATABASE_URL). Without it they are compiled only.
const envPostgres = "PLASMA_TEST_POSTGRES"

// snippetTimeout bounds one snippet's run.
const snippetTimeout = 2 * time.Minute

// A snippet is one fenced ```go block of a guide.
type snippet struct {
	file     string // the guide, relative to docs/, e.g. "queries.md"
	line     int    // the line of the block's first line of code
	code     string
	postgres bool // marked <!-- docs-test: postgres -->
	noRun    bool // marked <!-- docs-test: compile-only -->
	// gorm is marked <!-- docs-test: gorm -->: the snippet links GORM's
	// SQLite driver, which cannot share a binary with modernc.org/sqlite,
	// so the module orm_test/gorm builds and runs it; here it is only
	// checked (package main, gofmt-ed).
	gorm bool
}

func (s snippet) name() string { return fmt.Sprintf("%s:%d", s.file, s.line) }

// directive matches the marker comment a block may have on the line
// before its fence.
var directive = regexp.MustCompile(`^<!--\s*docs-test:\s*([a-z-]+)\s*-->$`)

// extract returns the ```go blocks of the Markdown text md. Blocks fenced
// with any other info string (sh, text, json ...) are not Go and are left
// alone; an unterminated block is an error.
func extract(file, md string) ([]snippet, error) {
	var (
		out     []snippet
		cur     *snippet
		body    strings.Builder
		prev    string
		lineNum int
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lineNum++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```go":
			cur = &snippet{file: file, line: lineNum + 1}
			body.Reset()
			if m := directive.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				switch m[1] {
				case "postgres":
					cur.postgres = true
				case "compile-only":
					cur.noRun = true
				case "gorm":
					cur.gorm = true
				default:
					return nil, fmt.Errorf("%s:%d: unknown docs-test directive %q", file, lineNum-1, m[1])
				}
			}
		case cur != nil && trimmed == "```":
			cur.code = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: ```go block never closed", file, cur.line-1)
	}
	return out, nil
}

// guides returns the Markdown files of docs/.
func guides(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no guides in docs/")
	}
	return files
}

// allSnippets extracts every snippet of every guide.
func allSnippets(t *testing.T) []snippet {
	t.Helper()
	var all []snippet
	for _, f := range guides(t) {
		md, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := extract(f, string(md))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s...)
	}
	return all
}

// checked is a snippet parsed and checked: a gofmt-ed package main with
// a func main, and the output it must print, if it says.
type checked struct {
	snippet
	want    string
	hasWant bool
}

// check parses s and returns what it must print.
func check(s snippet) (checked, error) {
	c := checked{snippet: s}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, s.name(), s.code, parser.ParseComments)
	if err != nil {
		return c, fmt.Errorf("not a Go file: %v", err)
	}
	if f.Name.Name != "main" {
		return c, fmt.Errorf("want package main, got package %s: every ```go block is a whole program", f.Name.Name)
	}
	var main *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
			main = fd
		}
	}
	if main == nil {
		return c, fmt.Errorf("no func main")
	}
	formatted, err := format.Source([]byte(s.code))
	if err != nil {
		return c, err
	}
	if string(formatted) != s.code {
		return c, fmt.Errorf("not gofmt-ed; gofmt gives:\n%s", formatted)
	}
	// As in Example functions: a last comment in main that starts with
	// "Output:" is what the program must print.
	for _, cg := range f.Comments {
		if cg.Pos() < main.Body.Lbrace || cg.End() > main.Body.Rbrace {
			continue
		}
		if text, ok := strings.CutPrefix(cg.Text(), "Output:"); ok {
			c.want, c.hasWant = text, true
		}
	}
	return c, nil
}

// normalize trims trailing spaces of each line and the text's ends.
func normalize(s string) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// TestSnippets compiles every Go snippet of the guides into one program
// and runs each: it fails when a snippet does not compile, is not
// gofmt-ed, fails (exits non-zero) or prints other than its "// Output:".
func TestSnippets(t *testing.T) {
	all := allSnippets(t)
	var ok []checked
	for _, s := range all {
		c, err := check(s)
		if err != nil {
			t.Errorf("%s: %v", s.name(), err)
			continue
		}
		if s.gorm {
			t.Run(s.name(), func(t *testing.T) {
				t.Skip("built and run by the module orm_test/gorm (go test there): GORM's SQLite driver cannot share this binary")
			})
			continue
		}
		ok = append(ok, c)
	}
	if t.Failed() {
		return
	}
	bin := buildSnippets(t, ok)
	for i, c := range ok {
		t.Run(c.name(), func(t *testing.T) {
			if c.noRun {
				t.Skip("compile-only: it serves until stopped")
			}
			env := os.Environ()
			if c.postgres {
				pgURL := postgresURL(t)
				if pgURL == "" {
					t.Skipf("compiled only: set %s to run it on PostgreSQL", envPostgres)
				}
				env = append(env, "DATABASE_URL="+pgURL)
			}
			runSnippet(t, bin, i, c, env)
		})
	}
}

// runSnippet runs snippet i of the built program and checks its output.
func runSnippet(t *testing.T, bin string, i int, c checked, env []string) {
	ctx, cancel := context.WithTimeout(context.Background(), snippetTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, fmt.Sprint(i))
	cmd.Env = env
	cmd.Dir = t.TempDir() // files a snippet writes land there
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s failed: %v\nstdout:\n%s\nstderr:\n%s", c.name(), err, stdout.String(), stderr.String())
	}
	if !c.hasWant {
		return
	}
	if got, want := normalize(stdout.String()), normalize(c.want); got != want {
		t.Errorf("%s printed:\n%s\nwant (its // Output: comment):\n%s\nstderr:\n%s", c.name(), got, want, stderr.String())
	}
}

var (
	packageMain = regexp.MustCompile(`(?m)^package main$`)
	funcMain    = regexp.MustCompile(`(?m)^func main\(\) \{`)
)

// buildSnippets writes each snippet as package s<i> (its main renamed
// Main, each line where it was, under a //line directive naming the
// guide, so compiler errors point into the Markdown) in a temporary
// folder of this module, with a program that runs the one its argument
// names, and builds that program once. Folders starting with "_" are
// ignored by ./..., so a left-over one never reaches the build.
func buildSnippets(t *testing.T, cs []checked) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", "_snippets")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	modPath := "github.com/plasma-go/plasma/docs/" + filepath.Base(dir)

	var runner strings.Builder
	runner.WriteString("package main\n\nimport (\n\t\"os\"\n\t\"strconv\"\n\n")
	for i, c := range cs {
		pkg := fmt.Sprintf("s%d", i)
		code := packageMain.ReplaceAllString(c.code, "package "+pkg)
		code = funcMain.ReplaceAllString(code, "func Main() {")
		src := fmt.Sprintf("//line docs/%s:%d\n%s", c.file, c.line, code)
		write(t, filepath.Join(dir, pkg, "snippet.go"), src)
		fmt.Fprintf(&runner, "\t%s %q\n", pkg, modPath+"/"+pkg)
	}
	runner.WriteString(")\n\nvar snippets = []func(){\n")
	for i := range cs {
		fmt.Fprintf(&runner, "\ts%d.Main,\n", i)
	}
	runner.WriteString("}\n\nfunc main() {\n\ti, err := strconv.Atoi(os.Args[1])\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\tsnippets[i]()\n}\n")
	write(t, filepath.Join(dir, "run", "main.go"), runner.String())

	bin := filepath.Join(t.TempDir(), "snippets")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command(goTool(t), "build", "-o", bin, "./"+filepath.ToSlash(filepath.Join(dir, "run")))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the snippets do not compile:\n%s", out)
	}
	return bin
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goTool is the go command: the one on PATH, else $GOROOT/bin/go.
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	t.Fatal("the docs test builds the snippets with the go command: put it on PATH")
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// postgresURL returns, when envPostgres is set, the URL of a fresh
// schema of that server, dropped when t ends. Each snippet gets its own:
// snippets on one schema would see each other's tables and rows (two
// guides creating list "L1" collide).
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv(envPostgres)
	if base == "" {
		return ""
	}
	admin, err := postgres.Open(base)
	if err != nil {
		t.Fatalf("%s: %v", envPostgres, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "plasma_docs_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + dialect.QuoteIdent(schema)); err != nil {
		admin.Close()
		t.Fatalf("%s: create schema: %v", envPostgres, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + dialect.QuoteIdent(schema) + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", envPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema) // lib/pq and pgx send it as a run-time setting
	u.RawQuery = q.Encode()
	return u.String()
}

// mdLink matches a Markdown link's target.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// fencedBlock and codeSpan match what is code, not links.
var (
	fencedBlock = regexp.MustCompile("(?ms)^```.*?^```")
	codeSpan    = regexp.MustCompile("`[^`\n]*`")
)

// anchors returns the GitHub anchors of the headings of md.
func anchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(fencedBlock.ReplaceAllString(md, ""), "\n") {
		h, ok := strings.CutPrefix(line, "#")
		if !ok {
			continue
		}
		h = strings.ToLower(strings.TrimSpace(strings.TrimLeft(h, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestLinks checks that every relative link of the guides names a file
// that exists, and a heading of it where it names one, so the capability
// page never points at a missing guide or section.
func TestLinks(t *testing.T) {
	for _, f := range guides(t) {
		md, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := codeSpan.ReplaceAllString(fencedBlock.ReplaceAllString(string(md), ""), "")
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			if path == "" {
				path = f
			}
			full := filepath.Join(filepath.Dir(f), filepath.FromSlash(path))
			if !fileExists(full) {
				t.Errorf("%s: link to %s: no such file", f, target)
				continue
			}
			if anchor == "" {
				continue
			}
			other, err := os.ReadFile(full)
			if err != nil {
				t.Errorf("%s: link to %s: %v", f, target, err)
				continue
			}
			if !anchors(string(other))[anchor] {
				t.Errorf("%s: link to %s: no heading with that anchor", f, target)
			}
		}
	}
}

// TestExtract checks the extractor on the cases the guides rely on.
func TestExtract(t *testing.T) {
	md := "# T\n\n```sh\ngo run .\n```\n\n<!-- docs-test: postgres -->\n```go\npackage main\n\nfunc main() {}\n```\n\ntext\n```go\npackage main\n```\n"
	got, err := extract("t.md", md)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].line != 9 || !got[0].postgres || got[1].postgres || got[1].line != 16 {
		t.Fatalf("extract = %+v", got)
	}
	if got[0].code != "package main\n\nfunc main() {}\n" {
		t.Fatalf("code = %q", got[0].code)
	}
	if _, err := extract("t.md", "```go\npackage main\n"); err == nil {
		t.Fatal("an unterminated block was accepted")
	}
	if _, err := extract("t.md", "<!-- docs-test: bogus -->\n```go\n```\n"); err == nil {
		t.Fatal("an unknown directive was accepted")
	}
	for _, bad := range []string{"package foo\n\nfunc main() {}\n", "package main\n", "package main\nfunc  main() {}\n", "not go"} {
		if _, err := check(snippet{file: "t.md", line: 1, code: bad}); err == nil {
			t.Errorf("check accepted %q", bad)
		}
	}
	c, err := check(snippet{file: "t.md", line: 1, code: "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(1)\n\t// Output:\n\t// 1\n}\n"})
	if err != nil || !c.hasWant || normalize(c.want) != "1" {
		t.Fatalf("check = %+v, %v", c, err)
	}
}
