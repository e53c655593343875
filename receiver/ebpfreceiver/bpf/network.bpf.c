// SPDX-License-Identifier: GPL-2.0
// Network observation for the ebpf_network receiver. Only BTF-typed raw
// tracepoints (tp_btf): no kprobes, no fentry/fexit trampolines, no tracefs.
//
// 1. sock:inet_sock_set_state follows every TCP socket from its opening to
//    TCP_CLOSE and then reports the whole connection: endpoints, role, the
//    process that opened it (client side), duration, bytes each way, and the
//    state it closed from. User space selects which processes to report.
//    A socket entering LISTEN on a selected port selects its process at once
//    (and sched:sched_process_fork its children).
// 2. raw_syscalls:sys_enter/sys_exit capture the first bytes of every
//    read/write/recvfrom/sendto, and of the buffers in order of every
//    readv/writev/recvmsg/sendmsg, on a TCP socket by a selected process (the
//    `selected_pids` map, kept by user space), for user space to parse as
//    HTTP/1.x or follow as HTTP/2.
// 3. uprobes on libssl's SSL_read/SSL_write (and the _ex variants) capture
//    the plaintext of TLS connections the same way; the TCP socket under an
//    SSL object is learnt from the syscall that the SSL call makes.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000

// x86_64 syscall numbers; user space can set others before loading.
volatile const __u32 nr_read = 0;
volatile const __u32 nr_write = 1;
volatile const __u32 nr_sendto = 44;
volatile const __u32 nr_recvfrom = 45;
volatile const __u32 nr_readv = 19;
volatile const __u32 nr_writev = 20;
volatile const __u32 nr_sendmsg = 46;
volatile const __u32 nr_recvmsg = 47;

// Bytes captured of a read or write: the first REQUEST_CAPTURE of what looks
// like the start of a request (its head, with headers such as traceparent behind
// a large Cookie), else the first CAPTURE (a response head, a body's start).
// Events go out at their captured size, so the larger bound costs only where
// used.
// On a connection that began with the HTTP/2 client preface (h2c, as local
// gRPC speaks it), up to H2_CAPTURE: user space follows every frame, and its
// HPACK state depends on seeing every header block.
// (16 KiB less a little: the per-CPU scratch, twice this plus the event's
// head, must stay within the kernel's 32 KiB per-CPU value limit.)
#define H2_CAPTURE 16320
#define REQUEST_CAPTURE 4096
#define CAPTURE 512
#define MAX_CAPTURE H2_CAPTURE

#define MSG_PEEK 2
#define AF_UNIX 1
#define AF_INET 2
#define SOCK_STREAM 1
#define AF_INET6 10
#define IPPROTO_TCP 6

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_LISTEN 10

enum role { ROLE_CLIENT = 1, ROLE_SERVER = 2 };

// Counters, indexes into the `counters` array, read by user space as metrics.
enum counter {
	COUNTER_RINGBUF_FULL = 0,   // events lost: ring buffer full
	COUNTER_TRACKING_FULL = 1,  // connections not tracked: map full
	COUNTER_DATA_LOST = 2,      // data events lost: ring buffer full
	COUNTER_MAX = 3,
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
	__u8 established; // the tuple is complete (the client's local port bound)
	__u8 h2;          // the connection began with the HTTP/2 client preface
	__u8 pad;
	struct tuple tuple;
	char comm[16];
};

