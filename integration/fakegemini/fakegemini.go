// Package fakegemini is a fake Gemini API (generativelanguage.googleapis.com
// v1beta) on loopback for driving the real Gemini CLI in integration tests.
//
// The wire format mirrors what Gemini CLI 0.61.0 really sends and parses,
// read from its sources (not copied):
//   - the base URL: GOOGLE_GEMINI_BASE_URL, read by
//     google-gemini/gemini-cli packages/core/src/core/contentGenerator.ts
//     (v0.61.0: setting it selects the "gateway" auth type and is passed to
//     @google/genai as httpOptions.baseUrl);
//   - the requests and the SSE answer: googleapis/js-genai 1.30.0 (the
//     version bundled in 0.61.0), src/models.ts (generateContentStream posts
//     to {model}:streamGenerateContent?alt=sse, generateContent to
//     {model}:generateContent, countTokens to {model}:countTokens) and
//     src/_api_client.ts (each SSE event is `data: <JSON>` ended by a blank
//     line; a non-2xx answer is read as `{"error": {code, message, status}}`
//     and becomes an ApiError with that status);
//   - GenerateContentResponse (candidates[].content.parts[] with text or
//     functionCall {name, args}, finishReason, usageMetadata
//     {promptTokenCount, candidatesTokenCount, cachedContentTokenCount,
//     thoughtsTokenCount, totalTokenCount}, modelVersion, responseId):
//     js-genai src/types.ts;
//   - the error bodies: the Google API error model (google.rpc.Status as
//     JSON: code, message, status "INTERNAL" / "RESOURCE_EXHAUSTED" /
//     "UNAVAILABLE"), which gemini-cli packages/core/src/utils/googleErrors.ts
//     and googleQuotaErrors.ts classify for retries.
//
// Main-loop calls (streamGenerateContent; the CLI logs them with
// role=main) take the scripted answers in order; the CLI's side calls
// (generateContent with a JSON schema: its model router's classifier, role
// utility_router, and the next-speaker and loop checks) get a minimal answer
// valid for the schema they ask for. Only those three methods were seen
// from 0.61.0 in -p mode (countTokens is served for completeness; no
// embeddings call was made). Every request is recorded in a
// harness.ModelLog, and its raw form in Raw.
package fakegemini

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otel-ai-collector/otel-ai-collector/integration/harness"
)

// Usage is what an answer reports in usageMetadata. Prompt includes Cached,
// as the Gemini API counts them.
type Usage struct {
	Prompt, Candidates, Cached, Thoughts int64
}

// Answer is one scripted answer to a main-loop call.
type Answer struct {
	Text string
	// Call, when set, asks the CLI to run a tool (a functionCall part).
	Call *FunctionCall
	// Status, when not 2xx/0, answers with that error and the Google error
	// JSON for it instead.
	Status int
	Usage  Usage
}

// FunctionCall is a functionCall part: a tool the model asks the CLI to run.
type FunctionCall struct {
	Name string         `json:"name"`
	Args map[string]any `json:"args"`
}

// RawRequest is one request as received, for discovery and debugging.
type RawRequest struct {
	Time   time.Time       `json:"time"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Query  string          `json:"query"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// Server is the fake API.
type Server struct {
	URL string
	Log harness.ModelLog

	mu       sync.Mutex
	queue    []Answer
	fallback Answer
	raw      []RawRequest
	seq      int
}

// Start serves on a loopback port the kernel picks (harness.Listen) until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	l := harness.Listen(t)
	addr := l.Addr().String()
	s := &Server{URL: "http://" + addr, fallback: Answer{Text: "Done.", Usage: Usage{Prompt: 10, Candidates: 2}}}
	srv := &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Script queues answers for the next main-loop calls.
func (s *Server) Script(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, answers...)
}

// Fallback sets the answer given once the queue is empty (by default a
// short text).
func (s *Server) Fallback(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = a
}

// Raw returns every request received so far.
func (s *Server) Raw() []RawRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RawRequest(nil), s.raw...)
}

