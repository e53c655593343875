package profileforwardingprocessor

import (
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestUnitFromCgroup(t *testing.T) {
	for cgroup, want := range map[string]string{
		"0::/system.slice/nginx.service\n":                                                "nginx",
		"0::/user.slice/user-1000.slice/user@1000.service/app.slice/worker.service\n":     "worker",
		"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo-1234.scope\n": "user@1000",
		"0::/user.slice/user-1000.slice/session-2.scope\n":                                "",
		"12:pids:/system.slice/old.service\n0::/system.slice/otel-ai-collector.service\n": "otel-ai-collector",
	} {
		if got := unitFromCgroup(cgroup); got != want {
			t.Errorf("%q: got %q, want %q", cgroup, got, want)
		}
	}
}

func TestServiceNameSources(t *testing.T) {
	procRoot := t.TempDir()
	if err := os.MkdirAll(filepath.Join(procRoot, "42"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(procRoot, "42", "cgroup"), []byte("0::/system.slice/indexer.service\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &naming{defaultServiceName: "fallback", hostName: "ws1", procRoot: procRoot}
	cases := []struct {
		name  string
		attrs map[string]any
		want  string
	}{
		{"service.name wins", map[string]any{"service.name": "api", "process.pid": 42}, "api"},
		{"SDK default gives way to the unit", map[string]any{"service.name": "unknown_service:python3", "process.pid": 42}, "indexer"},
		{"unit of a local pid", map[string]any{"process.pid": 42, "process.executable.name": "python3"}, "indexer"},
		{"no unit lookup for another host", map[string]any{"host.name": "other", "process.pid": 42, "process.executable.name": "python3"}, "python3"},
		{"executable path", map[string]any{"process.executable.path": "/usr/bin/ruby3.3"}, "ruby3.3"},
		{"SDK default kept when nothing better (\":\" is not allowed)", map[string]any{"service.name": "unknown_service:java"}, "unknown_service_java"},
		{"configured fallback", map[string]any{}, "fallback"},
		{"sanitized", map[string]any{"service.name": "my app{1}"}, "my_app_1_"},
	}
	for _, tc := range cases {
		attrs := pcommon.NewMap()
		if err := attrs.FromRaw(tc.attrs); err != nil {
			t.Fatal(err)
		}
		if got := n.serviceName(attrs); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	n := &naming{hostName: "ws1", exclude: map[string]bool{"process.pid": true}}
	attrs := pcommon.NewMap()
	_ = attrs.FromRaw(map[string]any{
		"service.name": "api", "service_name": "x", "__name__": "y", "process.pid": 7,
		"env": "prod,eu", "deployment.environment.name": "staging", "weird-key": "v", "nested": map[string]any{"a": 1},
	})
	got := n.labels(attrs)
	want := map[string]string{"env": "prod_eu", "deployment.environment.name": "staging", "weird_key": "v", "host.name": "ws1"}
	if len(got) != len(want) {
		t.Fatalf("labels %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if name := appName("api", got); name != "api{deployment.environment.name=staging,env=prod_eu,host.name=ws1,weird_key=v}" {
		t.Errorf("app name %q", name)
	}
}
