// SPDX-License-Identifier: GPL-2.0
/*
 * Loader: picks a backend by really trying it (open -> configure -> load -> attach), keeps the
 * programs of that backend only, and hands the records (ring or perf buffer) to the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "ephtrace.skel.h"
#include "event.h"
#include "evbuf.h"
#include "loader.h"
#include "loader_int.h"
#include "mounts.h"
#include "msg.h"
#include "mapdump.h"
#include "preempt.h"

/* libbpf's messages: shown with -v, otherwise the last warnings are kept for error reports. */
static struct {
	bool verbose;
	char failed_prog[64]; /* the first program libbpf could not load */
} logbuf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512], *name, *end;
	va_list copy;

	if (logbuf.verbose) {
		va_copy(copy, ap);
		vfprintf(stderr, fmt, copy);
		va_end(copy);
	}
	if (level != LIBBPF_WARN || logbuf.failed_prog[0])
		return 0;
	/* "libbpf: prog 'NAME': BPF program load failed: ..." names the culprit (the fall-back
	 * of a hook to kprobe needs it, with -v too) */
	vsnprintf(line, sizeof(line), fmt, ap);
	name = strstr(line, "prog '");
	if (!name || !strstr(line, "load failed"))
		return 0;
	name += 6;
	end = strchr(name, '\'');
	if (end && end - name < (long)sizeof(logbuf.failed_prog)) {
		memcpy(logbuf.failed_prog, name, end - name);
		logbuf.failed_prog[end - name] = '\0';
	}
	return 0;
}

static double stage_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The ABI version the embedded BPF object was built with (its .rodata, before the load) is
 * include/ephtrace.h's: an object of another build (a stale skeleton) would write records this
 * ephtrace decodes wrongly. */
static bool abi_matches(const struct ephtrace_bpf *skel, char *why, size_t whylen)
{
	__u32 v = skel->rodata->eph_abi_version;

	if (v == EPH_ABI_VERSION)
		return true;
	snprintf(why, whylen,
		 "the embedded BPF object is of ABI version %u, this ephtrace's is %u "
		 "(include/ephtrace.h): they come from different builds; rebuild both "
		 "(make clean && make)",
		 v, EPH_ABI_VERSION);
	return false;
}

/* loader.h */
int eph_test_without(__u32 *bits, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		__u32 bit;
	} helpers[] = { { "bpf_loop", EPH_WITHOUT_LOOP },
			{ "bpf_task_pt_regs", EPH_WITHOUT_TASK_PT_REGS } };
	const char *list = getenv("EPH_TEST_WITHOUT"), *end;
	size_t i, n;

	*bits = 0;
	for (; list && *list; list = *end ? end + 1 : end) {
		end = strchrnul(list, ',');
		n = end - list;
		for (i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
			if (strlen(helpers[i].name) == n && !strncmp(list, helpers[i].name, n))
				break;
		if (i == sizeof(helpers) / sizeof(helpers[0])) {
			snprintf(why, whylen,
				 "EPH_TEST_WITHOUT: unknown helper '%.*s' (have: "
				 "bpf_loop, bpf_task_pt_regs)",
				 (int)n, list);
			return -EINVAL;
		}
		*bits |= helpers[i].bit;
	}
	return 0;
}

/* Load errors that say the kernel refuses the style itself, not one function's program. */
static bool style_refused(int err)
{
	return err == -EPERM || err == -EACCES;
}

/*
 * One open -> configure -> load -> attach of `backend`. first: plan the hooks (l->plan; later
 * tries keep it). *retry: a hook fell back, from fentry to kprobe or from kprobe to its group's
 * tracepoint stand-in (its program did not load or attach): try again.
 */
