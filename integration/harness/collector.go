package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Collector is a running otel-ai-collector process.
type Collector struct {
	t    testing.TB
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	err  error // exit status, valid once done is closed

	stopTimeout time.Duration
	retried     bool // a failed attempt of Start, superseded by another

	// Loopback endpoints of the embedded default configuration, each on a
	// free port.
	OTLPGRPCEndpoint string // host:port
	OTLPHTTPEndpoint string // http://host:port
	HealthEndpoint   string // host:port
	MetricsEndpoint  string // http://host:port/metrics
	StateDir         string
}

// Options says how to start the collector.
type Options struct {
	// Config is a YAML configuration passed with --config. Empty runs the
	// embedded default.
	Config string
	// Args are more command-line arguments, e.g. --config layers.
	Args []string
	// Env is added to the process environment, after the harness's own
	// variables (ports, state directory, host metrics and journald off), so
	// tests can override them.
	Env map[string]string
	// StateDir is OTEL_AI_COLLECTOR_STATE_DIR; a fresh temporary directory
	// when empty. Reuse one to restart a collector on the same queues.
	StateDir string
	// HealthEndpoint is where the test's Config serves health_check, when
	// it differs from the default configuration's.
	HealthEndpoint string
	// StopTimeout is how long Stop waits after SIGTERM before it fails the
	// test and kills the process; 15 s when zero.
	StopTimeout time.Duration
	// Credential runs the collector as another user (tests run as root,
	// whom file permissions do not stop); nil: as the test.
	Credential *syscall.Credential
}

// Start starts the collector binary and waits until its health check reports
// ready. The process is stopped when the test ends; its logs are printed if
// the test failed.
//
// A port that was free when picked can be taken by another socket (an
// outgoing connection's ephemeral port) before the collector binds it; with
// the harness's own ports (no opts.Config), Start then tries again on new
// ports, up to three times.
func Start(t testing.TB, binary string, opts Options) *Collector {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c, err := start(t, binary, opts)
		if err == nil {
			return c
		}
		if opts.Config != "" || attempt == 3 || !strings.Contains(c.Logs(), "address already in use") {
			t.Fatalf("collector did not become healthy: %v\nlogs:\n%s", err, c.Logs())
		}
		c.retried = true
		t.Logf("a picked port was taken before the collector bound it; retrying on new ports")
	}
}

func start(t testing.TB, binary string, opts Options) (*Collector, error) {
	t.Helper()
	c := &Collector{
		t:                t,
		logs:             &syncBuffer{},
		done:             make(chan struct{}),
		OTLPGRPCEndpoint: FreeAddr(t),
		OTLPHTTPEndpoint: "http://" + FreeAddr(t),
		HealthEndpoint:   FreeAddr(t),
		StateDir:         opts.StateDir,
		stopTimeout:      opts.StopTimeout,
	}
	if c.stopTimeout == 0 {
		c.stopTimeout = 15 * time.Second
	}
	metricsPort := FreePort(t)
	c.MetricsEndpoint = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	if c.StateDir == "" {
		c.StateDir = t.TempDir()
	}
	if opts.HealthEndpoint != "" {
		c.HealthEndpoint = opts.HealthEndpoint
	}

	args := []string{}
	if opts.Config != "" {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(opts.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	args = append(args, opts.Args...)
	c.cmd = exec.Command(binary, args...)
	c.cmd.Env = append(os.Environ(),
		"OTEL_AI_COLLECTOR_OTLP_GRPC_ENDPOINT="+c.OTLPGRPCEndpoint,
		"OTEL_AI_COLLECTOR_OTLP_HTTP_ENDPOINT="+c.OTLPHTTPEndpoint[len("http://"):],
		"OTEL_AI_COLLECTOR_HEALTH_ENDPOINT="+c.HealthEndpoint,
		"OTEL_AI_COLLECTOR_METRICS_PORT="+strconv.Itoa(metricsPort),
		"OTEL_AI_COLLECTOR_ZPAGES_ENDPOINT="+FreeAddr(t),
		"OTEL_AI_COLLECTOR_STATE_DIR="+c.StateDir,
		// Host telemetry only where a test asks for it (Options.Env), so
		// other tests see only the telemetry they send.
		"OTEL_AI_COLLECTOR_HOST_METRICS=off",
		"OTEL_AI_COLLECTOR_JOURNALD=off",
	)
	for k, v := range opts.Env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	if opts.Credential != nil {
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: opts.Credential}
	}
	c.cmd.Stdout = c.logs
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() && !c.retried {
			t.Logf("collector logs:\n%s", c.Logs())
		}
	})
	return c, c.waitHealthy(60 * time.Second)
}

func (c *Collector) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("collector exited: %v", c.err)
		default:
		}
		resp, err := client.Get("http://" + c.HealthEndpoint + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("timed out")
}

// Logs returns everything the collector printed so far.
func (c *Collector) Logs() string { return c.logs.String() }

// Pid is the collector's process id.
func (c *Collector) Pid() int { return c.cmd.Process.Pid }

// Stop asks the collector to shut down (SIGTERM) and waits for it; after the
// stop timeout it fails the test and kills it. It is safe to call more than
// once.
func (c *Collector) Stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(c.stopTimeout):
		c.t.Errorf("collector did not stop within %v of SIGTERM; killing it", c.stopTimeout)
		c.Kill()
	}
}

// Kill ends the collector with SIGKILL, as a crash would, and waits for it.
func (c *Collector) Kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Exited reports whether the process has ended.
func (c *Collector) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// WaitForLog waits until the collector's output contains substr.
func (c *Collector) WaitForLog(ctx context.Context, substr string) error {
	for {
		if bytes.Contains(c.logs.Bytes(), []byte(substr)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("log line %q not seen: %w", substr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// portsHandedOut holds every port FreePort has returned in this test
// process. The kernel may give the same port to two listen(":0") calls in a
// row once the first is closed, and two tests' servers on one port fail in
// ways that look like the component's fault (a CI run saw a test's two
// servers get the same port).
var portsHandedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier FreePort call of this test process returned.
func FreePort(t testing.TB) int {
	t.Helper()
	portsHandedOut.Lock()
	defer portsHandedOut.Unlock()
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsHandedOut.ports[port] {
			portsHandedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no port that FreePort had not returned before, in 1000 tries")
	return 0
}

// FreeAddr returns "127.0.0.1:port" for a free port.
func FreeAddr(t testing.TB) string {
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// Listen opens a TCP listener on a loopback port the kernel picks, for a
// server the test runs in its own process. Unlike FreePort followed by a
// listen, no other socket can take the port in between (seen in CI: "bind:
// address already in use").
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }
