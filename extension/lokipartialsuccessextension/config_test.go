package lokipartialsuccessextension

import (
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-ai-collector/otel-ai-collector/extension/lokipartialsuccessextension/internal/metadata"
)

func TestConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for id, wantErr := range map[component.ID]bool{
		component.NewID(metadata.Type):                        false,
		component.NewIDWithName(metadata.Type, "unknown_key"): true, // it has no settings
	} {
		sub, err := cm.Sub(id.String())
		if err != nil {
			t.Fatal(err)
		}
		cfg := NewFactory().CreateDefaultConfig()
		err = sub.Unmarshal(cfg)
		if err == nil {
			err = confmap.Validate(cfg)
		}
		if (err != nil) != wantErr {
			t.Errorf("%s: error %v, want an error: %v", id, err, wantErr)
		}
	}
}
