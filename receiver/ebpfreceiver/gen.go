package ebpfreceiver

// The BPF objects are generated and committed, so `go build` needs no clang.
// Regenerate after changing bpf/*.c (needs clang and libbpf-dev); CI fails if
// the committed objects differ: `make generate-bpf`. bpf/vmlinux.h is x86_64
// BTF, so the objects target amd64.
//go:generate go tool bpf2go -tags linux -target amd64 -type tcp_event -type data_event network bpf/network.bpf.c -- -I./bpf -O2 -g -Wall -Werror
