package harness

import (
	"net"
	"sync"
	"testing"
)

// Blackhole accepts TCP connections on loopback and never reads from or
// answers them, like a remote behind a dead VPN route that still completes the
// handshake. It returns the base URL.
func Blackhole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// RefusingURL is a loopback URL where nothing listens: connections are
// refused.
func RefusingURL(t testing.TB) string {
	return "http://" + FreeAddr(t)
}
