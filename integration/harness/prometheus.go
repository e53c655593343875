package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Prometheus is a real Prometheus server (Debian package prometheus) on a
// loopback port with its remote-write receiver on, standing in for Mimir.
type Prometheus struct {
	URL string // base URL; remote write goes to URL + "/api/v1/write"
}

// StartPrometheus starts Prometheus with an empty scrape configuration and
// stops it when the test ends.
func StartPrometheus(t testing.TB) *Prometheus {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is needed: apt-get install prometheus (%v)", err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte("global:\n  scrape_interval: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	cmd := exec.Command(path, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", logs)
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
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(promql))
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
