package harness

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

func postLoki(t *testing.T, l *Loki, tenant string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, l.URL+"/otlp/v1/logs", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status.Status
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		if err := proto.Unmarshal(buf.Bytes(), &st); err != nil {
			t.Fatalf("answer %d is not a google.rpc.Status: %v", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, st.GetMessage()
}

// Loki stores the valid entries of a request and answers 400 for it, naming
// the refused ones grouped by message.
func TestLokiStandInPartialAcceptance(t *testing.T) {
	l := StartLoki(t)
	logs := NewLogs("app", "ok one", "ok two", strings.Repeat("x", 256<<10+1), "old", "old")
	rl := logs.ResourceLogs().At(0)
	rl.Resource().Attributes().PutStr("service.instance.id", "ws")
	rl.Resource().Attributes().PutStr("host.name", "ws")
	records := rl.ScopeLogs().At(0).LogRecords()
	old := pcommon.NewTimestampFromTime(time.Now().Add(-8 * 24 * time.Hour))
	records.At(3).SetTimestamp(old)
	records.At(4).SetTimestamp(old)
	records.At(0).SetSeverityText("err")
	body, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}

	if code, msg := postLoki(t, l, "", body); code != http.StatusBadRequest || msg != "no org id" {
		t.Errorf("no tenant: %d %q, want 400 \"no org id\"", code, msg)
	}
	if len(l.Entries()) != 0 {
		t.Fatal("stored without a tenant")
	}
	code, msg := postLoki(t, l, "tenant", body)
	if code != http.StatusBadRequest {
		t.Errorf("status %d, want 400", code)
	}
	for _, want := range []string{
		`1 errors like: max entry size '262144' bytes exceeded for stream '{service_instance_id="ws", service_name="app"}' while adding an entry with length '262145' bytes`,
		`2 errors like: entry for stream '{service_instance_id="ws", service_name="app"}' has timestamp too old: `,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	entries := l.Entries()
	if len(entries) != 2 || entries[0].Line != "ok one" || entries[1].Line != "ok two" {
		t.Fatalf("stored %v, want the two valid entries", entries)
	}
	e := entries[0]
	if e.Metadata["host_name"] != "ws" || e.Metadata["detected_level"] != "error" || e.Metadata["severity_text"] != "err" {
		t.Errorf("structured metadata %v", e.Metadata)
	}
	if got, _ := l.Query(`{service_name="app"} | detected_level="error"`); len(got) != 1 {
		t.Errorf("query returned %d entries, want 1", len(got))
	}
	if _, err := l.Query(`sum(count_over_time({service_name="app"}[5m]))`); err == nil {
		t.Error("an unsupported query was answered")
	}

	// One refusal alone is not prefixed with a count.
	one := NewLogs("app", strings.Repeat("y", 256<<10+1))
	body, _ = plogotlp.NewExportRequestFromLogs(one).MarshalProto()
	if code, msg := postLoki(t, l, "tenant", body); code != http.StatusBadRequest || strings.Contains(msg, "errors like") {
		t.Errorf("single refusal: %d %q", code, msg)
	}
}

// A stream with more label names than max_label_names_per_series is
// refused whole, once, and the other streams of the request are stored.
func TestLokiStandInRefusesAStreamOverTheLabelLimit(t *testing.T) {
	l := StartLoki(t)
	logs := NewLogs("wide", "one", "two")
	attrs := logs.ResourceLogs().At(0).Resource().Attributes()
	for _, k := range lokiIndexLabels[1:17] { // 16 besides service.name
		attrs.PutStr(k, "x")
	}
	logs.ResourceLogs().At(0).CopyTo(logs.ResourceLogs().AppendEmpty()) // same stream again
	NewLogs("narrow", "kept").ResourceLogs().At(0).CopyTo(logs.ResourceLogs().AppendEmpty())
	body, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	code, msg := postLoki(t, l, "tenant", body)
	if code != http.StatusBadRequest || strings.Contains(msg, "errors like") ||
		!strings.HasPrefix(msg, `entry for stream '{cloud_availability_zone="x", `) || !strings.HasSuffix(msg, `' has 16 label names; limit 15`) {
		t.Errorf("answer %d %q; want 400 naming the wide stream once", code, msg)
	}
	if e := l.Entries(); len(e) != 1 || e[0].Line != "kept" {
		t.Errorf("stored %v, want only the narrow stream's entry", e)
	}
}
