package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// asideMarker is in the name of a state file resilient_file_storage could
// not open and moved aside (<file>.damaged-<UTC time>); the collector
// started with a fresh file in its place. Kept in step with
// extension/resilientfilestorageextension.AsideMarker (doctor does not link
// the extension).
const asideMarker = ".damaged-"

// checkDamagedState lists the state files the collector moved aside. They
// stay until someone deletes them, so this shows every damage since, also
// when no collector runs (its counter,
// otelcol_extension_resilient_file_storage_damaged_files, starts at 0 with
// each process).
func checkDamagedState() Check {
	dir := os.Getenv(envStateDir)
	c := Check{Name: "damaged state"}
	matches, err := filepath.Glob(filepath.Join(dir, "*"+asideMarker+"*"))
	if err != nil || len(matches) == 0 {
		c.Status, c.Detail = OK, "no state file in "+dir+" was found damaged"
		return c
	}
	sort.Strings(matches)
	var parts []string
	var total int64
	for _, m := range matches {
		base := filepath.Base(m)
		file, when, _ := strings.Cut(base, asideMarker)
		size := int64(0)
		if info, err := os.Stat(m); err == nil {
			if info.IsDir() {
				size = dirSize(m)
			} else {
				size = info.Size()
			}
		}
		total += size
		parts = append(parts, fmt.Sprintf("%s at %s (%s kept as %s)", file, when, bytesText(size), base))
	}
	c.Status = Warn
	c.Detail = fmt.Sprintf("%d state file(s) could not be opened and were replaced by fresh ones; what they held was not delivered: %s",
		len(matches), strings.Join(parts, "; "))
	c.Fix = fmt.Sprintf("nothing to do for the collector (it runs on fresh files); the damaged copies in %s (%s) are kept for inspection: delete them when done. "+
		"Repeated damage after power losses: see docs/architecture.md, Durability", dir, bytesText(total))
	return c
}
