package aisessiontracesconnector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// claudeBatch is one export of a Claude Code session: a turn's prompt and
// then model calls and tool runs, n events in all, starting at.
func claudeBatch(session string, turn, n int, at time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr("service.name", "claude-code")
	res.PutStr("service.version", "2.1.295")
	res.PutStr("os.type", "linux")
	res.PutStr("host.arch", "amd64")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("com.anthropic.claude_code.events")
	prompt := fmt.Sprintf("%s-p%d", session, turn)
	for i := 0; i < n; i++ {
		r := sl.LogRecords().AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Duration(i) * 100 * time.Millisecond)))
		a := r.Attributes()
		a.PutStr("user.id", "4c1f0e5b2a9d8c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e")
		a.PutStr("session.id", session)
		a.PutStr("terminal.type", "xterm-256color")
		a.PutInt("event.sequence", int64(turn*1000+i))
		a.PutStr("prompt.id", prompt)
		switch {
		case i == 0:
			r.Body().SetStr("claude_code.user_prompt")
			a.PutStr("event.name", "user_prompt")
			a.PutStr("prompt_length", "42")
			a.PutStr("prompt", "<REDACTED>")
		case i%3 == 1:
			r.Body().SetStr("claude_code.api_request")
			a.PutStr("event.name", "api_request")
			a.PutStr("model", "claude-sonnet-5")
			a.PutInt("input_tokens", 12)
			a.PutInt("output_tokens", 240)
			a.PutInt("cache_read_tokens", 21000)
			a.PutInt("cache_creation_tokens", 800)
			a.PutDouble("cost_usd", 0.0213)
			a.PutInt("duration_ms", 80)
			a.PutStr("request_id", fmt.Sprintf("req_%s_%d_%d", session, turn, i))
		case i%3 == 2:
			r.Body().SetStr("claude_code.tool_decision")
			a.PutStr("event.name", "tool_decision")
			a.PutStr("decision", "accept")
			a.PutStr("source", "config")
			a.PutStr("tool_name", "Read")
			a.PutStr("tool_use_id", fmt.Sprintf("toolu_%d_%d", turn, i))
		default:
			r.Body().SetStr("claude_code.tool_result")
			a.PutStr("event.name", "tool_result")
			a.PutStr("tool_name", "Read")
			a.PutStr("tool_use_id", fmt.Sprintf("toolu_%d_%d", turn, i-1))
			a.PutStr("success", "true")
			a.PutStr("duration_ms", "12")
		}
	}
	return ld
}

// BenchmarkConsumeLogs is the connector's cost per event (ns/op is per
// event): 100 sessions, each batch 10 events of one turn, state in memory
// or in file_storage.
func BenchmarkConsumeLogs(b *testing.B) {
	for _, durable := range []bool{false, true} {
		b.Run(fmt.Sprintf("file_storage=%v", durable), func(b *testing.B) {
			t := &testing.T{}
			cfg := defaultTestConfig()
			var host component.Host
			if durable {
				id := component.MustNewID("file_storage")
				cfg.Storage = &id
				host = startFileStorageB(b, b.TempDir())
			}
			h := newHarnessB(b, t, cfg, host)
			start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
			batches := make([]plog.Logs, 100)
			for i := range batches {
				batches[i] = claudeBatch(fmt.Sprintf("session-%03d", i), 1, 10, start)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 10 {
				if err := h.c.ConsumeLogs(context.Background(), batches[(i/10)%100]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			h.sink.Reset()
		})
	}
}