struct tcp_event {
	__u64 sock; // struct sock address, as in data_event
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

enum direction { DIR_INGRESS = 0, DIR_EGRESS = 1 };

// The first bytes of one read or write on a TCP socket.
struct data_event {
	__u64 ts_ns;
	__u64 sock;       // struct sock address: with conn_start, the connection's identity
	__u64 conn_start; // the tracked connection's start_ns (0 if untracked): sock addresses are reused
	__u32 pid;
	__u32 len;        // bytes the syscall moved
	__u32 captured;   // bytes in data
	__u8 direction;
	__u8 role;        // from the connection tracker, 0 if unknown
	__u8 pad[2];
	struct tuple tuple;
	char comm[16];    // names the process if it has exited by the time user space looks
	__u8 data[MAX_CAPTURE];
};

// A read or write in progress, between sys_enter and sys_exit.
struct active_io {
	__u64 sock;
	__u64 buf;
	__u64 buf_len; // the first buffer's size, for vectored I/O
	__u64 iov;     // vectored I/O: the iovec array, else 0
	__u32 iovcnt;
	__u8 direction;
	__u8 unix_sock;
};

// Vectored I/O contributes its buffers in order, up to this many (gRPC
// C-core writes a frame header, a field name and its value as separate
// iovecs: all are needed to follow HTTP/2).
#define MAX_IOV 64

// An SSL_read/SSL_write in progress, between uprobe and uretprobe.
struct ssl_call {
	__u64 ssl;
	__u64 buf;
	__u64 ex_bytes; // the _ex variants' size_t *readbytes / *written, else 0
	__u8 direction;
};

// Builds a data event before it is copied to the ring buffer at its
// captured size (too large for the BPF stack). The spill lets the verifier
// see that a buffer of at most MAX_CAPTURE bytes, copied at an offset below
// MAX_CAPTURE, stays inside.
struct data_scratch_value {
	struct data_event e;
	__u8 spill[MAX_CAPTURE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_scratch_value);
} data_scratch SEC(".maps");

// Sockets whose connection began with the HTTP/2 client preface, for those
// not in `conns` (opened before the receiver started) and SSL objects whose
// socket is not known yet; a tracked connection keeps this in conn.h2.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); // struct sock address (or SSL object's)
	__type(value, __u8);
} h2_socks SEC(".maps");

// Force the types into BTF so bpf2go generates them.
const struct tcp_event *unused_tcp_event __attribute__((unused));
const struct data_event *unused_data_event __attribute__((unused));

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
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	// Not larger: each event is written to the next bytes of the ring, and
	// with 4 MiB those had left the CPU's caches (BPF time per request 10%
	// higher than at 1 MiB, bench/README.md). The reader is woken with
	// WAKEUP_BYTES waiting, which leaves 768 KiB for its wake-up.
	__uint(max_entries, 1024 * 1024);
} data_events SEC(".maps");

// Data waiting in data_events that wakes its reader (see emit_data).
#define WAKEUP_BYTES (256 * 1024)

// Selected processes. The value is 0 for those user space selected from a
// process scan, or the time (bpf_ktime_get_ns) the kernel selected one
// itself, between scans: it listened on a selected port, or was forked by
// such a process. User space confirms those at its next scan or drops them
// after a grace period.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);  // tgid
	__type(value, __u64);
} selected_pids SEC(".maps");

// The configured ports (host byte order): a process that starts listening on
// one is selected at once, without waiting for user space's next scan.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} selected_ports SEC(".maps");

// Executable names (comm, 15 characters at most) selected by a literal
// executable_regex: lets the kernel capture a process from its first
// socket I/O, before user space's next scan has seen it (short-lived clients).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[16]);
	__type(value, __u8);
} selected_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);  // pid_tgid
	__type(value, struct active_io);
} active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); // pid_tgid
	__type(value, struct ssl_call);
} ssl_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   // SSL *
	__type(value, __u64); // struct sock *
} ssl_socks SEC(".maps");

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

// Whether selected_comms has entries (set by user space before loading):
// without, unselected processes' I/O costs no lookup by the task's name.
volatile const __u8 any_comms = 0;

// Every process's socket I/O asks whether its process is selected, so the
// answer from selected_pids is cached per CPU, in a slot by process. A cached
// answer holds while neither generation below has moved: user space bumps
// selection_gen_user after it changed selected_pids, the kernel bumps
// selection_gen_kernel after it selected a process itself. Each is written
// by one side only (user space writes its own through a memory mapping, with
// no atomic add to share), and each only grows, so their sum changes with
// every change. The sum is read before selected_pids: a change made after
// the read moves it again, and the cached answer is not used.
volatile __u64 selection_gen_user = 0;
volatile __u64 selection_gen_kernel = 0;

#define SELECTION_CACHE_SLOTS 64

// A slot is one word, read and written whole: a program can be preempted
// between two stores and another task's use the same slot. It holds the
// generation's low 32 bits, then tgid << 1 | selected.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SELECTION_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} selection_cache SEC(".maps");

