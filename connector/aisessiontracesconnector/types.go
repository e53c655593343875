package aisessiontracesconnector

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The CLIs send the same attribute with different types: success is a
// string for Claude Code and Codex and a bool for Gemini CLI; duration_ms
// an int for some events and a string for others. On the synthesized spans
// each attribute has one type whatever the CLI, so that one query finds
// every CLI's spans ({ span.success = false }): the types below, by name
// (README.md, "Attribute types"). A value that does not convert keeps the
// CLI's type.
type attrType int

const (
	asSent attrType = iota
	asBool
	asInt
	asDouble
)

// typeOf says how an event attribute is typed on the spans.
func typeOf(key string) attrType {
	switch key {
	case "success", "interactive":
		return asBool
	case "attempt", "attempts", "total_attempts", "status_code", "http.response.status_code", "exit_code", "event.sequence":
		return asInt
	}
	if strings.HasPrefix(key, "is_") || strings.HasPrefix(key, "has_") {
		return asBool
	}
	for _, suffix := range []string{"_ms", "_tokens", "_token_count", "_count", "_length", "_bytes", "_lines"} {
		if strings.HasSuffix(key, suffix) {
			return asInt
		}
	}
	if strings.HasSuffix(key, "_usd") {
		return asDouble
	}
	return asSent
}

// putTyped copies an event attribute onto a span with its type.
func putTyped(m pcommon.Map, key string, v pcommon.Value) {
	switch typeOf(key) {
	case asBool:
		if b, ok := (attrs{}).valueBool(v); ok {
			m.PutBool(key, b)
			return
		}
	case asInt:
		if f, ok := valueFloat(v); ok && f >= math.MinInt64 && f <= math.MaxInt64 {
			m.PutInt(key, int64(math.Round(f)))
			return
		}
	case asDouble:
		if f, ok := valueFloat(v); ok {
			m.PutDouble(key, f)
			return
		}
	}
	v.CopyTo(m.PutEmpty(key))
}

func valueFloat(v pcommon.Value) (float64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	case pcommon.ValueTypeDouble:
		return v.Double(), !math.IsNaN(v.Double()) && !math.IsInf(v.Double(), 0)
	case pcommon.ValueTypeStr:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}
