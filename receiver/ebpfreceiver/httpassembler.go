package ebpfreceiver

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dataEvent is one captured socket read (ingress) or write, as user space
// sees it.
type dataEvent struct {
	tsNs    uint64 // CLOCK_MONOTONIC
	conn    connKey
	pid     uint32
	comm    string // the process's kernel name
	length  int64  // bytes the syscall moved
	data    []byte
	ingress bool
	tuple   endpoints
}

// connKey identifies a connection: a kernel sock address is reused once the
// socket is freed, so it goes with the time the connection was tracked from
// (0 for connections opened before the receiver started).
type connKey struct {
	sock, start uint64
}

// endpoints of a connection.
type endpoints struct {
	unix                  bool // a Unix socket: no addresses or ports
	ipv6                  bool
	localAddr, remoteAddr string
	localPort, remotePort int
}

// exchange is one HTTP request and its response on a connection.
type exchange struct {
	server      bool // observed on the serving side
	method      string
	target      string
	version     string
	traceparent string
	// headTruncated: the request head went on beyond the captured bytes,
	// so a traceparent there could not be read.
	headTruncated bool
	// headTail is the unfinished last line of a request head that goes on
	// in the next read, while headOpen.
	headOpen  bool
	headTail  []byte
	status    int
	startNs   uint64 // first request bytes
	endNs     uint64 // last response bytes seen
	reqBytes  int64
	respBytes int64
	// respExpected is the response's full length when its head said so,
	// or -1.
	respExpected int64
	pid          uint32
	comm         string
	tuple        endpoints
}

const maxPendingRequests = 16 // pipelined requests awaiting responses, per connection

type httpConn struct {
	h2     *h2Conn // an HTTP/2 connection (else HTTP/1.x)
	role   int     // 0 unknown, roleClient, roleServer
	closed bool
	// prefix holds a few bytes read on the request side that may begin the
	// next request: Go's HTTP server reads one byte ahead in the background
	// while a handler runs, so "G" and "ET / HTTP/1.1..." arrive apart.
	prefix       []byte
	pending      []*exchange
	current      *exchange // response in progress
	lastActivity time.Time
}

// httpAssembler follows HTTP/1.x exchanges on connections from captured
// socket reads and writes: keep-alive (several requests in turn), pipelining
// (responses in request order), requests and responses split over several
// reads or writes. Connections whose first captured message is not an HTTP
// request are ignored.
type httpAssembler struct {
	idleTimeout time.Duration
	maxConns    int // connections followed at once; the least recently active is evicted
	emit        func(*exchange)
	emitGRPC    func(*grpcCall)
	// h2Lost counts HTTP/2 connections given up: bytes beyond a capture
	// or an undecodable header block leave its HPACK state unknown.
	h2Lost  atomic.Int64
	now     func() time.Time
	evicted atomic.Int64
	// truncatedHeads counts request heads longer than what was captured,
	// without a traceparent in the captured part.
	truncatedHeads atomic.Int64

	mu    sync.Mutex
	conns map[connKey]*httpConn
}

func newHTTPAssembler(cfg *Config, emit func(*exchange)) *httpAssembler {
	return &httpAssembler{idleTimeout: cfg.HTTP.IdleTimeout, maxConns: cfg.MaxTrackedConnections, emit: emit,
		now: time.Now, conns: map[connKey]*httpConn{}}
}

func (a *httpAssembler) add(ev dataEvent) {
	if calls, handled := a.addH2(ev); handled {
		for _, x := range calls {
			if x.grpc && a.emitGRPC != nil {
				a.emitGRPC(x)
			}
		}
		return
	}
	done := a.addLocked(ev)
	for _, x := range done {
		a.emit(x)
	}
}

// addH2 follows a connection that began with the HTTP/2 preface; false for
// other connections. Connections already open when the receiver started
// are not followed: their HPACK state is unknown.
func (a *httpAssembler) addH2(ev dataEvent) (calls []*grpcCall, handled bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.conns[ev.conn]
	if bytes.HasPrefix(ev.data, h2Preface) && (c == nil || c.h2 == nil || !c.h2.fresh()) {
		// A new connection, perhaps on the address of one whose close
		// was not seen (Unix sockets have no close event here).
		if c != nil {
			delete(a.conns, ev.conn)
		}
		c = nil
	}
	if c == nil {
		if !bytes.HasPrefix(ev.data, h2Preface) {
			return nil, false
		}
		if len(a.conns) >= a.maxConns {
			a.evictOldest()
		}
		// The side that reads the preface is the server.
		c = &httpConn{h2: newH2Conn(ev.ingress)}
		a.conns[ev.conn] = c
	}
	if c.h2 == nil {
		return nil, false
	}
	c.lastActivity = a.now()
	calls, ok := c.h2.add(ev)
	if !ok && !c.closed {
		a.h2Lost.Add(1)
		c.closed = true // forgotten after the grace period
	}
	return calls, true
}

