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

// decodeDataEvent reads a data event record by hand: binary.Read's
// reflection and a copy of the whole data array cost more than the rest of
// an event's path. data aliases raw, which the ring buffer reader reuses
// for the next record: whatever outlives the event is copied (the
// assemblers keep strings and copies only).
func decodeDataEvent(raw []byte) (dataEvent, error) {
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
			localAddr:  tupleAddr(family, t[8:24]).String(),
			remoteAddr: tupleAddr(family, t[24:40]).String(),
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
		comm:    cString(raw[dataEventComm : dataEventComm+16]),
		data:    raw[dataEventHead : dataEventHead+captured],
		tuple:   tuple,
	}, nil
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
