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

#define MAX_LINKS 64
#define TRACEFS "/sys/kernel/tracing"

struct eph_loader {
	struct ephtrace_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int nr_links;
	int backend;
	int ncpus;
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

static int prog_backend(const struct bpf_program *p)
{
	const char *sec = bpf_program__section_name(p);

	if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6))
		return EPH_BACKEND_FENTRY;
	if (!strncmp(sec, "kprobe/", 7) || !strncmp(sec, "kretprobe/", 10))
		return EPH_BACKEND_KPROBE;
	if (!strncmp(sec, "tracepoint/", 11) || !strncmp(sec, "raw_tp/", 7))
		return EPH_BACKEND_TRACEPOINT;
	return -1;
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

/* Whether all the capabilities of mask (bit n = capability n) are in our effective set. */
static bool has_caps(uint64_t mask)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff;

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
	return (eff & mask) == mask;
}

static bool tracefs_present(void)
{
	return !access(TRACEFS "/events", F_OK) || !access("/sys/kernel/debug/tracing/events", F_OK);
}

/*
 * Tracepoints need tracefs to find their ids. When it is not mounted, it is mounted for the
 * attach only, in a mount namespace of our own: the host never sees it, and if we are killed
 * meanwhile (SIGKILL) the namespace and its mount go with us. Then back to the original
 * namespace (setns() needs CAP_SYS_CHROOT too). Without a namespace of our own (no such
 * capabilities, namespaces forbidden, threads) it is mounted in place.
 */
struct tracefs_mnt {
	bool mounted; /* by us */
	bool private; /* in a mount namespace of our own */
	int oldns;    /* where to return, and the root and working directory that setns() resets */
	int root;
	int cwd;
};

#define TRACEFS_MNT_INIT { .oldns = -1, .root = -1, .cwd = -1 }

static void tracefs_umount(struct tracefs_mnt *m)
{
	if (m->mounted)
		umount2(TRACEFS, MNT_DETACH); /* the attached tracepoints do not need it */
	if (m->private && (setns(m->oldns, CLONE_NEWNS) || fchdir(m->root) || chroot(".") ||
			   fchdir(m->cwd)))
		fprintf(stderr, "ephtrace: cannot return to the original mount namespace: %s\n",
			strerror(errno));
	if (m->oldns >= 0)
		close(m->oldns);
	if (m->root >= 0)
		close(m->root);
	if (m->cwd >= 0)
		close(m->cwd);
	*m = (struct tracefs_mnt)TRACEFS_MNT_INIT;
}

static int tracefs_mount(struct tracefs_mnt *m)
{
	int err;

	if (tracefs_present())
		return 0;
	m->oldns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	m->root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	m->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (has_caps(1ull << CAP_SYS_ADMIN | 1ull << CAP_SYS_CHROOT) && m->oldns >= 0 &&
	    m->root >= 0 && m->cwd >= 0 && !unshare(CLONE_NEWNS)) {
		m->private = true;
		/* what is mounted here must not propagate back to the original namespace */
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
			err = -errno;
			goto out_umount;
		}
	}
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL)) {
		err = -errno;
		goto out_umount;
	}
	m->mounted = true;
	return 0;

out_umount:
	tracefs_umount(m);
	return err;
}

static void destroy_links(struct eph_loader *l)
{
	while (l->nr_links > 0)
		bpf_link__destroy(l->links[--l->nr_links]);
}

/* The exit half of a call: fexit, kretprobe, sys_exit_* tracepoints. */
static bool prog_is_exit(const struct bpf_program *p)
{
	const char *sec = bpf_program__section_name(p);

	return !strncmp(sec, "fexit/", 6) || !strncmp(sec, "kretprobe/", 10) ||
	       !strncmp(sec, "tracepoint/syscalls/sys_exit_", 29);
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
		link = bpf_program__attach(p);
		if (!link) {
			err = -errno;
			snprintf(why, whylen, "failed to attach %s: %s",
				 bpf_program__section_name(p), strerror(-err));
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

/* btf_ms: how long reading the kernel's BTF took, for -v's account of the start-up */
static int try_backend(struct eph_loader *l, const struct eph_loader_opts *o, int backend,
		       const struct btf *kbtf, double btf_ms, char *why, size_t whylen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	double t_open = stage_ms(), t_load, t_attach, t_end;
	struct tracefs_mnt tfs = TRACEFS_MNT_INIT;
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
	l->skel->rodata->backend = backend;
	l->skel->rodata->no_events = o->no_events;
	/* batch the reader's wakeups: eph_loader__poll() drains on its timeout anyway */
	l->skel->rodata->wakeup_bytes = o->ringbuf_size / 4;
	bpf_map__set_max_entries(l->skel->maps.events, o->ringbuf_size);
	bpf_map__set_max_entries(l->skel->maps.holds, o->max_holds);
	bpf_object__for_each_program(p, l->skel->obj)
	{
		const char *fn = prog_target(p);
		bool want = prog_backend(p) == backend;

		if (want && backend != EPH_BACKEND_TRACEPOINT && optional_target(fn)) {
			want = kernel_has_func(kbtf, fn);
			have_tw |= want;
		}
		bpf_program__set_autoload(p, want);
	}
	if (backend != EPH_BACKEND_TRACEPOINT && !have_tw) {
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
	t_attach = stage_ms(); /* tracefs's mount, if needed, counts in the attach */
	if (backend == EPH_BACKEND_TRACEPOINT) {
		err = tracefs_mount(&tfs);
		if (err) {
			snprintf(why, whylen, "tracefs is not mounted and mounting it on %s failed: %s%s",
				 TRACEFS, strerror(-err),
				 err == -EPERM ? " (that needs CAP_SYS_ADMIN: mount it beforehand)" : "");
			goto out_destroy;
		}
	}
	err = attach_all(l, why, whylen);
	tracefs_umount(&tfs);
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
		return "this kernel may forbid fentry/fexit (lockdown, no BTF, or a sandbox): try "
		       "--backend kprobe or --backend tracepoint";
	case EPH_BACKEND_KPROBE:
		return "this kernel may lack kprobes (CONFIG_KPROBES) or the function may be "
		       "inlined: try --backend tracepoint";
	default:
		return "check that tracefs and the syscalls:* tracepoints exist "
		       "(CONFIG_FTRACE_SYSCALLS)";
	}
}

int eph_loader__open(const struct eph_loader_opts *o, eph_record_fn fn, void *fn_ctx,
		     struct eph_loader **out)
{
	static const int order[] = { EPH_BACKEND_FENTRY, EPH_BACKEND_KPROBE,
				     EPH_BACKEND_TRACEPOINT };
	char why[3][320] = {};
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
	for (i = 0; i < 3; i++) {
		if (o->backend != EPH_BACKEND_AUTO && o->backend != order[i])
			continue;
		err = try_backend(l, o, order[i], kbtf, btf_ms, why[i], sizeof(why[i]));
		if (!err)
			break;
		if (o->verbose || o->backend != EPH_BACKEND_AUTO)
			fprintf(stderr, "ephtrace: backend %s: %s\n", eph_backend_name(order[i]),
				why[i]);
	}
	btf__free(kbtf);
	if (err) {
		if (o->backend == EPH_BACKEND_AUTO) {
			fprintf(stderr, "ephtrace: no backend could attach:\n");
			for (i = 0; i < 3; i++)
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
	return has_caps(1ull << CAP_SYS_ADMIN) ||
	       has_caps(1ull << CAP_BPF | 1ull << CAP_PERFMON);
}
