package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// The eBPF profiling tests run the real profiler (the `profiling` receiver of
// go.opentelemetry.io/ebpf-profiler) in the built binary, as root, against
// real Python, Go and Node processes the test starts. The profiler samples
// every process on the machine; the test looks only at its own programs,
// which carry names no other process has.

// ebpfProfilingRate is samples_per_second in config/profiling-ebpf.yaml.
const ebpfProfilingRate = 20

// tracefsMounted reports whether the profiler's tracepoints can be found.
func tracefsMounted() bool {
	_, err := os.Stat("/sys/kernel/tracing/events")
	return err == nil
}

// wrapCollector writes a script that runs the collector binary after
// prefix (shell words), e.g. in a private mount namespace with tracefs
// mounted, and returns its path. unshare and setpriv exec in place, so the
// collector keeps the script's pid and the harness signals it directly.
func wrapCollector(t *testing.T, prefix string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "collector.sh")
	script := "#!/bin/sh\n" + prefix + " " + binary + ` "$@"` + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// withTracefs is the wrapCollector prefix that gives the collector tracefs:
// none where it is mounted; else a mount namespace of its own with tracefs
// mounted (what the NixOS unit does with its own mount namespace).
func withTracefs() string {
	if tracefsMounted() {
		return "exec"
	}
	return `exec unshare -m sh -c 'mount -t tracefs nodev /sys/kernel/tracing && exec "$0" "$@"'`
}

// burner is one busy program the test started.
type burner struct {
	service  string // the service_name it must be stored under
	function string // a function of its own that must be on its stacks
	cmd      *exec.Cmd
	cpu      time.Duration // CPU time when it was stopped
	// early is its CPU time a few seconds after it started: the profiler
	// needs a moment to load a new process's executables before it can
	// unwind its stacks, more on a busy machine.
	early time.Duration
}

// startBurners starts a Python script, a Node script and a copy of the Go
// cpuburner, each under a name unique to this run, each burning 25 ms of
// CPU in a function of its own, then sleeping a random 50 to 100 ms: a
// fixed rhythm would lock onto the profiler's 20 Hz and bias the counts.
func startBurners(t *testing.T) []*burner {
	t.Helper()
	var id [4]byte
	_, _ = rand.Read(id[:])
	suffix := hex.EncodeToString(id[:])
	dir := t.TempDir()

	// The interpreter itself, not a pyenv shim in front of it.
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	python := strings.TrimSpace(string(out))
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}

	pyScript := filepath.Join(dir, "busy_py_"+suffix+".py")
	write(t, pyScript, `import random, time

def burn_python_cpu(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(1000):
            x += i * i
    return x

while True:
    burn_python_cpu(0.025)
    time.sleep(random.uniform(0.05, 0.1))
`)
	jsScript := filepath.Join(dir, "busy_js_"+suffix+".js")
	write(t, jsScript, `function burnNodeCPU(ms) {
  const end = process.cpuUsage().user + ms * 1000;
  let x = 0;
  while (process.cpuUsage().user < end) {
    for (let i = 0; i < 10000; i++) x += i * i;
  }
  return x;
}
function tick() { burnNodeCPU(25); setTimeout(tick, 50 + Math.random() * 50); }
tick();
`)
	goBinary := filepath.Join(dir, "busy_go_"+suffix)
	built := harness.BuildProgram(t, "./integration/cpuburner")
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goBinary, data, 0o755); err != nil {
		t.Fatal(err)
	}

	burners := []*burner{
		{service: "busy_py_" + suffix, function: "burn_python_cpu", cmd: exec.Command(python, pyScript)},
		{service: "busy_js_" + suffix, function: "burnNodeCPU", cmd: exec.Command(node, jsScript)},
		{service: "busy_go_" + suffix, function: "main.burnGoCPU", cmd: exec.Command(goBinary, "-busy", "25ms")},
	}
	for _, b := range burners {
		var stderr bytes.Buffer
		b.cmd.Stderr = &stderr
		if err := b.cmd.Start(); err != nil {
			t.Fatalf("%s: %v", b.service, err)
		}
		cmd := b.cmd
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	return burners
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hasFunctionContaining reports whether a sample has a function whose name
// contains name (interpreters qualify names by module or file).
func hasFunctionContaining(p *profile.Profile, name string) bool {
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && strings.Contains(line.Function.Name, name) {
					return true
				}
			}
		}
	}
	return false
}

