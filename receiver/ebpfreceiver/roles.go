package ebpfreceiver

// Connection roles, as the BPF programs record them.
const (
	roleClient = 1
	roleServer = 2
)
