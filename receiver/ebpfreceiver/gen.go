package ebpfreceiver

// The BPF objects are generated and committed, so `go build` needs no clang.
// Regenerate after changing bpf/*.c (needs clang and libbpf-dev); CI fails if
// the committed objects differ: `make generate-bpf`.
//go:generate go tool bpf2go -tags linux -target bpfel -type tcp_event -type conn tcp bpf/tcp.bpf.c -- -I./bpf -O2 -g -Wall -Werror
