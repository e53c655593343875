// SPDX-License-Identifier: GPL-2.0
// TCP connection tracking for the ebpf_network receiver.
//
// One tp_btf program on sock:inet_sock_set_state (BTF-typed raw tracepoint:
// no kprobes, no trampolines, no tracefs needed) follows every TCP socket
// from its opening to TCP_CLOSE and then reports the whole connection to user
// space through a ring buffer: endpoints, role, the process that opened it
// (client side), its duration, bytes each way and the state it closed from.
// Selecting which processes to report happens in user space.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7

enum role { ROLE_CLIENT = 1, ROLE_SERVER = 2 };

// Counters, indexes into the `counters` array, read by user space as metrics.
enum counter {
	COUNTER_RINGBUF_FULL = 0,   // events lost: ring buffer full
	COUNTER_TRACKING_FULL = 1,  // connections not tracked: map full
	COUNTER_MAX = 2,
};

// Endpoints of a socket. Read while the connection is up: by TCP_CLOSE the
// kernel has already released the local port.
struct tuple {
	__u16 family;
	__u16 local_port;  // host byte order
	__u16 remote_port; // host byte order
	__u16 pad;
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

struct conn {
	__u64 start_ns;
	__u32 pid;
	__u8 role;
	__u8 established;
	__u8 pad[2];
	struct tuple tuple;
	char comm[16];
};

struct tcp_event {
	__u64 start_ns;
	__u64 end_ns;
	__u64 bytes_sent;
	__u64 bytes_received;
	__u32 pid;
	__u8 role;
	__u8 established;
	__u8 close_from; // state before TCP_CLOSE
	__u8 pad;
	struct tuple tuple;
	char comm[16];
};

// Force the type into BTF so bpf2go generates it.
const struct tcp_event *unused_tcp_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); // user space may resize before loading
	__type(key, __u64);         // struct sock address
	__type(value, struct conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &which);
	if (value)
		*value += 1;
}

static __always_inline void read_tuple(struct sock *sk, struct tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->remote_port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		__u32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(t->local_addr, &local, 4);
		__builtin_memcpy(t->remote_addr, &remote, 4);
	} else {
		BPF_CORE_READ_INTO(&t->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

static __always_inline void track(struct sock *sk, __u64 key, __u8 role, __u8 established, int with_process)
{
	struct conn c = {
		.start_ns = bpf_ktime_get_ns(),
		.role = role,
		.established = established,
	};
	if (with_process) {
		c.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(&c.comm, sizeof(c.comm));
	}
	read_tuple(sk, &c.tuple);
	if (bpf_map_update_elem(&conns, &key, &c, BPF_NOEXIST) == -7 /* E2BIG */)
		count(COUNTER_TRACKING_FULL);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u64 key = (__u64)sk;

	// Active open: connect() runs in the opening process.
	if (newstate == TCP_SYN_SENT) {
		track(sk, key, ROLE_CLIENT, 0, 1);
		return 0;
	}
	if (newstate == TCP_ESTABLISHED) {
		struct conn *c = bpf_map_lookup_elem(&conns, &key);
		if (c) {
			c->established = 1;
			read_tuple(sk, &c->tuple); // the local port is bound by now
		} else if (oldstate == TCP_SYN_RECV) {
			// Passive open completes in softirq: no process to record;
			// user space attributes it by its local (listening) port.
			track(sk, key, ROLE_SERVER, 1, 0);
		}
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;

	struct conn *c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0; // opened before the receiver started
	struct tcp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RINGBUF_FULL);
		bpf_map_delete_elem(&conns, &key);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->start_ns = c->start_ns;
	e->end_ns = bpf_ktime_get_ns();
	e->pid = c->pid;
	e->role = c->role;
	e->established = c->established;
	e->close_from = oldstate;
	__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));

	struct tcp_sock *tp = (struct tcp_sock *)sk;
	e->bytes_received = BPF_CORE_READ(tp, bytes_received);
	e->bytes_sent = BPF_CORE_READ(tp, bytes_acked);

	e->tuple = c->tuple;
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}
