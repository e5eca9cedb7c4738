// SPDX-License-Identifier: GPL-2.0
/*
 * Loader: picks a backend by really trying it (open -> configure -> load -> attach), keeps the
 * programs of that backend only, and hands ring-buffer records to the caller.
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
#include "loader.h"
#include "mounts.h"

#define MAX_LINKS 64

struct eph_loader {
	struct ephtrace_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int nr_links;
	int backend;
	int ncpus;
	int cgroup_fd;	   /* the cgroup v2 root, while the cgroup backend attaches */
	bool abi_mismatch; /* the embedded object is of another ABI version: no backend will do */
};

/* libbpf's messages: shown with -v, otherwise the last warnings are kept for error reports. */
static struct {
	bool verbose;
	char failed_prog[64]; /* the first program libbpf could not load */
} logbuf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512], *name, *end;

	if (logbuf.verbose)
		return vfprintf(stderr, fmt, ap);
	if (level != LIBBPF_WARN || logbuf.failed_prog[0])
		return 0;
	/* "libbpf: prog 'NAME': BPF program load failed: ..." names the culprit */
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

static bool sec_is(const struct bpf_program *p, const char *prefix)
{
	return !strncmp(bpf_program__section_name(p), prefix, strlen(prefix));
}

/* Whether the program is one of the backend's. The cgroup backend shares the raw tracepoints
 * of the tracepoint backend but its process-exit walk (sock_release releases UDP ports), and
 * with --exact-errors the system call tracepoints but close() (same reason); with them, bind(),
 * listen() and UDP sends are theirs, not the hooks'. */
static bool prog_wanted(const struct bpf_program *p, int backend, bool exact)
{
	if (sec_is(p, "fentry/") || sec_is(p, "fexit/"))
		return backend == EPH_BACKEND_FENTRY;
	if (sec_is(p, "kprobe/") || sec_is(p, "kretprobe/"))
		return backend == EPH_BACKEND_KPROBE;
	if (backend == EPH_BACKEND_TRACEPOINT)
		return sec_is(p, "tracepoint/") || sec_is(p, "raw_tp/");
	if (backend != EPH_BACKEND_CGROUP)
		return false;
	if (sec_is(p, "raw_tp/"))
		return strcmp(bpf_program__section_name(p), "raw_tp/sched_process_exit");
	if (sec_is(p, "tracepoint/syscalls/"))
		return exact && !strstr(bpf_program__section_name(p), "_close");
	if (sec_is(p, "cgroup/bind") || sec_is(p, "cgroup/post_bind") || sec_is(p, "cgroup/sendmsg"))
		return !exact;
	return sec_is(p, "cgroup/") || sec_is(p, "sockops");
}

/* Attached to the cgroup v2 root rather than to a kernel function or tracepoint. */
static bool prog_is_cgroup(const struct bpf_program *p)
{
	return sec_is(p, "cgroup/") || sec_is(p, "sockops");
}

/* The kernel function a fentry/kprobe program hooks. */
static const char *prog_target(const struct bpf_program *p)
{
	const char *slash = strchr(bpf_program__section_name(p), '/');

	return slash ? slash + 1 : "";
}

/* Hooks that exist in some kernels only: TIME_WAIT creation was renamed in 6.6
 * (inet_twsk_hashdance -> inet_twsk_hashdance_schedule); one of the two is enough. */
static bool optional_target(const char *fn)
{
	return !strcmp(fn, "inet_twsk_hashdance") || !strcmp(fn, "inet_twsk_hashdance_schedule");
}

static bool kernel_has_func(const struct btf *btf, const char *fn)
{
	return btf && btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC) > 0;
}

static void destroy_links(struct eph_loader *l)
{
	while (l->nr_links > 0)
		bpf_link__destroy(l->links[--l->nr_links]);
}

/* The exit half of a call: fexit, kretprobe, sys_exit_* tracepoints, and for the cgroup
 * backend every hook but bind's, which starts what post_bind ends (a connect() starts at its
 * state change to SYN_SENT, a raw tracepoint attached with the entries). */
static bool prog_is_exit(const struct bpf_program *p)
{
	return sec_is(p, "fexit/") || sec_is(p, "kretprobe/") ||
	       sec_is(p, "tracepoint/syscalls/sys_exit_") ||
	       (prog_is_cgroup(p) && !sec_is(p, "cgroup/bind"));
}

