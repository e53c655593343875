package pyroscopereceiver

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// FuzzParseIngest feeds arbitrary queries, content types and bodies through
// the whole ingest path short of the pipeline. It must never panic, and every
// refusal must be a badRequestError (answered with a 4xx); the same with
// pass_through_pprof.
// The corpus it found is kept in testdata/fuzz/FuzzParseIngest.
func FuzzParseIngest(f *testing.F) {
	start := time.Unix(1_700_000_000, 0)
	pprofBytes := harness.CPUProfile(f, start)
	multipartType, multipartGood := multipartBody(f, pprofBytes, `{"cpu":{"units":"samples"}}`)
	f.Add("name=app%7Benv%3Dprod%7D&from=1700000000&until=1700000010&format=pprof&sampleRate=100&spyName=gospy", multipartType, multipartGood)
	f.Add("name=app", "", pprofBytes)
	f.Add("name=app&from=1700000000000000000", "application/octet-stream", pprofBytes[:len(pprofBytes)/2])
	f.Add("name=a%7Bb%3Dc%2Cd%7D", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nabc\r\n--x--\r\n"))

	f.Fuzz(func(t *testing.T, rawQuery, contentType string, body []byte) {
		query, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		checkPassThrough(t, body, func(limit *sizeLimit) ([]*ingestRequest, error) {
			push, err := parseIngest(query, contentType, body, limit)
			return []*ingestRequest{push}, err
		})
		push, err := parseIngest(query, contentType, body, testLimit())
		if err != nil {
			var bad *badRequestError
			if !errors.As(err, &bad) || bad.status < 400 || bad.status > 499 || bad.msg == "" {
				t.Fatalf("refusal %v is not a 4xx with a reason", err)
			}
			return
		}
		if push.serviceName == "" || push.profile == nil {
			t.Fatalf("accepted a push without service name or profile: %+v", push)
		}
		profiles, err := toProfiles(push, start)
		if err != nil {
			return // answered 400 by the handler
		}
		if profiles.ResourceProfiles().Len() != 1 {
			t.Fatalf("%d resources, want 1", profiles.ResourceProfiles().Len())
		}
		name, _ := profiles.ResourceProfiles().At(0).Resource().Attributes().Get("service.name")
		if name.Str() != push.serviceName {
			t.Fatalf("service.name %q, want %q", name.Str(), push.serviceName)
		}
	})
}

// FuzzParsePushRequest feeds arbitrary bodies to the push API's protobuf
// decoding and conversion: no panic, every refusal a 4xx with a reason,
// every accepted sample a profile; the same with pass_through_pprof. Corpus:
// testdata/fuzz/FuzzParsePushRequest.
func FuzzParsePushRequest(f *testing.F) {
	start := time.Unix(1_700_000_000, 0)
	pprofBytes := harness.CPUProfile(f, start)
	f.Add(encodePushRequest(pushSeries{
		labels:  map[string]string{"__name__": "process_cpu", "service_name": "indexer", "env": "prod"},
		samples: [][]byte{pprofBytes},
	}))
	f.Add(encodePushRequest(
		pushSeries{labels: map[string]string{"service_name": "a"}, samples: [][]byte{pprofBytes, pprofBytes}},
		pushSeries{labels: map[string]string{"service_name": "b", "x": "y"}, samples: [][]byte{pprofBytes[:20]}},
	))
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x61})

	f.Fuzz(func(t *testing.T, body []byte) {
		pushes, err := parsePushRequest("application/proto", body, testLimit())
		if err != nil {
			var bad *badRequestError
			if !errors.As(err, &bad) || bad.status < 400 || bad.status > 499 || bad.msg == "" {
				t.Fatalf("refusal %v is not a 4xx with a reason", err)
			}
			return
		}
		checkPassThrough(t, body, func(limit *sizeLimit) ([]*ingestRequest, error) {
			return parsePushRequest("application/proto", body, limit)
		})
		for _, push := range pushes {
			// A series without service_name is accepted, as Pyroscope does.
			if push.profile == nil {
				t.Fatalf("accepted a sample without a profile: %+v", push)
			}
			if _, err := toProfiles(push, start); err != nil {
				continue // answered 400 by the handler
			}
		}
	})
}

// checkPassThrough parses with pass_through_pprof: every refusal a 4xx with
// a reason, every accepted push the pprof's bytes and no decoded profile.
func checkPassThrough(t *testing.T, body []byte, parse func(*sizeLimit) ([]*ingestRequest, error)) {
	t.Helper()
	limit := testLimit()
	limit.keepRaw = true
	pushes, err := parse(limit)
	if err != nil {
		var bad *badRequestError
		if !errors.As(err, &bad) || bad.status < 400 || bad.status > 499 || bad.msg == "" {
			t.Fatalf("pass-through refusal %v is not a 4xx with a reason", err)
		}
		return
	}
	for _, push := range pushes {
		if push.profile != nil || len(push.raw) == 0 {
			t.Fatalf("pass-through push decoded or without its bytes: %+v", push)
		}
		if got := toPassThrough(push).ResourceProfiles().At(0).ScopeProfiles().At(0).Profiles().Len(); got != 0 {
			t.Fatalf("pass-through push has %d profiles", got)
		}
	}
}
