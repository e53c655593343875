// Package fakeopenai is a fake OpenAI Responses API server on loopback for
// driving the real Codex CLI in the integration tests.
//
// It speaks the wire format Codex parses, as read from openai/codex
// codex-rs (the files at the commits named below; checked against the
// behaviour of codex-cli 0.169.0, the version scripts/install-test-deps.sh
// installs):
//
//   - codex-rs/codex-api/src/sse/responses.rs (commit 0a7fb0d7,
//     process_sse): the stream is text/event-stream, each event "event: <type>\ndata: <json>\n\n" whose
//     JSON has "type"; Codex acts on response.created (needs a "response"
//     object), response.output_item.added / response.output_item.done
//     (an "item" that deserializes as a codex_protocol ResponseItem:
//     message, function_call, local_shell_call, custom_tool_call, ...),
//     response.output_text.delta ("delta"), response.failed and
//     response.completed ("response": {"id", "usage": {input_tokens,
//     input_tokens_details.cached_tokens, output_tokens,
//     output_tokens_details.reasoning_tokens, total_tokens}}). The turn's
//     answer is only taken once the stream ends after response.completed;
//     a stream that ends without it is an error Codex retries.
//   - codex-rs/codex-api/src/endpoint/responses.rs and
//     codex-rs/core/src/model_provider_info.rs (commit 001cb8e2): with a
//     custom provider (wire_api = "responses") Codex POSTs to <base_url>/responses with
//     "Authorization: Bearer $<env_key>", "stream": true. to_api_provider
//     there sets the retry policy: request_max_retries (default 4) more
//     requests after a 5xx or a transport error, 200 ms base delay, doubling;
//     retry_429 false (a 429 is not retried); the turn then reconnects up to
//     stream_max_retries (default 5) times, each with its own request
//     retries. The error body is OpenAI's {"error": {"message", "type",
//     "param", "code"}} JSON.
//   - codex-rs/protocol/src/models.rs (ResponseItem): function_call items
//     are {"type":"function_call","name","arguments" (a JSON string),
//     "call_id"}; Codex answers them in the next request with a
//     function_call_output item of the same call_id.
//
// Observed with 0.169.0 in `codex exec`: besides POST <base_url>/responses,
// Codex only POSTs <base_url>/analytics/codex/turn-costs once per turn (the
// fake answers 404, which Codex ignores); it asks for no model list. The
// shell tool it offers with gpt-5.5 is "exec_command" (unified exec).
//
// No code of Codex is copied here: the server is written from the formats
// those files parse.
package fakeopenai

