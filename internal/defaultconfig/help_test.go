package defaultconfig

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite README.md's variable table from Variables")

const (
	tableBegin = "<!-- variables: generated from internal/defaultconfig/variables.go by `go test ./internal/defaultconfig -run TestREADMETable -update` -->\n"
	tableEnd   = "<!-- variables end -->"
)

// README.md's table of variables is generated from Variables, as --help is,
// so the two cannot drift.
func TestREADMETable(t *testing.T) {
	const path = "../../README.md"
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(text), tableBegin)
	table, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok || !ok2 {
		t.Fatalf("README.md lacks the markers %q ... %q", tableBegin, tableEnd)
	}
	if want := READMETable(); table != want {
		if *update {
			if err := os.WriteFile(path, []byte(before+tableBegin+want+tableEnd+after), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's variable table differs from Variables; run go test ./internal/defaultconfig -run TestREADMETable -update\nwant:\n%s", want)
	}
}

func TestHelpListsEveryVariableAndLayer(t *testing.T) {
	help := Help()
	for _, v := range Variables {
		if !strings.Contains(help, "  "+v.Name+" (default: ") {
			t.Errorf("--help lacks %s", v.Name)
		}
	}
	for _, l := range Layers {
		if !strings.Contains(help, l.URI) {
			t.Errorf("--help lacks layer %s", l.URI)
		}
	}
	if strings.ContainsAny(help, "`") || strings.Contains(help, "](") {
		t.Errorf("--help has Markdown left in it:\n%s", help)
	}
}
