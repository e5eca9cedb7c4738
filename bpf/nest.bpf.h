/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pairs of programs for the hooks that run in process context and in softirq on the same CPU.
 *
 * Port releases and TIME_WAIT moves happen in process context and in softirq, and a softirq can
 * interrupt the first on the same CPU: a connect() setting SYN_SENT, a close() sending its RST
 * (tcp_set_state(TCP_CLOSE) and inet_put_port() before __tcp_close() disables bottom halves),
 * release_sock() working off a socket's backlog all run with bottom halves enabled. The kernel
 * runs a raw tracepoint program and an fentry program under a per-program recursion guard
 * (__bpf_trace_run() in kernel/trace/bpf_trace.c, __bpf_prog_enter_recur() in
 * kernel/bpf/trampoline.c; 6.1 and 6.12 alike): the softirq's run of the same program on that
 * CPU is skipped and only counted (recursion_misses), and a skipped release leaves its hold
 * behind for good. The serve soak saw it (2 state changes skipped in one run of three).
 *
 * So each such program has a *_nested twin on the same hook, which does the work for the runs the
 * kernel skipped the first for; it counts each (EPH_CNT_NESTED_RUNS: the loader takes them off
 * the first programs' misses and leaves the twins' own misses out, user/node/loader.c
 * prog_misses()). A twin skipped itself was inside its own run, when the first was free and
 * took the event. How the twin knows depends on the order the kernel runs the two in:
 *
 * - A raw tracepoint runs its probes in the order they were attached (func_add() in
 *   kernel/tracepoint.c): the first, then the twin, for every hit. The first notes the hit it
 *   takes (the socket and, for a state change, both states) as the first thing it does, in a
 *   per-CPU ring; the twin looks for its hit there: found, the first took it (the twin clears the
 *   note); not found, the kernel skipped the first for it, whenever in the first's run the
 *   softirq came, from the guard's increment to its decrement (NEST_FIRST_HIT, NEST_TWIN_HIT).
 *   A kernel without the guard runs the first nested: it notes the nested hit too. A note no
 *   twin cleared (the twin skipped) is overwritten NEST_HITS hits later on that CPU.
 * - A trampoline runs the last attached first (bpf_trampoline_link_prog()): the twin before the
 *   first, which cannot have noted the hit yet. There the first marks itself busy on its CPU
 *   while it runs, and the twin does the work only when it finds the first busy, which, under
 *   the guard, is when the kernel skipped the first for this very run, and marks it taken.
 *   A trampoline without the guard (before 5.12) runs the first nested as well: the first, when
 *   it starts and finds its twin took this run, clears the mark and does nothing; it clears both
 *   marks when it ends (no twin can take a run of its own once it has ended). A skip between
 *   the guard's increment and the busy mark (or the clearing and the decrement) is not taken:
 *   it stays among the misses (NEST_FIRST, NEST_TWIN).
 *
 * The cgroup backend has no twin on inet_sock_set_state: sock_ops' STATE_CB takes its sockets'
 * moves to CLOSE, under no recursion guard, and its one raw tracepoint program works in process
 * context only (bpf/cgroup.bpf.h, cg_set_state). It keeps tcp_destroy_sock's pair.
 *
 * nested_only (EPH_TEST_NESTED=1) makes the first programs idle and the twins do all the work, to
 * test the twins' path. kprobe and system call tracepoint programs have no twins: one per-CPU
 * guard covers all of them (bpf_prog_active, trace_call_bpf()), so a twin would be skipped too.
 */
#ifndef EPH_NEST_BPF_H
#define EPH_NEST_BPF_H

#define NEST_SET_STATE 0     /* raw_tp/inet_sock_set_state */
#define NEST_DESTROY_SOCK 1  /* raw_tp/tcp_destroy_sock */
#define NEST_PUT_PORT 2	     /* fentry/inet_put_port */
#define NEST_TW 3	     /* fentry/inet_twsk_hashdance(_schedule): one of the two exists */
#define NEST_TW_UNHASH 4     /* fentry/inet_twsk_bind_unhash */
#define NEST_UDP_UNHASH 5    /* fentry/udp_lib_unhash */
#define NEST_MAX 6

#define NEST_HITS 8 /* raw tracepoints: the latest hits a first program took, per CPU */

struct nest_state {
	__u32 busy;  /* fentry: the first program is running on this CPU */
	__u32 taken; /* fentry: its twin took a run inside it */
	__u32 next;  /* raw tracepoints: the slot of hit[] the first fills next */
	__u32 __pad;
	__u64 hit[NEST_HITS]; /* raw tracepoints: hits the first took, not yet seen by its twin */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NEST_MAX);
	__type(key, __u32);
	__type(value, struct nest_state);
} nest SEC(".maps");

static __always_inline struct nest_state *nest_state(__u32 which)
{
	return bpf_map_lookup_elem(&nest, &which);
}

/* The first program of a pair: busy while it works; a run its twin took is not done again. */
#define NEST_FIRST(which, work)                                                                \
	do {                                                                                   \
		struct nest_state *ns = nest_state(which);                                     \
		if (!ns || nested_only)                                                        \
			return 0;                                                              \
		if (ns->taken) {                                                               \
			ns->taken = 0;                                                         \
			return 0;                                                              \
		}                                                                              \
		ns->busy = 1;                                                                  \
		work;                                                                          \
		ns->busy = 0;                                                                  \
		ns->taken = 0;                                                                 \
	} while (0)

/* The twin: the work only for a run the kernel skipped the first for. */
#define NEST_TWIN(which, work)                                                                 \
	do {                                                                                   \
		struct nest_state *ns = nest_state(which);                                     \
		if (!ns || !(ns->busy || nested_only))                                         \
			return 0;                                                              \
		if (!nested_only)                                                              \
			ns->taken = 1;                                                         \
		count(EPH_CNT_NESTED_RUNS);                                                    \
		work;                                                                          \
	} while (0)

/* The first program of a raw tracepoint's pair: it notes the hit before anything else. */
#define NEST_FIRST_HIT(which, hitid, work)                                                     \
	do {                                                                                   \
		struct nest_state *ns = nest_state(which);                                     \
		if (!ns || nested_only)                                                        \
			return 0;                                                              \
		ns->hit[ns->next & (NEST_HITS - 1)] = (hitid);                                 \
		ns->next++;                                                                    \
		work;                                                                          \
	} while (0)

/* Its twin: the work for a hit the first did not note (the kernel skipped it). */
#define NEST_TWIN_HIT(which, hitid, work)                                                      \
	do {                                                                                   \
		struct nest_state *ns = nest_state(which);                                     \
		__u64 id_ = (hitid);                                                           \
		if (!ns)                                                                       \
			return 0;                                                              \
		for (int i_ = 0; i_ < NEST_HITS; i_++) {                                       \
			if (ns->hit[i_] == id_) {                                              \
				ns->hit[i_] = 0;                                               \
				return 0;                                                      \
			}                                                                      \
		}                                                                              \
		count(EPH_CNT_NESTED_RUNS);                                                    \
		work;                                                                          \
	} while (0)

/* A state change's hit: the socket's address, with both states in its top bits (a kernel
 * address's top 16 bits are all ones on x86_64 and arm64: no two hits alike). */
static __always_inline __u64 nest_state_hit(const void *sk, int oldstate, int newstate)
{
	return (__u64)(unsigned long)sk ^ ((__u64)(oldstate & 0xff) << 56) ^
	       ((__u64)(newstate & 0xff) << 48);
}

#endif
