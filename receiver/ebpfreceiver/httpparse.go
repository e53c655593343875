package ebpfreceiver

import (
	"bytes"
	"strconv"
	"strings"
)

var httpMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// messageHead is what the first captured bytes of an HTTP/1.x message say.
type messageHead struct {
	method, target string // requests
	status         int    // responses
	version        string // "1.0" or "1.1"
	traceparent    string
	// headLength is the length of the head up to and including the blank
	// line, or -1 if the captured bytes end inside the head.
	headLength int
	// contentLength is the Content-Length header, or -1.
	contentLength int64
}

// parseRequestHead recognises the start of an HTTP/1.x request: a complete
// request line with a known method, a plausible target and an HTTP/1.0 or
// 1.1 version. Anything else (other protocols, the middle of a body) is not
// a request head.
func parseRequestHead(b []byte) (messageHead, bool) {
	line, rest, ok := cutLine(b)
	if !ok {
		return messageHead{}, false
	}
	method, after, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(after, " ")
	if !ok1 || !ok2 || !httpMethods[method] || target == "" || strings.ContainsAny(target, " \t") {
		return messageHead{}, false
	}
	if !(target[0] == '/' || target == "*" || strings.HasPrefix(target, "http://") ||
		strings.HasPrefix(target, "https://") || method == "CONNECT") {
		return messageHead{}, false
	}
	h := messageHead{method: method, target: target}
	if h.version, ok = httpVersion(version); !ok {
		return messageHead{}, false
	}
	h.parseHeaders(rest, len(b)-len(rest))
	return h, true
}

// parseResponseHead recognises the start of an HTTP/1.x response.
func parseResponseHead(b []byte) (messageHead, bool) {
	line, rest, ok := cutLine(b)
	if !ok {
		return messageHead{}, false
	}
	version, after, ok := strings.Cut(line, " ")
	if !ok {
		return messageHead{}, false
	}
	h := messageHead{}
	if h.version, ok = httpVersion(version); !ok {
		return messageHead{}, false
	}
	code, _, _ := strings.Cut(after, " ")
	status, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || status < 100 || status > 599 {
		return messageHead{}, false
	}
	h.status = status
	h.parseHeaders(rest, len(b)-len(rest))
	return h, true
}

func httpVersion(s string) (string, bool) {
	switch s {
	case "HTTP/1.1":
		return "1.1", true
	case "HTTP/1.0":
		return "1.0", true
	}
	return "", false
}

// cutLine splits off the first CRLF-terminated line.
func cutLine(b []byte) (string, []byte, bool) {
	line, rest, ok := cutLineBytes(b)
	return string(line), rest, ok
}

// cutLineBytes is cutLine without the string: header lines are only looked
// at, and converting each cost an allocation per line and request.
func cutLineBytes(b []byte) ([]byte, []byte, bool) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+2:], true
}

// parseHeaders reads the headers it needs from what was captured; offset is
// where rest starts in the message.
func (h *messageHead) parseHeaders(rest []byte, offset int) {
	h.headLength, h.contentLength = -1, -1
	for {
		line, next, ok := cutLineBytes(rest)
		if !ok {
			return // the head goes on beyond the captured bytes
		}
		offset += len(rest) - len(next)
		rest = next
		if len(line) == 0 {
			h.headLength = offset
			return
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		switch {
		case bytes.EqualFold(name, []byte("traceparent")):
			h.traceparent = string(bytes.TrimSpace(value))
		case bytes.EqualFold(name, []byte("content-length")):
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64); err == nil && n >= 0 {
				h.contentLength = n
			}
		}
	}
}

// parseTraceparent reads a W3C traceparent header (version 00).
func parseTraceparent(s string) (traceID [16]byte, parentID [8]byte, ok bool) {
	// version "00": 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>
	if len(s) != 55 || s[:3] != "00-" || s[35] != '-' || s[52] != '-' {
		return traceID, parentID, false
	}
	var flags [1]byte
	if !decodeHex(traceID[:], s[3:35]) || !decodeHex(parentID[:], s[36:52]) || !decodeHex(flags[:], s[53:]) {
		return traceID, parentID, false
	}
	return traceID, parentID, traceID != [16]byte{} && parentID != [8]byte{}
}

func decodeHex(dst []byte, s string) bool {
	for i := range dst {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return false
		}
		dst[i] = byte(v)
	}
	return true
}