func (a *httpAssembler) addLocked(ev dataEvent) (done []*exchange) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.conns[ev.conn]
	if c == nil {
		if _, ok := parseRequestHead(ev.data); !ok {
			return nil // not (yet) an HTTP connection
		}
		if len(a.conns) >= a.maxConns {
			a.evictOldest()
		}
		c = &httpConn{role: roleClient}
		if ev.ingress {
			c.role = roleServer
		}
		a.conns[ev.conn] = c
	}
	c.lastActivity = a.now()
	requestSide := ev.ingress == (c.role == roleServer)
	if requestSide {
		head, ok := parseRequestHead(ev.data)
		if !ok && c.prefix != nil {
			head, ok = parseRequestHead(append(c.prefix, ev.data...))
		}
		c.prefix = nil
		if !ok {
			if n := len(c.pending); n > 0 {
				x := c.pending[n-1]
				x.reqBytes += ev.length // the rest of the head, or the body
				if x.headOpen {
					a.continueHead(x, ev)
					return nil
				}
			}
			if mayStartMethod(ev.data) && int64(len(ev.data)) == ev.length {
				c.prefix = append([]byte(nil), ev.data...)
			}
			return nil
		}
		if c.current != nil {
			done = append(done, c.current) // the previous response is over
			c.current = nil
		}
		if len(c.pending) == maxPendingRequests {
			c.pending = c.pending[1:] // never answered
		}
		x := &exchange{
			server: c.role == roleServer, method: head.method, target: head.target, version: head.version,
			traceparent: head.traceparent, startNs: ev.tsNs, endNs: ev.tsNs, reqBytes: ev.length,
			respExpected: -1, pid: ev.pid, comm: ev.comm, tuple: ev.tuple,
		}
		if head.headLength < 0 {
			a.headGoesOn(x, ev, ev.data)
		}
		c.pending = append(c.pending, x)
		return done
	}

	head, ok := parseResponseHead(ev.data)
	interim := int64(0) // bytes of interim (1xx) responses before the final one
	for ok && isInterim(head.status) && head.headLength > 0 && head.headLength < len(ev.data) {
		// An interim response and the next one in the same write.
		interim += int64(head.headLength)
		head, ok = parseResponseHead(ev.data[head.headLength:])
	}
	if ok && isInterim(head.status) {
		// 100 Continue, 102 Processing, 103 Early Hints: the exchange goes
		// on; the final response is still to come (RFC 9110, 15.2).
		if c.current != nil {
			done = append(done, c.current)
			c.current = nil
		}
		if len(c.pending) > 0 {
			c.pending[0].respBytes += ev.length
		}
		return done
	}
	if ok && len(c.pending) > 0 {
		if c.current != nil {
			done = append(done, c.current)
		}
		x := c.pending[0]
		c.pending = c.pending[1:]
		// The response's version is what was spoken: an HTTP/1.0 server
		// answers an HTTP/1.1 client in 1.0.
		x.status, x.endNs, x.version = head.status, ev.tsNs, head.version
		before := x.respBytes + interim // interim responses' bytes
		x.respBytes += ev.length
		if x.respExpected = expectedLength(x.method, head); x.respExpected >= 0 {
			x.respExpected += before
		}
		c.current = x
	} else if c.current != nil {
		c.current.endNs = ev.tsNs
		c.current.respBytes += ev.length
	}
	if x := c.current; x != nil && x.respExpected >= 0 && x.respBytes >= x.respExpected {
		done = append(done, x)
		c.current = nil
	}
	return done
}

// maxHeadTail bounds the unfinished header line kept between reads.
const maxHeadTail = 8 << 10

