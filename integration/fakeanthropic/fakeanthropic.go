// Package fakeanthropic is a scripted stand-in for the Anthropic Messages
// API on loopback, for driving the real Claude Code CLI in the integration
// tests. It answers what Claude Code calls: POST /v1/messages (streamed as
// server-sent events, or as one JSON message when stream is false) and
// POST /v1/messages/count_tokens; anything else gets the API's 404 error.
//
// The wire format follows the Anthropic TypeScript SDK
// (github.com/anthropics/anthropic-sdk-typescript; Claude Code 2.1.328
// bundles @anthropic-ai/sdk 0.128.0, its requests say so in
// X-Stainless-Package-Version), read at these stored versions:
//
//   - src/resources/messages/messages.ts (0.116.0, commit 00da52f8f141):
//     RawMessageStreamEvent = RawMessageStartEvent ("message_start",
//     message: a Message with empty content, stop_reason null and its
//     Usage), RawContentBlockStartEvent ("content_block_start", index,
//     content_block: TextBlock or ToolUseBlock with empty input),
//     RawContentBlockDeltaEvent ("content_block_delta", index, delta:
//     TextDelta "text_delta" or InputJSONDelta "input_json_delta" with
//     partial_json), RawContentBlockStopEvent, RawMessageDeltaEvent
//     ("message_delta", delta: stop_reason and stop_sequence, usage:
//     MessageDeltaUsage, cumulative) and RawMessageStopEvent. Usage:
//     input_tokens, output_tokens, cache_creation_input_tokens,
//     cache_read_input_tokens, cache_creation {ephemeral_5m_input_tokens,
//     ephemeral_1h_input_tokens}, server_tool_use, service_tier.
//     MessageTokensCount (count_tokens): {input_tokens}.
//   - src/core/streaming.ts (commit 0357f812dab2): the SSE framing
//     ("event: <type>" and "data: <json>" lines, a blank line between
//     events); "ping" events are skipped.
//   - src/resources/shared.ts (commit 135f71e92976): ErrorResponse
//     {"type": "error", "error": {"type", "message"}, "request_id"} with
//     the ErrorType values (invalid_request_error, authentication_error,
//     permission_error, not_found_error, rate_limit_error, api_error,
//     overloaded_error, ...).
//   - src/core/error.ts (commit 257bc1f56bb3): the request id is read
//     from the request-id response header, error.type from the body.
//
// Each test scripts the main calls as a queue of answers; the side calls
// Claude Code makes on its own (the session title: see purpose) are
// answered without taking from the queue. Every request is
// recorded in a harness.ModelLog, the tests' oracle.
package fakeanthropic

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// Usage is the token usage an answer reports.
type Usage struct {
	Input, Output, CacheRead, CacheCreation int64
}

// Answer is one scripted response to a main call.
type Answer struct {
	// Text is the assistant's text (a text answer).
	Text string
	// ToolName and ToolInput make a tool_use answer (stop_reason tool_use),
	// after Text when both are set.
	ToolName  string
	ToolInput any
	// Status, when not 2xx, answers with the API's error for it instead.
	Status int
	// Sticky answers are not taken from the queue: every later main call
	// gets the same answer (a failing API that keeps failing).
	Sticky bool
	Usage  Usage
}

// Text is a text answer with the given usage.
func Text(text string, u Usage) Answer { return Answer{Text: text, Usage: u} }

// ToolUse is an answer asking the CLI to run a tool.
func ToolUse(name string, input any, u Usage) Answer {
	return Answer{ToolName: name, ToolInput: input, Usage: u}
}

// Failing answers every main call from now on with the API's error for
// status (529 overloaded, 500 api_error, ...).
func Failing(status int) Answer { return Answer{Status: status, Sticky: true} }

// Server is a fake Anthropic API on a loopback port.
type Server struct {
	URL string
	Log *harness.ModelLog

	t       testing.TB
	mu      sync.Mutex
	queue   []Answer
	seq     atomic.Int64
	dumpDir string
	srv     *http.Server
}

// Start starts a server on a free loopback port; it stops with the test.
// With FAKEANTHROPIC_DUMP set to a directory, every request body is written
// there (to see what the CLI sends).
func Start(t testing.TB) *Server {
	t.Helper()
	l := harness.Listen(t)
	addr := l.Addr().String()
	s := &Server{URL: "http://" + addr, Log: &harness.ModelLog{}, t: t, dumpDir: os.Getenv("FAKEANTHROPIC_DUMP")}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Push queues answers for the next main calls, in order.
func (s *Server) Push(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, answers...)
}

