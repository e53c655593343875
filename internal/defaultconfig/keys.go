package defaultconfig

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// Keys the collector's configuration takes at the top and under service.
var (
	topKeys      = []string{"receivers", "processors", "exporters", "connectors", "extensions", "service"}
	serviceKeys  = []string{"extensions", "pipelines", "telemetry"}
	pipelineKind = []string{"traces", "metrics", "logs", "profiles"}
)

// checkConfigKeys reads the configuration files named by --config flags and
// refuses a misspelt top-level, service or pipeline key with the file and
// a suggestion; the collector's own message names neither.
func checkConfigKeys(args []string) error {
	for i, arg := range args {
		var value string
		switch {
		case strings.HasPrefix(arg, "--config="):
			value = strings.TrimPrefix(arg, "--config=")
		case (arg == "--config" || arg == "-config") && i+1 < len(args):
			value = args[i+1]
		default:
			continue
		}
		path, isFile := strings.CutPrefix(value, "file:")
		if !isFile && strings.Contains(value, ":") {
			continue // embedded:, env:, yaml: ... are not files
		}
		text, err := os.ReadFile(path)
		if err != nil {
			continue // the collector says why it cannot read it
		}
		retrieved, err := confmap.NewRetrievedFromYAML(text)
		if err != nil {
			continue // and why it cannot parse it
		}
		conf, err := retrieved.AsConf()
		if err != nil {
			continue
		}
		doc := conf.ToStringMap()
		if err := checkKeys(path, "", doc, topKeys); err != nil {
			return err
		}
		service, _ := doc["service"].(map[string]any)
		if err := checkKeys(path, "service::", service, serviceKeys); err != nil {
			return err
		}
		pipelines, _ := service["pipelines"].(map[string]any)
		for name := range pipelines {
			kind, _, _ := strings.Cut(name, "/")
			if !slices.Contains(pipelineKind, kind) {
				return fmt.Errorf("%s: service::pipelines::%s: %q is not a signal%s (traces, metrics, logs or profiles, then optionally /name)",
					path, name, kind, suggest(kind, pipelineKind))
			}
		}
	}
	return nil
}

func checkKeys(path, prefix string, m map[string]any, known []string) error {
	for key := range m {
		if !slices.Contains(known, key) {
			return fmt.Errorf("%s: unknown key %s%s%s (known: %s)", path, prefix, key, suggest(key, known), strings.Join(known, ", "))
		}
	}
	return nil
}

// suggest names the known word closest to word, if it is a plausible typo.
func suggest(word string, known []string) string {
	best, bestDist := "", 3 // more than two edits is not a typo
	for _, k := range known {
		if d := distance(word, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(": did you mean %q?", best)
}

// distance is the Levenshtein distance, counting a swap of two neighbouring
// letters as one edit (recievers, receivers).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
