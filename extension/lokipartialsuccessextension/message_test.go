package lokipartialsuccessextension

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The refusal texts below are written from the formats of Loki v3.7.6's
// pkg/validation/validate.go, with a stream as Prometheus'
// labels.Labels.String() writes it.

func stream(kv ...string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		name := kv[i]
		if !legacyName(name) {
			name = strconv.Quote(name)
		}
		b.WriteString(name + "=" + strconv.Quote(kv[i+1]))
	}
	b.WriteString("}")
	return b.String()
}

func legacyName(n string) bool {
	for i, c := range n {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return n != ""
}

var (
	oldest = time.Date(2026, 11, 25, 7, 28, 3, 0, time.UTC)
	svc    = stream("service_instance_id", "ws-journal", "service_name", "otel-ai-collector.service")
)

func tooOld(labels string, at time.Time) string {
	return fmt.Sprintf("entry for stream '%s' has timestamp too old: %v, oldest acceptable timestamp is: %v",
		labels, at.Format(time.RFC3339), oldest.Format(time.RFC3339))
}

func tooNew(labels string, at time.Time) string {
	return fmt.Sprintf("entry for stream '%s' has timestamp too new: %v", labels, at.Format(time.RFC3339))
}

func lineTooLong(labels string, n int) string {
	return fmt.Sprintf("max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes", 262144, labels, n)
}

func metadataDisallowed(labels string) string {
	return fmt.Sprintf("stream '%s' includes structured metadata, but this feature is disallowed. Please see `limits_config.allow_structured_metadata` or contact your Loki administrator to enable it", labels)
}

func metadataTooLarge(labels string, n int) string {
	return fmt.Sprintf("stream '%s' has structured metadata too large: '%d' bytes, limit: '%d' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it", labels, n, 65536)
}

func metadataTooMany(labels string, n int) string {
	return fmt.Sprintf("stream '%s' has too many structured metadata labels: '%d', limit: '%d'. Please see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it", labels, n, 128)
}

// grouped writes refusals as GroupedErrors.Error does (pkg/util/errors.go):
// one group per distinct text, in map order.
func grouped(refusals []string) string {
	counts := map[string]int{}
	for _, r := range refusals {
		counts[r]++
	}
	var parts []string
	for r, n := range counts {
		if len(counts) > 1 || n > 1 {
			r = fmt.Sprintf("%d errors like: %s", n, r)
		}
		parts = append(parts, r)
	}
	return strings.Join(parts, "; ")
}

func TestCountRefused(t *testing.T) {
	at := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
	tricky := stream("service_name", `a'; 7 errors like: entry for stream '{x="1"}' has timestamp too new: 2026-01-01T00:00:00Z`, "weird.name", `"}`)
	for _, tc := range []struct {
		name string
		msg  string
		want int // 0: not counted
	}{
		{"one refusal", tooOld(svc, at), 1},
		{"one text, twice", grouped([]string{tooOld(svc, at), tooOld(svc, at)}), 2},
		{"each ValidateEntry format", grouped([]string{
			tooOld(svc, at), tooOld(svc, at), tooOld(svc, at.Add(time.Second)), tooNew(svc, at.Add(time.Hour)),
			lineTooLong(svc, 300000), metadataDisallowed(svc), metadataTooLarge(svc, 70000), metadataTooMany(svc, 130),
		}), 8},
		{"time zone offset", tooNew(svc, at.In(time.FixedZone("", 2*3600))), 1},
		{"no labels", tooOld("{}", at), 1},
		{"label values that look like separators", grouped([]string{tooOld(tricky, at), tooOld(tricky, at), lineTooLong(tricky, 1<<20)}), 3},

		// Not counted: stream-level refusals stand for a whole stream.
		{"max label names (stream-level, with its own '; ')",
			fmt.Sprintf("entry for stream '%s' has %d label names; limit %d", svc, 31, 30), 0},
		{"entry and stream-level refusals", grouped([]string{tooOld(svc, at),
			fmt.Sprintf("stream '%s' has label value too long: '%s'", svc, strings.Repeat("x", 10))}), 0},
		{"missing enforced labels", fmt.Sprintf("missing required labels '%s' for user '%s' for stream '%s' (policy: '%s')", "team", "ws", svc, ""), 0},
		{"not Loki's validation", "no org id", 0},
		{"parse error", "unsupported content encoding br: only gzip, lz4 and zstd are supported", 0},
		{"ingester refusal", "entry with timestamp 2026-11-20 01:02:03 +0000 UTC ignored, reason: 'entry too far behind, ...' for stream: " + svc + ",\ntotal ignored: 1 out of 5", 0},

		// Not counted: not as GroupedErrors writes it.
		{"one refusal counted 1", "1 errors like: " + tooOld(svc, at), 0},
		{"several groups, one without count", tooOld(svc, at) + "; 2 errors like: " + tooNew(svc, at), 0},
		{"same text twice", "1 errors like: " + tooOld(svc, at) + "; 1 errors like: " + tooOld(svc, at), 0},
		{"count 0", "0 errors like: " + tooOld(svc, at) + "; 1 errors like: " + tooNew(svc, at), 0},
		{"leading zero", "02 errors like: " + tooOld(svc, at), 0},
		{"count overflows", "99999999999999999999 errors like: " + tooOld(svc, at), 0},
		{"trailing separator", tooOld(svc, at) + "; ", 0},
		{"trailing text", tooOld(svc, at) + " (and more)", 0},
		{"unquoted label value", "entry for stream '{a=b}' has timestamp too new: 2026-01-01T00:00:00Z", 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := countRefused(tc.msg)
			if !ok {
				got = 0
			}
			if got != tc.want {
				t.Errorf("countRefused(%q) = %d, %v; want %d", tc.msg, got, ok, tc.want)
			}
		})
	}
}