static __always_inline int pid_selected(__u32 tgid)
{
	__u64 want = (selection_gen_user + selection_gen_kernel) << 32 | (__u64)tgid << 1;
	__u32 index = tgid % SELECTION_CACHE_SLOTS;
	__u64 *slot = bpf_map_lookup_elem(&selection_cache, &index);
	if (slot) {
		__u64 cached = *(volatile __u64 *)slot;
		if ((cached | 1) == (want | 1))
			return cached & 1;
	}
	int found = bpf_map_lookup_elem(&selected_pids, &tgid) != NULL;
	if (slot)
		*(volatile __u64 *)slot = want | found;
	return found;
}

// select_now selects a process from the kernel, between user space's scans.
static __always_inline void select_now(__u32 tgid)
{
	__u64 now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&selected_pids, &tgid, &now, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&selection_gen_kernel, 1);
}

// selected tells whether tgid's I/O is captured: it is in selected_pids, or
// (uncached: a name changes at exec) the task's name is in selected_comms.
static __always_inline int selected(__u32 tgid)
{
	if (pid_selected(tgid))
		return 1;
	if (!any_comms)
		return 0;
	char comm[16] = {};
	bpf_get_current_comm(&comm, sizeof(comm));
	return bpf_map_lookup_elem(&selected_comms, &comm) != NULL;
}

static __always_inline void read_tuple(struct sock *sk, struct tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (t->family == AF_UNIX)
		return; // no ports or addresses
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

	// listen() runs in the listening process: select it now if the port
	// is selected, so its first requests are captured.
	if (newstate == TCP_LISTEN) {
		__u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (bpf_map_lookup_elem(&selected_ports, &port))
			select_now(bpf_get_current_pid_tgid() >> 32);
		return 0;
	}
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
	e->sock = key;
	e->start_ns = c->start_ns;
	e->end_ns = bpf_ktime_get_ns();
	e->pid = c->pid;
	e->role = c->role;
	e->established = c->established;
	e->close_from = oldstate;
	__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));

	bpf_map_delete_elem(&h2_socks, &key);
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	e->bytes_received = BPF_CORE_READ(tp, bytes_received);
	e->bytes_sent = BPF_CORE_READ(tp, bytes_acked);

	e->tuple = c->tuple;
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

// A process forked by one the kernel selected for listening on a selected
// port (nginx's workers, forked by the master after it listens) holds the
// same listening socket: selected too, until user space's next scan decides.
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	if (parent_tgid == child_tgid)
		return 0; // a thread
	__u64 *since = bpf_map_lookup_elem(&selected_pids, &parent_tgid);
	if (!since || *since == 0)
		return 0; // not selected, or selected by a scan, which covers children too
	select_now(child_tgid);
	return 0;
}

// stream_sock tells whether sk is one whose data is followed: TCP, and Unix
// stream sockets too (local gRPC daemons listen on them; only their HTTP/2
// is followed, see emit_data). sock_io makes the same check with plain
// loads on its BTF-typed sk: a change here belongs there too.
static __always_inline int stream_sock(struct sock *sk)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX)
		return BPF_CORE_READ(sk, sk_type) == SOCK_STREAM;
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

// first_iovec finds the first buffer of vectored I/O: arg is the iovec
// array (readv, writev) or the msghdr (recvmsg, sendmsg, message set).
// iovcnt_arg is readv's and writev's third argument.
static __always_inline int first_iovec(int message, __u64 arg, __u64 iovcnt_arg, __u64 *buf, __u64 *buf_len, __u64 *iov_out,
				       __u32 *iovcnt)
{
	struct iovec *iov = (struct iovec *)arg;
	*iovcnt = (__u32)iovcnt_arg;
	if (message) {
		struct user_msghdr msg;
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)arg))
			return 0;
		iov = msg.msg_iov;
		*iovcnt = (__u32)msg.msg_iovlen;
	}
	struct iovec first;
	if (bpf_probe_read_user(&first, sizeof(first), iov))
		return 0;
	*buf = (__u64)first.iov_base;
	*buf_len = first.iov_len;
	*iov_out = (__u64)iov;
	return 1;
}