// headGoesOn handles a request head that did not end in the captured bytes
// b of ev: when the read was captured whole, the head goes on in the next
// read (nginx reads heads 1 KiB at a time), else the rest is lost and, if
// no traceparent was seen, the exchange is marked and counted.
func (a *httpAssembler) headGoesOn(x *exchange, ev dataEvent, b []byte) {
	x.headOpen = false
	x.headTail = nil
	if int64(len(ev.data)) < ev.length {
		if x.traceparent == "" {
			x.headTruncated = true
			a.truncatedHeads.Add(1)
		}
		return
	}
	if i := bytes.LastIndex(b, []byte("\r\n")); i >= 0 {
		b = b[i+2:]
	}
	if len(b) > maxHeadTail {
		if x.traceparent == "" {
			x.headTruncated = true
			a.truncatedHeads.Add(1)
		}
		return
	}
	x.headOpen = true
	x.headTail = append([]byte(nil), b...)
}

// continueHead reads the header lines of a request head's next read.
func (a *httpAssembler) continueHead(x *exchange, ev dataEvent) {
	b := append(x.headTail, ev.data...)
	var h messageHead
	h.parseHeaders(b, 0)
	if h.traceparent != "" && x.traceparent == "" {
		x.traceparent = h.traceparent
	}
	if h.headLength >= 0 {
		x.headOpen, x.headTail = false, nil
		return
	}
	a.headGoesOn(x, ev, b)
}

// isInterim: a 1xx response other than 101 Switching Protocols, which ends
// the HTTP/1.x exchange (the connection speaks another protocol after it).
func isInterim(status int) bool {
	return status >= 100 && status < 200 && status != 101
}

// mayStartMethod reports whether a short read could be the first bytes of a
// request method.
func mayStartMethod(b []byte) bool {
	if len(b) == 0 || len(b) > 7 {
		return false
	}
	for m := range httpMethods {
		if strings.HasPrefix(m, string(b)) {
			return true
		}
	}
	return false
}

// evictOldest forgets the least recently active connection (its exchanges
// in progress are lost) and counts it.
func (a *httpAssembler) evictOldest() {
	var oldest connKey
	var oldestAt time.Time
	for sock, c := range a.conns {
		if oldestAt.IsZero() || c.lastActivity.Before(oldestAt) {
			oldest, oldestAt = sock, c.lastActivity
		}
	}
	delete(a.conns, oldest)
	a.evicted.Add(1)
}

// expectedLength is a response's full length in bytes when the captured head
// tells it, else -1 (ended by the next request, the connection's close or
// the idle timeout).
func expectedLength(method string, h messageHead) int64 {
	if h.headLength < 0 {
		return -1
	}
	if method == "HEAD" || h.status == 204 || h.status == 304 || h.status < 200 {
		return int64(h.headLength)
	}
	if h.contentLength >= 0 {
		return int64(h.headLength) + h.contentLength
	}
	return -1
}

// closeGrace is how long a closed connection's last data may still arrive:
// close and data events travel through different ring buffers.
const closeGrace = 200 * time.Millisecond

// connectionClosed ends the connection's response in progress once the
// grace period has passed (expire).
func (a *httpAssembler) connectionClosed(conn connKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.conns[conn]; c != nil {
		c.closed = true
		c.lastActivity = a.now()
	}
}

// expire ends responses on connections quiet for the idle timeout, and
// forgets connections quiet for much longer.
func (a *httpAssembler) expire(now time.Time) {
	var done []*exchange
	a.mu.Lock()
	for sock, c := range a.conns {
		idle := now.Sub(c.lastActivity)
		if c.closed && idle >= closeGrace {
			if c.current != nil {
				done = append(done, c.current)
			}
			delete(a.conns, sock)
			continue
		}
		if c.current != nil && idle >= a.idleTimeout {
			done = append(done, c.current)
			c.current = nil
		}
		// HTTP/2 connections stay until closed (or evicted): gRPC keeps
		// them open and quiet for long, and one forgotten cannot be
		// picked up again (its HPACK state is lost).
		if idle >= 60*a.idleTimeout && c.h2 == nil {
			delete(a.conns, sock)
		}
	}
	a.mu.Unlock()
	for _, x := range done {
		a.emit(x)
	}
}

// flushAll ends every response in progress (shutdown).
func (a *httpAssembler) flushAll() {
	a.expire(a.now().Add(time.Hour * 24 * 365))
}
