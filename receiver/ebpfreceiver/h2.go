package ebpfreceiver

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// h2Preface is what a client sends first on an HTTP/2 connection with prior
// knowledge (h2c, as gRPC speaks it; RFC 9113, 3.4).
var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// HTTP/2 frame types and flags (RFC 9113, 6).
const (
	h2FrameData         = 0x0
	h2FrameHeaders      = 0x1
	h2FrameRSTStream    = 0x3
	h2FramePushPromise  = 0x5
	h2FrameContinuation = 0x9

	h2FlagEndStream  = 0x1
	h2FlagEndHeaders = 0x4
	h2FlagPadded     = 0x8
	h2FlagPriority   = 0x20
)

const (
	h2MaxPending  = 1 << 20 // bytes of an unfinished frame kept between reads
	h2MaxBlock    = 1 << 20 // bytes of a header block (HEADERS + CONTINUATION)
	h2MaxStreams  = 1024    // calls in progress per connection
	h2TableAllows = 1 << 16 // the largest HPACK dynamic table a peer may ask for
)

// grpcCall is one gRPC call (an HTTP/2 stream) seen on a connection.
type grpcCall struct {
	server      bool
	path        string // "/package.Service/Method"
	traceparent string
	status      int // grpc-status, or -1 if none was seen
	message     string
	startNs     uint64 // the request's HEADERS
	endNs       uint64 // the response's END_STREAM (or RST_STREAM)
	reqBytes    int64  // DATA payload bytes
	respBytes   int64
	grpc        bool // content-type application/grpc
	pid         uint32
	comm        string
	tuple       endpoints
}

// h2Direction follows the frames one side of a connection sends: HPACK
// state is per direction, so each has its own decoder, which must see every
// header block from the connection's start.
type h2Direction struct {
	request     bool // client to server
	prefaceLeft int  // preface bytes still to skip
	pending     []byte
	skip        int64 // DATA payload bytes still to pass over
	skipStream  uint32
	dec         *hpack.Decoder
	block       []byte // header block being assembled
	blockStream uint32
	blockEnd    bool // END_STREAM on the HEADERS that opened the block
}

// h2Conn follows HTTP/2 on one connection as one side (server or client)
// sees it.
type h2Conn struct {
	server  bool
	dirs    [2]*h2Direction // [0] requests, [1] responses
	streams map[uint32]*grpcCall
	broken  bool // lost sync: bytes beyond a capture, or undecodable
}

func newH2Conn(server bool) *h2Conn {
	c := &h2Conn{server: server, streams: map[uint32]*grpcCall{}}
	for i := range c.dirs {
		d := &h2Direction{request: i == 0, dec: hpack.NewDecoder(4096, nil)}
		d.dec.SetAllowedMaxDynamicTableSize(h2TableAllows)
		if d.request {
			d.prefaceLeft = len(h2Preface)
		}
		c.dirs[i] = d
	}
	return c
}

// fresh reports whether the connection has not yet passed its preface: a
// preface then is this connection's own (the server reads it in pieces).
func (c *h2Conn) fresh() bool {
	return c.dirs[0].prefaceLeft > 0
}

// add follows one captured read or write and returns the calls it ended.
// It returns false once the connection cannot be followed any more.
func (c *h2Conn) add(ev dataEvent) (done []*grpcCall, ok bool) {
	if c.broken {
		return nil, false
	}
	d := c.dirs[1]
	if ev.ingress == c.server {
		d = c.dirs[0]
	}
	b := ev.data
	if len(d.pending) > 0 {
		b = append(d.pending, b...)
		d.pending = nil
	}
	if d.prefaceLeft > 0 {
		n := min(d.prefaceLeft, len(b))
		if !bytes.Equal(b[:n], h2Preface[len(h2Preface)-d.prefaceLeft:][:n]) {
			c.broken = true
			return nil, false
		}
		d.prefaceLeft -= n
		b = b[n:]
	}
	for {
		if d.skip > 0 {
			n := min(d.skip, int64(len(b)))
			c.countData(d, d.skipStream, n)
			b = b[n:]
			if d.skip -= n; d.skip > 0 {
				break
			}
		}
		if len(b) < 9 {
			break
		}
		length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		typ, flags := b[3], b[4]
		stream := binary.BigEndian.Uint32(b[5:9]) & 0x7fffffff
		if typ == h2FrameData {
			// The payload is not needed: pass over it as it comes.
			b = b[9:]
			d.skip, d.skipStream = int64(length), stream
			if x := c.endData(d, stream, flags, ev.tsNs); x != nil {
				done = append(done, x)
			}
			continue
		}
		if len(b) < 9+length {
			break // the frame goes on in the next read
		}
		x, ok := c.frame(d, typ, flags, stream, b[9:9+length], ev.tsNs, ev)
		if !ok {
			c.broken = true
			return done, false
		}
		if x != nil {
			done = append(done, x)
		}
		b = b[9+length:]
	}
	if lost := ev.length - int64(len(ev.data)); lost > 0 {
		// Bytes beyond the capture: harmless within a DATA payload,
		// fatal anywhere else (a frame header or a header block).
		if len(b) > 0 || lost > d.skip {
			c.broken = true
			return done, false
		}
		c.countData(d, d.skipStream, lost)
		d.skip -= lost
	}
	if len(b) > h2MaxPending {
		c.broken = true
		return done, false
	}
	if len(b) > 0 {
		d.pending = append([]byte(nil), b...)
	}
	return done, true
}

