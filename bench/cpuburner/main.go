// Command cpuburner is a control of the eBPF overhead benchmark
// (bench/ebpf-overhead.sh): a process that keeps a CPU busy for a fixed time
// every period and sleeps in between, so that what any co-runner of the
// collector's mean CPU does to the observed server can be told from what the
// collector does.
package main

import (
	"flag"
	"time"
)

func main() {
	period := flag.Duration("period", 10*time.Millisecond, "one busy stretch per period")
	busy := flag.Duration("busy", 800*time.Microsecond, "how long each busy stretch lasts")
	flag.Parse()
	if *busy <= 0 || *busy >= *period {
		panic("need 0 < busy < period")
	}
	sink := 0
	for {
		time.Sleep(*period - *busy)
		for end := time.Now().Add(*busy); time.Now().Before(end); {
			for i := range 1000 {
				sink += i
			}
		}
	}
}
