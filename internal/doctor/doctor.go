// Package doctor implements `otel-ai-collector doctor`: it checks, with the
// environment the collector would run with, what the embedded default needs
// (state directory, otel-ai-monitor, the remote, Pyroscope, the journal, the
// listen ports, eBPF privileges) and says how to fix each failure.
package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/internal/defaultconfig"
)

// Status of one check.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
	Skip Status = "skip"
)

// Check is one line of doctor's report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is doctor's whole answer.
type Report struct {
	OK       bool                    `json:"ok"`
	Layers   []string                `json:"layers,omitempty"`
	Features []defaultconfig.Feature `json:"features,omitempty"`
	Checks   []Check                 `json:"checks"`
}

// timeout bounds each network probe; a blackholed peer shows as a timeout.
const timeout = 3 * time.Second

// Main runs doctor with its command-line arguments (after "doctor") and
// returns the process exit code: 1 when any check failed, 2 on bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("doctor", flag.ContinueOnError)
	flags.SetOutput(stderr)
	asJSON := flags.Bool("json", false, "print the report as JSON")
	var configs stringList
	flags.Var(&configs, "config", "the collector's --config layers, when it runs with its own (repeatable); the probes use the same OTEL_AI_COLLECTOR_* endpoints")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: otel-ai-collector doctor [--json] [--config LAYER]...\n\nChecks what the collector needs, with this environment (and its --config layers,\nwhen it runs with its own); exits 1 when a check fails.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		flags.Usage()
		return 2
	}
	r := Run(configs)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	} else {
		r.print(stdout)
	}
	if !r.OK {
		return 1
	}
	return 0
}

// stringList collects a repeated flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// Run makes every check; configs are the collector's own --config layers
// (none: the embedded default).
func Run(configs []string) *Report {
	r := &Report{}
	if len(configs) > 0 {
		r.Layers = configs
		if err := defaultconfig.CheckOwnLayers(configs); err != nil {
			r.add(Check{Name: "configuration", Status: Fail, Detail: err.Error(),
				Fix: "correct the variable or key named above (otel-ai-collector --help lists the variables with examples)"})
		} else {
			r.add(Check{Name: "configuration", Status: OK, Detail: "your layers " + strings.Join(configs, " + ") +
				": variables and top-level keys checked (otel-ai-collector validate --config ... checks the rest)"})
		}
		r.finish(nil)
		return r
	}
	plan, err := defaultconfig.NewDoctorPlan()
	if err != nil {
		r.add(Check{Name: "configuration", Status: Fail, Detail: err.Error(),
			Fix: "correct the variable named above (otel-ai-collector --help lists them with examples)"})
	} else {
		r.Layers, r.Features = plan.Layers, plan.Features
		summary := plan.Summary()
		summary = strings.TrimPrefix(summary, "validate: ")
		r.add(Check{Name: "configuration", Status: OK, Detail: summary})
		for _, w := range plan.Warnings {
			r.add(Check{Name: "feature asked for", Status: Warn, Detail: w})
		}
	}
	r.finish(plan)
	return r
}

// finish makes the checks that do not depend on how the layers were chosen.
func (r *Report) finish(plan *defaultconfig.Plan) {
	remote := defaultconfig.RemoteEnabled()
	r.add(checkStateDir(remote))
	r.add(checkMonitor())
	r.add(checkRemote())
	r.add(checkPyroscope())
	r.add(checkJournal(plan))
	r.add(checkEBPF(plan))
	r.add(checkEBPFProfiling(plan))
	r.add(checkQueues())
	r.add(checkDamagedState())
	r.Checks = append(r.Checks, checkPorts()...)
	r.OK = true
	for _, c := range r.Checks {
		if c.Status == Fail {
			r.OK = false
		}
	}
}

func (r *Report) add(c Check) { r.Checks = append(r.Checks, c) }

func (r *Report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tDETAIL")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Status, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(tw, "\tfix:\t%s\n", c.Fix)
		}
	}
	tw.Flush()
	if r.OK {
		fmt.Fprintln(w, "\nno check failed")
	} else {
		fmt.Fprintln(w, "\nsome checks failed: see fix: above")
	}
}

const envStateDir = "OTEL_AI_COLLECTOR_STATE_DIR"

// checkStateDir: writable, and free space against the bounds of the
// persistent queues that will live there.
func checkStateDir(remote bool) Check {
	dir := os.Getenv(envStateDir)
	c := Check{Name: "state dir"}
	bound := int64(0)
	if remote {
		n, _ := strconv.ParseInt(defaultconfig.Value("OTEL_AI_COLLECTOR_REMOTE_QUEUE_BYTES"), 10, 64)
		bound += 3 * n // one queue per signal
	}
	if os.Getenv("OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT") != "" {
		n, _ := strconv.ParseInt(defaultconfig.Value("OTEL_AI_COLLECTOR_PYROSCOPE_QUEUE_BYTES"), 10, 64)
		bound += n
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("%s: cannot create: %v", dir, err)
		c.Fix = "set " + envStateDir + " to a directory this user can write, or create " + dir + " for it"
		return c
	}
	probe, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("%s: not writable: %v", dir, err)
		c.Fix = "set " + envStateDir + " to a directory this user can write, or chown " + dir
		if !remote && bound == 0 {
			c.Status = Warn
			c.Fix += " (needed once remote export or profiling is on)"
		}
		return c
	}
	probe.Close()
	os.Remove(probe.Name())
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("%s: writable; free space unknown: %v", dir, err)
		return c
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	used := dirSize(dir)
	c.Status = OK
	c.Detail = fmt.Sprintf("%s: writable, %s free, queues hold %s on disk, bounded at %s", dir, bytesText(free), bytesText(used), bytesText(bound))
	if bound > free {
		c.Status = Warn
		c.Fix = "free space below the queue bounds: lower OTEL_AI_COLLECTOR_REMOTE_QUEUE_BYTES / _PYROSCOPE_QUEUE_BYTES or move " + envStateDir
	}
	return c
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// post sends a harmless empty OTLP export request, as the exporter would
// (an empty ExportLogsServiceRequest changes nothing at the receiver).
func post(url, contentType string, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return resp.StatusCode, strings.TrimSpace(string(text)), nil
}

