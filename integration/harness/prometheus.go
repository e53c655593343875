package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prometheus is a real Prometheus 3 server on a loopback port standing in
// for Mimir, with its OTLP receiver on (StartPrometheus3): its OTLP
// translation is the code Mimir's /otlp endpoint runs.
type Prometheus struct {
	URL string // base URL
	// OTLPMetricsURL is the OTLP/HTTP metrics endpoint.
	OTLPMetricsURL string
}

// Prometheus3Version is the Prometheus 3 release scripts/install-test-deps.sh
// installs as prometheus3 (Go module version of Prometheus 3.16.0).
const Prometheus3Version = "v0.316.0"

// StartPrometheus3 starts Prometheus 3 (prometheus3 on PATH, installed by
// scripts/install-test-deps.sh) with its OTLP receiver on and stops it when
// the test ends. Like a Mimir tenant configured for per-host queries, it
// promotes host.name to a label and ingests each cumulative point's start
// time as a zero sample (created-timestamp-zero-ingestion), so increase()
// counts a counter's first point and is exact when evaluated at the last
// sample.
func StartPrometheus3(t testing.TB) *Prometheus {
	t.Helper()
	path, err := prometheus3Path()
	if err != nil {
		t.Fatalf("Prometheus 3 is needed: scripts/install-test-deps.sh installs it as prometheus3 (%v)", err)
	}
	p := startPrometheus(t, path, "global:\n  scrape_interval: 1m\notlp:\n  promote_resource_attributes: [host.name]\n",
		"--web.enable-otlp-receiver", "--enable-feature=created-timestamp-zero-ingestion")
	p.OTLPMetricsURL = p.URL + "/api/v1/otlp/v1/metrics"
	return p
}

// prometheus3Path finds Prometheus 3: prometheus3 (scripts/install-test-deps.sh),
// else a prometheus on PATH whose version is 3.x (the NixOS devShell's).
func prometheus3Path() (string, error) {
	if path, err := exec.LookPath("prometheus3"); err == nil {
		return path, nil
	}
	path, err := exec.LookPath("prometheus")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "prometheus, version 3.") {
		return "", fmt.Errorf("%s is not Prometheus 3: %q", path, strings.SplitN(string(out), "\n", 2)[0])
	}
	return path, nil
}

func startPrometheus(t testing.TB, path, configYAML string, flags ...string) *Prometheus {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	cmd := exec.Command(path, append([]string{"--config.file=" + config, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr}, flags...)...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s logs:\n%s", filepath.Base(path), logs)
		}
	})
	p := &Prometheus{URL: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %v\n%s", err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Series is one instant-vector sample of a query result.
type Series struct {
	Labels map[string]string
	Value  string
}

// Query runs an instant PromQL query.
func (p *Prometheus) Query(promql string) ([]Series, error) {
	return p.query(url.Values{"query": {promql}})
}

// QueryAt runs an instant PromQL query evaluated at time at.
func (p *Prometheus) QueryAt(promql string, at time.Time) ([]Series, error) {
	return p.query(url.Values{"query": {promql}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}})
}

func (p *Prometheus) query(params url.Values) ([]Series, error) {
	promql := params.Get("query")
	resp, err := http.Get(p.URL + "/api/v1/query?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", promql, body.Error)
	}
	out := make([]Series, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		out = append(out, Series{Labels: r.Metric, Value: fmt.Sprint(r.Value[1])})
	}
	return out, nil
}

// MetricNames lists every metric name Prometheus has stored.
func (p *Prometheus) MetricNames() ([]string, error) {
	resp, err := http.Get(p.URL + "/api/v1/label/__name__/values")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Data []string `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	return body.Data, err
}

// Raw returns the body of the instant query's answer as is, e.g. a range
// selector's samples, to log when a check fails.
func (p *Prometheus) Raw(promql string, at time.Time) string {
	resp, err := http.Get(p.URL + "/api/v1/query?" + url.Values{"query": {promql},
		"time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}.Encode())
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
