//go:build linux && amd64

package ebpfreceiver

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"
)

// The hand decoder agrees with bpf2go's struct: same offsets, same values.
func TestDecodeDataEventMatchesGeneratedLayout(t *testing.T) {
	var ev networkDataEvent
	if off := unsafe.Offsetof(ev.Data); off != dataEventHead {
		t.Fatalf("data at %d, decoder assumes %d", off, dataEventHead)
	}
	if off := unsafe.Offsetof(ev.Tuple); off != dataEventTuple {
		t.Fatalf("tuple at %d, decoder assumes %d", off, dataEventTuple)
	}
	if off := unsafe.Offsetof(ev.Comm); off != dataEventComm {
		t.Fatalf("comm at %d, decoder assumes %d", off, dataEventComm)
	}
	ev.TsNs, ev.Sock, ev.ConnStart, ev.Pid, ev.Len, ev.Captured, ev.Direction = 11, 22, 33, 44, 5000, 5, 1
	ev.Tuple.Family, ev.Tuple.LocalPort, ev.Tuple.RemotePort = familyInet6, 8080, 40000
	ev.Tuple.LocalAddr = [16]uint8{15: 1}
	ev.Tuple.RemoteAddr = [16]uint8{10: 0xff, 11: 0xff, 12: 10, 13: 0, 14: 0, 15: 7}
	copy(ev.Data[:], "GET /")
	for i, c := range "nginx" {
		ev.Comm[i] = int8(c)
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.NativeEndian, &ev); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()[:dataEventHead+5] // as sent: head and captured bytes only
	var d dataDecoder
	got, err := d.decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.tsNs != 11 || got.conn != (connKey{22, 33}) || got.pid != 44 || got.length != 5000 || got.ingress ||
		string(got.data) != "GET /" || got.comm != "nginx" ||
		got.tuple != (endpoints{ipv6: true, localAddr: "::1", remoteAddr: "10.0.0.7", localPort: 8080, remotePort: 40000}) {
		t.Errorf("decoded %+v", got)
	}
	// The strings come from the decoder's caches from now on, which start
	// over when full: still the event's own.
	for i := range decoderCacheSize + 2 {
		binary.NativeEndian.PutUint16(raw[dataEventTuple+8+14:], uint16(i)) // the local address's last bytes
		raw[dataEventComm+5] = byte('a' + i%26)
		got, err := d.decode(raw)
		want := netip.AddrFrom16([16]byte(raw[dataEventTuple+8 : dataEventTuple+24])).Unmap().String()
		if err != nil || got.tuple.localAddr != want || got.tuple.remoteAddr != "10.0.0.7" || got.comm != "nginx"+string(rune('a'+i%26)) {
			t.Fatalf("event %d decoded as %+v, want local address %s", i, got, want)
		}
	}
	if len(d.addrs) > decoderCacheSize || len(d.comms) > decoderCacheSize {
		t.Errorf("caches grew to %d addresses, %d names", len(d.addrs), len(d.comms))
	}
	if _, err := d.decode(raw[:dataEventHead+4]); err == nil {
		t.Error("a record shorter than its captured bytes was accepted")
	}
	if _, err := d.decode(raw[:10]); err == nil {
		t.Error("a record shorter than the head was accepted")
	}
}
