//go:build linux && amd64

package ebpfreceiver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otel-ai-collector/otel-ai-collector/receiver/ebpfreceiver/internal/metadata"
)

// Both pairs of I/O hooks load, attach and turn a real HTTP exchange into
// its client and server spans: the socket tracepoints this kernel offers,
// and the raw syscall tracepoints older kernels fall back to (forced here,
// as no test machine runs a kernel before 6.3). The server and the client
// run in this test process, selected by the server's port.
func TestIOHooksCaptureHTTP(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root")
	}
	if got := kernelIOHooks(); got != socketHooks {
		t.Errorf("this kernel (BTF with sock_send_length) picked %q, want %q", got, socketHooks)
	}
	for _, hooks := range []ioHooks{socketHooks, syscallHooks} {
		t.Run(string(hooks), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, "made")
			})}
			go func() { _ = server.Serve(ln) }()
			defer server.Close()

			cfg := createDefaultConfig().(*Config)
			cfg.Ports = []int{ln.Addr().(*net.TCPAddr).Port}
			sink := new(consumertest.TracesSink)
			rcv, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink)
			if err != nil {
				t.Fatal(err)
			}
			r := rcv.(*ebpfReceiver)
			r.ioHooks = hooks
			if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := r.Shutdown(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			if r.objs.hooks != hooks {
				t.Fatalf("loaded %q, want %q", r.objs.hooks, hooks)
			}

			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			const requests = 3
			for i := range requests {
				resp, err := client.Post(fmt.Sprintf("http://%s/hooks/%d", ln.Addr(), i), "text/plain", nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}

			deadline := time.Now().Add(10 * time.Second)
			var server201, client201 int
			for time.Now().Before(deadline) {
				server201, client201 = countSpans(sink.AllTraces(), "/hooks/")
				if server201 >= requests && client201 >= requests {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if server201 != requests || client201 != requests {
				t.Errorf("%d server and %d client spans of POST /hooks/N with status 201, want %d each", server201, client201, requests)
			}
		})
	}
}

// countSpans counts the server and client spans whose url.path starts with
// prefix and whose status code is 201.
func countSpans(traces []ptrace.Traces, prefix string) (server, client int) {
	for _, td := range traces {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			scopes := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < scopes.Len(); j++ {
				spans := scopes.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					span := spans.At(k)
					path, _ := span.Attributes().Get("url.path")
					status, _ := span.Attributes().Get("http.response.status_code")
					if !strings.HasPrefix(path.Str(), prefix) || status.Int() != http.StatusCreated {
						continue
					}
					switch span.Kind() {
					case ptrace.SpanKindServer:
						server++
					case ptrace.SpanKindClient:
						client++
					}
				}
			}
		}
	}
	return server, client
}

// The BPF programs cache per CPU whether a process is selected. A process
// whose I/O was seen unselected (so cached as such) and is then selected by
// user space, as a scan does, is captured from its next request; dropped
// again, it is not. Without the invalidation after each change, the cached
// answers would stand.
func TestSelectionCacheFollowsSelectedPids(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})}
	go func() { _ = server.Serve(ln) }()
	defer server.Close()

	// Selected by a port nothing listens on: this process is not selected,
	// and no scan runs during the test to change that.
	unused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unusedPort := unused.Addr().(*net.TCPAddr).Port
	unused.Close()
	cfg := createDefaultConfig().(*Config)
	cfg.Ports = []int{unusedPort}
	cfg.RefreshInterval = time.Hour
	sink := new(consumertest.TracesSink)
	rcv, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	r := rcv.(*ebpfReceiver)
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(phase string, n int) {
		for i := range n {
			resp, err := client.Get(fmt.Sprintf("http://%s/%s/%d", ln.Addr(), phase, i))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	waitSpans := func(prefix string, want int) (server int) {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if server, _ = countSpans(sink.AllTraces(), prefix); server >= want && want > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		return server
	}

	// Unselected: requests on (most likely) every CPU leave "not selected"
	// in this process's cache slots.
	get("before", 50)
	pid := uint32(os.Getpid())
	if err := r.objs.SelectedPids.Put(pid, uint64(0)); err != nil {
		t.Fatal(err)
	}
	r.invalidateSelectionCache()
	get("selected", 20)
	if got := waitSpans("/selected/", 20); got != 20 {
		t.Errorf("%d server spans after the process was selected, want 20", got)
	}
	if err := r.objs.SelectedPids.Delete(pid); err != nil {
		t.Fatal(err)
	}
	r.invalidateSelectionCache()
	get("dropped", 20)
	if got := waitSpans("/dropped/", 0); got != 0 {
		t.Errorf("%d server spans after the process was dropped, want 0", got)
	}
	// The wait above let any span of the first requests out too.
	if got, _ := countSpans(sink.AllTraces(), "/before/"); got != 0 {
		t.Errorf("%d server spans before the process was selected, want 0", got)
	}
}