// sampleCount is how many times the profiler sampled a profile's stacks:
// the sum of its first sample value (samples/count).
func sampleCount(p *profile.Profile) int64 {
	var n int64
	for _, s := range p.Sample {
		if len(s.Value) > 0 {
			n += s.Value[0]
		}
	}
	return n
}

// Busy Python, Node and Go programs started by the test are profiled with
// eBPF, without an SDK: Pyroscope (the stand-in) stores each under its own
// service name (the script's name for the interpreters, the executable's for
// Go) with host.name, with the program's own function on its stacks, in at
// most one push per service per report interval, with as many samples as
// 20 Hz x the CPU time the kernel accounted to it.
func TestProfilingEBPFWholeHost(t *testing.T) {
	requireRoot(t)
	pyroscope := harness.StartPyroscope(t)
	c := harness.Start(t, wrapCollector(t, withTracefs()), harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
		"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_HOSTNAME":                  "workstation-7",
		"OTEL_AI_COLLECTOR_PROFILING":                 "ebpf",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitForLog(ctx, "Attached tracer program"); err != nil {
		t.Fatalf("the profiler did not attach: %v", err)
	}
	if strings.Contains(c.Logs(), "continuing without profiling") {
		t.Fatalf("the profiler did not start:\n%s", c.Logs())
	}

	burners := startBurners(t)
	started := time.Now()
	const run = 30 * time.Second
	const settle = 5 * time.Second
	time.Sleep(settle)
	for _, b := range burners {
		cpu, err := harness.ProcessCPU(b.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		b.early = cpu
	}
	time.Sleep(run - settle)
	for _, b := range burners {
		cpu, err := harness.ProcessCPU(b.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		b.cpu = cpu
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
	stopped := time.Now()
	// The last report comes within one interval (15 s, 20 % jitter) after
	// the programs stopped.
	time.Sleep(20 * time.Second)
	elapsed := time.Since(started)

	var totalSamples int64
	var totalAll, totalSettled float64
	defer func() {
		t.Logf("all three: %d samples: %.1f%% of 20 Hz x all their CPU time, %.1f%% of it after the first seconds",
			totalSamples, 100*float64(totalSamples)/totalAll, 100*float64(totalSamples)/totalSettled)
		if float64(totalSamples) < 0.9*totalSettled || float64(totalSamples) > 1.1*totalAll {
			t.Errorf("all three: %d samples, want %.0f..%.0f (+-10%%)", totalSamples, 0.9*totalSettled, 1.1*totalAll)
		}
	}()
	byService := map[string][]harness.PyroscopePush{}
	for _, p := range pyroscope.Pushes() {
		byService[p.Service] = append(byService[p.Service], p)
	}
	for _, b := range burners {
		pushes := byService[b.service]
		if len(pushes) == 0 {
			var services []string
			for s := range byService {
				services = append(services, s)
			}
			t.Errorf("%s: nothing stored under its name; services stored: %v", b.service, services)
			continue
		}
		var samples int64
		found := false
		for _, p := range pushes {
			if p.Labels["host.name"] != "workstation-7" {
				t.Errorf("%s: host.name %q, labels %v", b.service, p.Labels["host.name"], p.Labels)
			}
			samples += sampleCount(p.Profile)
			found = found || hasFunctionContaining(p.Profile, b.function)
		}
		if !found {
			t.Errorf("%s: no stack has %s; functions: %v", b.service, b.function, functionNames(pushes[0].Profile, 30))
		}
		// One push per service per report: the programs ran across at most
		// ceil(elapsed / 15 s) + 1 reports.
		maxPushes := int(elapsed/(15*time.Second)) + 2
		if len(pushes) > maxPushes {
			t.Errorf("%s: %d pushes in %s, want at most %d (one per 15 s report)", b.service, len(pushes), elapsed.Round(time.Second), maxPushes)
		}
		// Sampling is statistical: about 140 samples a program have a
		// standard deviation near 7 %, so each program is held to +-25 %
		// and the three together (about 420) to +-10 %. At least 20 Hz x
		// the CPU time after the first seconds (the profiler loads a new
		// process's executables first), at most 20 Hz x all of it.
		all := float64(ebpfProfilingRate) * b.cpu.Seconds()
		settled := float64(ebpfProfilingRate) * (b.cpu - b.early).Seconds()
		totalSamples += samples
		totalAll += all
		totalSettled += settled
		t.Logf("%s: %d pushes, %d samples for %s CPU in %s: %.1f%% of %.0f (20 Hz x all its CPU time), %.1f%% of %.0f (after the first %s); labels %v",
			b.service, len(pushes), samples, b.cpu, stopped.Sub(started).Round(time.Second),
			100*float64(samples)/all, all, 100*float64(samples)/settled, settled, settle, pushes[0].Labels)
		if float64(samples) < 0.75*settled || float64(samples) > 1.25*all {
			t.Errorf("%s: %d samples, want %.0f..%.0f (20 Hz x its CPU time after the first %s .. in all, +-25%%)", b.service, samples, 0.75*settled, 1.25*all, settle)
		}
	}
}

func functionNames(p *profile.Profile, most int) []string {
	var names []string
	for _, f := range p.Function {
		if len(names) == most {
			break
		}
		names = append(names, f.Name)
	}
	return names
}

// Without the privileges eBPF needs (here: root with every capability
// dropped), the profiler logs one line that says it failed and why, and the
// collector keeps running: a Pyroscope SDK's pushes still reach Pyroscope.
// Without tracefs, the same with tracefs named.
func TestProfilingEBPFUnavailableCollectorRuns(t *testing.T) {
	requireRoot(t)
	cases := map[string]struct{ prefix, why string }{
		"no capabilities": {prefix: "exec setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all", why: "check capabilities"},
	}
	if !tracefsMounted() {
		cases["no tracefs"] = struct{ prefix, why string }{prefix: "exec", why: "neither debugfs nor tracefs are mounted"}
	}
	client := harness.BuildProgram(t, "./integration/pyroscopeclient")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pyroscope := harness.StartPyroscope(t)
			ingest := harness.FreeAddr(t)
			c := harness.Start(t, wrapCollector(t, tc.prefix), harness.Options{Env: map[string]string{
				"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
				"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": ingest,
				"OTEL_AI_COLLECTOR_PROFILING":                 "ebpf",
			}})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const failed = "eBPF profiler receiver failed, continuing without profiling"
			if err := c.WaitForLog(ctx, failed); err != nil {
				t.Fatalf("no %q line: %v", failed, err)
			}
			var line string
			for _, l := range strings.Split(c.Logs(), "\n") {
				if strings.Contains(l, failed) {
					line = l
				}
			}
			if !strings.Contains(line, tc.why) {
				t.Errorf("the error line does not say %q:\n%s", tc.why, line)
			}
			if n := strings.Count(c.Logs(), "\terror\t"); n != 1 {
				t.Errorf("%d error lines, want the one:\n%s", n, c.Logs())
			}
			t.Logf("logged: %s", line[:min(len(line), 300)])

			cmd := exec.Command(client, "-server", "http://"+ingest, "-app", "still-profiled", "-duration", "3s", "-upload-rate", "1s", "-profile-types", "cpu")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("pyroscopeclient: %v\n%s", err, out)
			}
			wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer wcancel()
			if _, err := pyroscope.WaitForPushes(wctx, 1); err != nil {
				t.Fatalf("SDK pushes did not reach Pyroscope with the profiler unavailable: %v", err)
			}
			if c.Exited() {
				t.Fatal("the collector exited")
			}
		})
	}
}