// reason turns a client error into what an operator can act on.
func reason(err error) string {
	var tlsErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return fmt.Sprintf("no answer within %v (blackholed: a firewall drops the packets, or the host is unreachable)", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens there"
	case errors.As(err, &tlsErr):
		return "TLS: " + tlsErr.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "DNS: " + dnsErr.Error()
	}
	return err.Error()
}

func checkMonitor() Check {
	endpoint := defaultconfig.Value("OTEL_AI_COLLECTOR_MONITOR_ENDPOINT")
	c := Check{Name: "monitor"}
	status, body, err := post(strings.TrimRight(endpoint, "/")+"/v1/logs", "application/json", []byte(`{}`))
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("otel-ai-monitor at %s: %s", endpoint, reason(err))
		c.Fix = "start otel-ai-monitor (systemctl --user start otel-ai-monitor); until then AI-session telemetry for it is dropped (the remote path is unaffected)"
	case status/100 == 2:
		c.Status, c.Detail = OK, fmt.Sprintf("otel-ai-monitor at %s answers OTLP/HTTP (%d)", endpoint, status)
	default:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s answers %d to an empty OTLP/HTTP JSON request: %q", endpoint, status, body)
		c.Fix = "OTEL_AI_COLLECTOR_MONITOR_ENDPOINT does not point at otel-ai-monitor's OTLP/HTTP base URL"
	}
	return c
}

func checkRemote() Check {
	c := Check{Name: "remote"}
	if path := os.Getenv("OTEL_AI_COLLECTOR_REMOTE_CONFIG"); path != "" {
		c.Status, c.Detail = Skip, "your own mode layer "+path+": its exporters are not probed"
		return c
	}
	endpoint := os.Getenv("OTEL_AI_COLLECTOR_REMOTE_ENDPOINT")
	if endpoint == "" {
		c.Status, c.Detail = Skip, "remote export off (OTEL_AI_COLLECTOR_REMOTE_ENDPOINT unset)"
		return c
	}
	if !strings.Contains(endpoint, "://") {
		// A gRPC exporter's host:port (layers of one's own): the TCP
		// connection is what can be checked without speaking gRPC.
		conn, err := net.DialTimeout("tcp", endpoint, timeout)
		if err != nil {
			c.Status, c.Detail = Fail, fmt.Sprintf("%s: %s", endpoint, reason(err))
			c.Fix = "check OTEL_AI_COLLECTOR_REMOTE_ENDPOINT and the network path to the gateway; data waits in the persistent queue meanwhile"
			return c
		}
		conn.Close()
		c.Status, c.Detail = OK, endpoint+" accepts TCP connections (a gRPC endpoint: its answers are not probed)"
		return c
	}
	// An empty protobuf message is a valid, empty ExportLogsServiceRequest.
	status, body, err := post(strings.TrimRight(endpoint, "/")+"/v1/logs", "application/x-protobuf", nil)
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s: %s", endpoint, reason(err))
		c.Fix = "check OTEL_AI_COLLECTOR_REMOTE_ENDPOINT and the network path to the gateway; data waits in the persistent queue meanwhile"
	case status/100 == 2:
		c.Status, c.Detail = OK, fmt.Sprintf("%s answers an empty OTLP/HTTP request with %d", endpoint, status)
	default:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s answers %d: %q", endpoint, status, body)
		c.Fix = "the gateway refuses OTLP/HTTP at this URL: check the path (base URL, without /v1/logs) and its authentication"
	}
	return c
}

func checkPyroscope() Check {
	c := Check{Name: "pyroscope"}
	endpoint := os.Getenv("OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT")
	if endpoint == "" {
		c.Status, c.Detail = Skip, "profiling off (OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT unset)"
		return c
	}
	// Pyroscope's /ready answers 200 once the server can take pushes.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+"/ready", nil)
	resp, err := http.DefaultClient.Do(req)
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s: %s", endpoint, reason(err))
		c.Fix = "check OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT (Pyroscope's base URL) and that Pyroscope runs"
	default:
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			c.Status, c.Detail = OK, fmt.Sprintf("%s/ready answers 200", endpoint)
		} else {
			c.Status, c.Detail = Fail, fmt.Sprintf("%s/ready answers %d", endpoint, resp.StatusCode)
			c.Fix = "Pyroscope is not ready, or this is not Pyroscope's base URL"
		}
	}
	return c
}

func checkJournal(plan *defaultconfig.Plan) Check {
	c := Check{Name: "journal"}
	if plan == nil {
		c.Status, c.Detail = Skip, "the embedded default's layers are not in use (your own layers, or a configuration error above)"
		return c
	}
	for _, f := range plan.Features {
		if f.Name != "journald" {
			continue
		}
		if f.On {
			c.Status, c.Detail = OK, "journalctl reads the journal"
			if _, warning := defaultconfig.JournalReadable(); warning != "" {
				c.Status, c.Detail = Warn, warning
			}
			return c
		}
		if f.Why == "journal not readable" {
			_, warning := defaultconfig.JournalReadable()
			c.Status, c.Detail = Warn, warning
			return c
		}
		c.Status, c.Detail = Skip, "journald logs off: "+f.Why
	}
	return c
}
