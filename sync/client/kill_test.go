package client_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

const crashChildEnv = "PLASMA_CLIENT_CRASH_CHILD"

// TestCrashChild is the client process the kill tests start and kill; it
// does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(crashChildEnv)
	if mode == "" {
		t.Skip("the child process of TestKilledClient")
	}
	ctx := context.Background()
	c, err := client.Open(ctx, client.Options[todo.AppCtx]{Server: os.Getenv("PLASMA_CRASH_SERVER"), Schema: todo.Schema,
		Mutators: todo.Mutators, Replica: os.Getenv("PLASMA_CRASH_REPLICA"), Ctx: todo.AppCtx{UserID: "ann"},
		Auth: client.Bearer(func(context.Context) (string, error) { return "ann", nil })})
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	must(t, c.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}))
	must(t, c.Mutate(ctx, todo.MutCreateTodo, todo.CreateTodo{ID: "t1", ListID: "L1", Title: "once"}))
	if mode == "push" {
		if n, err := c.PushOnce(ctx); err != nil || n != 2 {
			fmt.Println("ERROR push", n, err)
			return
		}
	}
	fmt.Println("READY")
	time.Sleep(time.Minute) // killed here, without Close
}

// TestKilledClient kills a real client process (SIGKILL) right after its
// local apply, and right after its push (before any pull); the replica
// file, reopened, loses nothing and the server applies everything once.
func TestKilledClient(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the child")
	}
	for _, mode := range []string{"apply", "push"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			s := newServer(t, plasmatest.SQLite)
			replica := filepath.Join(t.TempDir(), "replica.db")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+mode, "PLASMA_CRASH_SERVER="+s.URL, "PLASMA_CRASH_REPLICA="+replica)
			out, err := cmd.StdoutPipe()
			must(t, err)
			must(t, cmd.Start())
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != "READY" {
				cmd.Process.Kill()
				t.Fatalf("child: %q %v", line, err)
			}
			must(t, cmd.Process.Kill())
			_ = cmd.Wait()

			c, err := client.Open(ctx, client.Options[todo.AppCtx]{Server: s.URL, Schema: todo.Schema, Mutators: todo.Mutators,
				Replica: replica, Ctx: todo.AppCtx{UserID: "ann"}, NoWebSocket: true,
				Auth: client.Bearer(func(context.Context) (string, error) { return "ann", nil })})
			must(t, err)
			defer c.Close()
			p, err := c.Pending(ctx)
			must(t, err)
			if len(p) != 2 || p[1].Sent != (mode == "push") {
				t.Fatalf("pending after the kill: %+v", p)
			}
			if got := todos(t, c.DB()); len(got) != 1 {
				t.Fatalf("view after the kill: %+v", got)
			}
			s.Errors.Take()
			must(t, c.Flush(ctx))
			if n := serverCount(t, s, todo.Todos); n != 1 {
				t.Fatalf("server has %d todos", n)
			}
			if errs := s.Errors.Take(); len(errs) != 0 {
				t.Fatalf("server errors: %v", errs)
			}
			if p, _ := c.Pending(ctx); len(p) != 0 || c.LastMutationID() != 2 {
				t.Fatalf("after flush: %v, lastMutationID %d", p, c.LastMutationID())
			}
		})
	}
}