static int try_once(struct eph_loader *l, const struct eph_loader_opts *o, int backend,
		    const struct btf *kbtf, bool first, double *t, bool *retry, char *why,
		    size_t whylen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	const char *nested;
	struct bpf_program *p;
	char msg[200];
	uint64_t slots;
	int err;

	*retry = false;
	logbuf.failed_prog[0] = '\0';
	l->skel = ephtrace_bpf__open_opts(&oo);
	if (!l->skel) {
		err = -errno;
		snprintf(why, whylen, "failed to open the BPF object: %s", strerror(-err));
		return err;
	}
	l->obj = l->skel->obj;
	if (!abi_matches(l->skel, why, whylen)) {
		l->abi_mismatch = true;
		err = -EPROTO;
		goto out_destroy;
	}
	if (first) {
		err = eph_plan_hooks(l, backend, o->backend == EPH_BACKEND_AUTO, kbtf, why, whylen);
		if (err)
			goto out_destroy;
	}
	l->skel->rodata->backend = backend;
	l->skel->rodata->standin = eph_hookplan_standin(&l->plan);
	l->skel->rodata->no_events = o->no_events;
	l->skel->rodata->use_seeds = o->seeds;
	l->seeds = o->seeds;
	l->skel->rodata->exact_errors = o->exact_errors;
	err = eph_test_without(&l->skel->rodata->without, why, whylen);
	if (err)
		goto out_destroy;
	l->without = l->skel->rodata->without;
	eph_probe_helpers(l, kbtf);
	l->skel->rodata->without = l->without;
	/* batch the reader's wakeups: eph_loader__poll() drains on its timeout anyway */
	l->skel->rodata->wakeup_bytes = l->buf.perf ? 0 : l->buf.wakeup;
	l->skel->rodata->perfbuf = l->buf.perf;
	/* EPH_TEST_NESTED=1: the *_nested twins do all the work (tests of their path) */
	nested = getenv("EPH_TEST_NESTED");
	l->skel->rodata->nested_only = nested && !strcmp(nested, "1");
	err = eph_evbuf__setup(&l->buf, l->skel->maps.events);
	if (err) {
		snprintf(why, whylen, "cannot set up the events buffer: %s", strerror(-err));
		goto out_destroy;
	}
	bpf_map__set_max_entries(l->skel->maps.counters, l->ncpus * EPH_CNT_MAX);
	bpf_map__set_max_entries(l->skel->maps.holds, o->max_holds);
	/* at most half of a table in use; 2 x 16 MiB at most (2^20 seeded sockets: the others
	 * wait for a resync, counted) */
	slots = 1;
	while (o->seeds && slots < 2ull * o->max_holds && slots < (1u << 21))
		slots <<= 1;
	l->skel->rodata->seed_mask = (__u32)(slots - 1);
	bpf_map__set_max_entries(l->skel->maps.seeds, (__u32)(1 + 2 * slots));
	eph_select_programs(l, backend, o->exact_errors);
	t[1] = stage_ms();
	err = ephtrace_bpf__load(l->skel);
	if (err) {
		p = logbuf.failed_prog[0] ?
			    bpf_object__find_program_by_name(l->skel->obj, logbuf.failed_prog) :
			    NULL;
		if (p)
			snprintf(msg, sizeof(msg), "failed to load %s (program %s): %s",
				 bpf_program__section_name(p), bpf_program__name(p),
				 strerror(-err));
		else
			snprintf(msg, sizeof(msg), "failed to load the %s programs: %s",
				 eph_backend_name(backend), strerror(-err));
		snprintf(why, whylen, "%s", msg);
		*retry = p && !style_refused(err) &&
			 !eph_hookplan_fall_back(&l->plan, bpf_program__section_name(p), msg) &&
			 eph_hookplan_count(&l->plan, l->plan.style);
		goto out_destroy;
	}
	err = eph_map_counters(l);
	if (err) {
		snprintf(why, whylen, "cannot map the counters: %s", strerror(-err));
		goto out_destroy;
	}
	t[2] = stage_ms(); /* the mounts, if needed, count in the attach */
	err = eph_attach(l, backend, o->exact_errors, retry, why, whylen);
	if (err)
		goto out_destroy;
	return 0;

out_destroy:
	eph_unmap_counters(l);
	ephtrace_bpf__destroy(l->skel);
	l->skel = NULL;
	l->obj = NULL;
	return err;
}

/*
 * btf_ms: how long reading the kernel's BTF took, for -v's account of the start-up. With
 * --backend auto, fentry and kprobe mix: a hook whose fentry program does not load or attach is
 * tried again with kprobe alone, one whose kprobe does not either with its group's tracepoint
 * stand-in (user/core/hookplan.h): at most twice per hook.
 */
