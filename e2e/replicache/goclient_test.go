package replicache_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

// TestGoClientAndReplicache: the real replicache client (ann, in Node)
// and plasma's Go client (bob, sync/client) share a list on one server
// and each sees the other's changes.
func TestGoClientAndReplicache(t *testing.T) {
	if os.Getenv(e2eEnvVarName) != "1" {
		t.Skipf("set %s=1 to run the end-to-end test with the real replicache npm client (needs node and npm)", e2eEnvVarName)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	node := lookPath(t, "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "replicache", "package.json")); err != nil {
		out, err := runTimed(t, npmTimeout, dir, nil, lookPath(t, "npm"), "ci", "--no-audit", "--no-fund")
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	s := plasmatest.NewServer(t, plasmatest.ServerOptions[todo.AppCtx]{Schema: todo.Schema, Mutators: todo.Mutators, Auth: todo.BearerAuth})
	bob := s.NewClient(plasmatest.ClientOptions[todo.AppCtx]{User: "bob", Ctx: todo.AppCtx{UserID: "bob"}, Start: true})

	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "goclient.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLASMA_SYNC_URL="+s.URL)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	type row struct {
		ID        string `db:"id"`
		Title     string `db:"title"`
		Done      bool   `db:"done"`
		CreatedBy string `db:"created_by"`
	}
	get := func(id string) (row, bool) {
		rows, err := orm.All[row](ctx, bob.DB().Select().From(todo.Todos).Where(expr.Eq(todo.Todos.Col("id"), id)))
		if err != nil || len(rows) == 0 {
			return row{}, false
		}
		return rows[0], true
	}
	plasmatest.Eventually(t, 30*time.Second, "bob sees ann's t-js", func() bool {
		r, ok := get("t-js")
		return ok && r.CreatedBy == "ann"
	})
	if err := bob.Mutate(ctx, todo.MutUpdateTodo, todo.UpdateTodo{ID: "t-js", Done: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t-go", ListID: "L-go-e2e", Title: "from Go"}); err != nil {
		t.Fatal(err)
	}
	plasmatest.Eventually(t, 30*time.Second, "bob sees ann's rename of t-go", func() bool {
		r, ok := get("t-go")
		return ok && r.Title == "renamed by replicache"
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("node goclient.mjs: %v\n%s", err, out)
		}
	case <-ctx.Done():
		t.Fatalf("node goclient.mjs did not finish\n%s", out)
	}
	t.Logf("node goclient.mjs:\n%s", out)
	if err := plasmatest.WaitConverged(context.Background(), 10*time.Second, bob); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