// sock_from_fd returns the TCP sock behind a file descriptor of the current
// task, or NULL.
static __always_inline struct sock *sock_from_fd(int fd)
{
	if (fd < 0)
		return NULL;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = (struct socket *)BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	return sk && stream_sock(sk) ? sk : NULL;
}

// Set by user space before it attaches the first SSL uprobe: until then no
// SSL call is in progress, and socket I/O skips the ssl_active lookup.
volatile __u8 ssl_probes = 0;

// note_ssl_socket tells whether this thread's I/O is the TLS records of an
// SSL_read/SSL_write in progress; if so it remembers sk as that SSL
// object's socket (the plaintext comes from the uretprobe).
static __always_inline int note_ssl_socket(__u64 pid_tgid, struct sock *sk)
{
	if (!ssl_probes)
		return 0;
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_active, &pid_tgid);
	if (!call)
		return 0;
	__u64 sock = (__u64)sk;
	bpf_map_update_elem(&ssl_socks, &call->ssl, &sock, BPF_ANY);
	return 1;
}

static __always_inline int io_syscall(long id)
{
	return id == nr_read || id == nr_write || id == nr_recvfrom || id == nr_sendto || id == nr_readv || id == nr_writev ||
	       id == nr_recvmsg || id == nr_sendmsg;
}

// The fallback for kernels without the socket tracepoints (before 6.3): the
// raw syscall tracepoints, sys_enter noting a read or write's socket and
// buffers, sys_exit emitting what moved. User space loads one pair or the
// other (sock_send/sock_recv where the kernel has them).
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	__u8 direction;
	int vectored = 0, message = 0;
	if (id == nr_read || id == nr_recvfrom)
		direction = DIR_INGRESS;
	else if (id == nr_write || id == nr_sendto)
		direction = DIR_EGRESS;
	else if (id == nr_readv || id == nr_writev)
		direction = id == nr_readv ? DIR_INGRESS : DIR_EGRESS, vectored = 1;
	else if (id == nr_recvmsg || id == nr_sendmsg)
		direction = id == nr_recvmsg ? DIR_INGRESS : DIR_EGRESS, vectored = 1, message = 1;
	else
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (!selected(tgid))
		return 0;
	struct sock *sk = sock_from_fd((int)BPF_CORE_READ(regs, di));
	if (!sk)
		return 0;
	if (note_ssl_socket(pid_tgid, sk))
		return 0;
	struct active_io io = {
		.sock = (__u64)sk,
		.buf = BPF_CORE_READ(regs, si),
		.buf_len = ~0ULL,
		.direction = direction,
		.unix_sock = BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX,
	};
	if (vectored && !first_iovec(message, io.buf, BPF_CORE_READ(regs, dx), &io.buf, &io.buf_len, &io.iov, &io.iovcnt))
		return 0;
	bpf_map_update_elem(&active, &pid_tgid, &io, BPF_ANY);
	return 0;
}

enum start { START_OTHER = 0, START_REQUEST = 1, START_H2_PREFACE = 2 };

// request_start tells whether buf begins like an HTTP/1.x request line (an
// upper-case method of 3 to 7 letters and a space) or with the HTTP/2
// client preface ("PRI * HTTP/2.0...").
static __always_inline int request_start(const void *buf)
{
	char b[8];
	if (bpf_probe_read_user(b, sizeof(b), buf))
		return START_OTHER;
	if (b[0] == 'P' && b[1] == 'R' && b[2] == 'I' && b[3] == ' ' && b[4] == '*' && b[5] == ' ' && b[6] == 'H' && b[7] == 'T')
		return START_H2_PREFACE;
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (b[i] == ' ')
			return i >= 3 ? START_REQUEST : START_OTHER;
		if (b[i] < 'A' || b[i] > 'Z')
			return START_OTHER;
	}
	return START_OTHER;
}

