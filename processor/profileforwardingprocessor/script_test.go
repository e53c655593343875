package profileforwardingprocessor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestScriptFromArgs(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"python3.11", "/opt/tools/indexer.py", "--fast"}, "indexer"},
		{[]string{"python3", "-u", "-X", "dev", "worker.py"}, "worker"},
		{[]string{"python3", "-m", "http.server", "8000"}, "http.server"},
		{[]string{"python3", "-c", "print(1)"}, ""},
		{[]string{"python3"}, ""},
		{[]string{"node", "--require", "./trace.js", "/srv/app/server.mjs"}, "server"},
		{[]string{"node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "install"}, "npm-cli"},
		{[]string{"node", "-e", "1"}, ""},
		{[]string{"ruby", "bin/rails"}, "rails"},
	} {
		if got := scriptFromArgs(tc.argv); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.argv, got, tc.want)
		}
	}
}

// A real python3 process running a script is named after the script, from
// its /proc/PID/cmdline; not after the interpreter.
func TestScriptOfRunningInterpreter(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	script := filepath.Join(t.TempDir(), "nightly_report.py")
	if err := os.WriteFile(script, []byte("import time\ntime.sleep(30)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The interpreter itself, not a shim (pyenv) that runs it.
	out, err := exec.Command(python, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(string(out[:len(out)-1]), script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(100 * time.Millisecond)
	exe, err := os.Readlink("/proc/" + itoa(cmd.Process.Pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}

	n := &naming{defaultServiceName: "unknown_service", hostName: "ws1", procRoot: "/proc"}
	attrs := pcommon.NewMap()
	attrs.PutInt("process.pid", int64(cmd.Process.Pid))
	attrs.PutStr("process.executable.name", filepath.Base(exe))
	if got := n.serviceName(attrs); got != "nightly_report" {
		t.Errorf("service name %q, want nightly_report (executable %s)", got, filepath.Base(exe))
	}
	// Its last report comes after it ended: the same name.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if got := n.serviceName(attrs); got != "nightly_report" {
		t.Errorf("after the process ended: %q, want nightly_report as while it ran", got)
	}
	// From another host the local /proc says nothing.
	attrs.PutStr("host.name", "elsewhere")
	if got := n.serviceName(attrs); got != sanitizeServiceName(filepath.Base(exe)) {
		t.Errorf("another host's profile: %q, want the executable", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
