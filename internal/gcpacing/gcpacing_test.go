package gcpacing

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestPolicy(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name            string
		allocRate, base float64
		want            int
	}{
		{"idle: the runtime's default", 20 << 10, 8 * mib, 100},
		{"headroom below the base: default", 5 * mib, 8 * mib, 100},
		{"15 MB/s on an 8 MiB base: a second of allocation", 15 * mib, 8 * mib, 187},
		{"the budget bounds the headroom", 100 * mib, 8 * mib, 200},
		{"a large heap keeps the default", 100 * mib, 512 * mib, 100},
		// 16 MiB on a 1 MiB base would be GOGC 1600; the heap minimum
		// (4 MiB x GOGC/100) must stay within base+16 MiB: 425.
		{"a tiny heap: the heap minimum bounds it", 100 * mib, 1 * mib, 425},
		{"no base known", 100 * mib, 0, 100},
	} {
		if got := Default.GOGC(tc.allocRate, tc.base); got != tc.want {
			t.Errorf("%s: GOGC(%.0f B/s, %.0f B) = %d, want %d", tc.name, tc.allocRate, tc.base, got, tc.want)
		}
	}
	capped := Policy{Interval: time.Second, MaxHeadroom: 1 << 30, MaxGOGC: 300}
	if got := capped.GOGC(1<<30, 64*mib); got != 300 {
		t.Errorf("MaxGOGC: got %d, want 300", got)
	}
}

// recorder stands in for debug.SetGCPercent so that the test's settings do
// not change its own process's GC; the allocation it paces is real.
type recorder struct {
	mu  sync.Mutex
	set []int
}

func (r *recorder) setGCPercent(v int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.set = append(r.set, v)
	return 0
}

func (r *recorder) values() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.set...)
}

var sink []byte

// allocate produces garbage at roughly rate bytes/s for d.
func allocate(rate int, d time.Duration) {
	const chunk = 64 << 10
	perTick := rate / 100 / chunk
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		for range perTick {
			sink = make([]byte, chunk)
		}
	}
}

func TestControllerRaisesUnderAllocationAndSettlesBack(t *testing.T) {
	r := &recorder{}
	policy := Policy{Interval: time.Second, MaxHeadroom: 256 << 20, MaxGOGC: 10000}
	c := start(policy, 50*time.Millisecond, 6, r.setGCPercent)
	defer c.Stop()

	allocate(400<<20, 500*time.Millisecond) // 400 MB/s: far more than this test's heap
	busy := c.GOGC()
	if busy <= 100 {
		t.Fatalf("GOGC %d while allocating 400 MB/s, want raised (settings %v)", busy, r.values())
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.GOGC() != 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d 5 s after the allocation stopped, want back to 100 (settings %v)", c.GOGC(), r.values())
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := r.values()
	if last := got[len(got)-1]; last != 100 {
		t.Errorf("last setting %d, want 100", last)
	}
}

var held []byte

// The live heap grows between ticks: the next collection brings GOGC down
// to what the budget allows for it, without waiting for a tick.
func TestControllerLowersAtOnceWhenTheLiveHeapGrows(t *testing.T) {
	r := &recorder{}
	c := start(Default, time.Hour, 1, r.setGCPercent)
	defer c.Stop()
	c.apply(800) // as after a burst of allocation on a small heap
	held = make([]byte, 256<<20)
	for i := range held {
		held[i] = 1 // live and resident
	}
	defer func() { held = nil }()
	deadline := time.Now().Add(5 * time.Second)
	for c.GOGC() != 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d with a 256 MiB live heap, want 100 (16 MiB headroom at most; settings %v)", c.GOGC(), r.values())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestControllerLeavesAnIdleProcessAlone(t *testing.T) {
	r := &recorder{}
	c := start(Default, 20*time.Millisecond, 3, r.setGCPercent)
	time.Sleep(300 * time.Millisecond)
	c.Stop()
	if got := r.values(); len(got) != 0 {
		t.Errorf("an idle test process got GOGC settings %v", got)
	}
}

func TestStartRespectsGOGCFromTheEnvironment(t *testing.T) {
	t.Setenv("GOGC", "100")
	if c := Start(); c != nil {
		c.Stop()
		t.Fatal("Start paced the GC although GOGC is set")
	}
}

func TestStopRestoresTheDefault(t *testing.T) {
	r := &recorder{}
	c := start(Default, time.Hour, 1, r.setGCPercent)
	c.apply(400)
	c.Stop()
	if got := r.values(); len(got) != 2 || got[1] != 100 {
		t.Errorf("settings %v, want [400 100]", got)
	}
}
