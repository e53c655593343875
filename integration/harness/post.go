package harness

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// NewLogs builds one resource with the given service.name and one log record
// per body.
func NewLogs(service string, bodies ...string) plog.Logs {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	sl := rl.ScopeLogs().AppendEmpty()
	for _, body := range bodies {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommonNow())
		lr.Body().SetStr(body)
	}
	return logs
}

// PostLogs sends logs as one OTLP/HTTP protobuf request, the way an SDK does,
// and returns the HTTP status and response body. A 2xx is the collector's
// acknowledgement.
func PostLogs(endpoint string, logs plog.Logs) (int, string, error) {
	payload, err := plogotlp.NewExportRequestFromLogs(logs).MarshalProto()
	if err != nil {
		return 0, "", err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(endpoint+"/v1/logs", "application/x-protobuf", bytes.NewReader(payload))
	if err != nil {
		return 0, "", fmt.Errorf("POST %s/v1/logs: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// PostLogsJSON sends logs as one OTLP/HTTP JSON request, as Gemini CLI and
// Claude Code's http/json exporters do.
func PostLogsJSON(endpoint string, logs plog.Logs) (int, string, error) {
	payload, err := plogotlp.NewExportRequestFromLogs(logs).MarshalJSON()
	if err != nil {
		return 0, "", err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(endpoint+"/v1/logs", "application/json", bytes.NewReader(payload))
	if err != nil {
		return 0, "", fmt.Errorf("POST %s/v1/logs: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}