// emit_data sends the first bytes of buf, of which ret bytes moved. sock is
// a struct sock address when known (is_sock), else an SSL object's.
static __always_inline void emit_data(__u64 pid_tgid, __u64 sock, int is_sock, __u64 buf, __u64 buf_len, __u64 iov, __u32 iovcnt,
				      long ret, __u8 direction, int unix_sock)
{
	__u64 n = ret;
	if (n > buf_len)
		n = buf_len;
	// A tracked connection carries its endpoints and whether it speaks
	// HTTP/2: one map lookup instead of a second map's and five reads of
	// the socket per event.
	struct conn *c = is_sock ? bpf_map_lookup_elem(&conns, &sock) : NULL;
	__u64 limit = CAPTURE;
	int h2 = c ? c->h2 : bpf_map_lookup_elem(&h2_socks, &sock) != NULL;
	if (h2) {
		limit = H2_CAPTURE;
	} else if (n >= 24) { // a preface, or a request line longer than CAPTURE
		int start = request_start((void *)buf);
		if (start == START_H2_PREFACE) {
			if (c) {
				c->h2 = 1;
			} else {
				__u8 one = 1;
				bpf_map_update_elem(&h2_socks, &sock, &one, BPF_ANY);
			}
			limit = H2_CAPTURE;
			h2 = 1;
		} else if (start == START_REQUEST) {
			limit = REQUEST_CAPTURE;
		}
	}
	if (unix_sock && !h2)
		return; // of Unix sockets only HTTP/2 (gRPC), not every local IPC

	__u32 zero = 0;
	struct data_scratch_value *scratch = bpf_map_lookup_elem(&data_scratch, &zero);
	if (!scratch)
		return;
	struct data_event *e = &scratch->e;
	e->ts_ns = bpf_ktime_get_ns();
	e->sock = sock;
	e->pid = pid_tgid >> 32;
	e->len = ret;
	e->direction = direction;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	if (c && c->established) {
		e->tuple = c->tuple;
	} else {
		__builtin_memset(&e->tuple, 0, sizeof(e->tuple));
		if (is_sock)
			read_tuple((struct sock *)sock, &e->tuple);
	}
	e->role = c ? c->role : 0;
	e->conn_start = c ? c->start_ns : 0;
	n = ret;
	if (!iovcnt) {
		if (n > limit)
			n = limit;
		if (n > MAX_CAPTURE) // for the verifier
			n = MAX_CAPTURE;
		if (bpf_probe_read_user(e->data, n, (void *)buf))
			n = 0;
	} else {
		// The buffers in order, until the bytes moved or the limit.
		__u64 want = ret < limit ? ret : limit;
		__u64 off = 0;
		for (__u32 i = 0; i < MAX_IOV; i++) {
			if (i >= iovcnt || off >= want || off >= MAX_CAPTURE)
				break;
			struct iovec v;
			if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(struct iovec))))
				break;
			__u64 take = v.iov_len;
			if (take > want - off)
				take = want - off;
			if (take > MAX_CAPTURE)
				take = MAX_CAPTURE;
			if (bpf_probe_read_user(e->data + off, take, v.iov_base))
				break;
			off += take;
		}
		n = off;
		if (n > MAX_CAPTURE)
			n = MAX_CAPTURE;
	}
	e->captured = n;
	// Wake the reader only once WAKEUP_BYTES are waiting: user space also
	// polls every few milliseconds, and a wakeup per event (thousands a
	// second) costs both sides more than the event.
	__u64 flags = bpf_ringbuf_query(&data_events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&data_events, e, offsetof(struct data_event, data) + n, flags))
		count(COUNTER_DATA_LOST);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	// Every syscall of every process exits through here: rule out all
	// but the I/O ones with a load before any map lookup.
	long id = regs->orig_ax;
	if (!io_syscall(id))
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct active_io *io = bpf_map_lookup_elem(&active, &pid_tgid);
	if (!io)
		return 0;
	if (ret > 0)
		emit_data(pid_tgid, io->sock, 1, io->buf, io->buf_len, io->iov, io->iovcnt, ret, io->direction, io->unix_sock);
	bpf_map_delete_elem(&active, &pid_tgid);
	return 0;
}

