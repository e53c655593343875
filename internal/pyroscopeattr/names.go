package pyroscopeattr

// Pyroscope's application name, `service{label=value,...}`, has no escaping.
// Its grammar, as the Pyroscope SDKs validate it: label names are letters,
// digits, "_" and "."; service names also "-" and "/"; a value runs to the
// next "," or "}". The receiver refuses names outside it; the processor
// replaces what does not fit.

// IsLabelNameRune reports whether r may appear in a label name.
func IsLabelNameRune(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' || r == '.'
}

// IsServiceNameRune reports whether r may appear in a service name.
func IsServiceNameRune(r rune) bool {
	return IsLabelNameRune(r) || r == '-' || r == '/'
}
