package defaultconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfigKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", "receivers: {otlp: {}}\nservice:\n  pipelines:\n    logs/x: {receivers: [otlp]}\n")
	for _, tc := range []struct {
		args []string
		want string // "" accepts
	}{
		{[]string{"validate", "--config", good}, ""},
		{[]string{"--config=embedded:default.yaml", "--config=file:" + good}, ""},
		{[]string{"--config", write("top.yaml", "recievers: {}\n")}, `top.yaml: unknown key recievers: did you mean "receivers"?`},
		{[]string{"--config=file:" + write("svc.yaml", "service: {pipeline: {}}\n")}, `svc.yaml: unknown key service::pipeline: did you mean "pipelines"?`},
		{[]string{"--config", write("sig.yaml", "service: {pipelines: {trace/a: {}}}\n")}, `sig.yaml: service::pipelines::trace/a: "trace" is not a signal: did you mean "traces"?`},
		{[]string{"--config", write("far.yaml", "wibble: {}\n")}, "far.yaml: unknown key wibble (known: receivers"},
		{[]string{"--config", filepath.Join(dir, "missing.yaml")}, ""}, // the collector says it is missing
	} {
		err := checkConfigKeys(tc.args)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