static int try_backend(struct eph_loader *l, const struct eph_loader_opts *o, int backend,
		       const struct btf *kbtf, double btf_ms, char *why, size_t whylen)
{
	double t[3] = { stage_ms() };
	char plan[4096], *line, *next;
	bool retry;
	int tries = 0, err;

	do
		err = try_once(l, o, backend, kbtf, !tries, t, &retry, why, whylen);
	while (err && retry && ++tries <= 2 * EPH_MAX_HOOKS);
	if (err)
		return err;
	if (o->map_reads)
		eph_open_mapdump(l, o->verbose);
	l->backend = backend;
	if (backend == EPH_BACKEND_FENTRY || backend == EPH_BACKEND_KPROBE) {
		l->backend = eph_hookplan_backend(&l->plan);
		/* mixed: said always, each event's "backend" tells its hook's style */
		if (o->verbose || eph_hookplan_mixed(&l->plan)) {
			eph_hookplan_describe(&l->plan, plan, sizeof(plan));
			eph_note("hooks: %s", plan);
		}
	}
	eph_degraded(l, l->backend, plan, sizeof(plan));
	if (o->verbose && !l->kprobe_missed_known &&
	    (backend == EPH_BACKEND_FENTRY || backend == EPH_BACKEND_KPROBE) &&
	    eph_hookplan_count(&l->plan, EPH_BACKEND_KPROBE))
		eph_note("this kernel does not report a kprobe's misses (bpf_link_info's "
			 "perf_event.kprobe.missed, 6.7): a kretprobe that finds its maxactive "
			 "instances in use loses its event uncounted, and so does a kprobe run the "
			 "kernel skips");
	if (l->skel->rodata->nested_only) /* a test's setting: said, so that the test knows */
		eph_note("EPH_TEST_NESTED=1: the *_nested twins do the work of the hooks that "
			 "have them");
	for (line = plan; *line; line = next + 1) { /* what this kernel's BPF costs: said always */
		next = strchrnul(line, '\n');
		eph_note("%.*s", (int)(next - line), line);
		if (!*next)
			break;
	}
	if (o->verbose) {
		uint64_t insns = eph_loader__verified_insns(l);
		char walked[48] = "";

		if (insns)
			snprintf(walked, sizeof(walked), ": %llu instructions walked",
				 (unsigned long long)insns);
		eph_note("backend %s: kernel BTF read in %.1f ms, BPF object opened in %.1f ms, "
			 "loaded in %.1f ms (CO-RE, verifier%s, maps), %d programs attached at "
			 "%d hooks in %.1f ms%s",
			 eph_backend_name(l->backend), btf_ms, t[1] - t[0], t[2] - t[1], walked,
			 eph_loader__nr_progs(l), l->nr_links, stage_ms() - t[2],
			 tries ? " (the last of several tries: see the hooks)" : "");
	}
	return 0;
}

static const char *backend_hint(int backend)
{
	switch (backend) {
	case EPH_BACKEND_FENTRY:
		return "this kernel may forbid fentry/fexit (lockdown, no BTF, a sandbox, or no "
		       "ftrace direct calls: arm64 before 6.4): try --backend kprobe, cgroup or "
		       "tracepoint";
	case EPH_BACKEND_KPROBE:
		return "this kernel may lack kprobes (CONFIG_KPROBES) or the function may be "
		       "inlined: try --backend cgroup or --backend tracepoint";
	case EPH_BACKEND_CGROUP:
		return "this kernel may lack cgroup v2 BPF (CONFIG_CGROUP_BPF) or sock_ops, or "
		       "ephtrace may run in a cgroup namespace: try --backend tracepoint";
	default:
		return "check that tracefs and the syscalls:* tracepoints exist "
		       "(CONFIG_FTRACE_SYSCALLS)";
	}
}

/*
 * A kernel that preempts fentry/fexit programs skips the runs that find their program already
 * running on the CPU (user/node/preempt.h): auto tries kprobe first there, whose handlers run
 * with preemption disabled; fentry, when asked for, says that skipped runs will be counted.
 */
static void preemptible_kernel(const struct eph_loader_opts *o, const char *model, int order[2])
{
	if (o->backend == EPH_BACKEND_AUTO) {
		order[0] = EPH_BACKEND_KPROBE;
		order[1] = EPH_BACKEND_FENTRY;
		eph_note("%s kernel: trying kprobe before fentry (the kernel can preempt an fentry "
			 "program and then skips the runs that find it busy on that CPU)",
			 model);
	} else if (o->backend == EPH_BACKEND_FENTRY) {
		eph_note("%s kernel: the kernel can preempt an fentry program and then skips the "
			 "runs that find it busy on that CPU: each skipped run is counted as "
			 "missed, and in the drops (--backend kprobe has no such gap)",
			 model);
	}
}

/* Why no backend attached: the one asked for, with a hint, or each that auto tried. */
static void no_backend(const struct eph_loader_opts *o, const int order[4], char why[4][480])
{
	const char *more = o->verbose ? "" : "\n  (-v shows libbpf's messages)";
	int i;

	if (o->backend == EPH_BACKEND_AUTO) {
		eph_err("no backend could attach:\n  %s: %s\n  %s: %s\n  %s: %s\n  %s: %s%s",
			eph_backend_name(order[0]), why[0], eph_backend_name(order[1]), why[1],
			eph_backend_name(order[2]), why[2], eph_backend_name(order[3]), why[3],
			more);
		return;
	}
	for (i = 0; i < 3 && order[i] != o->backend; i++)
		;
	eph_err("backend %s: %s\n  %s%s", eph_backend_name(o->backend), why[i],
		backend_hint(o->backend), more);
}

int eph_loader__open(const struct eph_loader_opts *o, eph_record_fn fn, void *fn_ctx,
		     struct eph_loader **out)
{
	int order[] = { EPH_BACKEND_FENTRY, EPH_BACKEND_KPROBE, EPH_BACKEND_CGROUP,
			EPH_BACKEND_TRACEPOINT };
	char why[4][480] = {}, model[64];
	struct eph_loader *l;
	struct btf *kbtf;
	double btf_ms;
	int i, err = -ENOENT;