// request is the part of a GenerateContentParameters body the fake reads.
type request struct {
	Contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			Text             string          `json:"text"`
			FunctionResponse json.RawMessage `json:"functionResponse"`
		} `json:"parts"`
	} `json:"contents"`
	SystemInstruction *struct {
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"systemInstruction"`
	GenerationConfig struct {
		ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
		ResponseSchema     json.RawMessage `json:"responseSchema"`
		ResponseMimeType   string          `json:"responseMimeType"`
	} `json:"generationConfig"`
}

func (r *request) lastUserText() string {
	for i := len(r.Contents) - 1; i >= 0; i-- {
		c := r.Contents[i]
		if c.Role != "user" {
			continue
		}
		// The CLI puts its <session_context> in a part of its own before
		// the prompt: the last text part is the user's.
		for j := len(c.Parts) - 1; j >= 0; j-- {
			if c.Parts[j].Text != "" {
				return c.Parts[j].Text
			}
		}
	}
	return ""
}

func (r *request) system() string {
	if r.SystemInstruction == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range r.SystemInstruction.Parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// purpose tells a side call's reason from the JSON schema it asks for, else
// its system instruction or prompt, as gemini-cli 0.61.0 words them
// (packages/core/src/routing/strategies/numericalClassifierStrategy.ts:
// complexity_score, the default "auto" model's router, seen before every
// turn; routing/strategies/classifierStrategy.ts: model_choice;
// utils/nextSpeakerChecker.ts: next_speaker;
// services/loopDetectionService.ts).
func purpose(r *request) string {
	schema := strings.ToLower(string(r.GenerationConfig.ResponseJSONSchema) + string(r.GenerationConfig.ResponseSchema))
	switch {
	case strings.Contains(schema, "complexity_score") || strings.Contains(schema, "model_choice"):
		return "classifier"
	case strings.Contains(schema, "next_speaker"):
		return "next_speaker"
	case strings.Contains(schema, "unproductive_state") || strings.Contains(schema, "loop"):
		return "loop_detection"
	}
	sys := strings.ToLower(r.system())
	last := strings.ToLower(r.lastUserText())
	switch {
	case strings.Contains(sys, "route") || strings.Contains(sys, "routing") || strings.Contains(sys, "classif"):
		return "classifier"
	case strings.Contains(last, "next_speaker") || strings.Contains(last, "who should speak next"):
		return "next_speaker"
	case strings.Contains(sys, "loop") || strings.Contains(last, "loop"):
		return "loop_detection"
	}
	return "side"
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	now := time.Now()
	s.mu.Lock()
	raw := RawRequest{Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery}
	if json.Valid(body) {
		raw.Body = body
	}
	s.raw = append(s.raw, raw)
	s.mu.Unlock()

	// /v1beta/models/{model}:{method}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	model, method, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || r.Method != http.MethodPost {
		writeError(w, http.StatusNotFound)
		return
	}
	var req request
	_ = json.Unmarshal(body, &req)
	switch method {
	case "streamGenerateContent":
		s.mainCall(w, now, model, &req)
	case "generateContent":
		s.sideCall(w, now, model, &req)
	case "countTokens":
		// CountTokensResponse: totalTokens.
		writeJSON(w, map[string]any{"totalTokens": len(body) / 4})
	default:
		writeError(w, http.StatusNotFound)
	}
}

func (s *Server) next() (Answer, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	if len(s.queue) == 0 {
		return s.fallback, s.seq
	}
	a := s.queue[0]
	s.queue = s.queue[1:]
	return a, s.seq
}

func (s *Server) mainCall(w http.ResponseWriter, now time.Time, model string, req *request) {
	a, seq := s.next()
	call := harness.ModelCall{Time: now, Model: model, Purpose: "main", UserText: req.lastUserText()}
	if a.Status != 0 && a.Status/100 != 2 {
		call.Status = a.Status
		s.Log.Add(call)
		writeError(w, a.Status)
		return
	}
	call.Status = http.StatusOK
	call.InputTokens, call.OutputTokens = a.Usage.Prompt, a.Usage.Candidates
	call.CacheReadTokens, call.ReasoningTokens = a.Usage.Cached, a.Usage.Thoughts
	if a.Call != nil {
		call.ToolCalls = []string{a.Call.Name}
	}
	s.Log.Add(call)

	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	id := fmt.Sprintf("fake-%d", seq)
	// The content comes in a first chunk, the finish reason and the usage
	// in the last, as the real API streams them.
	var parts []any
	if a.Text != "" {
		parts = append(parts, map[string]any{"text": a.Text})
	}
	if a.Call != nil {
		args := a.Call.Args
		if args == nil {
			args = map[string]any{}
		}
		parts = append(parts, map[string]any{"functionCall": map[string]any{"name": a.Call.Name, "args": args}})
	}
	chunks := []map[string]any{
		{
			"candidates":   []any{map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}},
			"modelVersion": model,
			"responseId":   id,
		},
		{
			"candidates":    []any{map[string]any{"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": ""}}}, "finishReason": "STOP", "index": 0}},
			"usageMetadata": usageJSON(a.Usage),
			"modelVersion":  model,
			"responseId":    id,
		},
	}
	for _, c := range chunks {
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func usageJSON(u Usage) map[string]any {
	m := map[string]any{
		"promptTokenCount":     u.Prompt,
		"candidatesTokenCount": u.Candidates,
		"totalTokenCount":      u.Prompt + u.Candidates + u.Thoughts,
	}
	if u.Cached > 0 {
		m["cachedContentTokenCount"] = u.Cached
	}
	if u.Thoughts > 0 {
		m["thoughtsTokenCount"] = u.Thoughts
	}
	return m
}

// sideCall answers the CLI's own checks with a minimal valid answer.
func (s *Server) sideCall(w http.ResponseWriter, now time.Time, model string, req *request) {
	p := purpose(req)
	text := "OK"
	schema := req.GenerationConfig.ResponseJSONSchema
	if len(schema) == 0 {
		schema = req.GenerationConfig.ResponseSchema
	}
	if len(schema) > 0 {
		var sch map[string]any
		_ = json.Unmarshal(schema, &sch)
		b, _ := json.Marshal(fill(sch))
		text = string(b)
	}
	u := Usage{Prompt: 5, Candidates: 1}
	s.Log.Add(harness.ModelCall{Time: now, Model: model, Status: http.StatusOK, Purpose: p, UserText: req.lastUserText(),
		InputTokens: u.Prompt, OutputTokens: u.Candidates})
	writeJSON(w, map[string]any{
		"candidates":    []any{map[string]any{"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}, "finishReason": "STOP", "index": 0}},
		"usageMetadata": usageJSON(u),
		"modelVersion":  model,
	})
}

// fill makes a value valid for a JSON schema: the first enum value, the
// required properties of objects.
func fill(sch map[string]any) any {
	if e, ok := sch["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	typ, _ := sch["type"].(string)
	switch strings.ToLower(typ) {
	case "object":
		out := map[string]any{}
		props, _ := sch["properties"].(map[string]any)
		for name, p := range props {
			ps, _ := p.(map[string]any)
			out[name] = fill(ps)
		}
		return out
	case "array":
		return []any{}
	case "boolean":
		return false
	case "integer", "number":
		// 1: the CLI's zod schemas of its side answers want positive
		// scores (classifierStrategy's complexity_score is 1..100).
		return 1
	}
	return "fake"
}

// errorStatus is google.rpc.Code's name for an HTTP status.
func errorStatus(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 404:
		return "NOT_FOUND"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}

func errorMessage(code int) string {
	switch code {
	case 429:
		return "Resource has been exhausted (e.g. check quota)."
	case 503:
		return "The model is overloaded. Please try again later."
	case 404:
		return "Not found."
	}
	return "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
}

func writeError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": errorMessage(code), "status": errorStatus(code)}})
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	b, _ := json.Marshal(v)
	w.Write(b)
}
