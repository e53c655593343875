package ebpfreceiver

import "regexp/syntax"

// literalNames returns the names an executable regex matches when it is an
// anchored alternation of literals, such as ^curl$ or ^(curl|wget)$, and nil
// for anything else. The kernel can select those names itself.
func literalNames(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) != 3 ||
		re.Sub[0].Op != syntax.OpBeginText || re.Sub[2].Op != syntax.OpEndText {
		return nil
	}
	return literals(re.Sub[1])
}

func literals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil
		}
		return []string{string(re.Rune)}
	case syntax.OpCapture:
		return literals(re.Sub[0])
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			names := literals(sub)
			if names == nil {
				return nil
			}
			out = append(out, names...)
		}
		return out
	}
	return nil
}

// commKey is a name as the kernel's task comm holds it: at most 15 bytes,
// NUL-padded.
func commKey(name string) (key [16]byte) {
	copy(key[:15], name)
	return key
}
