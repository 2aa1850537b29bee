package tabledef_test

import (
	"testing"

	"github.com/plasma-go/plasma/tabledef"
)

func TestKindAndAction(t *testing.T) {
	if got := tabledef.KindORSet.String(); got != "crdtOrSet" {
		t.Errorf("KindORSet = %q", got)
	}
	if got := tabledef.Kind(0).String(); got != "invalid" {
		t.Errorf("Kind(0) = %q", got)
	}
	if !tabledef.KindCounter.IsCRDT() || tabledef.KindJSON.IsCRDT() || !tabledef.KindFile.IsJSONText() {
		t.Error("IsCRDT/IsJSONText")
	}
	if got := tabledef.SetNull.String(); got != "SET NULL" {
		t.Errorf("SetNull = %q", got)
	}
	if got := tabledef.Action(9).String(); got != "invalid" {
		t.Errorf("Action(9) = %q", got)
	}
}

func TestTableColumn(t *testing.T) {
	tb := tabledef.Table{Name: "t", Columns: []tabledef.Column{{Name: "a"}, {Name: "b"}}}
	if c := tb.Column("b"); c == nil || c != &tb.Columns[1] {
		t.Error("Column(b)")
	}
	if tb.Column("z") != nil {
		t.Error("Column(z) found a missing column")
	}
}
