// SPDX-License-Identifier: GPL-2.0
/*
 * The "stats" and "hists" maps of ephtrace.bpf.c, read for user space (user/node/mapdump.c):
 * one link of this iterator per map, each element written as its 8-byte key, then its 8-byte
 * value. A lookup through the bpf() system call raises the CPU's bpf_prog_active while it copies
 * (bpf_disable_instrumentation(), kernel/bpf/syscall.c), and a kernel that preempts the call
 * there (PREEMPT_RT, preempt=full) skips every kprobe and perf tracepoint program that runs on
 * the CPU meanwhile (trace_call_bpf()). An iterator's program runs under rcu_read_lock() and
 * migrate_disable() only (bpf_iter_run_prog(), kernel/bpf/bpf_iter.c), and its walk of a hash
 * map takes no bucket lock (bpf_hash_map_seq_find_next(), kernel/bpf/hashtab.c): an element
 * updated meanwhile is read as it is then. iter/bpf_map_elem and bpf_seq_write(): 5.9.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "ephtrace.h"

char LICENSE[] SEC("license") = "GPL";

/* The ABI this object was built with: user/node/mapdump.c refuses another (include/ephtrace.h).
 * Read, never written, by user space before the load. */
const volatile __u32 eph_abi_version = EPH_ABI_VERSION;

SEC("iter/bpf_map_elem")
int dump_u64_map(struct bpf_iter__bpf_map_elem *ctx)
{
	__u64 *key = ctx->key, *value = ctx->value, rec[2];

	if (!key || !value)
		return 0; /* the end */
	rec[0] = *key;
	rec[1] = *value;
	bpf_seq_write(ctx->meta->seq, rec, sizeof(rec));
	return 0;
}