func (c *h2Conn) countData(d *h2Direction, stream uint32, n int64) {
	if x := c.streams[stream]; x != nil {
		if d.request {
			x.reqBytes += n
		} else {
			x.respBytes += n
		}
	}
}

// endData ends a call whose response ends with a DATA frame (no trailers:
// not gRPC, or a broken peer).
func (c *h2Conn) endData(d *h2Direction, stream uint32, flags byte, ts uint64) *grpcCall {
	if d.request || flags&h2FlagEndStream == 0 {
		return nil
	}
	return c.end(stream, ts)
}

func (c *h2Conn) end(stream uint32, ts uint64) *grpcCall {
	x := c.streams[stream]
	if x == nil {
		return nil
	}
	delete(c.streams, stream)
	x.endNs = ts
	return x
}

// frame handles a whole non-DATA frame; false when the connection cannot be
// followed any more.
func (c *h2Conn) frame(d *h2Direction, typ, flags byte, stream uint32, p []byte, ts uint64, ev dataEvent) (*grpcCall, bool) {
	switch typ {
	case h2FrameHeaders, h2FramePushPromise:
		if d.block != nil {
			return nil, false // a block was not finished
		}
		if flags&h2FlagPadded != 0 {
			if len(p) < 1 || int(p[0]) > len(p)-1 {
				return nil, false
			}
			p = p[1 : len(p)-int(p[0])]
		}
		if typ == h2FramePushPromise {
			if len(p) < 4 {
				return nil, false
			}
			p = p[4:] // promised stream id
		} else if flags&h2FlagPriority != 0 {
			if len(p) < 5 {
				return nil, false
			}
			p = p[5:]
		}
		d.block = append(make([]byte, 0, len(p)), p...)
		d.blockStream, d.blockEnd = stream, flags&h2FlagEndStream != 0
		if typ == h2FramePushPromise {
			d.blockStream = 0 // decoded for the HPACK state only
		}
	case h2FrameContinuation:
		if d.block == nil || stream != d.blockStream && d.blockStream != 0 {
			return nil, false
		}
		if len(d.block)+len(p) > h2MaxBlock {
			return nil, false
		}
		d.block = append(d.block, p...)
	case h2FrameRSTStream:
		if len(p) != 4 {
			return nil, false
		}
		x := c.streams[stream]
		if x == nil {
			return nil, true
		}
		if x.status < 0 {
			x.status = rstStatus(binary.BigEndian.Uint32(p))
			x.message = "stream reset"
		}
		return c.end(stream, ts), true
	default:
		return nil, true // SETTINGS, PING, WINDOW_UPDATE, GOAWAY, PRIORITY
	}
	if flags&h2FlagEndHeaders == 0 {
		return nil, true // CONTINUATION frames follow
	}
	fields, err := d.dec.DecodeFull(d.block)
	block, end := d.blockStream, d.blockEnd
	d.block = nil
	if err != nil {
		return nil, false
	}
	if block == 0 {
		return nil, true
	}
	return c.headers(d, block, fields, end, ts, ev), true
}

// headers handles a decoded header block: a request's headers open a call;
// a response's headers or trailers carry its gRPC status.
func (c *h2Conn) headers(d *h2Direction, stream uint32, fields []hpack.HeaderField, endStream bool, ts uint64, ev dataEvent) *grpcCall {
	if d.request {
		if c.streams[stream] != nil || len(c.streams) >= h2MaxStreams {
			return nil // request trailers, or too many calls in progress
		}
		x := &grpcCall{server: c.server, status: -1, startNs: ts, pid: ev.pid, comm: ev.comm, tuple: ev.tuple}
		for _, f := range fields {
			switch f.Name {
			case ":path":
				x.path = f.Value
			case "content-type":
				x.grpc = strings.HasPrefix(f.Value, "application/grpc")
			case "traceparent":
				x.traceparent = f.Value
			}
		}
		c.streams[stream] = x
		return nil
	}
	x := c.streams[stream]
	if x == nil {
		return nil
	}
	for _, f := range fields {
		switch f.Name {
		case "grpc-status":
			if n, err := strconv.Atoi(f.Value); err == nil {
				x.status = n
			}
		case "grpc-message":
			x.message = f.Value
		}
	}
	if endStream {
		return c.end(stream, ts)
	}
	return nil
}

// rstStatus maps an RST_STREAM error code to the gRPC status a client
// reports for it (gRPC's PROTOCOL-HTTP2.md, "Errors").
func rstStatus(code uint32) int {
	switch code {
	case 0x7: // REFUSED_STREAM
		return 14 // UNAVAILABLE
	case 0x8: // CANCEL
		return 1 // CANCELLED
	case 0xb: // ENHANCE_YOUR_CALM
		return 8 // RESOURCE_EXHAUSTED
	case 0xc: // INADEQUATE_SECURITY
		return 7 // PERMISSION_DENIED
	}
	return 13 // INTERNAL
}

// grpcServerErrors are the status codes that make a server span an error
// (OpenTelemetry's gRPC conventions); any non-OK status does for a client.
var grpcServerErrors = map[int]bool{2: true, 4: true, 12: true, 13: true, 14: true, 15: true}
