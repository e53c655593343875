package lokipartialsuccessextension

import (
	"regexp"
	"strconv"
	"strings"
)

// Loki (v3.7.6) answers a push whose entries it checked one by one with
// 400 and one message for the whole request: pkg/distributor/distributor.go
// PushWithResolver adds every refusal to a util.GroupedErrors, stores the
// entries that passed, and answers httpgrpc 400 with GroupedErrors.Error().
// pkg/util/errors.go formats it: the refusals grouped by their exact text,
// in map order, joined by "; ", each group prefixed "N errors like: "
// unless it is the only group and holds one refusal. Nothing is capped or
// cut: every refusal is in some group.
//
// Only the refusals of validator.go ValidateEntry stand for exactly one
// entry each. The stream-level refusals added to the same GroupedErrors
// (labels that do not parse or break a limit, missing enforced labels) stand
// for all the entries of a stream, a number the message does not give, so a
// message holding any of them is not counted.
//
// entryRefusal matches one ValidateEntry refusal, in the formats of
// pkg/validation/validate.go (GreaterThanMaxSampleAgeErrorMsg,
// TooFarInFutureErrorMsg, LineTooLongErrorMsg,
// DisallowedStructuredMetadataErrorMsg, StructuredMetadataTooLargeErrorMsg,
// StructuredMetadataTooManyErrorMsg), with the entry times as
// validator.go's timeFormat (RFC 3339) and the stream as Prometheus'
// labels.Labels.String() (vendor/.../prometheus/model/labels/labels_common.go):
// {name="value", ...}, values always and names outside [a-zA-Z_][a-zA-Z0-9_]*
// written by strconv.Quote. Every free-form part of a refusal is such a
// quoted string, so a "; " or "errors like: " inside a label value cannot be
// taken for a separator, and each refusal has exactly one length: the split
// of a message into refusals is unique or the message is not counted.
var entryRefusal = func() *regexp.Regexp {
	const (
		quoted = `"(?:[^"\\]|\\.)*"`
		name   = `(?:[a-zA-Z_][a-zA-Z0-9_]*|` + quoted + `)`
		labels = `\{(?:` + name + `=` + quoted + `(?:, ` + name + `=` + quoted + `)*)?\}`
		ts     = `\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})`
		num    = `\d+`
	)
	formats := []string{
		`entry for stream '` + labels + `' has timestamp too old: ` + ts + `, oldest acceptable timestamp is: ` + ts,
		`entry for stream '` + labels + `' has timestamp too new: ` + ts,
		`max entry size '` + num + `' bytes exceeded for stream '` + labels + `' while adding an entry with length '` + num + `' bytes`,
		`stream '` + labels + `' includes structured metadata, but this feature is disallowed\. Please see ` +
			"`limits_config\\.allow_structured_metadata`" + ` or contact your Loki administrator to enable it`,
		`stream '` + labels + `' has structured metadata too large: '` + num + `' bytes, limit: '` + num + `' bytes\. Please see ` +
			"`limits_config\\.max_structured_metadata_size`" + ` or contact your Loki administrator to increase it`,
		`stream '` + labels + `' has too many structured metadata labels: '` + num + `', limit: '` + num + `'\. Please see ` +
			"`limits_config\\.max_structured_metadata_entries_count`" + ` or contact your Loki administrator to increase it`,
	}
	// A group: GroupedErrors' optional count, then one refusal.
	return regexp.MustCompile(`^(?s)(?:([0-9]+) errors like: )?(` + strings.Join(formats, "|") + `)`)
}()

// lokiRefusal recognises the start of any refusal Loki's distributor
// groups, entry- or stream-level (pkg/validation/validate.go). It only
// decides whether a 400 that is passed on deserves the warning that Loki
// may have stored part of the request; it never decides a count.
var lokiRefusal = regexp.MustCompile(`^(?:[0-9]+ errors like: )?(?:entry for stream '|stream '|max entry size '|error parsing labels '|error at least one label pair is required per stream|missing required labels ')`)

// countRefused returns how many entries a Loki 400 message refuses, and
// false unless that number follows from the message with certainty: the
// whole message is GroupedErrors of ValidateEntry refusals, as
// GroupedErrors.Error writes it.
func countRefused(msg string) (int, bool) {
	var (
		total  int
		seen   = map[string]bool{}
		counts []bool // whether each group had "N errors like: "
	)
	for rest := msg; ; {
		m := entryRefusal.FindStringSubmatchIndex(rest)
		if m == nil {
			return 0, false
		}
		n := 1
		if m[2] >= 0 {
			var err error
			if n, err = strconv.Atoi(rest[m[2]:m[3]]); err != nil || n < 1 || rest[m[2]] == '0' {
				return 0, false
			}
		}
		refusal := rest[m[4]:m[5]]
		if seen[refusal] {
			return 0, false // GroupedErrors has one group per distinct text
		}
		seen[refusal] = true
		counts = append(counts, m[2] >= 0)
		if total += n; total < 0 || total > maxRefused {
			return 0, false
		}
		rest = rest[m[1]:]
		if rest == "" {
			break
		}
		if !strings.HasPrefix(rest, "; ") {
			return 0, false
		}
		rest = rest[2:]
	}
	// "N errors like: " is written for every group when there are several,
	// and for a single group only when it holds more than one refusal.
	if len(counts) == 1 {
		if counts[0] == (total == 1) {
			return 0, false
		}
		return total, true
	}
	for _, c := range counts {
		if !c {
			return 0, false
		}
	}
	return total, true
}

// maxRefused bounds a count: far more than a request holds (the exporters
// of this distribution send at most 8192 records), far less than an int.
const maxRefused = 1 << 30
