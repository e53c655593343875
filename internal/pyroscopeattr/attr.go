// Package pyroscopeattr names the attributes the pyroscope receiver records
// about a push, on the instrumentation scope of the profiles it produced. The
// profile_forwarding processor reads them to send a profile on to Pyroscope
// the way the SDK pushed it (same spy name, sample rate and sample type
// config), so that Pyroscope files it under the same profile types. It also
// holds Pyroscope's name grammar (names.go), which both apply.
package pyroscopeattr

const (
	SpyName          = "pyroscope.spy_name"
	SampleRate       = "pyroscope.sample_rate"
	Units            = "pyroscope.units"
	AggregationType  = "pyroscope.aggregation_type"
	SampleTypeConfig = "pyroscope.sample_type_config"
	// ProfileName is the push API's __name__ label, e.g. process_cpu.
	ProfileName = "pyroscope.profile_name"
	// From and Until are an /ingest push's from and until query
	// parameters, in Unix nanoseconds, for the processor to send them on
	// as they came. The profiles' own time and duration are the pprof's.
	From  = "pyroscope.from"
	Until = "pyroscope.until"
	// Pprof holds a push's pprof as the SDK sent it (gzipped or not) when
	// the receiver passes pushes through undecoded (pass_through_pprof);
	// such a scope has no profiles.
	Pprof = "pyroscope.pprof"
)
