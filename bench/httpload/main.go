// Command httpload sends HTTP GETs at a fixed rate over keep-alive
// connections and prints "requests ok achieved-rate p50-ms p99-ms", for the
// eBPF overhead benchmark (wrk, the Debian package, has no fixed-rate mode).
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:18090/", "target")
	rate := flag.Int("rate", 10000, "requests per second in total")
	conns := flag.Int("conns", 32, "connections (one goroutine each)")
	duration := flag.Duration("duration", 15*time.Second, "how long to send")
	flag.Parse()

	transport := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	interval := time.Duration(*conns) * time.Second / time.Duration(*rate)
	deadline := time.Now().Add(*duration)

	var mu sync.Mutex
	var latencies []time.Duration
	var failed int
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Go(func() {
			next := time.Now()
			for time.Now().Before(deadline) {
				next = next.Add(interval)
				t0 := time.Now()
				resp, err := client.Get(*url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				if err != nil || resp.StatusCode != http.StatusOK {
					failed++
				} else {
					latencies = append(latencies, d)
				}
				mu.Unlock()
				time.Sleep(time.Until(next))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		fmt.Fprintln(os.Stderr, "no successful requests")
		os.Exit(1)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	fmt.Printf("%d %d %.0f %.3f %.3f\n", len(latencies)+failed, len(latencies), float64(len(latencies))/elapsed.Seconds(), pct(0.5), pct(0.99))
}
