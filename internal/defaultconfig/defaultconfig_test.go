package defaultconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsesDefaultConfig(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--feature-gates=service.profilesSupport"}, true},
		{[]string{"validate"}, true},
		{[]string{"--config", "x.yaml"}, false},
		{[]string{"--config=x.yaml"}, false},
		{[]string{"-config=x.yaml"}, false},
		{[]string{"validate", "--config=x.yaml"}, false},
		{[]string{"components"}, false},
		{[]string{"help"}, false},
		{[]string{"--set=config=x"}, true},
	} {
		if got := usesDefaultConfig(tc.args); got != tc.want {
			t.Errorf("usesDefaultConfig(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/otel-ai-collector:/var/lib/other")
	if got := defaultStateDir(); got != "/var/lib/otel-ai-collector" {
		t.Errorf("with STATE_DIRECTORY: %q", got)
	}
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("XDG_STATE_HOME", "/home/u/.state")
	if got := defaultStateDir(); got != "/home/u/.state/otel-ai-collector" {
		t.Errorf("with XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := defaultStateDir(); got != "/home/u/.local/state/otel-ai-collector" {
		t.Errorf("with HOME only: %q", got)
	}
}

func TestExportStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	t.Setenv(envStateDir, dir)
	t.Setenv(envRemoteEndpoint, "")
	if err := exportStateDir(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir created although remote export is off")
	}

	t.Setenv(envRemoteEndpoint, "http://127.0.0.1:1")
	if err := exportStateDir(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Fatalf("state dir not created: %v", err)
	}

	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envStateDir, filepath.Join(file, "state"))
	err := exportStateDir()
	if err == nil || !strings.Contains(err.Error(), envStateDir) {
		t.Errorf("unusable state dir: error %v should name %s", err, envStateDir)
	}
}

func TestApplyAddsRemoteOverlayOnlyWithEndpoint(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	t.Setenv(envRemoteEndpoint, "")
	args, err := Apply(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--config=" + LocalURI}; strings.Join(args, " ") != strings.Join(want, " ") {
		t.Errorf("without remote: %q, want %q", args, want)
	}
	t.Setenv(envRemoteEndpoint, "http://127.0.0.1:1")
	args, err = Apply([]string{"validate"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"validate", "--config=" + LocalURI, "--config=" + RemoteURI}; strings.Join(args, " ") != strings.Join(want, " ") {
		t.Errorf("with remote: %q, want %q", args, want)
	}
}

func TestApplyExportsHostname(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	t.Setenv(envHostname, "")
	if _, err := Apply([]string{"components"}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.Hostname()
	if got := os.Getenv(envHostname); got != want || got == "" {
		t.Errorf("%s = %q, want the hostname %q", envHostname, got, want)
	}
	t.Setenv(envHostname, "workstation-7")
	if _, err := Apply(nil); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv(envHostname); got != "workstation-7" {
		t.Errorf("a user-set %s was replaced by %q", envHostname, got)
	}
}

func TestAIServiceRegex(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	os.Unsetenv(envAIServices)
	if _, err := Apply(nil); err != nil {
		t.Fatal(err)
	}
	if got, want := os.Getenv(envAIServiceRegex), "^(claude-code|codex|codex-cli|codex_cli_rs|gemini|gemini-cli)$"; got != want {
		t.Errorf("default regex %q, want %q", got, want)
	}

	t.Setenv(envAIServices, " claude-code , my.agent ,")
	if _, err := Apply(nil); err != nil {
		t.Fatal(err)
	}
	if got, want := os.Getenv(envAIServiceRegex), `^(claude-code|my\\.agent)$`; got != want {
		t.Errorf("custom regex %q, want %q", got, want)
	}

	t.Setenv(envAIServices, " , ")
	if _, err := Apply(nil); err == nil || !strings.Contains(err.Error(), envAIServices) {
		t.Errorf("an empty list: error %v should name %s", err, envAIServices)
	}
	t.Setenv(envAIServices, `bad"name`)
	if _, err := Apply(nil); err == nil {
		t.Error("a quote in a service name was accepted")
	}
}