import (
	"encoding/json"
	"errors"
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

// Usage is the token usage an answer reports in response.completed.
type Usage struct {
	InputTokens, CachedTokens, OutputTokens, ReasoningTokens int64
}

// Answer is one scripted answer of the fake.
type Answer struct {
	// Text is the assistant's message (streamed as output_text deltas).
	Text string
	// Shell, when set, makes the answer a call of Codex's shell tool with
	// this command line (run by bash -lc), in the form the request's tools
	// declare (see shellCall).
	Shell string
	// ShellArgs are more arguments of the shell call, e.g.
	// {"sandbox_permissions": "require_escalated", "justification": ...}
	// to ask for running outside the sandbox.
	ShellArgs map[string]any
	// Usage is reported in response.completed.
	Usage Usage
	// Status, when not 0 or 200, answers with this HTTP status and the
	// error JSON OpenAI sends for it instead of a stream.
	Status int
	// Sticky keeps this answer at the head of the queue: every later
	// request gets it too (a model that keeps failing).
	Sticky bool
	// Delay is how long the fake waits before answering (a slow server).
	Delay time.Duration
}

// Request is one HTTP request the fake received, whatever its path.
type Request struct {
	Time    time.Time         `json:"time"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	Status  int               `json:"status"`
}

// Server is the fake. Script answers with Push; every /responses request is
// logged in Log.
type Server struct {
	URL string // base URL for Codex's base_url, e.g. http://127.0.0.1:PORT/v1
	Log *harness.ModelLog

	t        testing.TB
	srv      *http.Server
	mu       sync.Mutex
	queues   map[string][]Answer // by purpose
	requests []Request
	seq      atomic.Int64
	// DumpDir, when set, receives every request body as <n>.json (for
	// looking at what Codex sends).
	DumpDir string
}

// Start starts the fake on a free loopback port; it stops when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	l := harness.Listen(t)
	addr := l.Addr().String()
	s := &Server{URL: "http://" + addr + "/v1", Log: &harness.ModelLog{}, t: t}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("fake OpenAI server: %v", err)
		}
	}()
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Push appends answers to the queue of the turn's own calls ("main").
func (s *Server) Push(answers ...Answer) { s.PushFor("main", answers...) }

// PushFor appends answers to the queue of calls with that purpose, e.g.
// "guardian" for the approval reviewer's sub-session.
func (s *Server) PushFor(purpose string, answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues == nil {
		s.queues = map[string][]Answer{}
	}
	s.queues[purpose] = append(s.queues[purpose], answers...)
}

// Pending is how many answers are still queued, sticky ones included.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.queues {
		n += len(q)
	}
	return n
}

// Clear drops the queued answers.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues = nil
}

// Requests returns every HTTP request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) next(purpose string) (Answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[purpose]
	if len(q) == 0 {
		return Answer{}, false
	}
	a := q[0]
	if !a.Sticky {
		s.queues[purpose] = q[1:]
	}
	return a, true
}

func (s *Server) record(r *http.Request, status int) {
	h := map[string]string{}
	for k, v := range r.Header {
		if strings.EqualFold(k, "Authorization") {
			continue
		}
		h[strings.ToLower(k)] = strings.Join(v, ",")
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Time: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Headers: h, Status: status})
	s.mu.Unlock()
}

// requestBody is the part of a Responses API request the fake reads.
type requestBody struct {
	Model  string            `json:"model"`
	Stream bool              `json:"stream"`
	Input  []json.RawMessage `json:"input"`
	Tools  []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
	ClientMetadata map[string]string `json:"client_metadata"`
}

type inputItem struct {
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/responses") {
		// Codex asks for nothing else of a custom provider in exec mode;
		// anything else is logged and refused.
		s.record(r, http.StatusNotFound)
		writeError(w, http.StatusNotFound)
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		s.record(r, http.StatusBadRequest)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := s.seq.Add(1)
	if s.DumpDir != "" {
		_ = os.WriteFile(filepath.Join(s.DumpDir, fmt.Sprintf("%03d.json", n)), raw, 0o644)
	}
	var body requestBody
	if err := json.Unmarshal(raw, &body); err != nil {
		s.record(r, http.StatusBadRequest)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	call := harness.ModelCall{
		Time:     time.Now().UTC(),
		Model:    body.Model,
		Purpose:  purpose(r, body),
		UserText: lastUserText(body.Input),
	}
	answer, ok := s.next(call.Purpose)
	if !ok {
		// Nothing scripted: a test error, answered as a server error so
		// that the CLI stops rather than waits.
		s.t.Errorf("fake OpenAI server: %s request %d (%.80q) with no answer queued", call.Purpose, n, call.UserText)
		answer = Answer{Status: http.StatusInternalServerError}
	}
	if answer.Delay > 0 {
		time.Sleep(answer.Delay)
	}
	if answer.Status != 0 && answer.Status != http.StatusOK {
		call.Status = answer.Status
		s.record(r, answer.Status)
		s.Log.Add(call)
		writeError(w, answer.Status)
		return
	}
	call.Status = http.StatusOK
	call.InputTokens = answer.Usage.InputTokens
	call.CacheReadTokens = answer.Usage.CachedTokens
	call.OutputTokens = answer.Usage.OutputTokens
	call.ReasoningTokens = answer.Usage.ReasoningTokens
	var item map[string]any
	if answer.Shell != "" {
		item = shellCall(body, fmt.Sprintf("call_%d", n), answer.Shell, answer.ShellArgs)
		call.ToolCalls = []string{item["name"].(string)}
	} else {
		item = map[string]any{
			"type": "message", "id": fmt.Sprintf("msg_%d", n), "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": answer.Text, "annotations": []any{}}},
		}
	}
	s.record(r, http.StatusOK)
	s.Log.Add(call)
	s.stream(w, fmt.Sprintf("resp_%d", n), body.Model, item, answer)
}

// purpose tells the turn's own calls from a sub-agent's: Codex 0.169 names
// its sub-agent (e.g. "guardian", the approvals reviewer that
// --approve-for-me turns on) in the x-openai-subagent header and in the
// body's client_metadata, and sends the parent thread in
// x-codex-parent-thread-id (as observed; codex-rs/core/src/client.rs builds
// these headers).
func purpose(r *http.Request, body requestBody) string {
	if sub := r.Header.Get("X-Openai-Subagent"); sub != "" {
		return sub
	}
	if sub := body.ClientMetadata["x-openai-subagent"]; sub != "" {
		return sub
	}
	return "main"
}

func lastUserText(input []json.RawMessage) string {
	for i := len(input) - 1; i >= 0; i-- {
		var it inputItem
		if json.Unmarshal(input[i], &it) != nil || it.Type != "message" || it.Role != "user" {
			continue
		}
		var parts []string
		for _, c := range it.Content {
			if c.Type == "input_text" {
				parts = append(parts, c.Text)
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}

// shellCall is a call of the shell tool the request declares: Codex 0.169
// offers "shell_command" ({"command": "<line>"}) or "shell" ({"command":
// ["bash", "-lc", "<line>"]}) or "exec_command" ({"cmd": "<line>"}),
// depending on the model family and features.
func shellCall(body requestBody, callID, line string, extra map[string]any) map[string]any {
	declared := map[string]bool{}
	for _, tool := range body.Tools {
		declared[tool.Name] = true
	}
	var name string
	var args map[string]any
	switch {
	case declared["exec_command"]:
		name, args = "exec_command", map[string]any{"cmd": line}
	case declared["shell_command"]:
		name, args = "shell_command", map[string]any{"command": line}
	default:
		name, args = "shell", map[string]any{"command": []string{"bash", "-lc", line}}
	}
	for k, v := range extra {
		args[k] = v
	}
	encoded, _ := json.Marshal(args)
	return map[string]any{"type": "function_call", "id": "fc_" + callID, "name": name, "arguments": string(encoded), "call_id": callID}
}

func (s *Server) stream(w http.ResponseWriter, id, model string, item map[string]any, answer Answer) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(kind string, ev map[string]any) {
		ev["type"] = kind
		data, _ := json.Marshal(ev)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", kind, data)
		if flusher != nil {
			flusher.Flush()
		}
	}
	created := time.Now().Unix()
	response := func(status string) map[string]any {
		return map[string]any{"id": id, "object": "response", "created_at": created, "status": status, "model": model, "output": []any{}}
	}
	send("response.created", map[string]any{"response": response("in_progress")})
	added := map[string]any{}
	for k, v := range item {
		added[k] = v
	}
	if item["type"] == "message" {
		added["status"] = "in_progress"
		added["content"] = []any{}
	}
	send("response.output_item.added", map[string]any{"output_index": 0, "item": added})
	if item["type"] == "message" {
		send("response.output_text.delta", map[string]any{"item_id": item["id"], "output_index": 0, "content_index": 0, "delta": answer.Text})
		send("response.output_text.done", map[string]any{"item_id": item["id"], "output_index": 0, "content_index": 0, "text": answer.Text})
	}
	send("response.output_item.done", map[string]any{"output_index": 0, "item": item})
	done := response("completed")
	done["output"] = []any{item}
	u := answer.Usage
	done["usage"] = map[string]any{
		"input_tokens":          u.InputTokens,
		"input_tokens_details":  map[string]any{"cached_tokens": u.CachedTokens},
		"output_tokens":         u.OutputTokens,
		"output_tokens_details": map[string]any{"reasoning_tokens": u.ReasoningTokens},
		"total_tokens":          u.InputTokens + u.OutputTokens,
	}
	send("response.completed", map[string]any{"response": done})
}

// writeError answers with OpenAI's error JSON for the status.
func writeError(w http.ResponseWriter, status int) {
	var e map[string]any
	switch status {
	case http.StatusTooManyRequests:
		e = map[string]any{"message": "Rate limit reached for requests. Please try again in 20ms.", "type": "requests", "param": nil, "code": "rate_limit_exceeded"}
	case http.StatusNotFound:
		e = map[string]any{"message": "Not found", "type": "invalid_request_error", "param": nil, "code": nil}
	default:
		e = map[string]any{"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": nil, "code": nil}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// LogJSON is the log of calls as JSON (the recorded .modellog.json).
func (s *Server) LogJSON() ([]byte, error) {
	return json.MarshalIndent(struct {
		Calls    []harness.ModelCall `json:"calls"`
		Requests []Request           `json:"requests"`
	}{s.Log.Calls(), s.Requests()}, "", "  ")
}
