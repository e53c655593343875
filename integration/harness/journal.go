package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// JournalEntry is one journal entry: its fields (MESSAGE, PRIORITY,
// _SYSTEMD_UNIT, ...) and its time.
type JournalEntry struct {
	Time   time.Time
	Fields map[string]string
}

const journalRemote = "/lib/systemd/systemd-journal-remote"

// WriteJournal writes entries to the journal file dir/name.journal, appending
// if it exists as journald does, by feeding the journal export format to
// systemd-journal-remote (Debian package systemd-journal-remote): real journal
// files, read by the real journalctl.
func WriteJournal(t testing.TB, dir, name string, entries []JournalEntry) {
	t.Helper()
	if _, err := os.Stat(journalRemote); err != nil {
		t.Fatalf("%s is needed to write test journals: apt-get install systemd-journal-remote (%v)", journalRemote, err)
	}
	bootID := strings.ReplaceAll(strings.TrimSpace(readFile(t, "/proc/sys/kernel/random/boot_id")), "-", "")
	var export bytes.Buffer
	for i, e := range entries {
		fmt.Fprintf(&export, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n",
			e.Time.UnixMicro(), 1000*(i+1), bootID)
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&export, "%s=%s\n", k, e.Fields[k])
		}
		export.WriteString("\n")
	}
	cmd := exec.Command(journalRemote, "--output="+filepath.Join(dir, name+".journal"), "-")
	cmd.Stdin = &export
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
