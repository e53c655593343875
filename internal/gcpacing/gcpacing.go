// Package gcpacing lets the Go garbage collector run less often while the
// collector allocates fast, within a fixed memory budget, and puts it back
// to the runtime's default once the collector is idle again.
//
// Why: with GOGC=100 and a small live heap (a few MB), a collector turning
// 10k eBPF events a second into spans allocates ~15 MB/s and collects 4-7
// times a second. Each collection's mark workers take whole CPUs for
// milliseconds, which on a 2-core workstation shows up in the latency tail
// of the very processes the collector observes. A static higher GOGC would
// also raise the idle heap (and RSS) and scale with the live heap; this
// policy adds headroom only in proportion to the allocation rate, up to a
// fixed number of bytes.
//
// An operator who sets GOGC in the environment keeps it: the pacing is then
// off.
package gcpacing

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Policy decides GOGC from the allocation rate and the heap the collector
// keeps.
type Policy struct {
	// Interval is the time the collector should be able to allocate for
	// between two collections while busy.
	Interval time.Duration
	// MaxHeadroom bounds the heap growth between collections, in bytes,
	// that the policy may allow: the most memory it can add.
	MaxHeadroom float64
	// MaxGOGC bounds the result.
	MaxGOGC int
}

// Default allows one collection a second, at most 16 MiB of headroom.
var Default = Policy{Interval: time.Second, MaxHeadroom: 16 << 20, MaxGOGC: 800}

// runtimeDefault is GOGC when the environment does not set it.
const runtimeDefault = 100

// heapMinimum is the runtime's smallest heap goal at GOGC=100 (it scales
// with GOGC): runtime/mgcpacer.go, defaultHeapMinimum.
const heapMinimum = 4 << 20

// GOGC returns the value for an allocation rate (bytes/s) and the bytes the
// runtime's heap goal is proportional to (live heap, goroutine stacks and
// globals: the GC's scannable roots, as in runtime/mgcpacer.go). It is never
// below the runtime's default of 100.
func (p Policy) GOGC(allocRate, base float64) int {
	headroom := math.Min(allocRate*p.Interval.Seconds(), p.MaxHeadroom)
	if base <= 0 {
		return runtimeDefault
	}
	gogc := 100 * headroom / base
	// The heap minimum grows with GOGC: keep it within base + MaxHeadroom
	// too, or a small heap would get more than the budget.
	gogc = math.Min(gogc, 100*(base+p.MaxHeadroom)/heapMinimum)
	gogc = math.Min(gogc, float64(p.MaxGOGC))
	if gogc < runtimeDefault {
		return runtimeDefault
	}
	return int(gogc)
}

// Controller samples the runtime's allocation counters every tick and sets
// GOGC by its Policy: at once when more headroom is needed, after
// settleTicks ticks in a row that wanted less when less is needed (a
// collector's load comes in bursts; GOGC should not flap with them).
//
// The headroom a GOGC gives grows with the live heap, which can grow
// faster than a tick (a burst filling queues). So after every collection
// the controller also checks that its GOGC keeps within the budget for the
// live heap just measured, and lowers it at once if not: the runtime sets
// the next cycle's heap goal from that GOGC.
type Controller struct {
	policy      Policy
	tick        time.Duration
	settleTicks int
	set         func(int) int // debug.SetGCPercent in the binary

	mu      sync.Mutex
	current int

	stop chan struct{}
	done chan struct{}
}

// Start paces the process's garbage collector with Default unless GOGC is
// set in the environment. It returns nil then.
func Start() *Controller {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	return start(Default, time.Second, 10, debug.SetGCPercent)
}

func start(policy Policy, tick time.Duration, settleTicks int, set func(int) int) *Controller {
	c := &Controller{policy: policy, tick: tick, settleTicks: settleTicks, set: set, current: runtimeDefault,
		stop: make(chan struct{}), done: make(chan struct{})}
	c.armGCHook()
	go c.run()
	return c
}

// gcSentinel is garbage as soon as it is made; its finalizer runs after the
// collection that finds it (it holds a pointer, so the tiny allocator does
// not share its block with other objects).
type gcSentinel struct{ c *Controller }

func (c *Controller) armGCHook() {
	runtime.SetFinalizer(&gcSentinel{c}, func(s *gcSentinel) {
		select {
		case <-s.c.stop:
			return
		default:
		}
		s.c.afterGC()
		s.c.armGCHook()
	})
}

// afterGC lowers GOGC at once when the live heap has grown so much that it
// would allow more than the policy's headroom.
func (c *Controller) afterGC() {
	_, base := readRuntime(make([]metrics.Sample, len(sampleNames)))
	if ceiling := c.policy.GOGC(math.Inf(1), base); c.GOGC() > ceiling {
		c.apply(ceiling)
	}
}

// GOGC is the value the controller last set.
func (c *Controller) GOGC() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Stop ends the pacing and puts GOGC back to the runtime's default.
func (c *Controller) Stop() {
	close(c.stop)
	<-c.done
	c.apply(runtimeDefault)
}

func (c *Controller) apply(gogc int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gogc != c.current {
		c.set(gogc)
		c.current = gogc
	}
}

var sampleNames = []string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/gc/scan/stack:bytes",
	"/gc/scan/globals:bytes",
}

// readRuntime returns the bytes allocated since the process started and the
// base the heap goal is proportional to.
func readRuntime(samples []metrics.Sample) (allocated, base float64) {
	for i, name := range sampleNames {
		samples[i].Name = name
	}
	metrics.Read(samples)
	for i, s := range samples {
		if s.Value.Kind() != metrics.KindUint64 {
			continue // not in this Go version: counts as 0
		}
		if i == 0 {
			allocated = float64(s.Value.Uint64())
		} else {
			base += float64(s.Value.Uint64())
		}
	}
	return allocated, base
}

func (c *Controller) run() {
	defer close(c.done)
	samples := make([]metrics.Sample, len(sampleNames))
	ticker := time.NewTicker(c.tick)
	defer ticker.Stop()
	lastAllocated, _ := readRuntime(samples)
	lastTime := time.Now()
	// While ticks in a row want less: how many, and the most any of them
	// wanted (what to settle to).
	wantLess, settleTo := 0, 0
	for {
		select {
		case <-c.stop:
			return
		case now := <-ticker.C:
			allocated, base := readRuntime(samples)
			rate := (allocated - lastAllocated) / now.Sub(lastTime).Seconds()
			lastAllocated, lastTime = allocated, now
			want := c.policy.GOGC(rate, base)
			current := c.GOGC()
			switch {
			case want > current:
				c.apply(want)
				wantLess = 0
			case want < current:
				if wantLess == 0 || want > settleTo {
					settleTo = want
				}
				wantLess++
				if wantLess >= c.settleTicks {
					c.apply(settleTo)
					wantLess = 0
				}
			default:
				wantLess = 0
			}
		}
	}
}
