package sqlitedialect_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/sqlitedialect"
)

// The package links no driver: a program can link its own, which
// registers the name "sqlite" as every pure-Go SQLite driver does. (This
// test binary links modernc.org/sqlite for the Example, so the package's
// imports are asked of the go command.)
func TestNoDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/plasma-go/plasma/dialect/sqlitedialect").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "modernc.org/sqlite" || strings.HasPrefix(pkg, "github.com/glebarez/") || strings.Contains(pkg, "mattn/go-sqlite3") {
			t.Errorf("sqlitedialect links the driver package %s", pkg)
		}
	}
	if _, ok := sqlitedialect.Dialect.(dialect.Opener); ok {
		t.Error("the driverless dialect claims to open databases")
	}
	if sqlitedialect.Dialect.Name() != "sqlite" {
		t.Errorf("Name = %q", sqlitedialect.Dialect.Name())
	}
}

// codeError stands for a driver's error: modernc.org/sqlite's and
// github.com/glebarez/go-sqlite's *Error both report Code() int.
type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprintf("sqlite error %d", e.code) }
func (e *codeError) Code() int     { return e.code }

func TestClassifiesByCode(t *testing.T) {
	busy := fmt.Errorf("wrapped: %w", &codeError{5 | 3<<8}) // SQLITE_BUSY_SNAPSHOT
	if !sqlitedialect.IsTemporary(busy) || !dialect.IsTemporary(busy) || sqlitedialect.ResultCode(busy) != 5 {
		t.Errorf("busy: IsTemporary %t, registered %t, code %d", sqlitedialect.IsTemporary(busy), dialect.IsTemporary(busy), sqlitedialect.ResultCode(busy))
	}
	unique := &codeError{2067} // SQLITE_CONSTRAINT_UNIQUE
	if !sqlitedialect.IsUniqueViolation(unique) || sqlitedialect.IsTemporary(unique) {
		t.Error("a unique violation is misclassified")
	}
	for _, err := range []error{nil, errors.New("plain"), &codeError{1}} {
		if sqlitedialect.IsTemporary(err) || sqlitedialect.IsUniqueViolation(err) {
			t.Errorf("%v is classified", err)
		}
	}
}
