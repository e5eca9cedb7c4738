// SPDX-License-Identifier: GPL-2.0
/*
 * Reading the kernel side while it runs and after it stopped: the counters (with the runs the
 * kernel skipped and the perf buffer's lost samples), the stats and histogram maps, each
 * program's own figures, and the calls left in progress.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ephtrace.skel.h"
#include "event.h"
#include "loader.h"
#include "loader_int.h"
#include "mapdump.h"
#include "msg.h"

/*
 * The counters are read from memory, never with a map lookup: a lookup raises the CPU's
 * bpf_prog_active while it copies (bpf_disable_instrumentation()), and a kernel that preempts
 * it there (PREEMPT_RT, preempt=full) skips every kprobe and perf tracepoint program that runs
 * on that CPU meanwhile (trace_call_bpf()), before 6.7 without a trace: `top`, reading them
 * every second, lost up to 38 of 300 connect()s so on 6.1-rt (bpf/maps.bpf.h).
 */
int eph_map_counters(struct eph_loader *l)
{
	const struct bpf_map *m = l->skel->maps.counters;
	size_t page = (size_t)sysconf(_SC_PAGESIZE),
	       len = (size_t)bpf_map__value_size(m) * bpf_map__max_entries(m);
	void *p;

	/* a __u64 per element: rows of struct eph_cpu_counters, contiguous */
	if (bpf_map__value_size(m) != sizeof(__u64) ||
	    bpf_map__max_entries(m) < (__u32)l->ncpus * EPH_CNT_MAX)
		return -EINVAL;
	len = (len + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, bpf_map__fd(m), 0);
	if (p == MAP_FAILED)
		return -errno;
	l->cnt = p;
	l->cnt_len = len;
	return 0;
}

void eph_unmap_counters(struct eph_loader *l)
{
	if (l->cnt)
		munmap((void *)l->cnt, l->cnt_len);
	l->cnt = NULL;
}

/* Perf buffer: the lost samples the kernel reported beyond those the BPF side counted as
 * refused (perf_full): none where bpf_perf_event_output() reports a full buffer. .bss is
 * mapped by the skeleton. */
static uint64_t perf_lost_unseen(const struct eph_loader *l)
{
	uint64_t refused;

	if (!l->buf.lost || !l->skel->bss)
		return l->buf.lost;
	refused = __atomic_load_n(&l->skel->bss->perf_full, __ATOMIC_RELAXED);
	return l->buf.lost > refused ? l->buf.lost - refused : 0;
}

/* Program p's runs its kprobe or kretprobe skipped (eph_link_kprobe_missed): from its link
 * while attached, from what eph_loader__drain() kept after. 0 before 6.7: not told. */
static uint64_t kprobe_misses(const struct eph_loader *l, const struct bpf_program *p)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < l->nr_links; i++)
		if (l->link_progs[i] == p)
			n += eph_link_kprobe_missed(l, l->links[i]);
	for (i = 0; i < l->nr_kept; i++)
		if (l->kept[i].prog == p)
			n += l->kept[i].missed;
	return n;
}

/*
 * Runs of our programs the kernel skipped, each of which may have lost an event: the recursion
 * guard's (bpf_prog_info), and a kprobe's or kretprobe's own misses (a kretprobe that found its
 * maxactive instances in use: kprobe_misses()), less those a raw tracepoint's twin took
 * (nested: EPH_CNT_NESTED_RUNS, read before): a twin's own skipped runs are left out, the first
 * program of its pair took those. So are cg_set_state's: the runs its guard skips are softirqs'
 * state changes, which carry nothing for it (bpf/cgroup.bpf.h); `events -v` still lists them.
 */
static uint64_t prog_misses(const struct eph_loader *l, uint64_t nested)
{
	struct bpf_program *p;
	uint64_t n = 0;

	bpf_object__for_each_program(p, l->skel->obj)
	{
		if (eph_prog_is_twin(p) || !strcmp(bpf_program__name(p), "cg_set_state"))
			continue;
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			n += info.recursion_misses;
		n += kprobe_misses(l, p);
	}
	return n > nested ? n - nested : 0;
}

