package ebpfreceiver

import (
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func loadConfig(t *testing.T, id string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(id)
	if err != nil {
		t.Fatal(err)
	}
	cfg := createDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestConfig(t *testing.T) {
	cfg := loadConfig(t, "ebpf_network")
	if err := confmap.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Ports) != 2 || cfg.ExecutableRegex == "" || len(cfg.SystemdUnits) != 2 || !cfg.TCPConnections || !cfg.HTTP.Enabled {
		t.Errorf("unexpected config %+v", cfg)
	}

	err := confmap.Validate(loadConfig(t, "ebpf_network/invalid"))
	for _, want := range []string{"ports: 0 is not a TCP port", "ports: 70000", "executable_regex", "both http and tcp_connections are off"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v should mention %q", err, want)
		}
	}
	if err := confmap.Validate(createDefaultConfig()); err == nil || !strings.Contains(err.Error(), "no process selected") {
		t.Errorf("the default config selects nothing and must say so, got %v", err)
	}
}

func TestListeningSockets(t *testing.T) {
	got := map[string]uint16{}
	if err := listeningSockets("testdata/proc/net/tcp", got); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint16{"41234": 8080, "1800": 22} // the established socket is not listening
	if len(got) != len(want) || got["41234"] != 8080 || got["1800"] != 22 {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSelector(t *testing.T) {
	s := newSelector(loadConfig(t, "ebpf_network"))
	for _, tc := range []struct {
		p    process
		want bool
	}{
		{process{pid: 10, exe: "curl"}, true},
		{process{pid: 11, exe: "python3.11"}, true},
		{process{pid: 12, exe: "bash"}, false},
		{process{pid: 13, exe: "node", unit: "ipc-daemon.service"}, true},
		{process{pid: 14, exe: "node", unit: "other.service"}, false},
	} {
		if got := s.selectsProcess(tc.p); got != tc.want {
			t.Errorf("selectsProcess(%+v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if (process{exe: "python3.11", unit: "ipc-daemon.service"}).serviceName() != "ipc-daemon" {
		t.Error("service.name should come from the unit, without .service")
	}
	if (process{exe: "python3.11"}).serviceName() != "python3.11" {
		t.Error("service.name should fall back to the executable")
	}
}
