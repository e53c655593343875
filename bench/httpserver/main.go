// Command httpserver is the instrumented service of the eBPF overhead
// benchmark (bench/ebpf-overhead.sh): a plain net/http server answering every
// request with a small fixed body, so the benchmark measures the per-request
// cost of observing it.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	flag.Parse()
	body := []byte(`{"status":"ok","widgets":["sessions","tokens","cost"]}`)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
