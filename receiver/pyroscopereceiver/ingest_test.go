package pyroscopereceiver

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

func TestParseAppName(t *testing.T) {
	service, labels, err := parseAppName("checkout-api{env=prod, region = eu-1,otel.scope.name=com.grafana.pyroscope/go}")
	if err != nil {
		t.Fatal(err)
	}
	if service != "checkout-api" {
		t.Errorf("service = %q", service)
	}
	want := map[string]string{"env": "prod", "region": "eu-1", "otel.scope.name": "com.grafana.pyroscope/go"}
	if len(labels) != len(want) {
		t.Errorf("labels = %v, want %v", labels, want)
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}

	for _, name := range []string{"app", "app{}", "my.app/worker_1"} {
		if _, _, err := parseAppName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestParseIngestRefusesMalformedPushes(t *testing.T) {
	good := harness.CPUProfile(t, time.Unix(1_700_000_000, 0))
	multipartType, multipartGood := multipartBody(t, good, "")
	badConfigType, multipartBadConfig := multipartBody(t, good, "{not json")
	noProfileType, multipartNoProfile := multipartBody(t, nil, `{"cpu":{}}`)

	cases := []struct {
		name        string
		query       string
		contentType string
		body        []byte
		status      int
		mentions    string
	}{
		{"no name", "from=1&until=2", "", good, 400, `"name" is missing`},
		{"empty service", "name=%7Benv%3Dprod%7D", "", good, 400, "no service name"},
		{"bad service rune", "name=my+app", "", good, 400, "contains"},
		{"unclosed labels", "name=app%7Benv%3Dprod", "", good, 400, "not closed"},
		{"label without value", "name=app%7Benv%7D", "", good, 400, "not key=value"},
		{"bad label name", "name=app%7Bmy-env%3Dprod%7D", "", good, 400, "label name"},
		{"unsupported format", "name=app&format=jfr", "", good, 415, "pprof"},
		{"bad from", "name=app&from=yesterday", "", good, 400, "from"},
		{"until before from", "name=app&from=1700000010&until=1700000000", "", good, 400, "before"},
		{"bad sample rate", "name=app&sampleRate=fast", "", good, 400, "sampleRate"},
		{"empty body", "name=app", "", nil, 400, "no profile"},
		{"not pprof", "name=app", "application/octet-stream", []byte("hello, world"), 400, "not valid pprof"},
		{"bad multipart", "name=app", multipartType, []byte("garbage"), 400, "multipart"},
		{"multipart with an empty profile", "name=app", noProfileType, multipartNoProfile, 400, "no profile"},
		{"bad sample type config", "name=app", badConfigType, multipartBadConfig, 400, "sample_type_config"},
		{"no boundary", "name=app", "multipart/form-data", multipartGood, 400, "boundary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			query, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseIngest(query, tc.contentType, tc.body, testLimit())
			var bad *badRequestError
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want a bad request", err)
			}
			if bad.status != tc.status || !strings.Contains(bad.msg, tc.mentions) {
				t.Errorf("got %d %q, want %d mentioning %q", bad.status, bad.msg, tc.status, tc.mentions)
			}
		})
	}
}

func TestParseIngestTimeUnits(t *testing.T) {
	want := time.Unix(1_700_000_000, 0)
	body := harness.CPUProfile(t, want)
	for _, v := range []string{"1700000000", "1700000000000", "1700000000000000", "1700000000000000000"} {
		query := url.Values{"name": {"app"}, "from": {v}}
		push, err := parseIngest(query, "", body, testLimit())
		if err != nil {
			t.Fatal(err)
		}
		if !push.from.Equal(want) {
			t.Errorf("from=%s parsed as %s", v, push.from)
		}
	}
}