/*
 * What an attach error means when strerror() cannot say: the kernel's own ENOTSUPP (524) for a
 * fentry/fexit program is a kernel that cannot put a BPF trampoline on its functions, for want
 * of ftrace direct calls (arm64 has them from 6.4: commit 2aa6ac03516d, "arm64: ftrace: Add
 * direct call support"; Debian's arm64 6.1 refuses fentry so).
 */
#define EPH_ENOTSUPP 524

static const char *attach_why(const struct bpf_program *p, int err)
{
	if (err == -EPH_ENOTSUPP && (sec_is(p, "fentry/") || sec_is(p, "fexit/")))
		return " (ENOTSUPP: this kernel cannot attach BPF trampolines to its functions: it "
		       "lacks ftrace direct calls, CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS, which "
		       "arm64 has from 6.4)";
	return "";
}

/* Attach the exit halves (exits) or the rest of the programs of the chosen backend. */
static int attach_some(struct eph_loader *l, bool exits, char *why, size_t whylen)
{
	struct bpf_program *p;
	int err;

	bpf_object__for_each_program(p, l->skel->obj)
	{
		struct bpf_link *link;

		if (!bpf_program__autoload(p) || prog_is_exit(p) != exits)
			continue;
		if (l->nr_links == MAX_LINKS) {
			snprintf(why, whylen, "too many programs");
			return -E2BIG;
		}
		link = prog_is_cgroup(p) ? bpf_program__attach_cgroup(p, l->cgroup_fd) :
					   bpf_program__attach(p);
		if (!link) {
			err = -errno;
			snprintf(why, whylen, "failed to attach %s: %s%s",
				 bpf_program__section_name(p), strerror(-err), attach_why(p, err));
			return err;
		}
		l->links[l->nr_links++] = link;
	}
	return 0;
}

/*
 * Exits first, entries last: a call whose entry is seen while its exit is not attached yet
 * would leave its context in the calls map for good (the thread may never call again), and
 * hand it to the thread's next, unrelated exit.
 */
static int attach_all(struct eph_loader *l, char *why, size_t whylen)
{
	return attach_some(l, true, why, whylen) ?: attach_some(l, false, why, whylen);
}

static double stage_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Attach with what it needs mounted: tracefs for the tracepoint ids (a raw tracepoint needs no
 * id), the cgroup v2 root for the cgroup hooks. Each is unmounted again at once.
 */
