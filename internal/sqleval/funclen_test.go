package sqleval_test

import (
	"testing"

	"github.com/plasma-go/plasma/internal/funclen"
)

// TestNoLongFunctions keeps every function of package sqleval within 80
// lines, unless its doc comment says why (a line starting "Long:").
func TestNoLongFunctions(t *testing.T) {
	long, err := funclen.Long(".", 80)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range long {
		t.Errorf("%v: split it, or give the reason in a \"Long:\" line of its doc comment", f)
	}
}