// Socket I/O as the kernel's sock_sendmsg and sock_recvmsg see it (the
// sock_send_length and sock_recv_length tracepoints, Linux 6.3+). Unlike the
// raw syscall tracepoints above they fire only for socket I/O, not for every
// syscall of every process, and keep the other syscalls on the kernel's fast
// path; the socket comes with the event (no descriptor table walk) and the
// data is in place on both sides (received into, or sent from, the user's
// buffers), so one program does what sys_enter and sys_exit do together.
// Where the user's buffers are comes from the syscall's arguments in the
// task's saved user registers.
static __always_inline int sock_io(struct sock *sk, int ret, int flags, __u8 direction)
{
	if (ret <= 0 || (flags & MSG_PEEK)) // peeked bytes are read again
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!selected(pid_tgid >> 32))
		return 0;
	// sk and the task's registers are pointers the verifier knows (BTF
	// typed): plain loads, not a helper call per field as BPF_CORE_READ.
	int unix_sock = sk->__sk_common.skc_family == AF_UNIX;
	if (unix_sock ? sk->sk_type != SOCK_STREAM : sk->sk_protocol != IPPROTO_TCP)
		return 0; // as stream_sock
	if (note_ssl_socket(pid_tgid, sk))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long id = regs->orig_ax;
	__u64 buf = regs->si, buf_len = ~0ULL, iov = 0;
	__u32 iovcnt = 0;
	if (id == nr_readv || id == nr_writev || id == nr_recvmsg || id == nr_sendmsg) {
		if (!first_iovec(id == nr_recvmsg || id == nr_sendmsg, buf, regs->dx, &buf, &buf_len, &iov, &iovcnt))
			return 0;
	} else if (id != nr_read && id != nr_write && id != nr_recvfrom && id != nr_sendto) {
		return 0; // sendfile, splice, io_uring, sendmmsg...: no user buffer to read here
	}
	emit_data(pid_tgid, (__u64)sk, 1, buf, buf_len, iov, iovcnt, ret, direction, unix_sock);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags) { return sock_io(sk, ret, flags, DIR_EGRESS); }

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags) { return sock_io(sk, ret, flags, DIR_INGRESS); }

static __always_inline int ssl_enter(void *ssl, const void *buf, __u64 ex_bytes, __u8 direction)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (!selected(tgid))
		return 0;
	struct ssl_call call = {.ssl = (__u64)ssl, .buf = (__u64)buf, .ex_bytes = ex_bytes, .direction = direction};
	bpf_map_update_elem(&ssl_active, &pid_tgid, &call, BPF_ANY);
	return 0;
}

static __always_inline int ssl_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_active, &pid_tgid);
	if (!call)
		return 0;
	long moved = ret;
	if (call->ex_bytes) {
		// SSL_read_ex/SSL_write_ex return 1 and store the count.
		__u64 n = 0;
		moved = 0;
		if (ret == 1 && !bpf_probe_read_user(&n, sizeof(n), (void *)call->ex_bytes))
			moved = n;
	}
	if (moved > 0) {
		__u64 *sock = bpf_map_lookup_elem(&ssl_socks, &call->ssl);
		emit_data(pid_tgid, sock ? *sock : call->ssl, sock != NULL, call->buf, ~0ULL, 0, 0, moved, call->direction, 0);
	}
	bpf_map_delete_elem(&ssl_active, &pid_tgid);
	return 0;
}

// Uprobes use the kprobe argument macros (libbpf 1.1 has no BPF_UPROBE).
SEC("uprobe/SSL_read")
int BPF_KPROBE(ssl_read, void *ssl, void *buf, int num) { return ssl_enter(ssl, buf, 0, DIR_INGRESS); }

SEC("uprobe/SSL_read_ex")
int BPF_KPROBE(ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes) { return ssl_enter(ssl, buf, (__u64)readbytes, DIR_INGRESS); }

SEC("uprobe/SSL_write")
int BPF_KPROBE(ssl_write, void *ssl, const void *buf, int num) { return ssl_enter(ssl, buf, 0, DIR_EGRESS); }

SEC("uprobe/SSL_write_ex")
int BPF_KPROBE(ssl_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written) { return ssl_enter(ssl, buf, (__u64)written, DIR_EGRESS); }

SEC("uretprobe/SSL_read")
int BPF_KRETPROBE(ssl_read_return, int ret) { return ssl_exit(ret); }

SEC("uretprobe/SSL_write")
int BPF_KRETPROBE(ssl_write_return, int ret) { return ssl_exit(ret); }
