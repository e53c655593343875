package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
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
	if err := AppendJournal(dir, name, entries); err != nil {
		t.Fatal(err)
	}
}

// AppendJournal is WriteJournal for a goroutine other than the test's
// (which may not call t.Fatal): it returns the error instead.
func AppendJournal(dir, name string, entries []JournalEntry) error {
	if _, err := os.Stat(journalRemote); err != nil {
		return fmt.Errorf("%s is needed to write test journals: apt-get install systemd-journal-remote (%v)", journalRemote, err)
	}
	bootRaw, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return err
	}
	bootID := strings.ReplaceAll(strings.TrimSpace(string(bootRaw)), "-", "")
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
		return fmt.Errorf("systemd-journal-remote: %v\n%s", err, out)
	}
	return nil
}

// The fields below are the ones journald adds itself (trusted, "_" fields)
// to a line a service writes to its stdout, as systemd's
// man/systemd.journal-fields.xml describes them and
// src/journal/journald-context.c (client_context_read_cgroup) derives the
// unit fields from the process's cgroup: for a process of a user service,
// cgroup /user.slice/user-UID.slice/user@UID.service/app.slice/NAME, journald
// writes _SYSTEMD_UNIT=user@UID.service (the user's manager, a system unit)
// and _SYSTEMD_USER_UNIT=NAME, with _SYSTEMD_SLICE=user-UID.slice,
// _SYSTEMD_USER_SLICE=app.slice and _SYSTEMD_OWNER_UID=UID.

// SystemUnitEntry is a line a system service wrote to stdout, with the fields
// journald adds to it.
func SystemUnitEntry(at time.Time, host, unit, comm string, pid, priority int, message string) JournalEntry {
	return JournalEntry{Time: at, Fields: map[string]string{
		"_HOSTNAME":              host,
		"_MACHINE_ID":            "3c1f0e4b5a6d4e7f8a9b0c1d2e3f4a5b",
		"_TRANSPORT":             "stdout",
		"_STREAM_ID":             "9f2d4c1b7e8a4f3d8c6b5a4e3d2c1b0a",
		"_PID":                   strconv.Itoa(pid),
		"_UID":                   "0",
		"_GID":                   "0",
		"_COMM":                  comm,
		"_EXE":                   "/usr/bin/" + comm,
		"_CMDLINE":               "/usr/bin/" + comm,
		"_CAP_EFFECTIVE":         "0",
		"_SYSTEMD_CGROUP":        "/system.slice/" + unit,
		"_SYSTEMD_SLICE":         "system.slice",
		"_SYSTEMD_UNIT":          unit,
		"_SYSTEMD_INVOCATION_ID": "5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
		"SYSLOG_FACILITY":        "3",
		"SYSLOG_IDENTIFIER":      comm,
		"PRIORITY":               strconv.Itoa(priority),
		"MESSAGE":                message,
	}}
}

// UserUnitEntry is a line a user service (under user@UID.service) wrote to
// stdout, with the fields journald adds to it: both _SYSTEMD_UNIT (the
// user's manager) and _SYSTEMD_USER_UNIT.
func UserUnitEntry(at time.Time, host string, uid int, unit, comm string, pid, priority int, message string) JournalEntry {
	manager := fmt.Sprintf("user@%d.service", uid)
	e := SystemUnitEntry(at, host, manager, comm, pid, priority, message)
	e.Fields["_UID"] = strconv.Itoa(uid)
	e.Fields["_GID"] = "100"
	e.Fields["_CAP_EFFECTIVE"] = "0"
	e.Fields["_EXE"] = "/home/user/.local/bin/" + comm
	e.Fields["_CMDLINE"] = "/home/user/.local/bin/" + comm
	e.Fields["_SYSTEMD_CGROUP"] = fmt.Sprintf("/user.slice/user-%d.slice/%s/app.slice/%s", uid, manager, unit)
	e.Fields["_SYSTEMD_SLICE"] = fmt.Sprintf("user-%d.slice", uid)
	e.Fields["_SYSTEMD_USER_SLICE"] = "app.slice"
	e.Fields["_SYSTEMD_USER_UNIT"] = unit
	e.Fields["_SYSTEMD_OWNER_UID"] = strconv.Itoa(uid)
	e.Fields["SYSLOG_FACILITY"] = "3"
	return e
}
