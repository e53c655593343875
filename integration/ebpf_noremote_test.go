package integration

import (
	"strings"
	"testing"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// eBPF selectors set, but no remote export: the embedded default leaves the
// receiver off (its spans go only to the remote path) and says so, naming
// the variables that would turn it on.
func TestEBPFWithoutRemoteExportWarns(t *testing.T) {
	c := harness.Start(t, binary, harness.Options{Env: map[string]string{
		"OTEL_AI_COLLECTOR_EBPF_PORTS":      "8080",
		"OTEL_AI_COLLECTOR_REMOTE_ENDPOINT": "",
		"OTEL_AI_COLLECTOR_REMOTE_CONFIG":   "",
	}})
	logs := c.Logs()
	for _, want := range []string{"eBPF spans are off", "OTEL_AI_COLLECTOR_REMOTE_ENDPOINT", "OTEL_AI_COLLECTOR_REMOTE_CONFIG"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs do not say %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "eBPF spans are off"); n != 1 {
		t.Errorf("the warning is printed %d times, want once", n)
	}
	if strings.Contains(logs, "ebpf_network: observing") {
		t.Errorf("the receiver started without remote export")
	}
}
