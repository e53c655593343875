package procinfo

import "testing"

func TestUnitFromCgroup(t *testing.T) {
	for cgroup, want := range map[string]string{
		"0::/system.slice/nginx.service\n": "nginx.service",
		"0::/user.slice/user-1000.slice/user@1000.service/app.slice/otel-ai-monitor.service\n": "otel-ai-monitor.service",
		"0::/user.slice/user-1000.slice/user@1000.service/init.scope\n":                        "init.scope",
		"0::/user.slice/user-1000.slice/session-3.scope\n":                                     "",
		"0::/\n": "",
	} {
		if got := UnitFromCgroup(cgroup); got != want {
			t.Errorf("UnitFromCgroup(%q) = %q, want %q", cgroup, got, want)
		}
	}
}
