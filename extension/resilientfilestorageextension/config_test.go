package resilientfilestorageextension

import (
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otel-ai-collector/otel-ai-collector/extension/resilientfilestorageextension/internal/metadata"
)

func TestConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for id, wantErr := range map[component.ID]bool{
		component.NewID(metadata.Type): false,
		// file_storage's own keys, unchanged.
		component.NewIDWithName(metadata.Type, "like_file_storage"): false,
		// This extension moves damaged files aside itself.
		component.NewIDWithName(metadata.Type, "recreate"):    true,
		component.NewIDWithName(metadata.Type, "unknown_key"): true,
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
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	sub, _ := cm.Sub("resilient_file_storage/like_file_storage")
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.FSync || cfg.Compaction == nil || !cfg.Compaction.OnRebound || cfg.Timeout.Seconds() != 2 {
		t.Errorf("file_storage's keys not read: %+v", cfg.Config)
	}
}
