// Package funclen finds long functions, for the tests that keep plasma's
// packages readable: a function over the limit needs a reason in its doc
// comment (a line starting "Long:"), or to be split.
package funclen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
)

// Func is a function over the limit.
type Func struct {
	Pos   string // file:line of its declaration
	Name  string // "f" or "(T).m"
	Lines int    // from the func keyword to the closing brace
}

func (f Func) String() string { return fmt.Sprintf("%s %s: %d lines", f.Pos, f.Name, f.Lines) }

// Long walks the Go files under root, tests excluded, and returns every
// function longer than max lines whose doc comment gives no reason (no
// line starting "Long:").
func Long(root string, max int) ([]Func, error) {
	var out []Func
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil || hasReason(fd.Doc) {
				continue
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > max {
				out = append(out, Func{Pos: fmt.Sprintf("%s:%d", path, start.Line), Name: name(fd), Lines: n})
			}
		}
		return nil
	})
	return out, err
}

func hasReason(doc *ast.CommentGroup) bool {
	if doc == nil {
		return false
	}
	for _, line := range strings.Split(doc.Text(), "\n") {
		if strings.HasPrefix(line, "Long:") {
			return true
		}
	}
	return false
}

func name(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	star := ""
	if s, ok := t.(*ast.StarExpr); ok {
		t, star = s.X, "*"
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return "(" + star + id.Name + ")." + fd.Name.Name
	}
	return fd.Name.Name
}
