//go:build linux

package ebpfreceiver

import (
	"net"
	"testing"
)

// The kernel's answer names the listening sockets /proc/net/tcp and tcp6
// name, with the same inodes and ports, including two this test opens (IPv4
// and IPv6), and no socket that is not listening.
func TestListeningInodesMatchProcNetTCP(t *testing.T) {
	v4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer v4.Close()
	v6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer v6.Close()
	// An established connection, which must not be listed.
	client, err := net.Dial("tcp4", v4.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := v4.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	fromKernel := map[string]uint16{}
	if err := listeningInodes(fromKernel); err != nil {
		t.Fatal(err)
	}
	fromProc := map[string]uint16{}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningSockets(name, fromProc); err != nil {
			t.Fatal(err)
		}
	}
	// Other processes may open or close listeners between the two reads:
	// compare what both list.
	for inode, port := range fromProc {
		if got, ok := fromKernel[inode]; ok && got != port {
			t.Errorf("socket inode %s: /proc has port %d, sock_diag %d", inode, port, got)
		}
	}
	for _, ln := range []net.Listener{v4, v6} {
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		inKernel, inProc := 0, 0
		for _, p := range fromKernel {
			if p == port {
				inKernel++
			}
		}
		for _, p := range fromProc {
			if p == port {
				inProc++
			}
		}
		if inKernel == 0 || inKernel != inProc { // the test's own listener must be there
			t.Errorf("port %d: %d listening sockets from sock_diag, %d in /proc", port, inKernel, inProc)
		}
	}
	local := uint16(client.LocalAddr().(*net.TCPAddr).Port)
	for _, port := range fromKernel {
		if port == local {
			t.Errorf("the client's port %d is listed as listening", local)
		}
	}
}
