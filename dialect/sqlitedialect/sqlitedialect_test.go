package sqlitedialect_test

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/sqlitedialect"
)

// The package links no driver: a program can link its own, which
// registers the name "sqlite" as every pure-Go SQLite driver does.
func TestNoDriver(t *testing.T) {
	if slices.Contains(sql.Drivers(), "sqlite") {
		t.Fatalf("sqlitedialect linked a driver: %v", sql.Drivers())
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
