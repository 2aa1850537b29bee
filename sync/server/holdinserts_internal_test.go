package server

import (
	"testing"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// TestHoldableTable: INSERTs are merged only into tables where a
// multi-row INSERT cannot tell its rows apart: none with a foreign key to
// itself or a CRDT column.
func TestHoldableTable(t *testing.T) {
	cases := []struct {
		t    *orm.Table
		want bool
	}{
		{orm.NewTable("plain", orm.ID(), orm.Text("title")), true},
		{orm.NewTable("child", orm.ID(), orm.Text("parent_id").References("plain", "id", tabledef.Cascade)), true},
		{orm.NewTable("tree", orm.ID(), orm.Text("parent_id").Nullable().References("tree", "id", tabledef.Cascade)), false},
		{orm.NewTable("likes", orm.ID(), orm.CRDTCounter("n")), false},
		{orm.NewTable("local", orm.AutoIncrement("n"), orm.Text("v")).With(orm.TableOptions{ChangeLogSuppressed: true}), true},
	}
	var tables []*orm.Table
	for _, c := range cases {
		tables = append(tables, c.t)
	}
	orm.MustDefineSchema("1", tables...)
	for _, c := range cases {
		if got := holdableTable(c.t); got != c.want {
			t.Errorf("%s: %v, want %v", c.t.Name(), got, c.want)
		}
	}
}
