// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace kernel side: every ephemeral port assignment, failure and release.
 *
 * The handlers (on_*) are shared; four sets of thin SEC() wrappers call them:
 *   fentry/fexit     on the allocators themselves (preferred),      kfunc.bpf.h
 *   kprobe/kretprobe on the same functions,                         kfunc.bpf.h
 *   cgroup           cgroup socket hooks and sock_ops on the cgroup v2 root, with the raw
 *                    tracepoints of tracepoint.bpf.h: no system call tracepoint,  cgroup.bpf.h
 *   tracepoints      syscalls:sys_{enter,exit}_*, sock:inet_sock_set_state,
 *                    tcp:tcp_destroy_sock, sched_process_exit, for kernels that allow
 *                    none of the others; the socket behind the fd is read with CO-RE,
 *                                                                    tracepoint.bpf.h
 * around events.bpf.h (records, holds, emit()) and handlers.bpf.h (the kernel functions'
 * handlers). This file is the constants and settings they share, and the list of the parts.
 * User space keeps one set and disables autoload of the others (bpf_program__set_autoload).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ephtrace.h"
#include "core_fixes.bpf.h"
#include "maps.bpf.h"

#define AF_UNSPEC 0
#define AF_INET 2
#define AF_INET6 10
#define EAGAIN 11
#define EADDRINUSE 98
#define EADDRNOTAVAIL 99
#define ENOSPC 28
#define EINPROGRESS 115
#define SOCK_BINDPORT_LOCK 8
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/*
 * The bench's reference build (-DEPH_HOOKS_ONLY: .output/bench/ephtrace-hooks): every program
 * returns at once, attached where ephtrace's are, so that `make bench` measures what the hooks
 * themselves cost apart from what the programs do.
 */
#ifdef EPH_HOOKS_ONLY
#define HOOKS_ONLY() return 0
#else
#define HOOKS_ONLY() do {} while (0)
#endif

/* One program, in section sec, declared as prog (name(args), BPF_PROG(...), BPF_KPROBE(...)):
 * body after the HOOKS_ONLY() guard. For the programs that the *.bpf.h files make by the
 * dozen from one line each (kfunc.bpf.h, tracepoint.bpf.h). */
#define HOOK_PROG(sec, prog, body...)                                                          \
	SEC(sec)                                                                               \
	int prog                                                                               \
	{                                                                                      \
		HOOKS_ONLY();                                                                  \
		body;                                                                          \
	}

/* TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define TCP_CLOSING 11

/* The ABI this object was built with: user/node/loader.c refuses another (include/ephtrace.h).
 * Read, never written, by user space before the load. */
const volatile __u32 eph_abi_version = EPH_ABI_VERSION;
const volatile __u8 backend = EPH_BACKEND_AUTO;
/* Counters and histograms only (ephtrace hist): no ring-buffer records at all. */
const volatile __u8 no_events = 0;
/* The command keeps an occupancy and fills the "seeds" map: releases of sockets not in holds
 * are looked up there (maps.bpf.h). */
const volatile __u8 use_seeds = 0;
/* The slots of each of the "seeds" map's two tables, less one (a power of two less one). */
const volatile __u32 seed_mask = 0;
/* Wake the reader only once this many bytes wait in the ring buffer (0: at every record); the
 * reader also drains on a short timeout, so a quiet stream still flows. */
const volatile __u64 wakeup_bytes = 0;
/* EPH_WITHOUT_*: helpers to do without although the kernel has them (tests of older paths) */
const volatile __u32 without = 0;
/* Records go through the perf buffer although the kernel has the ring buffer (tests: the
 * loader sets it for EPH_TEST_PERFBUF=1, and makes "events" a perf event array). */
const volatile __u8 perfbuf = 0;
/* The first programs of the pairs idle and their *_nested twins do the work (tests of the
 * twins: EPH_TEST_NESTED=1; nest.bpf.h). */
const volatile __u8 nested_only = 0;
/* EPH_STANDIN_*: the fentry/kprobe hook groups the tracepoint programs stand in for (the
 * plan's hooks that attach in neither style); read only when backend is fentry or kprobe. */
const volatile __u32 standin = 0;
/* Perf path: records the perf buffer refused as full (-ENOSPC), already in EPH_CNT_DROPPED;
 * read by the loader to tell the kernel's lost-sample reports of them from others. */
__u64 perf_full = 0;

char LICENSE[] SEC("license") = "GPL";

#include "events.bpf.h"
#include "nest.bpf.h"
#include "handlers.bpf.h"
#include "kfunc.bpf.h"
#include "cgroup.bpf.h"
#include "tracepoint.bpf.h"
