package defaultconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// exportJournaldMatches turns OTEL_AI_COLLECTOR_JOURNALD_UNITS (comma-separated,
// default DefaultJournaldUnits) into the journald receiver's matches, as a
// YAML flow list: each unit as a system unit or a user unit, since
// otel-ai-monitor runs under the user's manager.
func exportJournaldMatches() error {
	units, err := listFromEnv(envJournaldUnits, DefaultJournaldUnits)
	if err != nil {
		return err
	}
	var matches []map[string]string
	for _, unit := range units {
		if !strings.Contains(unit, ".") {
			unit += ".service" // as journalctl --unit does
		}
		matches = append(matches, map[string]string{"_SYSTEMD_UNIT": unit}, map[string]string{"_SYSTEMD_USER_UNIT": unit})
	}
	flow, err := json.Marshal(matches) // JSON is YAML
	if err != nil {
		return err
	}
	return os.Setenv(envJournaldMatches, string(flow))
}

// journalReadable runs journalctl the way the journald receiver will and says
// whether journald logs can be collected, with a warning that names the fix
// when they cannot, or can only partly.
func journalReadable(dir string) (bool, string) {
	const off = "set " + envJournald + "=off to silence this"
	path, err := exec.LookPath("journalctl")
	if err != nil {
		return false, "journald logs are off: journalctl was not found on PATH; install systemd's journalctl (" + off + ")"
	}
	args := []string{"--lines=0", "--no-pager"}
	if dir != "" {
		args = append(args, "--directory", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	switch {
	case strings.Contains(text, "No journal files were"):
		// Not a permission problem: journald keeps no journal files there
		// (Storage=none, a container, or an empty directory).
		where := "journald stores none on this machine (Storage=none, or a container without journald)"
		if dir != "" {
			where = envJournalDir + "=" + dir + " holds none"
		}
		return false, fmt.Sprintf("journald logs are off: there are no journal files to read: %s (%s)", where, off)
	case err != nil && (strings.Contains(text, "ermission") || strings.Contains(text, "insufficient")):
		return false, fmt.Sprintf("journald logs are off: journalctl may not read the journal (%s); "+
			"add the collector's user to the systemd-journal group (%s)", firstLine(text, err), off)
	case err != nil:
		return false, fmt.Sprintf("journald logs are off: journalctl failed (%s) (%s)", firstLine(text, err), off)
	case strings.Contains(text, "not seeing messages from other users") || strings.Contains(text, "insufficient permissions"):
		return true, "journald: the collector's user reads only its own journal; add it to the systemd-journal group to read system units"
	}
	return true, ""
}

func firstLine(text string, err error) string {
	if line, _, _ := strings.Cut(text, "\n"); line != "" {
		return line
	}
	if err != nil {
		return err.Error()
	}
	return "no output"
}
