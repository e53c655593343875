package aisessiontracesconnector

import (
	"strings"
	"time"
)

// cliProfile is what the connector knows about one AI CLI's events.
type cliProfile struct {
	name     string // canonical service.name and gen_ai.agent.name
	provider string // gen_ai.provider.name
	prefix   string // the CLI's event names start with it
	// cacheOutsideInput: the CLI reports input tokens without the cached
	// ones (Anthropic's accounting); the conventions count them in.
	cacheOutsideInput bool
	sessionKeys       []string
	// toolWaitInDuration: a tool result's duration includes the time the
	// user took to approve it; a user's decision bounds the span's start.
	toolWaitInDuration bool
	// failedCallIsFinal: the CLI reports a failed model call only once it
	// gave up retrying it (Claude Code), so the turn no longer waits for
	// the model; otherwise each failed attempt is reported and another
	// follows.
	failedCallIsFinal bool
	// retryGap bounds the wait for the next attempt after a failed one,
	// for CLIs that report each attempt: their default backoff with
	// jitter, with room for a server's Retry-After.
	retryGap time.Duration
	// reviewerSource is the decision source that names an automatic
	// reviewer running as a session of its own (Codex).
	reviewerSource string
	// parse sets the event's kind and fields from its attributes. It
	// returns a reason when the event is malformed and cannot become a span.
	parse func(e *event, a attrs) (malformed string)
}

var profiles = []*cliProfile{claudeCode, codex, geminiCLI}

// scopeProfiles name the CLI of events whose name lacks the CLI's prefix.
var scopeProfiles = map[string]*cliProfile{"com.anthropic.claude_code.events": claudeCode}

// profileFor picks the CLI by the event name's prefix, not by service.name:
// senders name themselves differently across versions and wrappers
// (codex_cli_rs, codex-cli, codex), and a filter keyed on one of them loses
// the others.
func profileFor(name string) *cliProfile {
	for _, p := range profiles {
		if len(name) > len(p.prefix) && strings.HasPrefix(name, p.prefix) {
			return p
		}
	}
	return nil
}

// common reads what every model call and tool event carries; it returns a
// malformed reason for a duration that is present but unusable.
func readDuration(e *event, a attrs, keys ...string) string {
	d, ok, bad := a.durationMs(keys...)
	if bad {
		return "invalid_duration"
	}
	if ok {
		e.duration = d
	}
	return ""
}

func readTokens(e *event, a attrs, in, out, cacheRead, cacheCreation, reasoning []string) string {
	fields := []struct {
		keys []string
		dst  *int64
	}{{in, &e.usage.InputTokens}, {out, &e.usage.OutputTokens}, {cacheRead, &e.usage.CacheReadTokens}, {cacheCreation, &e.usage.CacheCreationTokens}, {reasoning, &e.usage.ReasoningTokens}}
	for _, f := range fields {
		if len(f.keys) == 0 {
			continue
		}
		n, ok, bad := a.int(f.keys...)
		if bad {
			return "invalid_token_count"
		}
		if ok {
			*f.dst = n
			e.usage.HasTokens = true
		}
	}
	return ""
}

func readCost(e *event, a attrs, keys ...string) string {
	cost, ok, bad := a.float(keys...)
	if bad || cost < 0 {
		return "invalid_cost"
	}
	if ok {
		e.usage.CostUSD, e.usage.HasCost = cost, true
	}
	return ""
}

func firstBad(reasons ...string) string {
	for _, r := range reasons {
		if r != "" {
			return r
		}
	}
	return ""
}
