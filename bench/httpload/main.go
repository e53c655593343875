// Command httpload sends HTTP/1.1 GETs at a fixed rate over keep-alive
// connections and prints "requests ok achieved-rate p50-ms p99-ms", for the
// eBPF overhead benchmark (wrk, the Debian package, has no fixed-rate mode).
//
// It speaks HTTP/1.1 itself (one request written, one response with a
// Content-Length read, per round trip) instead of using net/http's client:
// on a 2-core machine the load generator competes with the server it
// measures, and net/http's client took 0.7 cores at 10k requests/s where
// this takes about 0.4, which made the server's p99 a measure of the load
// generator's own scheduling (bench/README.md, "eBPF receiver").
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:18090/", "target (http only)")
	rate := flag.Int("rate", 10000, "requests per second in total")
	conns := flag.Int("conns", 32, "connections (one goroutine each)")
	duration := flag.Duration("duration", 15*time.Second, "how long to send")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fmt.Fprintf(os.Stderr, "httpload: -url %q: want http://host:port/path\n", *target)
		os.Exit(2)
	}
	request := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: httpload\r\n\r\n")

	interval := time.Duration(*conns) * time.Second / time.Duration(*rate)
	deadline := time.Now().Add(*duration)
	var mu sync.Mutex
	var latencies []time.Duration
	failed := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Go(func() {
			mine := make([]time.Duration, 0, int(*duration/interval)+1)
			bad := 0
			var c *conn
			next := time.Now()
			for time.Now().Before(deadline) {
				next = next.Add(interval)
				t0 := time.Now()
				if c == nil {
					var err error
					if c, err = dial(u.Host); err != nil {
						fmt.Fprintln(os.Stderr, "httpload:", err)
					}
				}
				ok := c != nil && c.roundTrip(request)
				d := time.Since(t0)
				if ok {
					mine = append(mine, d)
				} else {
					bad++
					if c != nil {
						c.Close() // the next request on a new connection
						c = nil
					}
				}
				time.Sleep(time.Until(next))
			}
			if c != nil {
				c.Close()
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			failed += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		fmt.Fprintln(os.Stderr, "no successful requests")
		os.Exit(1)
	}
	slices.Sort(latencies)
	pct := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	fmt.Printf("%d %d %.0f %.3f %.3f\n", len(latencies)+failed, len(latencies), float64(len(latencies))/elapsed.Seconds(), pct(0.5), pct(0.99))
}

type conn struct {
	net.Conn
	r *bufio.Reader
}

func dial(host string) (*conn, error) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, r: bufio.NewReader(c)}, nil
}

// roundTrip writes the request and reads the whole response: true for a
// 200 with a Content-Length body read in full, within 5 s.
func (c *conn) roundTrip(request []byte) bool {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(request); err != nil {
		return false
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil || !bytes.HasPrefix(status, []byte("HTTP/1.1 ")) || len(status) < 12 {
		return false
	}
	ok := string(status[9:12]) == "200"
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return false
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break // end of the head
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return false
			}
		}
	}
	if length < 0 {
		return false // no length: this client reads only what the benchmark's server sends
	}
	_, err = c.r.Discard(length)
	return ok && err == nil
}
