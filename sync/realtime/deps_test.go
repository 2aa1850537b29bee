package realtime_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The engines' drivers: only dialect/postgres, dialect/pgx and
// dialect/sqlite link them.
var drivers = []string{"github.com/lib/pq", "github.com/jackc/pgx", "modernc.org/sqlite"}

// TestSyncAndPluginsLinkNoDriver: the hub, the sync server, the mutator
// package and every plugin reach the database only through dialect and
// orm (the hub's listener included: it is opened by the dialect or by
// Options.NewListener), so the application picks the driver.
func TestSyncAndPluginsLinkNoDriver(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go list needs the go command: %v", err)
	}
	const mod = "github.com/plasma-go/plasma/"
	for _, pkg := range []string{"sync/realtime", "sync/server", "sync/mutator", "plugin/..."} {
		out, err := exec.Command(gobin, "list", "-deps", mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		list := strings.Fields(string(out))
		if !slices.Contains(list, mod+"dialect") {
			t.Fatalf("go list -deps %s looks wrong: %v", pkg, list)
		}
		if pkg == "sync/mutator" && slices.Contains(list, mod+"sync/server") {
			t.Errorf("sync/mutator links the sync server")
		}
		for _, p := range list {
			for _, drv := range drivers {
				if p == drv || strings.HasPrefix(p, drv+"/") {
					t.Errorf("%s links %s", pkg, p)
				}
			}
		}
	}
}