void eph_loader__counters(const struct eph_loader *l, uint64_t out[EPH_CNT_MAX])
{
	int c, i;

	memset(out, 0, EPH_CNT_MAX * sizeof(*out));
	for (c = 0; c < l->ncpus; c++)
		for (i = 0; i < EPH_CNT_MAX; i++) /* the programs add with atomics */
			out[i] += __atomic_load_n(&l->cnt[c].n[i], __ATOMIC_RELAXED);
	/* the twins' count first: each is one of the misses read after it */
	out[EPH_CNT_MISSED] = prog_misses(l, out[EPH_CNT_NESTED_RUNS]);
	out[EPH_CNT_DROPPED] += out[EPH_CNT_MISSED] + perf_lost_unseen(l);
}

/* The iterator loads on every kernel of the tests' VMs; this host (6.18) refuses it (EPERM,
 * as fentry): there the lookups are what runs. */
void eph_open_mapdump(struct eph_loader *l, bool verbose)
{
	int fds[] = { bpf_map__fd(l->skel->maps.stats), bpf_map__fd(l->skel->maps.hists) };
	char why[256];

	l->dump = eph_mapdump__open(fds, 2, why, sizeof(why));
	if (!l->dump && (verbose || l->preempts))
		eph_note("map iterator: %s; the stats and hists maps read with lookups (on a "
			 "kernel that preempts them, kprobe programs that run meanwhile on the CPU "
			 "are skipped)",
			 why);
}

int eph_loader__foreach(const struct eph_loader *l, enum eph_map which, eph_entry_fn fn, void *ctx)
{
	const struct bpf_map *map =
		which == EPH_MAP_STATS ? l->skel->maps.stats : l->skel->maps.hists;
	union {
		struct eph_stat_key s;
		struct eph_hist_key h;
	} key, next;
	size_t ksz = bpf_map__key_size(map);
	const void *prev = NULL;
	uint64_t v;
	int err;

	if (l->dump)
		return eph_mapdump__foreach(l->dump, which == EPH_MAP_STATS ? 0 : 1, fn, ctx);
	while (!bpf_map__get_next_key(map, prev, &next, ksz)) {
		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(map, &key, ksz, &v, sizeof(v), 0))
			continue; /* deleted meanwhile */
		err = fn(ctx, &key, v);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

int eph_loader__prog_stats(const struct eph_loader *l, eph_prog_stats_fn fn, void *ctx)
{
	struct bpf_program *p;
	int err;

	bpf_object__for_each_program(p, l->skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (!bpf_program__autoload(p) || fd < 0)
			continue; /* another backend's program: never loaded */
		/* bpf_prog_get_info_by_fd() is libbpf >= 1.2; Debian 12 has 1.1 */
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		err = fn(ctx, bpf_program__name(p), info.run_time_ns, info.run_cnt,
			 info.recursion_misses + kprobe_misses(l, p));
		if (err)
			return err;
	}
	return 0;
}

uint64_t eph_loader__verified_insns(const struct eph_loader *l)
{
	struct bpf_program *p;
	uint64_t n = 0;

	bpf_object__for_each_program(p, l->skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (bpf_program__autoload(p) && fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			n += info.verified_insns;
	}
	return n;
}

/* Calls whose entry the kernel side saw and whose end it has not: the entries of the calls
 * table (keyed by thread and hook on fentry and kprobe, by thread on tracepoint, by socket on
 * cgroup). */
int eph_loader__calls_left(const struct eph_loader *l, uint64_t *n)
{
	const struct bpf_map *map = l->skel->maps.calls;
	__u64 key, next;
	const void *prev = NULL;

	*n = 0;
	while (!bpf_map__get_next_key(map, prev, &next, sizeof(next))) {
		key = next;
		prev = &key;
		++*n;
	}
	return errno == ENOENT ? 0 : -errno;
}