	logbuf.verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ncpus = libbpf_num_possible_cpus();
	l->cgroup_fd = -1;
	btf_ms = stage_ms();
	kbtf = o->btf_path ? btf__parse(o->btf_path, NULL) : btf__load_vmlinux_btf();
	btf_ms = stage_ms() - btf_ms;
	if (!kbtf) {
		err = -errno;
		eph_err("cannot read the kernel's BTF (%s): %s\n"
			"  ephtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF, or --btf FILE "
			"with this kernel's BTF",
			o->btf_path ? o->btf_path : "/sys/kernel/btf/vmlinux", strerror(-err));
		goto out_free;
	}
	/* the BPF side takes the ring buffer only where this BTF has struct bpf_ringbuf (CO-RE):
	 * the map must be the same */
	eph_evbuf__choose(&l->buf, o->perfbuf,
			  btf__find_by_name_kind(kbtf, "bpf_ringbuf", BTF_KIND_STRUCT) > 0,
			  o->ringbuf_size);
	l->kprobe_missed_known = eph_kernel_reports_kprobe_missed(kbtf);
	l->preempts = eph_kernel_preempts_progs(model, sizeof(model));
	if (l->preempts)
		preemptible_kernel(o, model, order);
	for (i = 0; i < 4; i++) {
		if (o->backend != EPH_BACKEND_AUTO && o->backend != order[i])
			continue;
		err = try_backend(l, o, order[i], kbtf, btf_ms, why[i], sizeof(why[i]));
		if (!err)
			break;
		if (l->abi_mismatch) { /* the same object for every backend: none to try */
			eph_err("%s", why[i]);
			btf__free(kbtf);
			goto out_free;
		}
		if (o->verbose && o->backend == EPH_BACKEND_AUTO)
			eph_note("backend %s: %s", eph_backend_name(order[i]), why[i]);
	}
	btf__free(kbtf);
	if (err) {
		no_backend(o, order, why);
		goto out_free;
	}
	err = fn ? eph_evbuf__open(&l->buf, bpf_map__fd(l->skel->maps.events), fn, fn_ctx) : 0;
	if (err) {
		eph_err("failed to create the %s reader: %s",
			l->buf.perf ? "perf buffer" : "ring buffer", strerror(-err));
		goto out_free;
	}
	if (o->verbose && fn) {
		char what[160];

		eph_evbuf__describe(&l->buf, what, sizeof(what));
		eph_note("events: %s", what);
	}
	*out = l;
	return 0;

out_free:
	eph_loader__free(l);
	return err;
}

int eph_loader__backend(const struct eph_loader *l)
{
	return l->backend;
}

int eph_loader__nr_progs(const struct eph_loader *l)
{
	int i, j, n = 0;

	for (i = 0; i < l->nr_links; i++) {
		for (j = 0; j < i && l->link_progs[j] != l->link_progs[i]; j++)
			;
		n += j == i;
	}
	return n;
}

int eph_loader__seeds_fd(const struct eph_loader *l)
{
	return l->seeds ? bpf_map__fd(l->skel->maps.seeds) : -1;
}

bool eph_loader__perfbuf(const struct eph_loader *l)
{
	return l->buf.perf;
}

int eph_loader__poll(struct eph_loader *l, int timeout_ms)
{
	return eph_evbuf__poll(&l->buf, timeout_ms);
}

/* The kprobe links' misses, kept: the count goes with the probe when its link is destroyed. */
static void keep_kprobe_misses(struct eph_loader *l)
{
	int i;

	for (i = 0; i < l->nr_links && l->nr_kept < MAX_LINKS; i++) {
		l->kept[l->nr_kept].prog = l->link_progs[i];
		l->kept[l->nr_kept++].missed = eph_link_kprobe_missed(l, l->links[i]);
	}
}

int eph_loader__drain(struct eph_loader *l)
{
	keep_kprobe_misses(l);
	eph_destroy_links(l);
	return eph_evbuf__consume(&l->buf);
}

int eph_loader__enable_stats(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	return fd < 0 ? -errno : fd;
}

void eph_loader__free(struct eph_loader *l)
{
	if (!l)
		return;
	eph_evbuf__free(&l->buf);
	eph_destroy_links(l);
	eph_mapdump__free(l->dump);
	eph_unmap_counters(l);
	ephtrace_bpf__destroy(l->skel);
	free(l);
}

bool eph_privileged(void)
{
	return eph_has_caps(1ull << CAP_SYS_ADMIN) ||
	       eph_has_caps(1ull << CAP_BPF | 1ull << CAP_PERFMON);
}
