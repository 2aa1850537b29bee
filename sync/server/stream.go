package server

import (
	"encoding/binary"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/plasma-go/plasma/internal/jsonx"
	"github.com/plasma-go/plasma/sync/protocol"
)

// A pull keeps only what its response needs: the JSON of the rows its
// patch puts (not of the rows the client already has), and the entries of
// the view record it stores. Both grow to the size of what they hold, so
// they are kept as chunks, blocks that are never copied to grow: an
// append-grown slice of N bytes allocates several times N over its life
// (Go grows large slices by a quarter at a time).
const (
	minChunk = 4 << 10
	maxChunk = 256 << 10
)

// chunks is a byte buffer kept as a list of blocks.
type chunks struct {
	blocks [][]byte
	n      int
}

// appendRecord appends the pieces one after the other in one block.
func (c *chunks) appendRecord(pieces ...[]byte) {
	size := 0
	for _, p := range pieces {
		size += len(p)
	}
	k := len(c.blocks)
	if k == 0 || cap(c.blocks[k-1])-len(c.blocks[k-1]) < size {
		next := minChunk
		if k > 0 {
			next = min(2*cap(c.blocks[k-1]), maxChunk)
		}
		c.blocks = append(c.blocks, make([]byte, 0, max(next, size)))
		k++
	}
	b := c.blocks[k-1]
	for _, p := range pieces {
		b = append(b, p...)
	}
	c.blocks[k-1] = b
	c.n += size
}

// pullResponse is a pull's answer. A small one is a complete body; one
// with a patch is written by writeTo from the snapshot's puts, so that
// the response is never held in memory a second time.
type pullResponse struct {
	body   []byte // a complete response, or nil
	cookie json.RawMessage
	lmids  map[string]int64
	reset  bool
	puts   chunks
	dels   []string
}

// unchanged is the answer to a pull that changes nothing: its own cookie.
func unchanged(c protocol.Cookie) *pullResponse {
	return &pullResponse{body: protocol.PullResponse{Cookie: c.JSON()}.AppendJSON(nil)}
}

// streamChunk is how many bytes of a response are collected before they
// are written.
const streamChunk = 32 << 10

var streamBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, streamChunk+1024)
	return &b
}}

// responseStream writes a response in pieces of about streamChunk bytes.
// A response that fits in one piece is sent with its Content-Length, as
// writeRaw does; a longer one is sent as it is made (chunked in HTTP/1.1).
type responseStream struct {
	w       http.ResponseWriter
	buf     []byte
	started bool
	failed  bool // a write failed: the client is gone, the rest is dropped
}

func (s *responseStream) flushIfFull() {
	if len(s.buf) < streamChunk {
		return
	}
	if !s.started {
		hd := s.w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "no-store")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	if !s.failed {
		if _, err := s.w.Write(s.buf); err != nil {
			s.failed = true
		}
	}
	s.buf = s.buf[:0]
}

func (s *responseStream) end() {
	if !s.started {
		writeRaw(s.w, http.StatusOK, s.buf)
		return
	}
	if !s.failed {
		_, _ = s.w.Write(s.buf)
	}
}

// writeTo writes the response: exactly the bytes of
// protocol.PullResponse.AppendJSON for the same cookie,
// lastMutationIDChanges and patch (a clear first on a reset, the puts in
// snapshot order, then the dels). Nothing in it can fail but the writes,
// so the view record it names is stored before its first byte is sent.
// It returns the number of puts and dels written.
func (r *pullResponse) writeTo(w http.ResponseWriter) (ops int) {
	if r.body != nil {
		writeRaw(w, http.StatusOK, r.body)
		return 0
	}
	bp := streamBufs.Get().(*[]byte)
	s := &responseStream{w: w, buf: (*bp)[:0]}
	head := protocol.PullResponse{Cookie: r.cookie, LastMutationIDChanges: r.lmids}
	s.buf = head.AppendJSON(s.buf)
	s.buf = s.buf[:len(s.buf)-len("]}")]
	n := 0
	if r.reset {
		s.buf = protocol.PatchOp{Op: protocol.OpClear}.AppendJSON(s.buf)
		n++
	}
	r.puts.eachPut(func(key, value []byte) {
		if s.failed {
			return
		}
		if n > 0 {
			s.buf = append(s.buf, ',')
		}
		n++
		// protocol.PatchOp.AppendJSON of a put, with the key already
		// encoded.
		s.buf = append(s.buf, `{"op":"put","key":`...)
		s.buf = append(s.buf, key...)
		s.buf = append(s.buf, `,"value":`...)
		s.buf = append(s.buf, value...)
		s.buf = append(s.buf, '}')
		s.flushIfFull()
	})
	for _, k := range r.dels {
		if n > 0 {
			s.buf = append(s.buf, ',')
		}
		n++
		s.buf = protocol.PatchOp{Op: protocol.OpDel, Key: k}.AppendJSON(s.buf)
		s.flushIfFull()
	}
	s.buf = append(s.buf, "]}"...)
	s.end()
	if cap(s.buf) <= 4*streamChunk {
		*bp = s.buf[:0]
		streamBufs.Put(bp)
	}
	if r.reset {
		n-- // the clear
	}
	return n
}

// appendPut records a put of the snapshot: its key as a JSON string and
// the row's JSON, each preceded by its length (uvarint).
func (c *chunks) appendPut(key, value []byte) {
	var kl, vl [binary.MaxVarintLen64]byte
	c.appendRecord(kl[:binary.PutUvarint(kl[:], uint64(len(key)))], key,
		vl[:binary.PutUvarint(vl[:], uint64(len(value)))], value)
}

// eachPut calls fn with each put appendPut recorded, in order.
func (c *chunks) eachPut(fn func(key, value []byte)) {
	for _, b := range c.blocks {
		for len(b) > 0 {
			n, w := binary.Uvarint(b)
			key := b[w : w+int(n)]
			b = b[w+int(n):]
			n, w = binary.Uvarint(b)
			fn(key, b[w:w+int(n)])
			b = b[w+int(n):]
		}
	}
}

// appendKeyJSON appends the key prefix+id as a JSON string, as
// jsonx.AppendString(dst, prefix+id) would, without making the string:
// prefixJSON is jsonx.AppendString of the prefix without its closing
// quote. (Escaping works character by character, and a prefix ends with
// "/", so escaping the two parts apart gives the same bytes.)
func appendKeyJSON(dst, prefixJSON []byte, id string) []byte {
	dst = append(dst, prefixJSON...)
	n := len(dst)
	dst = jsonx.AppendString(dst, id)
	copy(dst[n:], dst[n+1:]) // drop the id's opening quote
	return dst[:len(dst)-1]
}
