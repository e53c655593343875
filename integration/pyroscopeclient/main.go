// Command pyroscopeclient is a real Pyroscope Go SDK user for the integration
// tests: it profiles itself with github.com/grafana/pyroscope-go while
// burning CPU in burnCPU and allocating in allocate, pushes to -server, and prints one JSON line per
// upload (the query it sent and the answer's status) so that tests can
// compare what the SDK sent with what reached Pyroscope.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/grafana/pyroscope-go"
)

// upload is what the program prints for each push.
type upload struct {
	Name   string `json:"name"`
	From   string `json:"from"`
	Until  string `json:"until"`
	Spy    string `json:"spy_name"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// recordingClient is the SDK's HTTP client, printing every upload.
type recordingClient struct {
	mu     sync.Mutex
	client *http.Client
}

func (c *recordingClient) Do(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	u := upload{Name: q.Get("name"), From: q.Get("from"), Until: q.Get("until"), Spy: q.Get("spyName")}
	resp, err := c.client.Do(req)
	if err != nil {
		u.Error = err.Error()
	} else {
		u.Status = resp.StatusCode
	}
	line, _ := json.Marshal(u)
	c.mu.Lock()
	fmt.Println(string(line))
	c.mu.Unlock()
	return resp, err
}

//go:noinline
func burnCPU(until time.Time) uint64 {
	var x uint64 = 1
	for time.Now().Before(until) {
		for i := 0; i < 1_000_000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		allocate()
	}
	return x
}

// retained keeps some of allocate's memory alive, so that it shows in the
// in-use heap as well as in the allocations.
var retained [][]byte

//go:noinline
func allocate() {
	buf := make([]byte, 256<<10)
	buf[0] = 1
	retained = append(retained, buf)
	if len(retained) > 64 {
		retained = retained[1:]
	}
}

func main() {
	server := flag.String("server", "http://127.0.0.1:4040", "Pyroscope (or collector) base URL")
	app := flag.String("app", "burner", "application name")
	tags := flag.String("tags", "", "comma-separated key=value tags")
	duration := flag.Duration("duration", 5*time.Second, "how long to burn CPU")
	uploadRate := flag.Duration("upload-rate", 2*time.Second, "how often the SDK uploads")
	types := flag.String("profile-types", "cpu", "comma-separated pyroscope.ProfileType values, e.g. cpu,alloc_space,inuse_space")
	flag.Parse()

	var profileTypes []pyroscope.ProfileType
	for _, t := range strings.Split(*types, ",") {
		profileTypes = append(profileTypes, pyroscope.ProfileType(strings.TrimSpace(t)))
	}

	tagMap := map[string]string{}
	for _, kv := range strings.Split(*tags, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			tagMap[k] = v
		}
	}
	profiler, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: *app,
		ServerAddress:   *server,
		Tags:            tagMap,
		UploadRate:      *uploadRate,
		ProfileTypes:    profileTypes,
		HTTPClient:      &recordingClient{client: &http.Client{Timeout: 10 * time.Second}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pyroscope.Start:", err)
		os.Exit(1)
	}
	burnCPU(time.Now().Add(*duration))
	// Stop flushes the profile of the last, partial upload interval.
	if err := profiler.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pyroscope.Stop:", err)
		os.Exit(1)
	}
}