// With OTEL_AI_COLLECTOR_PROFILING_EXECUTABLE_REGEX naming the test's Go
// program, only its profiles reach Pyroscope: not the test's Python and
// Node programs, nor any other process on the machine.
func TestProfilingEBPFSelectsByExecutable(t *testing.T) {
	requireRoot(t)
	burners := startBurners(t)
	goBurner := burners[2]
	pyroscope := harness.StartPyroscope(t)
	c := harness.Start(t, wrapCollector(t, withTracefs()), harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":         pyroscope.URL,
		"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT":  harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_PROFILING":                  "ebpf",
		"OTEL_AI_COLLECTOR_PROFILING_EXECUTABLE_REGEX": "^" + goBurner.service + "$",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitForLog(ctx, "Attached tracer program"); err != nil {
		t.Fatalf("the profiler did not attach: %v", err)
	}
	// Two reports (15 s each, 20 % jitter).
	wctx, wcancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer wcancel()
	if _, err := pyroscope.WaitForPushes(wctx, 2); err != nil {
		t.Fatalf("fewer than 2 pushes: %v", err)
	}
	for _, p := range pyroscope.Pushes() {
		if p.Service != goBurner.service {
			t.Errorf("stored %s, which the selection does not select", p.Service)
		} else if !hasFunctionContaining(p.Profile, goBurner.function) {
			t.Errorf("%s: no %s on its stacks", p.Service, goBurner.function)
		}
	}
}

// The eBPF profiler's pushes take the same persistent queue as SDK pushes:
// with Pyroscope down, the reports of the test's Go program are queued; the
// collector is killed with SIGKILL and restarted on the same state
// directory with Pyroscope back; every report arrives exactly once (no two
// pushes with the same time range), with as many samples as 20 Hz x the
// program's CPU time.
func TestProfilingEBPFSurvivesOutageAndKill(t *testing.T) {
	requireRoot(t)
	burners := startBurners(t)
	goBurner := burners[2]
	for _, b := range burners[:2] {
		_ = b.cmd.Process.Kill()
	}
	pyroscope := harness.StartPyroscope(t)
	pyroscope.SetDown(true)
	stateDir := t.TempDir()
	env := map[string]string{
		"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":         pyroscope.URL,
		"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT":  harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_PROFILING":                  "ebpf",
		"OTEL_AI_COLLECTOR_PROFILING_EXECUTABLE_REGEX": "^" + goBurner.service + "$",
	}
	wrapper := wrapCollector(t, withTracefs())
	c := harness.Start(t, wrapper, harness.Options{Env: env, StateDir: stateDir})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitForLog(ctx, "Attached tracer program"); err != nil {
		t.Fatalf("the profiler did not attach: %v", err)
	}
	cpuAtAttach, err := harness.ProcessCPU(goBurner.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Second)
	cpuAtStop, err := harness.ProcessCPU(goBurner.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	_ = goBurner.cmd.Process.Kill()
	_ = goBurner.cmd.Wait()
	// The report holding the last samples is queued within one interval.
	time.Sleep(20 * time.Second)
	if n := len(pyroscope.Pushes()); n != 0 {
		t.Fatalf("%d pushes stored while Pyroscope was down", n)
	}
	c.Kill()

	pyroscope.SetDown(false)
	restarted := harness.Start(t, wrapper, harness.Options{Env: env, StateDir: stateDir})
	wctx, wcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer wcancel()
	if _, err := pyroscope.WaitForPushes(wctx, 2); err != nil {
		t.Fatalf("the queued reports did not arrive after the restart: %v\n%s", err, restarted.Logs())
	}
	time.Sleep(10 * time.Second) // anything sent twice would be here by now

	seen := map[string]int{}
	var samples int64
	for _, p := range pyroscope.Pushes() {
		if p.Service != goBurner.service {
			t.Errorf("stored %s, not selected", p.Service)
			continue
		}
		seen[p.From.String()+"/"+p.Until.String()]++
		samples += sampleCount(p.Profile)
	}
	for r, n := range seen {
		if n > 1 {
			t.Errorf("the push of %s stored %d times", r, n)
		}
	}
	// The program ran before the profiler attached too; the samples cover
	// at least its CPU time from the attach on, at most all of it.
	least := float64(ebpfProfilingRate) * (cpuAtStop - cpuAtAttach).Seconds()
	most := float64(ebpfProfilingRate) * cpuAtStop.Seconds()
	t.Logf("%d pushes, %d samples; 20 Hz x CPU time from the attach %.0f, in all %.0f", len(seen), samples, least, most)
	if float64(samples) < 0.9*least || float64(samples) > 1.1*most {
		t.Errorf("%d samples, want %.0f..%.0f (20 Hz x CPU time, +-10%%)", samples, 0.9*least, 1.1*most)
	}
}

// intoUnitCgroup moves a process into a cgroup v2 named like a systemd
// service unit, which is what /proc/PID/cgroup shows for a process systemd
// runs in that unit. This machine has no systemd as PID 1, so the test
// makes the cgroup itself (cgroup2 mounted in a private mount namespace)
// and removes it at the end.
func intoUnitCgroup(t *testing.T, pid int, unit string) {
	t.Helper()
	dir := t.TempDir()
	run := func(script string) error {
		out, err := exec.Command("unshare", "-m", "sh", "-c", "mount -t cgroup2 none "+dir+" && "+script).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := run(fmt.Sprintf("mkdir %s/%s && echo %d > %s/%s/cgroup.procs", dir, unit, pid, dir, unit)); err != nil {
		t.Skipf("cannot make a cgroup v2 for %s: %v", unit, err)
	}
	t.Cleanup(func() {
		if err := run(fmt.Sprintf("rmdir %s/%s", dir, unit)); err != nil {
			t.Logf("removing the cgroup %s: %v", unit, err)
		}
	})
}

// A process in a systemd service unit is stored under the unit's name (not
// its script's), and OTEL_AI_COLLECTOR_PROFILING_UNITS selects it by unit.
func TestProfilingEBPFNamesAndSelectsByUnit(t *testing.T) {
	requireRoot(t)
	burners := startBurners(t)
	python := burners[0]
	for _, b := range burners[1:] {
		_ = b.cmd.Process.Kill()
	}
	unit := strings.Replace(python.service, "busy_py_", "aitest-", 1)
	// Killed before the cgroup is removed (cleanups run last in, first out).
	intoUnitCgroup(t, python.cmd.Process.Pid, unit+".service")
	t.Cleanup(func() { _ = python.cmd.Process.Kill(); _ = python.cmd.Wait() })

	pyroscope := harness.StartPyroscope(t)
	c := harness.Start(t, wrapCollector(t, withTracefs()), harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_PYROSCOPE_ENDPOINT":        pyroscope.URL,
		"OTEL_AI_COLLECTOR_PYROSCOPE_INGEST_ENDPOINT": harness.FreeAddr(t),
		"OTEL_AI_COLLECTOR_PROFILING":                 "ebpf",
		"OTEL_AI_COLLECTOR_PROFILING_UNITS":           unit + ".service",
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.WaitForLog(ctx, "Attached tracer program"); err != nil {
		t.Fatalf("the profiler did not attach: %v", err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer wcancel()
	if _, err := pyroscope.WaitForPushes(wctx, 2); err != nil {
		t.Fatalf("fewer than 2 pushes: %v", err)
	}
	for _, p := range pyroscope.Pushes() {
		if p.Service != unit {
			t.Errorf("stored %s; want only %s (the unit of the selected process)", p.Service, unit)
		} else if !hasFunctionContaining(p.Profile, python.function) {
			t.Errorf("%s: no %s on its stacks", p.Service, python.function)
		}
	}
}
