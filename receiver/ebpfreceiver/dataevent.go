package ebpfreceiver

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Layout of struct data_event (bpf/network.bpf.c) as the kernel sends it:
// a fixed head, then only the captured bytes (the record is as long as
// needed, not the full data array).
const (
	dataEventHead  = 96 // offsetof(struct data_event, data)
	dataEventTuple = 40 // offsetof(struct data_event, tuple)
	dataEventComm  = 80 // offsetof(struct data_event, comm)
	familyUnix     = 1  // AF_UNIX
	familyInet     = 2  // AF_INET
	familyInet6    = 10 // AF_INET6
	dirIngress     = 0  // DIR_INGRESS
)

// dataDecoder reads data event records by hand: binary.Read's reflection
// and a copy of the whole data array cost more than the rest of an event's
// path. A decoded event's data aliases the record, which the ring buffer
// reader reuses for the next one: whatever outlives the event is copied
// (the assemblers keep strings and copies only).
//
// The decoder formats each address and process name once, not per event
// (at thousands of events a second that was a third of the receiver's
// allocations). It is used by one goroutine, the data ring buffer's reader.
type dataDecoder struct {
	addrs map[netip.Addr]string
	comms map[[16]byte]string
}

// decoderCacheSize bounds each of a dataDecoder's caches: when full, it
// starts over (a machine's peers and process names are far fewer).
const decoderCacheSize = 4096

func (d *dataDecoder) decode(raw []byte) (dataEvent, error) {
	if len(raw) < dataEventHead {
		return dataEvent{}, fmt.Errorf("data event of %d bytes, shorter than its %d-byte head", len(raw), dataEventHead)
	}
	ne := binary.NativeEndian
	captured := int(ne.Uint32(raw[32:]))
	if captured > len(raw)-dataEventHead {
		return dataEvent{}, fmt.Errorf("data event says %d bytes captured, carries %d", captured, len(raw)-dataEventHead)
	}
	t := raw[dataEventTuple:]
	family := ne.Uint16(t[0:])
	tuple := endpoints{unix: true}
	if family != familyUnix {
		tuple = endpoints{
			ipv6:       family == familyInet6,
			localAddr:  d.addrString(tupleAddr(family, t[8:24])),
			remoteAddr: d.addrString(tupleAddr(family, t[24:40])),
			localPort:  int(ne.Uint16(t[2:])),
			remotePort: int(ne.Uint16(t[4:])),
		}
	}
	return dataEvent{
		tsNs:    ne.Uint64(raw[0:]),
		conn:    connKey{ne.Uint64(raw[8:]), ne.Uint64(raw[16:])},
		pid:     ne.Uint32(raw[24:]),
		length:  int64(ne.Uint32(raw[28:])),
		ingress: raw[36] == dirIngress,
		comm:    d.commString([16]byte(raw[dataEventComm : dataEventComm+16])),
		data:    raw[dataEventHead : dataEventHead+captured],
		tuple:   tuple,
	}, nil
}

func (d *dataDecoder) addrString(a netip.Addr) string {
	return cachedString(&d.addrs, a, a.String)
}

func (d *dataDecoder) commString(comm [16]byte) string {
	return cachedString(&d.comms, comm, func() string { return cString(comm[:]) })
}

// cachedString is the string cached for key, else format's, then cached;
// a full cache starts over.
func cachedString[K comparable](cache *map[K]string, key K, format func() string) string {
	if s, ok := (*cache)[key]; ok {
		return s
	}
	if *cache == nil || len(*cache) >= decoderCacheSize {
		*cache = map[K]string{}
	}
	s := format()
	(*cache)[key] = s
	return s
}

func tupleAddr(family uint16, raw []byte) netip.Addr {
	if family == familyInet {
		return netip.AddrFrom4([4]byte(raw[:4]))
	}
	return netip.AddrFrom16([16]byte(raw[:16])).Unmap()
}

// cString reads a NUL-padded string.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
