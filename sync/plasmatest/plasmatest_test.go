package plasmatest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/sync/client"
	"github.com/plasma-go/plasma/sync/plasmatest"
)

func kit(t *testing.T, engine string) *plasmatest.Server[todo.AppCtx] {
	return plasmatest.NewServer(t, plasmatest.ServerOptions[todo.AppCtx]{
		Engine: engine, Schema: todo.Schema, Mutators: todo.Mutators, Auth: todo.BearerAuth})
}

func TestClockFiresOnlyWhenAdvanced(t *testing.T) {
	c := plasmatest.NewClock()
	ch := c.After(time.Second)
	c.Advance(999 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	select {
	case <-ch:
	default:
		t.Fatal("did not fire")
	}
	if c.Waiters() != 0 {
		t.Fatal("waiter kept")
	}
}

// With a fake clock and no socket, a client pulls only when its
// interval passes on the clock.
func TestFakeClockDrivesPullInterval(t *testing.T) {
	ctx := context.Background()
	s := plasmatest.NewServer(t, plasmatest.ServerOptions[todo.AppCtx]{
		Schema: todo.Schema, Mutators: todo.Mutators, Auth: todo.BearerAuth, NoRealtime: true})
	clock := plasmatest.NewClock()
	ann := s.NewClient(plasmatest.ClientOptions[todo.AppCtx]{User: "ann", Ctx: todo.AppCtx{UserID: "ann"}})
	ann2 := s.NewClient(plasmatest.ClientOptions[todo.AppCtx]{User: "ann", Ctx: todo.AppCtx{UserID: "ann"}, Clock: clock, Start: true})
	// Each round of the loop arms one timer: the third is armed once the
	// two kicks of Start (push, pull) are done.
	plasmatest.Eventually(t, 5*time.Second, "the loop waits on the clock", func() bool { return clock.Waiters() >= 3 })
	if err := ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}); err != nil {
		t.Fatal(err)
	}
	if err := ann.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if v, _ := ann2.View(ctx); len(v) != 0 {
		t.Fatalf("pulled without the clock: %v", v)
	}
	plasmatest.Eventually(t, 5*time.Second, "a pull after the interval", func() bool {
		clock.Advance(time.Second)
		v, _ := ann2.View(ctx)
		return len(v) == 2
	})
}

func TestPartitionCutsRequests(t *testing.T) {
	ctx := context.Background()
	s := kit(t, plasmatest.SQLite)
	ann := s.NewClient(plasmatest.ClientOptions[todo.AppCtx]{User: "ann", Ctx: todo.AppCtx{UserID: "ann"}})
	ann.Partition(true)
	_, err := ann.PullOnce(ctx)
	var ne *client.NetworkError
	if !errors.As(err, &ne) || !errors.Is(err, plasmatest.ErrPartitioned) {
		t.Fatalf("pull while partitioned: %v", err)
	}
	ann.Partition(false)
	if _, err := ann.PullOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := plasmatest.WaitConverged(ctx, 5*time.Second, ann); err != nil {
		t.Fatal(err)
	}
}

func TestWaitConvergedReportsDifferences(t *testing.T) {
	ctx := context.Background()
	s := kit(t, plasmatest.SQLite)
	ann := s.NewClient(plasmatest.ClientOptions[todo.AppCtx]{User: "ann", Ctx: todo.AppCtx{UserID: "ann"}})
	if err := ann.Mutate(ctx, todo.MutCreateList, todo.CreateList{ID: "L1", Name: "l"}); err != nil {
		t.Fatal(err)
	}
	// Write around the mutators: the replica now holds a row the server
	// does not, until the next rebase puts the server's state back.
	if _, err := ann.DB().Exec(ctx, `INSERT INTO "todos" ("id", "list_id", "title", "done", "created_by") VALUES ('x', 'L1', 'stray', 0, 'ann')`); err != nil {
		t.Fatal(err)
	}
	d, err := ann.Diff(ctx)
	if err != nil || d == "" {
		t.Fatalf("diff %q %v", d, err)
	}
	if err := plasmatest.WaitConverged(ctx, 5*time.Second, ann); err != nil {
		t.Fatal(err)
	}
}
