package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plasma-go/plasma/sync/protocol"
)

// The defaults of DevtoolsOptions.
const (
	DefaultDevtoolsRecentErrors  = 50
	DefaultDevtoolsTrackedGroups = 4096
)

// DevtoolsOptions turns on the devtools: a page at {BasePath}/devtools
// and its JSON API under {BasePath}/devtools/api/, which show the
// handler's client groups, the change log's tail, the realtime
// connections and recent errors, and poke a group, drop its views or
// disconnect it. See the package documentation.
type DevtoolsOptions struct {
	// Admin decides whether a request may use the devtools; any other
	// gets 403. Required: the devtools show every user's groups and can
	// force any of them to reset.
	Admin func(r *http.Request) bool
	// Origins are the browser origins, besides the page's own, that may
	// call the API (exact origins such as "https://admin.example.com").
	// A request whose Origin header is neither gets 403, whatever Admin
	// says, so that another site cannot drive the devtools with an
	// admin's cookies.
	Origins []string
	// RecentErrors is how many of the latest errors are kept for the
	// page. Default 50.
	RecentErrors int
	// TrackedGroups bounds the client groups whose last push and pull
	// times are kept in memory; past it the least recently active one
	// is forgotten. Default 4096.
	TrackedGroups int
}

// devtools is the handler's devtools state: what it remembers of the
// requests it served.
type devtools struct {
	opts    DevtoolsOptions
	origins map[string]bool

	mu     sync.Mutex
	groups map[string]*groupActivity
	recent []protocol.DevtoolsErrorEntry // a ring of opts.RecentErrors
	next   int                           // where the next error goes in recent
	byKind map[Kind]int64
}

// groupActivity is when a group was last pushed and pulled for.
type groupActivity struct {
	push, pull time.Time
}

func (a *groupActivity) last() time.Time {
	if a.push.After(a.pull) {
		return a.push
	}
	return a.pull
}

// maxDevMessage caps the length of an error message the devtools keep.
const maxDevMessage = 500

func (o *DevtoolsOptions) check() error {
	if o.Admin == nil {
		return errors.New("plasma: sync: NewHandler: Options.Devtools.Admin is nil")
	}
	if o.RecentErrors <= 0 {
		o.RecentErrors = DefaultDevtoolsRecentErrors
	}
	if o.TrackedGroups <= 0 {
		o.TrackedGroups = DefaultDevtoolsTrackedGroups
	}
	return nil
}

func newDevtools(opts *DevtoolsOptions) *devtools {
	d := &devtools{opts: *opts, origins: map[string]bool{}, groups: map[string]*groupActivity{},
		recent: make([]protocol.DevtoolsErrorEntry, 0, opts.RecentErrors), byKind: map[Kind]int64{}}
	for _, o := range opts.Origins {
		d.origins[strings.TrimSuffix(o, "/")] = true
	}
	return d
}

// record remembers when a push or pull was served for its group. A
// refused request is not recorded: its group may be another user's.
func (d *devtools) record(ev *Event) {
	if ev.ClientGroupID == "" || ev.Err != nil || ev.Kind != EventPush && ev.Kind != EventPull {
		return
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.groups[ev.ClientGroupID]
	if a == nil {
		if len(d.groups) >= d.opts.TrackedGroups {
			d.forgetOldest()
		}
		a = &groupActivity{}
		d.groups[ev.ClientGroupID] = a
	}
	if ev.Kind == EventPush {
		a.push = now
	} else {
		a.pull = now
	}
}

// forgetOldest drops the least recently active quarter of the groups:
// one sort per TrackedGroups/4 new groups, so that a stream of new
// groups costs little per request.
func (d *devtools) forgetOldest() {
	times := make([]time.Time, 0, len(d.groups))
	for _, a := range d.groups {
		times = append(times, a.last())
	}
	slices.SortFunc(times, time.Time.Compare)
	cut := times[len(times)/4]
	for g, a := range d.groups {
		if !a.last().After(cut) {
			delete(d.groups, g)
		}
	}
}

// recordError remembers e among the recent errors and counts its kind.
func (d *devtools) recordError(e *Error) {
	de := protocol.DevtoolsErrorEntry{At: time.Now(), Kind: string(e.Kind), Status: e.Status, Endpoint: e.Endpoint,
		UserID: e.UserID, ClientGroupID: e.ClientGroupID, Mutator: e.Mutator}
	if e.Err != nil {
		de.Message = e.Err.Error()
		if len(de.Message) > maxDevMessage {
			de.Message = strings.ToValidUTF8(de.Message[:maxDevMessage], "") + "…"
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byKind[e.Kind]++
	if len(d.recent) < cap(d.recent) {
		d.recent = append(d.recent, de)
	} else {
		d.recent[d.next] = de
	}
	d.next = (d.next + 1) % cap(d.recent)
}
