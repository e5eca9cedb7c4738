/* SPDX-License-Identifier: GPL-2.0 */
/* What loader.c and attach.c share: the loader itself and the choice of programs. */
#ifndef EPH_LOADER_INT_H
#define EPH_LOADER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "evbuf.h"
#include "hookplan.h"

#define MAX_LINKS 64

struct ephtrace_bpf;

struct eph_loader {
	struct ephtrace_bpf *skel;
	struct bpf_object *obj; /* skel's, for the code that does not know the skeleton */
	struct eph_evbuf buf;	/* ring buffer, or perf buffer (evbuf.c) */
	struct bpf_link *links[MAX_LINKS];
	const struct bpf_program *link_progs[MAX_LINKS]; /* each link's program */
	int nr_links;
	/* kprobe links' misses (eph_link_kprobe_missed), read by eph_loader__drain() before it
	 * destroys the links: the count goes with the probe */
	struct {
		const struct bpf_program *prog;
		__u64 missed;
	} kept[MAX_LINKS];
	int nr_kept;
	bool kprobe_missed_known; /* the kernel reports a kprobe link's misses (6.7) */
	int backend;
	int ncpus;
	int cgroup_fd;	   /* the cgroup v2 root, while the cgroup backend attaches */
	bool abi_mismatch; /* the embedded object is of another ABI version: no backend will do */
	struct eph_hookplan plan; /* fentry/kprobe: the style of each hook */
	__u32 without;		  /* EPH_WITHOUT_*: what the kernel lacks or the test said */
	bool seeds;		  /* opts.seeds: the "seeds" map is in use */
	bool preempts;		  /* the kernel can preempt programs (preempt.h) */
	struct eph_mapdump *dump; /* the stats and hists maps' iterator; NULL: lookups */
	const struct eph_cpu_counters *cnt; /* the "counters" map, mapped: a row per CPU */
	size_t cnt_len;			    /* the mapping's length */
};
/* The stats and hists maps' iterator linked, once loaded (loader_read.c); without it (said
 * with -v, and always on a kernel that can preempt programs) they are read with lookups. */
void eph_open_mapdump(struct eph_loader *l, bool verbose);
/* The counters mapped, once loaded (loader_read.c). 0 or -errno. */
int eph_map_counters(struct eph_loader *l);
void eph_unmap_counters(struct eph_loader *l);

/* The hooks of a fentry or kprobe backend into l->plan (mix: --backend auto's fentry, where a
 * hook may fall back to kprobe alone); optional hooks the kernel lacks are left out. -ENOENT
 * with why when no TIME_WAIT hook is left. */
int eph_plan_hooks(struct eph_loader *l, int backend, bool mix, const struct btf *kbtf, char *why,
		   size_t whylen);
/* What the kernel's BPF lacks (EPH_WITHOUT_*, from its BTF's enum bpf_func_id) or'd into
 * l->without. */
void eph_probe_helpers(struct eph_loader *l, const struct btf *kbtf);
/* What the backend loses to l->without, one line per loss into buf ("" when nothing). */
void eph_degraded(const struct eph_loader *l, int backend, char *buf, size_t len);
/* Mark the programs to load: the backend's, and of the hooks, those in the plan's style; of a
 * program and its *_bounded twin, the twin when the kernel has no bpf_loop(). */
void eph_select_programs(struct eph_loader *l, int backend, bool exact);
/* Attach every selected program, with what it needs mounted. A fentry program that does not
 * attach, in a plan that mixes, moves its hook to kprobe: then every link is gone again and
 * *retry says to load anew. On any failure no link is left. */
int eph_attach(struct eph_loader *l, int backend, bool exact, bool *retry, char *why,
	       size_t whylen);
void eph_destroy_links(struct eph_loader *l);
/* Whether this kernel's bpf_link_info has perf_event.kprobe.missed (6.7), from its BTF. */
bool eph_kernel_reports_kprobe_missed(const struct btf *kbtf);
/* The misses of a kprobe or kretprobe link (a perf_event link): the probe hit while a kprobe
 * was already running on the CPU, and for a kretprobe, calls whose return it could not probe
 * because its maxactive instances were all in use (trace_kprobe_missed() in
 * kernel/trace/trace_kprobe.c). 0 for any other link, or where the kernel does not tell. */
__u64 eph_link_kprobe_missed(const struct eph_loader *l, const struct bpf_link *link);
/* A raw tracepoint's or fentry program's *_nested twin, which takes the runs the kernel skipped
 * its first program for (bpf/nest.bpf.h): attached last; its own skipped runs lose nothing. */
bool eph_prog_is_twin(const struct bpf_program *p);

#endif
