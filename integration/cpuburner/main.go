// Command cpuburner burns CPU in main.burnGoCPU for -busy, then sleeps a
// random 50 to 100 ms (so that its rhythm does not lock onto the
// profiler's 20 Hz), until killed: a Go program for the eBPF profiling
// tests, which run a uniquely named copy of it and look for its function in
// Pyroscope.
package main

import (
	"flag"
	"math/rand/v2"
	"time"
)

var sink uint64

//go:noinline
func burnGoCPU(d time.Duration) {
	end := time.Now().Add(d)
	x := sink
	for time.Now().Before(end) {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = x
}

func main() {
	busy := flag.Duration("busy", 25*time.Millisecond, "CPU time burnt between sleeps")
	flag.Parse()
	for {
		burnGoCPU(*busy)
		time.Sleep(50*time.Millisecond + rand.N(50*time.Millisecond))
	}
}
