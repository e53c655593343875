// Package embeddedprovider is a confmap provider for the "embedded" scheme:
// "embedded:default.yaml" resolves to config/default.yaml as compiled into the
// binary. It lets the collector run with no --config flag and no files on
// disk. No stock provider can read a Go embed.FS, which is why it is in-house.
package embeddedprovider

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otel-ai-collector/otel-ai-collector/config"
)

const schemeName = "embedded"

type provider struct {
	files fs.FS
}

// NewFactory returns a factory for the "embedded" provider over config.Files.
func NewFactory() confmap.ProviderFactory {
	return confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider {
		return &provider{files: config.Files}
	})
}

func (p *provider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	name, ok := strings.CutPrefix(uri, schemeName+":")
	if !ok {
		return nil, fmt.Errorf("%q uri is not supported by %q provider", uri, schemeName)
	}
	content, err := fs.ReadFile(p.files, name)
	if err != nil {
		return nil, fmt.Errorf("no embedded configuration named %q (available: %s)", name, strings.Join(p.names(), ", "))
	}
	return confmap.NewRetrievedFromYAML(content)
}

func (p *provider) names() []string {
	names, _ := fs.Glob(p.files, "*.yaml")
	return names
}

func (*provider) Scheme() string { return schemeName }

func (*provider) Shutdown(context.Context) error { return nil }
