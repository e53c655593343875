package integration

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/pdata/pprofile/pprofileotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// startProfilingCollector runs the embedded default with profiling on,
// forwarding to pyroscope, the ingest endpoint on a free port. extra is added
// to the environment.
func startProfilingCollector(t *testing.T, pyroscope *harness.Pyroscope, extra map[string]string) (*harness.Collector, string) {
	t.Helper()
	ingest := harness.FreeAddr(t)
	env := map[string]string{
		"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
		"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": ingest,
		"OTEL_AI_COLLECTOR_HOSTNAME":                  "workstation-7",
	}
	for k, v := range extra {
		env[k] = v
	}
	c := harness.Start(t, binary, harness.Options{Env: env})
	return c, "http://" + ingest
}

// sdkUpload is a line the pyroscopeclient program prints per upload.
type sdkUpload struct {
	Name   string `json:"name"`
	From   string `json:"from"`
	Until  string `json:"until"`
	Spy    string `json:"spy_name"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// A real Pyroscope Go SDK client pushes CPU profiles to the collector while
// burning CPU in main.burnCPU; Pyroscope (the stand-in) receives them under
// the SDK's service name and labels, as CPU nanoseconds, with the SDK's time
// ranges.
func TestProfilesFromPyroscopeGoSDK(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	_, ingest := startProfilingCollector(t, pyroscope, nil)
	client := harness.BuildProgram(t, "./integration/pyroscopeclient")

	cmd := exec.Command(client, "-server", ingest, "-app", "burner", "-tags", "team=infra,region=eu-1",
		"-duration", "5s", "-upload-rate", "2s",
		"-profile-types", "cpu,alloc_objects,alloc_space,inuse_objects,inuse_space")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyroscopeclient: %v\n%s", err, stderr.String())
	}
	var uploads []sdkUpload
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		var u sdkUpload
		if err := json.Unmarshal(scanner.Bytes(), &u); err != nil {
			t.Fatalf("client output %q: %v", scanner.Text(), err)
		}
		if u.Status != http.StatusOK {
			t.Errorf("the collector answered the SDK %d %s", u.Status, u.Error)
		}
		uploads = append(uploads, u)
	}
	if len(uploads) < 4 {
		t.Fatalf("the SDK uploaded %d times in 5 s at a 2 s rate (CPU and heap), want at least 4", len(uploads))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pushes, err := pyroscope.WaitForPushes(ctx, len(uploads))
	if err != nil {
		t.Fatal(err)
	}
	if len(pushes) != len(uploads) {
		t.Errorf("Pyroscope got %d pushes for %d SDK uploads", len(pushes), len(uploads))
	}
	// Pushes go through a queue with several consumers: match by time range
	// and kind (CPU and heap uploads of one interval share the range).
	byRange := map[string]harness.PyroscopePush{}
	for _, p := range pushes {
		byRange[fmt.Sprintf("%d %d %v", p.From.UnixNano(), p.Until.UnixNano(), isHeap(p.Profile))] = p
	}
	burnSeen, allocSeen, heapPushes := false, false, 0
	for _, u := range uploads {
		heap := strings.Contains(u.Name, "godeltaprof")
		p, ok := byRange[fmt.Sprintf("%s %s %v", u.From, u.Until, heap)]
		if !ok {
			t.Errorf("no push to Pyroscope with the SDK's time range from=%s until=%s (heap: %v)", u.From, u.Until, heap)
			continue
		}
		if heap {
			// Allocation profiles: the four heap sample types and the SDK's
			// sample type config (units, in-use averaged) arrive intact.
			heapPushes++
			for _, st := range []string{"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"} {
				unit := map[bool]string{true: "bytes", false: "count"}[strings.HasSuffix(st, "space")]
				if !hasSampleType(p.Profile, st, unit) {
					t.Errorf("heap push lacks %s/%s: %v", st, unit, p.Profile.SampleType)
				}
			}
			var config map[string]map[string]any
			if err := json.Unmarshal([]byte(p.SampleTypeConfig), &config); err != nil || config["inuse_space"]["aggregation"] != "average" || config["alloc_space"]["units"] != "bytes" {
				t.Errorf("sample_type_config %q (%v), want the SDK's heap config", p.SampleTypeConfig, err)
			}
			allocSeen = allocSeen || harness.HasFunction(p.Profile, "main.allocate")
		} else {
			if !hasSampleType(p.Profile, "cpu", "nanoseconds") {
				t.Errorf("sample types %v, want cpu/nanoseconds among them", p.Profile.SampleType)
			}
			burnSeen = burnSeen || harness.HasFunction(p.Profile, "main.burnCPU")
		}
		if p.Service != "burner" {
			t.Errorf("service %q, want burner (SDK name %q)", p.Service, u.Name)
		}
		for k, v := range map[string]string{"team": "infra", "region": "eu-1", "host.name": "workstation-7", "process.runtime.name": "go"} {
			if p.Labels[k] != v {
				t.Errorf("label %s = %q, want %q (pushed as %q)", k, p.Labels[k], v, p.Name)
			}
		}
		if p.SpyName != "gospy" {
			t.Errorf("spy name %q, want gospy", p.SpyName)
		}
	}
	if !burnSeen {
		t.Error("main.burnCPU is in none of the CPU profiles Pyroscope received")
	}
	if heapPushes == 0 || !allocSeen {
		t.Errorf("%d heap profiles, main.allocate in them: %v", heapPushes, allocSeen)
	}
}

func isHeap(p *profile.Profile) bool { return hasSampleType(p, "alloc_space", "bytes") }

// A push API request shaped like pyroscope-rs's (the engine of the Python
// SDK: gzip, application/proto, __name__ and service_name labels) reaches
// Pyroscope under its service name and labels, as a CPU profile.
func TestPyroscopePushAPIThroughCollector(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	_, ingest := startProfilingCollector(t, pyroscope, nil)
	start := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	body := harness.EncodePushRequest(harness.PushSeries{
		Labels: map[string]string{
			"__name__": "process_cpu", "service_name": "py-indexer", "env": "prod",
			"otel.scope.name": "pyroscope-rs", "process.runtime.name": "python",
		},
		Samples: [][]byte{harness.CPUProfile(t, start)},
	})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(body)
	_ = zw.Close()
	req, err := http.NewRequest(http.MethodPost, ingest+"/push.v1.PusherService/Push", &gz)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push API: %d %s", resp.StatusCode, answer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pushes, err := pyroscope.WaitForPushes(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := pushes[0]
	if got.Service != "py-indexer" || got.Labels["env"] != "prod" || got.Labels["process.runtime.name"] != "python" || got.Labels["host.name"] != "workstation-7" {
		t.Errorf("pushed as %q", got.Name)
	}
	if _, ok := got.Labels["__name__"]; ok {
		t.Errorf("__name__ sent as a label: %q", got.Name)
	}
	if !hasSampleType(got.Profile, "cpu", "nanoseconds") || !harness.HasFunction(got.Profile, "main.burn") {
		t.Errorf("profile lost its CPU samples or functions: %v", got.Profile.SampleType)
	}
	// On by the push API, as the SDK sent it: the pprof's time, __name__,
	// no pyroscope_spy label.
	if got.API != "push" || got.ProfileName != "process_cpu" || got.SpyLabel != "" {
		t.Errorf("stored by %s with __name__ %q and pyroscope_spy %q, want push, process_cpu and none", got.API, got.ProfileName, got.SpyLabel)
	}
	if got.Profile.TimeNanos != start.UnixNano() || got.Profile.DurationNanos != int64(10*time.Second) {
		t.Errorf("time %s + %s, want the pprof's %s + 10s", time.Unix(0, got.Profile.TimeNanos), time.Duration(got.Profile.DurationNanos), start)
	}
}

// Pushes Pyroscope SDKs get wrong are refused by the running collector with
// a 4xx that says why.
func TestPyroscopeIngestRefusesMalformedPushes(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	c, ingest := startProfilingCollector(t, pyroscope, nil)
	for _, tc := range []struct {
		query  string
		body   []byte
		status int
		reason string
	}{
		{"", harness.CPUProfile(t, time.Now()), 400, "name"},
		{"name=app&format=jfr", harness.CPUProfile(t, time.Now()), 415, "pprof"},
		{"name=app", []byte("not a profile"), 400, "pprof"},
		{"name=app&from=1700000010&until=1700000000", harness.CPUProfile(t, time.Now()), 400, "before"},
	} {
		resp, err := http.Post(ingest+"/ingest?"+tc.query, "application/octet-stream", bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(msg.String(), tc.reason) {
			t.Errorf("%q: %d %q, want %d mentioning %q", tc.query, resp.StatusCode, msg.String(), tc.status, tc.reason)
		}
	}
	if n := len(pyroscope.Pushes()); n != 0 {
		t.Errorf("%d malformed pushes reached Pyroscope", n)
	}
	// Counted, so that a misconfigured SDK shows up on the collector's side.
	refused, err := c.Metric("otelcol_receiver_pyroscope_refused_pushes_total", `reason="bad_request"`)
	if err != nil || refused != 4 {
		t.Errorf("otelcol_receiver_pyroscope_refused_pushes_total = %v (%v), want 4", refused, err)
	}
}

// OTLP profiles (as OpenTelemetry profilers send them) go through the OTLP
// receiver and reach Pyroscope under their service name; without one, under
// the executable's name instead of "unknown_service".
func TestOTLPProfilesReachPyroscopeWithServiceName(t *testing.T) {
	pyroscope := harness.StartPyroscope(t)
	c, _ := startProfilingCollector(t, pyroscope, nil)

	conn, err := grpc.NewClient(c.OTLPGRPCEndpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pprofileotlp.NewGRPCClient(conn)
	for _, resource := range []map[string]any{
		{"service.name": "otlp-indexer", "deployment.environment.name": "dev"},
		{"process.executable.name": "batch-worker", "process.pid": 999999},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.Export(ctx, pprofileotlp.NewExportRequestFromProfiles(harness.OTLPCPUProfiles(t, time.Now(), resource)))
		cancel()
		if err != nil {
			t.Fatalf("OTLP profiles export: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pushes, err := pyroscope.WaitForPushes(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]harness.PyroscopePush{}
	for _, p := range pushes {
		services[p.Service] = p
	}
	indexer, ok := services["otlp-indexer"]
	if !ok || indexer.Labels["deployment.environment.name"] != "dev" || indexer.Labels["host.name"] != "workstation-7" {
		t.Errorf("otlp-indexer push missing or mislabeled: %+v", services)
	}
	if ok && !harness.HasFunction(indexer.Profile, "main.burn") {
		t.Error("main.burn missing from the OTLP profile pushed to Pyroscope")
	}
	if _, ok := services["batch-worker"]; !ok {
		t.Errorf("the profile without service.name is not filed under its executable: %v", keys(services))
	}
}

// Pyroscope is down while profiles arrive, and the collector is killed with
// SIGKILL before it comes back: after a restart every profile accepted
// during the outage reaches Pyroscope exactly once, and the pass-through
// consumer saw each one exactly once, while Pyroscope was still down. AI
// telemetry meanwhile reaches otel-ai-monitor without delay.
//
// Both ways the pyroscope receiver hands pushes on: passed through as the
// SDK's bytes (the embedded layer's default) and converted to OTLP profiles
// (what a layer with a real profiles exporter, like this one, should use).
func TestProfilesSurvivePyroscopeOutageAndKill(t *testing.T) {
	for _, passThrough := range []bool{true, false} {
		t.Run(fmt.Sprintf("pass_through_pprof=%v", passThrough), func(t *testing.T) {
			profilesSurvivePyroscopeOutageAndKill(t, passThrough)
		})
	}
}

func profilesSurvivePyroscopeOutageAndKill(t *testing.T, passThrough bool) {
	pyroscope := harness.StartPyroscope(t)
	pyroscope.SetDown(true)
	stateDir := t.TempDir()
	passthrough := filepath.Join(t.TempDir(), "passthrough.jsonl")
	ingest := harness.FreeAddr(t)
	overlay := filepath.Join(t.TempDir(), "passthrough.yaml")
	// The pass-through consumer: profile_forwarding's next consumer writes
	// every batch it gets to a file.
	if err := os.WriteFile(overlay, []byte(fmt.Sprintf(`
receivers:
  pyroscope:
    pass_through_pprof: %v
exporters:
  file/passthrough:
    path: %s
    flush_interval: 100ms
service:
  pipelines:
    profiles:
      exporters: [file/passthrough]
`, passThrough, passthrough)), 0o644); err != nil {
		t.Fatal(err)
	}
	monitor := harness.NewSink(t)
	opts := harness.Options{
		StateDir: stateDir,
		Args:     []string{"--config=embedded:default.yaml", "--config=embedded:profiling.yaml", "--config=file:" + overlay},
		Env: map[string]string{
			"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
			"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": ingest,
			"OTEL_AI_COLLECTOR_MONITOR_ENDPOINT":          monitor.URL,
		},
	}
	c := harness.Start(t, binary, opts)

	const pushes = 30
	for i := range pushes {
		resp, err := http.Post("http://"+ingest+"/ingest?name=outage-app%7Bn%3D"+strconv.Itoa(i)+"%7D",
			"application/octet-stream", bytes.NewReader(harness.CPUProfile(t, time.Now())))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("push %d: %d", i, resp.StatusCode)
		}
	}
	// Wait for the pass-through file, then kill while Pyroscope is down.
	deadline := time.Now().Add(10 * time.Second)
	var seen map[string]int
	for time.Now().Before(deadline) {
		seen = passthroughLabels(t, passthrough)
		if len(seen) == pushes {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(seen) != pushes {
		t.Fatalf("pass-through consumer saw %d of %d profiles", len(seen), pushes)
	}
	for n, count := range seen {
		if count != 1 {
			t.Errorf("pass-through consumer saw n=%s %d times", n, count)
		}
	}
	if got := len(pyroscope.Pushes()); got != 0 {
		t.Fatalf("%d pushes reached Pyroscope while it was down", got)
	}
	// Other signals are not held up by the outage: an AI log record reaches
	// otel-ai-monitor at once while profiles wait in their queue.
	sent := time.Now()
	if status, body, err := harness.PostLogs(c.OTLPHTTPEndpoint, harness.NewLogs("claude-code", "during the Pyroscope outage")); err != nil || status != http.StatusOK {
		t.Fatalf("AI log during the outage: %d %s %v", status, body, err)
	}
	logCtx, logCancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer logCancel()
	if _, err := monitor.WaitFor(logCtx, func(reqs []harness.Request) bool { return len(reqs) > 0 }); err != nil {
		t.Fatalf("the AI log did not reach the monitor within 2 s of a Pyroscope outage: %v", err)
	}
	t.Logf("AI log at the monitor %s after it was sent, Pyroscope down", time.Since(sent).Round(time.Millisecond))
	c.Kill()

	pyroscope.SetDown(false)
	harness.Start(t, binary, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got, err := pyroscope.WaitForPushes(ctx, pushes)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let any duplicate arrive
	got = pyroscope.Pushes()
	delivered := map[string]int{}
	for _, p := range got {
		delivered[p.Labels["n"]]++
	}
	for i := range pushes {
		if count := delivered[strconv.Itoa(i)]; count != 1 {
			t.Errorf("profile n=%d reached Pyroscope %d times, want exactly once", i, count)
		}
	}
	if len(got) != pushes {
		t.Errorf("Pyroscope got %d pushes, want %d", len(got), pushes)
	}
}

// passthroughLabels reads the file exporter's JSON lines and counts the
// profiles by their resource attribute n.
func passthroughLabels(t *testing.T, path string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	counts := map[string]int{}
	unmarshaler := &pprofile.JSONUnmarshaler{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		batch, err := unmarshaler.UnmarshalProfiles(line)
		if err != nil {
			continue // a line the exporter is still writing
		}
		for _, rp := range batch.ResourceProfiles().All() {
			n, _ := rp.Resource().Attributes().Get("n")
			counts[n.AsString()]++
		}
	}
	return counts
}

func hasSampleType(p *profile.Profile, typ, unit string) bool {
	for _, st := range p.SampleType {
		if st.Type == typ && st.Unit == unit {
			return true
		}
	}
	return false
}
