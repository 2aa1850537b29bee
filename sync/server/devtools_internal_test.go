package server

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// The devtools remember a bounded number of groups: past TrackedGroups,
// the least recently active ones are forgotten and the newest kept.
func TestDevtoolsActivityIsBounded(t *testing.T) {
	d := newDevtools(&DevtoolsOptions{Admin: func(*http.Request) bool { return true }, TrackedGroups: 100, RecentErrors: 5})
	for i := range 1000 {
		d.record(&Event{Kind: EventPush, ClientGroupID: fmt.Sprintf("g%04d", i)})
		time.Sleep(time.Microsecond)
	}
	if n := len(d.groups); n > 100 || n < 75 {
		t.Fatalf("%d groups tracked", n)
	}
	if d.groups["g0999"] == nil || d.groups["g0000"] != nil {
		t.Fatal("the newest group was forgotten, or the oldest kept")
	}
	d.record(&Event{Kind: EventPull, ClientGroupID: "refused", Err: &Error{Kind: KindForbidden}})
	if d.groups["refused"] != nil {
		t.Fatal("a refused request was recorded")
	}
	for i := range 12 {
		d.recordError(&Error{Kind: KindBadRequest, Err: fmt.Errorf("e%d", i)})
	}
	errs := d.errors()
	if len(errs.Recent) != 5 || errs.Recent[0].Message != "e11" || errs.Recent[4].Message != "e7" || errs.ByKind["BadRequest"] != 12 {
		t.Fatalf("errors %+v", errs)
	}
}
