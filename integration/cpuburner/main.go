// Command cpuburner burns CPU in main.burnGoCPU for part of every 100 ms
// (-busy), until killed: a Go program for the eBPF profiling tests, which
// run a uniquely named copy of it and look for its function in Pyroscope.
package main

import (
	"flag"
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
	busy := flag.Duration("busy", 25*time.Millisecond, "CPU time burnt per 100 ms")
	flag.Parse()
	for {
		burnGoCPU(*busy)
		time.Sleep(100*time.Millisecond - *busy)
	}
}
