package harness

import "testing"

// The kernel hands out the port of a just-closed listener again; FreePort
// must not, or two servers of one test end up on one port.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 300 {
		port := FreePort(t)
		if seen[port] {
			t.Fatalf("FreePort returned %d twice", port)
		}
		seen[port] = true
	}
}