static int attach_mounted(struct eph_loader *l, int backend, bool exact, struct eph_mnt *mnt,
			  char *why, size_t whylen)
{
	int err;

	if (backend == EPH_BACKEND_CGROUP) {
		uint64_t id;

		l->cgroup_fd = eph_cgroup2_root(mnt, &id);
		eph_mnt_undo(mnt);
		err = l->cgroup_fd < 0 ? l->cgroup_fd : 0;
		if (err == -EXDEV)
			snprintf(why, whylen,
				 "the cgroup v2 root is not visible: ephtrace runs in a cgroup "
				 "namespace of its own (its root is cgroup %llu) and would see only "
				 "the sockets below it; run it in the host's cgroup namespace "
				 "(docker run --cgroupns=host, nsenter -C -t 1)",
				 (unsigned long long)id);
		else if (err)
			snprintf(why, whylen, "no cgroup v2 root to attach to: no cgroup2 mount, "
				 "and mounting one failed: %s", strerror(-err));
		if (err)
			return err;
	}
	if (backend == EPH_BACKEND_TRACEPOINT || (backend == EPH_BACKEND_CGROUP && exact)) {
		err = eph_tracefs_mount(mnt);
		if (err) {
			snprintf(why, whylen, "tracefs is not mounted and mounting it on "
				 "/sys/kernel/tracing failed: %s%s", strerror(-err),
				 err == -EPERM ? " (that needs CAP_SYS_ADMIN: mount it beforehand)" : "");
			goto out;
		}
	}
	err = attach_all(l, why, whylen);
	eph_mnt_undo(mnt);
out:
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	l->cgroup_fd = -1;
	return err;
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

/* btf_ms: how long reading the kernel's BTF took, for -v's account of the start-up */
static int try_backend(struct eph_loader *l, const struct eph_loader_opts *o, int backend,
		       const struct btf *kbtf, double btf_ms, char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	double t_open = stage_ms(), t_load, t_attach, t_end;
	struct eph_mnt mnt = EPH_MNT_INIT;
	bool kfunc_backend = backend == EPH_BACKEND_FENTRY || backend == EPH_BACKEND_KPROBE;
	bool have_tw = false;
	struct bpf_program *p;
	int err;

	logbuf.failed_prog[0] = '\0';
	l->skel = ephtrace_bpf__open_opts(&oo);
	if (!l->skel) {
		err = -errno;
		snprintf(why, whylen, "failed to open the BPF object: %s", strerror(-err));
		return err;
	}
	if (!abi_matches(l->skel, why, whylen)) {
		l->abi_mismatch = true;
		err = -EPROTO;
		goto out_destroy;
	}
	l->skel->rodata->backend = backend;
	l->skel->rodata->no_events = o->no_events;
	l->skel->rodata->exact_errors = o->exact_errors;
	/* batch the reader's wakeups: eph_loader__poll() drains on its timeout anyway */
	l->skel->rodata->wakeup_bytes = o->ringbuf_size / 4;
	bpf_map__set_max_entries(l->skel->maps.events, o->ringbuf_size);
	bpf_map__set_max_entries(l->skel->maps.holds, o->max_holds);
	bpf_object__for_each_program(p, l->skel->obj)
	{
		const char *fn = prog_target(p);
		bool want = prog_wanted(p, backend, o->exact_errors);

		if (want && kfunc_backend && optional_target(fn)) {
			want = kernel_has_func(kbtf, fn);
			have_tw |= want;
		}
		bpf_program__set_autoload(p, want);
	}
	if (kfunc_backend && !have_tw) {
		snprintf(why, whylen, "no TIME_WAIT hook (inet_twsk_hashdance[_schedule]) in this "
				      "kernel's BTF");
		err = -ENOENT;
		goto out_destroy;
	}
	t_load = stage_ms();
	err = ephtrace_bpf__load(l->skel);
	if (err) {
		p = logbuf.failed_prog[0] ?
			    bpf_object__find_program_by_name(l->skel->obj, logbuf.failed_prog) :
			    NULL;
		if (p)
			snprintf(why, whylen, "failed to load %s (program %s): %s",
				 bpf_program__section_name(p), bpf_program__name(p),
				 strerror(-err));
		else
			snprintf(why, whylen, "failed to load the %s programs: %s",
				 eph_backend_name(backend), strerror(-err));
		goto out_destroy;
	}
	t_attach = stage_ms(); /* the mounts, if needed, count in the attach */
	err = attach_mounted(l, backend, o->exact_errors, &mnt, why, whylen);
	if (err)
		goto out_links;
	l->backend = backend;
	t_end = stage_ms();
	if (o->verbose)
		fprintf(stderr,
			"ephtrace: backend %s: kernel BTF read in %.1f ms, BPF object opened in "
			"%.1f ms, loaded in %.1f ms (CO-RE, verifier, maps), %d programs attached "
			"in %.1f ms\n",
			eph_backend_name(backend), btf_ms, t_load - t_open, t_attach - t_load,
			l->nr_links, t_end - t_attach);
	return 0;

out_links:
	destroy_links(l);
out_destroy:
	ephtrace_bpf__destroy(l->skel);
	l->skel = NULL;
	return err;
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

int eph_loader__open(const struct eph_loader_opts *o, eph_record_fn fn, void *fn_ctx,
		     struct eph_loader **out)
{
	static const int order[] = { EPH_BACKEND_FENTRY, EPH_BACKEND_KPROBE, EPH_BACKEND_CGROUP,
				     EPH_BACKEND_TRACEPOINT };
	char why[4][320] = {};
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
		fprintf(stderr, "ephtrace: cannot read the kernel's BTF (%s): %s\n",
			o->btf_path ? o->btf_path : "/sys/kernel/btf/vmlinux", strerror(-err));
		fprintf(stderr, "  ephtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF, or "
				"--btf FILE with this kernel's BTF\n");
		goto out_free;
	}
	for (i = 0; i < 4; i++) {
		if (o->backend != EPH_BACKEND_AUTO && o->backend != order[i])
			continue;
		err = try_backend(l, o, order[i], kbtf, btf_ms, why[i], sizeof(why[i]));
		if (!err)
			break;
		if (l->abi_mismatch) { /* the same object for every backend: none to try */
			fprintf(stderr, "ephtrace: %s\n", why[i]);
			btf__free(kbtf);
			goto out_free;
		}
		if (o->verbose || o->backend != EPH_BACKEND_AUTO)
			fprintf(stderr, "ephtrace: backend %s: %s\n", eph_backend_name(order[i]),
				why[i]);
	}
	btf__free(kbtf);
	if (err) {
		if (o->backend == EPH_BACKEND_AUTO) {
			fprintf(stderr, "ephtrace: no backend could attach:\n");
			for (i = 0; i < 4; i++)
				fprintf(stderr, "  %s: %s\n", eph_backend_name(order[i]), why[i]);
		} else {
			fprintf(stderr, "  %s\n", backend_hint(o->backend));
		}
		if (!o->verbose)
			fprintf(stderr, "  (-v shows libbpf's messages)\n");
		goto out_free;
	}
	if (fn)
		l->rb = ring_buffer__new(bpf_map__fd(l->skel->maps.events),
					 (ring_buffer_sample_fn)fn, fn_ctx, NULL);
	if (fn && !l->rb) {
		err = -errno;
		fprintf(stderr, "ephtrace: failed to create the ring buffer reader: %s\n",
			strerror(-err));
		goto out_free;
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

int eph_loader__nr_links(const struct eph_loader *l)
{
	return l->nr_links;
}

int eph_loader__poll(struct eph_loader *l, int timeout_ms)
{
	int n, m;

	if (!l->rb)
		return -EINVAL;
	/* records are submitted without a wakeup until the ring fills up: take what waits
	 * after the timeout too */
	n = ring_buffer__poll(l->rb, timeout_ms);
	if (n < 0)
		return n;
	m = ring_buffer__consume(l->rb);
	return m < 0 ? m : n + m;
}

int eph_loader__drain(struct eph_loader *l)
{
	destroy_links(l);
	return l->rb ? ring_buffer__consume(l->rb) : 0;
}

/* Runs of our programs the kernel skipped (recursion guard): each may have lost an event. */
static uint64_t prog_misses(const struct eph_loader *l)
{
	struct bpf_program *p;
	uint64_t n = 0;

	bpf_object__for_each_program(p, l->skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			n += info.recursion_misses;
	}
	return n;
}

int eph_loader__counters(const struct eph_loader *l, uint64_t out[EPH_CNT_MAX])
{
	uint64_t vals[l->ncpus];
	__u32 i;
	int c;

	for (i = 0; i < EPH_CNT_MAX; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(l->skel->maps.counters, &i, sizeof(i), vals, sizeof(vals),
					 0))
			return -errno;
		for (c = 0; c < l->ncpus; c++)
			out[i] += vals[c];
	}
	out[EPH_CNT_MISSED] = prog_misses(l);
	out[EPH_CNT_DROPPED] += out[EPH_CNT_MISSED];
	return 0;
}

int eph_loader__foreach(const struct eph_loader *l, enum eph_map which, eph_entry_fn fn,
			void *ctx)
{
	const struct bpf_map *map = which == EPH_MAP_STATS ? l->skel->maps.stats : l->skel->maps.hists;
	union {
		struct eph_stat_key s;
		struct eph_hist_key h;
	} key, next;
	size_t ksz = bpf_map__key_size(map);
	const void *prev = NULL;
	uint64_t v;
	int err;

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
		err = fn(ctx, bpf_program__name(p), info.run_time_ns, info.run_cnt);
		if (err)
			return err;
	}
	return 0;
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
	ring_buffer__free(l->rb);
	destroy_links(l);
	ephtrace_bpf__destroy(l->skel);
	free(l);
}

bool eph_privileged(void)
{
	return eph_has_caps(1ull << CAP_SYS_ADMIN) ||
	       eph_has_caps(1ull << CAP_BPF | 1ull << CAP_PERFMON);
}