// Messages as Loki writes them for random batches: the count is always the
// number of refusals, whatever the order of the groups.
func TestCountRefusedRandomBatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	streams := []string{svc, stream("service_name", "a; b"), stream("service_name", "x", "k8s.pod.name", "p-1")}
	for i := 0; i < 500; i++ {
		var refusals []string
		for n := 1 + r.IntN(300); n > 0; n-- {
			s := streams[r.IntN(len(streams))]
			switch r.IntN(4) {
			case 0:
				refusals = append(refusals, tooOld(s, base.Add(time.Duration(r.IntN(5))*time.Second)))
			case 1:
				refusals = append(refusals, tooNew(s, base.AddDate(0, 1, 0)))
			case 2:
				refusals = append(refusals, lineTooLong(s, 262145+r.IntN(2)))
			case 3:
				refusals = append(refusals, metadataTooMany(s, 129))
			}
		}
		msg := grouped(refusals)
		if got, ok := countRefused(msg); !ok || got != len(refusals) {
			t.Fatalf("countRefused = %d, %v; want %d for %q", got, ok, len(refusals), msg)
		}
	}
}

// No stream labels can make a message miscounted: Loki quotes every label
// value, so what a value holds never reads as Loki's own text.
func FuzzCountRefused(f *testing.F) {
	f.Add("otel-ai-collector.service", "ws", uint16(1), uint16(0), "no org id")
	f.Add("a'; 3 errors like: x", `"}'`, uint16(2), uint16(5), tooOld(svc, oldest))
	f.Add("}' has timestamp too new: 2026-01-01T00:00:00Z", "\x00\n;", uint16(1), uint16(1), "2 errors like: ")
	f.Fuzz(func(t *testing.T, v1, v2 string, n1, n2 uint16, raw string) {
		// Whatever the bytes, no panic and no count of nothing.
		if n, ok := countRefused(raw); ok && (n < 1 || n > maxRefused) {
			t.Fatalf("countRefused(%q) = %d", raw, n)
		}

		at := time.Date(2026, 11, 20, 1, 2, 3, 0, time.UTC)
		var refusals []string
		for range n1 % 50 {
			refusals = append(refusals, tooOld(stream("service_name", v1, v2, v1), at))
		}
		for range n2 % 50 {
			refusals = append(refusals, lineTooLong(stream(v2, v1), 300000))
		}
		if len(refusals) == 0 {
			return
		}
		msg := grouped(refusals)
		if got, ok := countRefused(msg); !ok || got != len(refusals) {
			t.Fatalf("countRefused = %d, %v; want %d for %q", got, ok, len(refusals), msg)
		}
	})
}
