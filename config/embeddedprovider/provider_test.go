package embeddedprovider

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"
)

func TestRetrieveEmbeddedDefault(t *testing.T) {
	p := NewFactory().Create(confmap.ProviderSettings{})
	if p.Scheme() != "embedded" {
		t.Fatalf("scheme %q, want embedded", p.Scheme())
	}
	retrieved, err := p.Retrieve(context.Background(), "embedded:default.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := retrieved.AsConf()
	if err != nil {
		t.Fatal(err)
	}
	if !conf.IsSet("receivers::otlp::protocols::http::endpoint") {
		t.Errorf("embedded default has no OTLP/HTTP endpoint: %v", conf.AllKeys())
	}
}

func TestRetrieveUnknownNameListsAvailable(t *testing.T) {
	p := NewFactory().Create(confmap.ProviderSettings{})
	_, err := p.Retrieve(context.Background(), "embedded:nope.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), `"nope.yaml"`) || !strings.Contains(err.Error(), "default.yaml") {
		t.Fatalf("error %v should name the missing file and list default.yaml", err)
	}
}

func TestRetrieveRejectsOtherSchemes(t *testing.T) {
	p := NewFactory().Create(confmap.ProviderSettings{})
	if _, err := p.Retrieve(context.Background(), "file:default.yaml", nil); err == nil {
		t.Fatal("a file: URI was accepted by the embedded provider")
	}
}
