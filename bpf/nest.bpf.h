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
 * So each such program has a *_nested twin on the same hook. The first marks itself busy on its
 * CPU while it runs; the twin does the work only when it finds the first busy, which, under the
 * guard, is when the kernel skipped the first for this very run; it counts that run
 * (EPH_CNT_NESTED_RUNS: the loader takes them off the first programs' misses and leaves the
 * twins' own misses out, user/node/loader.c prog_misses()) and marks it taken. A twin skipped
 * itself was inside its own run, when the first was free and took the event.
 *
 * The order the kernel runs the two in differs (a tracepoint runs its probes in the order they
 * were attached, func_add() in kernel/tracepoint.c; a trampoline runs the last attached first,
 * bpf_trampoline_link_prog()), and a kernel without the guard (trampolines before 5.12) runs
 * the first nested as well. "taken" keeps that from counting an event twice: the first, when it
 * starts and finds its twin took this run, clears the mark and does nothing; the first clears
 * both marks when it ends (no twin can take a run of its own once it has ended).
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

struct nest_state {
	__u32 busy;  /* the first program is running on this CPU */
	__u32 taken; /* its twin took a run inside it */
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

#endif
