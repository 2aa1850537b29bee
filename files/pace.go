package files

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// The defaults of Options.MinRate and Options.StallTimeout.
const (
	// DefaultMinRate is the slowest average a transfer may keep: 8 KiB/s,
	// a poor mobile link; a 1 GiB file gets a day and a half.
	DefaultMinRate = 8 << 10
	// DefaultStallTimeout is how long a transfer may go without progress.
	DefaultStallTimeout = 30 * time.Second
)

// pace sets the connection's deadlines of one upload from its progress,
// in place of the server's fixed ReadTimeout and WriteTimeout (which would
// cut a large upload on a slow link): after each read, the read deadline
// moves to StallTimeout from now, but never past the moment the body
// would fall under MinRate on average (after a first StallTimeout of
// grace). So a slow upload that progresses finishes, and a stalled one,
// or one trickling a byte now and then (a slow-loris), is cut. The write
// deadline follows, StallTimeout later, for the answer.
type pace struct {
	r       io.Reader
	rc      *http.ResponseController
	stall   time.Duration
	rate    float64 // bytes per second; 0 for none
	start   time.Time
	n       int64
	set     time.Time // the read deadline set last
	off     bool      // the connection has no deadlines to set
	timeout bool      // a read hit the deadline
}

// paceUpload wraps an upload's body; with StallTimeout negative, or a
// ResponseWriter whose connection has no deadlines (HTTP/2 through some
// proxies, a recorder in tests), it only reads.
func (s *Service) paceUpload(w http.ResponseWriter, body io.Reader) *pace {
	p := &pace{r: body, rc: http.NewResponseController(w), stall: s.opts.StallTimeout,
		rate: float64(s.opts.MinRate), start: time.Now()}
	p.off = p.stall < 0
	p.extend()
	return p
}

// Read reads and moves the deadlines on progress.
func (p *pace) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		p.extend()
	}
	if err != nil && isTimeout(err) {
		p.timeout = true
	}
	return n, err
}

// isTimeout reports a read that hit its deadline. (Its own function: the
// target of errors.As escapes, and would cost every Read an allocation.)
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// extend sets the deadlines from the progress so far. It skips moves
// under a sixteenth of StallTimeout: each is a timer update.
func (p *pace) extend() {
	if p.off {
		return
	}
	now := time.Now()
	d := now.Add(p.stall)
	if p.rate > 0 {
		due := p.start.Add(p.stall + time.Duration(float64(p.n)/p.rate*float64(time.Second)))
		if due.Before(d) {
			d = due
		}
	}
	if !p.set.IsZero() && d.Sub(p.set) < p.stall/16 {
		return
	}
	if err := p.rc.SetReadDeadline(d); err != nil {
		p.off = true // not supported: the server's own timeouts apply
		return
	}
	_ = p.rc.SetWriteDeadline(d.Add(p.stall))
	p.set = d
}

// paceDownload gives a download of size bytes the time MinRate allows
// (after a StallTimeout of grace) in place of the server's WriteTimeout,
// once: the body goes out by sendfile, which a progress check per write
// would rule out.
// Without a MinRate the server's WriteTimeout stays.
func (s *Service) paceDownload(w http.ResponseWriter, size int64) {
	if s.opts.StallTimeout < 0 || s.opts.MinRate < 0 {
		return
	}
	d := s.opts.StallTimeout + time.Duration(float64(size)/float64(s.opts.MinRate)*float64(time.Second))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}