// next takes the next main answer; an empty queue answers a plain text.
func (s *Server) next() Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return Text("Done.", Usage{Input: 10, Output: 2})
	}
	a := s.queue[0]
	if !a.Sticky {
		s.queue = s.queue[1:]
	}
	return a
}

// request is the part of a Messages API request the fake reads.
type request struct {
	Model     string          `json:"model"`
	Stream    bool            `json:"stream"`
	MaxTokens int             `json:"max_tokens"`
	System    json.RawMessage `json:"system"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools    []json.RawMessage `json:"tools"`
	Metadata map[string]any    `json:"metadata"`
}

type block struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func blocks(raw json.RawMessage) []block {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []block{{Type: "text", Text: s}}
	}
	var bs []block
	_ = json.Unmarshal(raw, &bs)
	return bs
}

// lastUserText is the text of the last user message that has text of the
// user's own (not a tool result, not a <system-reminder> Claude Code adds).
func (r *request) lastUserText() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role != "user" {
			continue
		}
		bs := blocks(r.Messages[i].Content)
		for j := len(bs) - 1; j >= 0; j-- {
			text := strings.TrimSpace(bs[j].Text)
			if bs[j].Type == "text" && text != "" && !strings.HasPrefix(text, "<system-reminder>") &&
				!strings.HasPrefix(text, "<command-") && !strings.HasPrefix(text, "<local-command") {
				return text
			}
		}
	}
	return ""
}

func (r *request) systemText() string {
	var out []string
	for _, b := range blocks(r.System) {
		out = append(out, b.Text)
	}
	return strings.Join(out, "\n")
}

// purpose tells a main call from Claude Code's side calls by the request,
// as Claude Code 2.1.328 sends them: the turn's own calls offer the CLI's
// tools; the session-title call (query_source generate_session_title,
// interactive mode) offers none, its system prompt says "You are naming a
// coding session" and its output_config asks for JSON with a title.
// Other tool-less calls are "side".
func (r *request) purpose() string {
	switch {
	case len(r.Tools) > 0:
		return "main"
	case strings.Contains(r.systemText(), "naming a coding session"):
		return "title"
	}
	return "side"
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := s.seq.Add(1)
	if s.dumpDir != "" {
		_ = os.MkdirAll(s.dumpDir, 0o755)
		name := fmt.Sprintf("%03d%s.json", n, strings.ReplaceAll(r.URL.Path, "/", "_"))
		_ = os.WriteFile(filepath.Join(s.dumpDir, name), body, 0o644)
		hdr, _ := json.MarshalIndent(r.Header, "", " ")
		_ = os.WriteFile(filepath.Join(s.dumpDir, name+".headers"), hdr, 0o644)
	}
	requestID := fmt.Sprintf("req_fake%016d", n)
	w.Header().Set("request-id", requestID)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		s.messages(w, body, requestID)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages/count_tokens":
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": len(body) / 4})
	default:
		s.t.Logf("fakeanthropic: %s %s answered 404", r.Method, r.URL.Path)
		writeError(w, http.StatusNotFound, requestID)
	}
}

func (s *Server) messages(w http.ResponseWriter, body []byte, requestID string) {
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, requestID)
		return
	}
	call := harness.ModelCall{Time: time.Now(), Model: req.Model, Purpose: req.purpose(), UserText: req.lastUserText()}
	var a Answer
	if call.Purpose == "main" {
		a = s.next()
	} else {
		a = sideAnswer(call.Purpose)
	}
	if a.Status != 0 && a.Status/100 != 2 {
		call.Status = a.Status
		s.Log.Add(call)
		writeError(w, a.Status, requestID)
		return
	}
	call.Status = http.StatusOK
	call.InputTokens, call.OutputTokens = a.Usage.Input, a.Usage.Output
	call.CacheReadTokens, call.CacheCreationTokens = a.Usage.CacheRead, a.Usage.CacheCreation
	if a.ToolName != "" {
		call.ToolCalls = []string{a.ToolName}
	}
	s.Log.Add(call)
	msgID := "msg_fake" + requestID[len("req_fake"):]
	toolID := "toolu_fake" + requestID[len("req_fake"):]
	if req.Stream {
		stream(w, req.Model, msgID, toolID, a)
	} else {
		writeJSON(w, http.StatusOK, message(req.Model, msgID, toolID, a, true))
	}
}

// sideAnswer answers Claude Code's own side calls: a title as the JSON it
// asks for, else a short text.
func sideAnswer(purpose string) Answer {
	if purpose == "title" {
		return Text(`{"title": "Fake session title"}`, Usage{Input: 40, Output: 8})
	}
	return Text("ok", Usage{Input: 5, Output: 1})
}

func usage(u Usage, output int64) map[string]any {
	return map[string]any{
		"input_tokens":                u.Input,
		"output_tokens":               output,
		"cache_read_input_tokens":     u.CacheRead,
		"cache_creation_input_tokens": u.CacheCreation,
		"cache_creation":              map[string]any{"ephemeral_5m_input_tokens": u.CacheCreation, "ephemeral_1h_input_tokens": 0},
		"server_tool_use":             nil,
		"service_tier":                "standard",
	}
}

func stopReason(a Answer) string {
	if a.ToolName != "" {
		return "tool_use"
	}
	return "end_turn"
}

// message is the whole Message: the non-streamed answer, or (with final
// false) the shell message_start carries.
func message(model, id, toolID string, a Answer, final bool) map[string]any {
	m := map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": usage(a.Usage, 1),
	}
	if final {
		var content []any
		if a.Text != "" || a.ToolName == "" {
			content = append(content, map[string]any{"type": "text", "text": a.Text})
		}
		if a.ToolName != "" {
			content = append(content, map[string]any{"type": "tool_use", "id": toolID, "name": a.ToolName, "input": a.ToolInput})
		}
		m["content"] = content
		m["stop_reason"] = stopReason(a)
		m["usage"] = usage(a.Usage, a.Usage.Output)
	}
	return m
}

func stream(w http.ResponseWriter, model, id, toolID string, a Answer) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(event string, data map[string]any) {
		data["type"] = event
		raw, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, raw)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send("message_start", map[string]any{"message": message(model, id, toolID, a, false)})
	send("ping", map[string]any{})
	index := 0
	if a.Text != "" || a.ToolName == "" {
		send("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "text", "text": ""}})
		// The text in two deltas, as the API streams it in pieces.
		half := len(a.Text) / 2
		for _, part := range []string{a.Text[:half], a.Text[half:]} {
			if part != "" {
				send("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "text_delta", "text": part}})
			}
		}
		send("content_block_stop", map[string]any{"index": index})
		index++
	}
	if a.ToolName != "" {
		send("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "tool_use", "id": toolID, "name": a.ToolName, "input": map[string]any{}}})
		input, _ := json.Marshal(a.ToolInput)
		half := len(input) / 2
		for _, part := range []string{"", string(input[:half]), string(input[half:])} {
			send("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "input_json_delta", "partial_json": part}})
		}
		send("content_block_stop", map[string]any{"index": index})
	}
	send("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": stopReason(a), "stop_sequence": nil},
		"usage": map[string]any{
			"input_tokens": a.Usage.Input, "output_tokens": a.Usage.Output,
			"cache_read_input_tokens": a.Usage.CacheRead, "cache_creation_input_tokens": a.Usage.CacheCreation,
			"server_tool_use": nil,
		},
	})
	send("message_stop", map[string]any{})
}

// errorTypes are the API's error types by status.
var errorTypes = map[int][2]string{
	400: {"invalid_request_error", "Invalid request"},
	401: {"authentication_error", "invalid x-api-key"},
	403: {"permission_error", "Permission denied"},
	404: {"not_found_error", "Not found"},
	413: {"request_too_large", "Request exceeds the maximum allowed number of bytes."},
	429: {"rate_limit_error", "Rate limited"},
	500: {"api_error", "Internal server error"},
	529: {"overloaded_error", "Overloaded"},
}

func writeError(w http.ResponseWriter, status int, requestID string) {
	kind, ok := errorTypes[status]
	if !ok {
		kind = [2]string{"api_error", http.StatusText(status)}
	}
	writeJSON(w, status, map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": kind[0], "message": kind[1]},
		"request_id": requestID,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
