package orm_test

import (
	"sync"
	"testing"

	"github.com/plasma-go/plasma/orm"
)

// As remembers its aliases, and forgets them when the table changes.
func TestAsRemembersAliases(t *testing.T) {
	users := orm.NewTable("users", orm.ID(), orm.Text("name"))
	a := users.As("u")
	if users.As("u") != a || a.As("u") != a {
		t.Error("the same alias twice gave two tables")
	}
	if b := users.As("v"); b == a || b.Alias() != "v" || b.Col("name").Table != "v" || a.Col("name").Table != "u" {
		t.Errorf("aliases mixed up: %q %q", b.Alias(), b.Col("name").Table)
	}
	if users.Alias() != "users" || users.Col("name").Table != "users" {
		t.Error("As changed the table itself")
	}
	users.With(orm.TableOptions{External: true})
	if c := users.As("u"); c == a || !c.Options().External {
		t.Error("an alias made before With was reused after it")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if users.As("w").Alias() != "w" {
					t.Error("concurrent As")
				}
			}
		}()
	}
	wg.Wait()
}
