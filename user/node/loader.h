/* SPDX-License-Identifier: GPL-2.0 */
/* Loading ephtrace's BPF object: backend choice by trial, attach, events buffer, counters. */
#ifndef EPH_LOADER_H
#define EPH_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ephtrace.h"

struct eph_loader_opts {
	int backend;	       /* EPH_BACKEND_AUTO tries fentry, kprobe, cgroup, tracepoint */
	uint32_t ringbuf_size; /* bytes, a power of two >= page size */
	uint32_t max_holds;    /* ports tracked at once in the kernel */
	const char *btf_path;  /* kernel BTF to use instead of /sys/kernel/btf/vmlinux */
	bool verbose;	       /* libbpf's messages on stderr */
	bool no_events;	       /* counters and histograms only, no ring-buffer records */
	/* records through the perf buffer although the kernel has the ring buffer (tests; also
	 * taken when EPH_TEST_PERFBUF=1 is in the environment: user/node/evbuf.c) */
	bool perfbuf;
	/* cgroup backend: also the system call tracepoints, for bind() and UDP (and their
	 * errnos), which the cgroup hooks see only in part */
	bool exact_errors;
	/* the command keeps an occupancy: the "seeds" map is sized as holds and the programs look
	 * releases up in it (user/node/seeds.h); else it has one entry, never read */
	bool seeds;
	/* the command reads the "stats" and "hists" maps (eph_loader__foreach): their iterator
	 * is loaded and linked (mapdump.h) */
	bool map_reads;
};

struct eph_loader;

/* Called for each record (ring or perf buffer); return a negative errno to stop the poll. */
typedef int (*eph_record_fn)(void *ctx, const void *data, size_t size);

/* Open, load and attach. On failure prints what failed and why (stderr), returns -errno. */
int eph_loader__open(const struct eph_loader_opts *opts, eph_record_fn fn, void *fn_ctx,
		     struct eph_loader **out);
int eph_loader__backend(const struct eph_loader *l);
int eph_loader__nr_progs(const struct eph_loader *l); /* attached (one may be at several hooks) */
/* The "seeds" map's fd (eph_seeds__new), or -1 without opts.seeds. */
int eph_loader__seeds_fd(const struct eph_loader *l);
/* Whether the records come through the perf buffer (no BPF ring buffer, or forced). */
bool eph_loader__perfbuf(const struct eph_loader *l);
/* Wait up to timeout_ms for records; returns the number consumed or -errno (-EINTR on signal). */
int eph_loader__poll(struct eph_loader *l, int timeout_ms);
/* Stop the kernel side (destroy the links) and hand over what is left in the buffer. */
int eph_loader__drain(struct eph_loader *l);
/* Sum of the per-CPU counters (EPH_CNT_*), read from memory (no system call). EPH_CNT_DROPPED
 * includes the programs' runs the kernel skipped (EPH_CNT_MISSED: eph_loader__prog_stats'
 * misses, less the twins') and the perf buffer's lost samples the BPF side did not see
 * (evbuf.c). */
void eph_loader__counters(const struct eph_loader *l, uint64_t out[EPH_CNT_MAX]);
/* Every entry of the "stats" or "hists" map (struct eph_stat_key / eph_hist_key -> __u64),
 * through their iterator (mapdump.h), else with a lookup per key. */
enum eph_map { EPH_MAP_STATS, EPH_MAP_HISTS };
typedef int (*eph_entry_fn)(void *ctx, const void *key, uint64_t value);
int eph_loader__foreach(const struct eph_loader *l, enum eph_map which, eph_entry_fn fn,
			void *ctx);
/* Each attached program's own cost: bpf_prog_info run_time_ns and run_cnt (0 unless BPF
 * run-time stats are on: kernel.bpf_stats_enabled, or eph_loader__enable_stats), and the runs
 * the kernel skipped because the program was already running on that CPU (recursion_misses,
 * always counted) or, for a kprobe or kretprobe program, its probe's misses (a kretprobe's
 * maxactive instances all in use; 6.7+, kept after eph_loader__drain). Stops at and returns the first non-zero fn() result; -errno when the kernel
 * refuses the info. */
typedef int (*eph_prog_stats_fn)(void *ctx, const char *name, uint64_t run_time_ns,
				 uint64_t run_cnt, uint64_t misses);
int eph_loader__prog_stats(const struct eph_loader *l, eph_prog_stats_fn fn, void *ctx);
/* The instructions the verifier walked to load the programs (bpf_prog_info.verified_insns,
 * summed): what loading costs, as the verifier counts it; 0 before 5.16, which does not say. */
uint64_t eph_loader__verified_insns(const struct eph_loader *l);
/* How many calls the kernel side is following (entered, not yet ended: the calls table). Right
 * after a workload's threads have all exited this is what they left behind. 0 or -errno. */
int eph_loader__calls_left(const struct eph_loader *l, uint64_t *n);
/* Whether a program of that name is a *_nested twin (bpf/nest.bpf.h): its own skipped runs
 * lose nothing, the first program of its pair took those events. */
bool eph_loader__twin_name(const char *name);
/* Turn BPF run-time stats on for as long as the returned fd is open (BPF_ENABLE_STATS;
 * CAP_SYS_ADMIN). Returns the fd or -errno. */
int eph_loader__enable_stats(void);
void eph_loader__free(struct eph_loader *l); /* NULL-safe; leaves nothing in the kernel */

/* Whether this process can load BPF: root, CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON. */
bool eph_privileged(void);

/*
 * EPH_TEST_WITHOUT: helpers the programs are to do without although this kernel has them
 * (comma separated: bpf_loop, bpf_task_pt_regs; EPH_WITHOUT_* bits), so that tests run the
 * paths of older kernels here (the loader's programs, the port iterator). 0 and *bits, or
 * -EINVAL naming the entry it does not know in why.
 */
int eph_test_without(__u32 *bits, char *why, size_t whylen);

#endif
