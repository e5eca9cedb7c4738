/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What user space adds to the kernel/user ABI (include/ephtrace.h): names of values the BPF
 * programs never write and sizes of user space's own arrays. None of these is used in bpf/;
 * what is, stays in include/ephtrace.h.
 */
#ifndef EPHTRACE_USER_H
#define EPHTRACE_USER_H

#include "ephtrace.h"

/* struct eph_event.op of a record that no system call caused: none the kernel writes (it gives
 * a release or a TIME_WAIT move its assignment's op), but a decoded record may carry it */
#define EPH_OP_NONE 0

/* The counters array's slot the kernel leaves alone (include/ephtrace.h): the runs of
 * ephtrace's programs the kernel skipped (bpf_prog_info.recursion_misses), filled in by the
 * loader. Each may have lost an event; they are also in EPH_CNT_DROPPED. */
#define EPH_CNT_MISSED 12
_Static_assert(EPH_CNT_MISSED == EPH_CNT_DROP_BASE + 5 && EPH_CNT_MISSED < EPH_CNT_STATS_FULL,
	       "EPH_CNT_MISSED is the slot between the drops by type and EPH_CNT_STATS_FULL");

/* Buckets of a log2 histogram of __u64 values: eph_hist_key.slot < EPH_HIST_SLOTS, or
 * EPH_HIST_SUM */
#define EPH_HIST_SLOTS 64
_Static_assert(EPH_HIST_SLOTS <= EPH_HIST_SUM, "a bucket's slot is not EPH_HIST_SUM");

#endif /* EPHTRACE_USER_H */
