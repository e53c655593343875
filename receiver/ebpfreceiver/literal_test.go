package ebpfreceiver

import (
	"reflect"
	"testing"
)

func TestLiteralNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`^curl$`:                 {"curl"},
		`^(curl|wget)$`:          {"curl", "wget"},
		`^(?:python3\.11|node)$`: {"python3.11", "node"},
		`curl`:                   nil, // unanchored: matches more than "curl"
		`^python3.*$`:            nil,
		`^(?i)curl$`:             nil,
		`(`:                      nil,
	} {
		if got := literalNames(expr); !reflect.DeepEqual(got, want) {
			t.Errorf("literalNames(%q) = %q, want %q", expr, got, want)
		}
	}
	if k := commKey("a-very-long-executable-name"); string(k[:15]) != "a-very-long-exe" || k[15] != 0 {
		t.Errorf("commKey = %q", k)
	}
}
