package harness

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// AICLIPath is the executable of an AI CLI that scripts/install-test-deps.sh
// installed from npm at its pinned version, e.g. AICLIPath(t, "codex",
// "codex"). The test fails (it is not skipped) when the CLI is missing:
// `make test` installs it.
func AICLIPath(t testing.TB, cli, executable string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, ".tools", "ai-clis", cli, "node_modules", ".bin", executable)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is not installed (%v): run scripts/install-test-deps.sh", cli, err)
	}
	return path
}

// ModelCall is one request a fake model API server answered. The fake
// servers' logs are the real-CLI tests' oracle: what the CLI really did,
// against which the collector's traces are checked.
type ModelCall struct {
	Time   time.Time
	Model  string
	Status int // the HTTP status the fake answered (2xx, or the error it was told to give)
	// Purpose says why the CLI called, where the request tells: "main" for
	// the turn's own calls, else e.g. "title" (Claude Code's session-title
	// side call).
	Purpose string
	// The usage the fake reported in its answer (zero for errors).
	InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens, ReasoningTokens int64
	// ToolCalls are the names of the tools the answer asked the CLI to run.
	ToolCalls []string
	// UserText is the last user message's text of the request, to tell
	// turns apart.
	UserText string
}

// ModelLog is a fake model server's request log, safe for concurrent use.
type ModelLog struct {
	mu    sync.Mutex
	calls []ModelCall
}

// Add records a call.
func (l *ModelLog) Add(c ModelCall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// Calls returns a copy of the calls so far, in the order they were answered.
func (l *ModelLog) Calls() []ModelCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ModelCall(nil), l.calls...)
}
