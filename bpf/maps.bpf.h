/* SPDX-License-Identifier: GPL-2.0 */
/* Maps shared by every ephtrace program, and the small helpers around them. */
#ifndef EPH_MAPS_BPF_H
#define EPH_MAPS_BPF_H

/* Per-thread state of a call in progress (entry seen, exit not yet). Keyed by tid and slot so
 * that nested calls (inet_dgram_connect > inet_autobind > udp_lib_get_port) do not collide. */
#define SLOT_HASH_CONNECT 0 /* inet_hash_connect / inet6_hash_connect */
#define SLOT_GET_PORT 1	    /* inet_csk_get_port / udp_lib_get_port */
#define SLOT_AUTOBIND 2	    /* inet_autobind */
#define SLOT_DGRAM 3	    /* inet_dgram_connect: destination of a UDP connect */
#define SLOT_SYSCALL 4	    /* tracepoint backend: the system call in progress */

struct call_ctx {
	__u64 sk;
	__u64 ts;	 /* entry */
	__u64 ts_syn;	 /* tracepoint: CLOSE->SYN_SENT, just before the port search */
	__u64 search_ns; /* tracepoint: the failed search, SYN_SENT->CLOSE */
	__u16 req_port;	 /* bind/listen/get_port: requested port */
	__u16 dport;	 /* requested destination (connect, sendto) */
	__u16 closed_port; /* tracepoint: port chosen, then closed within the call */
	__u16 bound_port;  /* tracepoint connect: the port the socket had from bind(), 0 if none */
	__u8 op;
	__u8 had_port;	 /* the socket had a port at entry */
	__u8 state;	 /* sk_state at entry */
	__u8 syn_closed; /* tracepoint: SYN_SENT->CLOSE in the call (search or connection failed) */
	__u8 has_dest;
	__u8 has_saddr;
	__u8 assigned;	 /* inet_dgram_connect: its autobind took a port (search_ns: its search) */
	__u8 fail_err;	 /* get_port: a failure's errno (EADDRINUSE; in inet_autobind EAGAIN) */
	__u8 daddr[16];
	__u8 saddr[16]; /* tracepoint: source address of a failed search */
	__u16 ev_flags; /* get_port: its record's EPH_F_SEARCH, EPH_F_EPHEMERAL, EPH_F_REQ */
};

/* A port held now, by the socket (or TIME_WAIT socket) whose address is the key. */
struct hold {
	__u64 ts;	 /* assignment */
	__u64 sock_id;	 /* the socket that took it (the key before a TIME_WAIT move) */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u16 sport;
	__u8 op;
	__u8 flags;	 /* EPH_F_EPHEMERAL */
	__u8 __pad[4];
	char comm[EPH_COMM_LEN];
	char pcomm[EPH_COMM_LEN]; /* the owner's process (thread group leader's comm) */
};

/*
 * The records' way to user space: a BPF ring buffer (5.8+). Where the kernel has none, or when
 * the loader forces it (rodata perfbuf, EPH_TEST_PERFBUF=1), user/node/evbuf.c makes this map a
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY before the load (one perf buffer per CPU); a record is then
 * built in ev_heap and copied out with bpf_perf_event_output() (events.bpf.h, ev_reserve_at()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EPH_DEFAULT_RINGBUF);
} events SEC(".maps");

/*
 * The perf path's records in the making: one per nesting level on a CPU (a program in process
 * context, one in softirq interrupting it, hardirq, NMI), ev_depth levels in use. Nesting is
 * last in, first out as long as a program is interrupted, never preempted: true of every
 * kernel without a ring buffer (before 5.8 BPF programs ran with preemption off) and of
 * preempt=none/voluntary kernels; see README, "Without the BPF ring buffer".
 */
#define EV_NEST 4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EV_NEST);
	__type(key, __u32);
	__type(value, struct eph_event);
} ev_heap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ev_depth SEC(".maps");

/*
 * The counters, a row of EPH_CNT_MAX per CPU (struct eph_cpu_counters, by
 * bpf_get_smp_processor_id()), in an mmapable array of __u64 the loader sizes to the possible
 * CPUs: user space reads them from memory.
 * Reading a map with a system call raises the CPU's bpf_prog_active for as long as it runs
 * (bpf_disable_instrumentation(), kernel/bpf/syscall.c), and on a kernel that can preempt it
 * there (PREEMPT_RT, preempt=full: migrate_disable() only) every kprobe and perf tracepoint
 * program that runs on that CPU meanwhile is skipped (trace_call_bpf(): unreported before 6.7).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, EPH_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EPH_DEFAULT_MAX_CTX);
	__type(key, __u64);
	__type(value, struct call_ctx);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EPH_DEFAULT_MAX_HOLDS);
	__type(key, __u64);
	__type(value, struct hold);
} holds SEC(".maps");

/* Sockets a snapshot found holding a port, whose taking no program saw (so not in holds), by
 * cookie, in two tables (include/ephtrace.h, EPH_SEED_*): user space writes them through the
 * map's mapping (user/node/seeds.c), events.bpf.h's releases and TIME_WAIT moves mark them done
 * (a seeded socket's TIME_WAIT socket, which has its cookie too, goes to holds with op 0 where
 * the backend sees it). The loader sizes the tables from holds' size (two slots when the
 * command keeps no occupancy: use_seeds off). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} seeds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct eph_stat_key);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct eph_hist_key);
	__type(value, __u64);
} hists SEC(".maps");

/*
 * Atomic although per CPU: a program in softirq (a state change) can interrupt one in process
 * context on the same CPU between its load and its store. The counter's own element, not its
 * row's plus an offset: a pointer plus a variable index (count(o->err ? ...)) makes the verifier
 * track that index exactly back through the caller, which doubled the instructions it walked
 * in emit()'s callers (kretprobe inet_csk_get_port: 14 782 to 28 959 on 6.1).
 */
static __always_inline void count(__u32 idx)
{
	__u32 key = bpf_get_smp_processor_id() * EPH_CNT_MAX + idx;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Add to a counter map, creating the entry on first use (bcc maps.bpf.h style). */
static __always_inline void map_add(void *map, const void *key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, key), zero = 0;

	if (!v) {
		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(map, key);
		if (!v) { /* full: the count is lost, not silently */
			count(EPH_CNT_STATS_FULL);
			return;
		}
	}
	__sync_fetch_and_add(v, n);
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffff) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void hist_add(__u8 kind, __u8 proto, __u8 family, __u8 result, __u64 ns)
{
	struct eph_hist_key k = { .kind = kind, .proto = proto, .family = family,
				  .result = result };

	k.slot = log2_u64(ns);
	map_add(&hists, &k, 1);
	k.slot = EPH_HIST_SUM;
	map_add(&hists, &k, ns);
}

static __always_inline __u64 call_key(__u32 slot)
{
	return (bpf_get_current_pid_tgid() << 3) | slot;
}

static __always_inline struct call_ctx *call_get(__u32 slot)
{
	__u64 key = call_key(slot);

	return bpf_map_lookup_elem(&calls, &key);
}

static __always_inline void call_put(__u32 slot, const struct call_ctx *c)
{
	__u64 key = call_key(slot);

	if (bpf_map_update_elem(&calls, &key, c, BPF_ANY))
		count(EPH_CNT_CTX_FULL);
}

static __always_inline void call_del(__u32 slot)
{
	__u64 key = call_key(slot);

	bpf_map_delete_elem(&calls, &key);
}

#endif
