// SPDX-License-Identifier: GPL-2.0
/*
 * Which programs of the BPF object a backend loads, and attaching them: exits before entries,
 * with tracefs or the cgroup v2 root mounted for as long as it takes, and for --backend auto's
 * fentry, a hook whose fentry program does not attach falling back to its kprobe pair
 * (user/core/hookplan.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "ephtrace.h"
#include "event.h"
#include "loader_int.h"
#include "mounts.h"

static bool sec_is(const struct bpf_program *p, const char *prefix)
{
	return !strncmp(bpf_program__section_name(p), prefix, strlen(prefix));
}

/* The system calls whose exit tp_exit_sock takes (bpf/tracepoint.bpf.h), each where its
 * tp_enter_NAME is attached (attach_sys_exits). */
static const char *const sys_exits[] = { "connect", "bind", "listen", "sendto", "sendmsg",
					 "sendmmsg" };

static bool is_sys_exit(const struct bpf_program *p)
{
	return !strcmp(bpf_program__name(p), "tp_exit_sock");
}

/* A system call's tracepoint program: its entry's, or the exits' one. */
static bool is_syscall_tp(const struct bpf_program *p)
{
	return sec_is(p, "tracepoint/syscalls/") || is_sys_exit(p);
}

/*
 * The hook groups (EPH_STANDIN_*) a tracepoint backend's program stands in for in a fentry/kprobe
 * plan: the system calls that start each group's port searches, the state changes that start a
 * connect() (SYN_SENT) and end TCP holds, the closes and connect(AF_UNSPEC) that end UDP ones
 * (bpf/tracepoint.bpf.h).
 */
static unsigned int standin_groups(const struct bpf_program *p)
{
	static const struct {
		const char *call; /* a system call, or a raw tracepoint's section */
		unsigned int groups;
	} tab[] = {
		/* connect(AF_UNSPEC) lets a UDP port go */
		{ "connect", EPH_STANDIN_TCP_CONNECT | EPH_STANDIN_UDP_PORT | EPH_STANDIN_UDP_RELEASE },
		/* TCP Fast Open connects in a send */
		{ "sendto", EPH_STANDIN_TCP_CONNECT | EPH_STANDIN_UDP_PORT },
		{ "sendmsg", EPH_STANDIN_TCP_CONNECT | EPH_STANDIN_UDP_PORT },
		{ "sendmmsg", EPH_STANDIN_UDP_PORT },
		{ "bind", EPH_STANDIN_TCP_BIND | EPH_STANDIN_UDP_PORT },
		{ "listen", EPH_STANDIN_TCP_BIND },
		{ "raw_tp/inet_sock_set_state", EPH_STANDIN_TCP_CONNECT | EPH_STANDIN_TCP_RELEASE },
		{ "raw_tp/tcp_destroy_sock", EPH_STANDIN_TCP_RELEASE },
		{ "close", EPH_STANDIN_UDP_RELEASE },
		{ "close_range", EPH_STANDIN_UDP_RELEASE },
		{ "dup2", EPH_STANDIN_UDP_RELEASE }, /* onto an open descriptor: closes its file */
		{ "dup3", EPH_STANDIN_UDP_RELEASE },
		{ "raw_tp/sched_process_exit", EPH_STANDIN_UDP_RELEASE },
	};
	const char *sec = bpf_program__section_name(p), *call = sec;
	unsigned int all = 0;
	size_t i, j;

	if (strncmp(bpf_program__name(p), "tp_", 3)) /* the cgroup backend's cg_set_state */
		return 0;
	if (is_sys_exit(p)) { /* the groups of every call it takes the exit of */
		for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
			for (j = 0; j < sizeof(sys_exits) / sizeof(sys_exits[0]); j++)
				all |= !strcmp(tab[i].call, sys_exits[j]) ? tab[i].groups : 0;
		return all;
	}
	if (sec_is(p, "tracepoint/syscalls/sys_enter_"))
		call = sec + strlen("tracepoint/syscalls/sys_enter_");
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(tab[i].call, call))
			return tab[i].groups;
	return 0;
}

/* Whether a program other than a fentry/kprobe hook's is one of the backend's. The cgroup
 * backend shares the raw tracepoints of the tracepoint backend, and with --exact-errors its
 * system call tracepoints, but those that only end UDP holds (process exits, close(),
 * close_range(), dup2()/dup3(): its sock_release releases UDP ports); with them, bind(),
 * listen() and UDP sends are theirs, not the hooks'. A fentry/kprobe plan takes those of the
 * groups it stands in for (standin). */
static bool prog_wanted(const struct bpf_program *p, int backend, bool exact, unsigned int standin)
{
	/* fentry and kprobe: their calls' contexts go at a thread's exit (bpf/kfunc.bpf.h) */
	if (!strcmp(bpf_program__name(p), "kf_thread_exit"))
		return backend == EPH_BACKEND_FENTRY || backend == EPH_BACKEND_KPROBE;
	/* inet_sock_set_state: the cgroup backend's one program, the tracepoint backend's pair
	 * (bpf/cgroup.bpf.h says why the first needs no twin) */
	if (sec_is(p, "raw_tp/inet_sock_set_state") &&
	    (backend == EPH_BACKEND_TRACEPOINT || backend == EPH_BACKEND_CGROUP))
		return !strcmp(bpf_program__name(p), "cg_set_state") ==
		       (backend == EPH_BACKEND_CGROUP);
	if (backend == EPH_BACKEND_TRACEPOINT)
		return sec_is(p, "tracepoint") || sec_is(p, "raw_tp/");
	if (backend == EPH_BACKEND_FENTRY || backend == EPH_BACKEND_KPROBE)
		return standin_groups(p) & standin;
	if (backend != EPH_BACKEND_CGROUP)
		return false;
	if (standin_groups(p) == EPH_STANDIN_UDP_RELEASE)
		return false;
	if (sec_is(p, "raw_tp/"))
		return true;
	if (is_syscall_tp(p))
		return exact;
	if (sec_is(p, "cgroup/bind") || sec_is(p, "cgroup/post_bind") ||
	    sec_is(p, "cgroup/sendmsg"))
		return !exact;
	return sec_is(p, "cgroup/") || sec_is(p, "sockops");
}

/* Attached to the cgroup v2 root rather than to a kernel function or tracepoint. */
static bool prog_is_cgroup(const struct bpf_program *p)
{
	return sec_is(p, "cgroup/") || sec_is(p, "sockops");
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

void eph_destroy_links(struct eph_loader *l)
{
	while (l->nr_links > 0)
		bpf_link__destroy(l->links[--l->nr_links]);
}

/*
 * struct bpf_link_info of a BPF_LINK_TYPE_PERF_EVENT link, up to the kprobe's missed: the
 * kernel's ABI (include/uapi/linux/bpf.h; perf_event from 6.6, kprobe.missed from 6.7: commit
 * "bpf: Add missed value to kprobe perf link info"). Defined here because Debian 12's uapi
 * header (6.1) has neither. A kernel that does not fill a field leaves it 0.
 */
struct eph_perf_link_info {
	__u32 type; /* enum bpf_link_type */
	__u32 id;
	__u32 prog_id;
	__u32 __pad;
	struct {
		__u32 type; /* enum bpf_perf_event_type */
		__u32 __pad;
		__u64 func_name; /* in/out: a buffer, or 0 */
		__u32 name_len;
		__u32 offset;
		__u64 addr;
		__u64 missed;
	} perf_event;
};
_Static_assert(offsetof(struct eph_perf_link_info, perf_event.missed) == 48,
	       "bpf_link_info.perf_event.kprobe.missed is at byte 48 (include/uapi/linux/bpf.h)");

#define EPH_LINK_TYPE_PERF_EVENT 7 /* enum bpf_link_type, 5.15 */
#define EPH_PERF_EVENT_KPROBE 3	   /* enum bpf_perf_event_type, 6.6 */
#define EPH_PERF_EVENT_KRETPROBE 4

/* The type of member `name` of struct or union `id`, looked for in its anonymous members too;
 * 0 when there is none. */
static __u32 member_type(const struct btf *btf, __u32 id, const char *name)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;
	__u32 found;
	int i;

	if (!t || (!btf_is_struct(t) && !btf_is_union(t)))
		return 0;
	m = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(btf, m->name_off);

		if (n && !strcmp(n, name))
			return m->type;
		if ((!n || !*n) && (found = member_type(btf, m->type, name)))
			return found;
	}
	return 0;
}

bool eph_kernel_reports_kprobe_missed(const struct btf *kbtf)
{
	int id = kbtf ? btf__find_by_name_kind(kbtf, "bpf_link_info", BTF_KIND_STRUCT) : -1;
	__u32 t;

	if (id <= 0)
		return false;
	t = member_type(kbtf, id, "perf_event");
	t = t ? member_type(kbtf, t, "kprobe") : 0;
	return t && member_type(kbtf, t, "missed");
}

__u64 eph_link_kprobe_missed(const struct eph_loader *l, const struct bpf_link *link)
{
	struct eph_perf_link_info info = {};
	__u32 len = sizeof(info);

	if (!l->kprobe_missed_known ||
	    bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) ||
	    info.type != EPH_LINK_TYPE_PERF_EVENT)
		return 0;
	if (info.perf_event.type != EPH_PERF_EVENT_KPROBE &&
	    info.perf_event.type != EPH_PERF_EVENT_KRETPROBE)
		return 0;
	return info.perf_event.missed;
}

/* The exit half of a call: fexit, kretprobe, sys_exit_* tracepoints, and for the cgroup
 * backend every hook but bind's, which starts what post_bind ends (a connect() starts at its
 * state change to SYN_SENT, a raw tracepoint attached with the entries). */
static bool prog_is_exit(const struct bpf_program *p)
{
	return sec_is(p, "fexit/") || sec_is(p, "kretprobe/") ||
	       is_sys_exit(p) ||
	       (prog_is_cgroup(p) && !sec_is(p, "cgroup/bind"));
}

/*
 * EPH_TEST_UNATTACHABLE: section names (comma separated, e.g. "fentry/inet_csk_get_port") whose
 * programs are made to fail their attach with ENOENT, as a function the kernel inlined would.
 * For tests of the fall-back only (tests/ephtest/hookfallback.c).
 */
static bool test_unattachable(const char *sec)
{
	const char *list = getenv("EPH_TEST_UNATTACHABLE"), *end;
	size_t n = strlen(sec);

	for (; list && *list; list = *end ? end + 1 : end) {
		end = strchrnul(list, ',');
		if ((size_t)(end - list) == n && !strncmp(list, sec, n))
			return true;
	}
	return false;
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

/* A *_nested twin (bpf/nest.bpf.h): attached after its first program (the order it then runs in
 * differs between a tracepoint and a trampoline; nest.bpf.h copes with both). */
bool eph_prog_is_twin(const struct bpf_program *p)
{
	return (sec_is(p, "raw_tp/") || sec_is(p, "fentry/")) &&
	       eph_loader__twin_name(bpf_program__name(p));
}

bool eph_loader__twin_name(const char *name)
{
	size_t n = strlen(name), k = strlen("_nested");

	return n > k && !strcmp(name + n - k, "_nested");
}

/* The attach passes: the exit halves, the entries, the twins. */
enum { PASS_EXITS, PASS_ENTRIES, PASS_TWINS };

static int prog_pass(const struct bpf_program *p)
{
	return prog_is_exit(p) ? PASS_EXITS : eph_prog_is_twin(p) ? PASS_TWINS : PASS_ENTRIES;
}

/*
 * Attach p (sec: its section, or the one it stands for) where its section says, or to the
 * system call tracepoint tp. A fentry/fexit or kprobe/kretprobe program that fails, in a plan
 * that mixes, moves its hook on (to kprobe, to its group's tracepoint stand-in: *fell counts
 * them) and the others go on; any other failure ends the attach.
 */
static int attach_one(struct eph_loader *l, struct bpf_program *p, const char *sec,
		      const char *tp, int *fell, char *why, size_t whylen)
{
	struct bpf_link *link = NULL;
	char msg[320];
	int err;

	if (l->nr_links == MAX_LINKS) {
		snprintf(why, whylen, "too many programs");
		return -E2BIG;
	}
	if (test_unattachable(sec))
		errno = ENOENT;
	else if (tp)
		link = bpf_program__attach_tracepoint(p, "syscalls", tp);
	else
		link = prog_is_cgroup(p) ? bpf_program__attach_cgroup(p, l->cgroup_fd) :
					   bpf_program__attach(p);
	if (link) {
		l->link_progs[l->nr_links] = p;
		l->links[l->nr_links++] = link;
		return 0;
	}
	err = -errno;
	snprintf(msg, sizeof(msg), "failed to attach %s: %s%s%s", sec, strerror(-err),
		 test_unattachable(sec) ? " (EPH_TEST_UNATTACHABLE)" : "", attach_why(p, err));
	if (!eph_hookplan_fall_back(&l->plan, sec, msg)) {
		++*fell;
		return 0;
	}
	snprintf(why, whylen, "%s", msg);
	return err;
}

/* tp_exit_sock at sys_exit_NAME for each tp_enter_NAME selected. */
static int attach_sys_exits(struct eph_loader *l, struct bpf_program *p, int *fell, char *why,
			    size_t whylen)
{
	const struct bpf_program *enter;
	char name[64], sec[96];
	size_t i;
	int err;

	for (i = 0; i < sizeof(sys_exits) / sizeof(sys_exits[0]); i++) {
		snprintf(name, sizeof(name), "tp_enter_%s", sys_exits[i]);
		enter = bpf_object__find_program_by_name(l->obj, name);
		if (!enter || !bpf_program__autoload(enter))
			continue;
		snprintf(sec, sizeof(sec), "tracepoint/syscalls/sys_exit_%s", sys_exits[i]);
		err = attach_one(l, p, sec, sec + strlen("tracepoint/syscalls/"), fell, why,
				 whylen);
		if (err)
			return err;
	}
	return 0;
}

/* Attach the selected programs of one pass (attach_one). */
static int attach_some(struct eph_loader *l, int pass, int *fell, char *why, size_t whylen)
{
	struct bpf_program *p;
	int err;

	bpf_object__for_each_program(p, l->obj)
	{
		if (!bpf_program__autoload(p) || prog_pass(p) != pass)
			continue;
		err = is_sys_exit(p) ? attach_sys_exits(l, p, fell, why, whylen) :
				       attach_one(l, p, bpf_program__section_name(p), NULL, fell,
						  why, whylen);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Exits first, entries last: a call whose entry is seen while its exit is not attached yet
 * would leave its context in the calls map for good (the thread may never call again), and
 * hand it to the thread's next, unrelated exit. The *_nested twins after their first
 * programs.
 */
static int attach_all(struct eph_loader *l, int *fell, char *why, size_t whylen)
{
	return attach_some(l, PASS_EXITS, fell, why, whylen) ?:
		       attach_some(l, PASS_ENTRIES, fell, why, whylen) ?:
		       attach_some(l, PASS_TWINS, fell, why, whylen);
}

/*
 * Attach with what it needs mounted: tracefs for the tracepoint ids (a raw tracepoint needs no
 * id), the cgroup v2 root for the cgroup hooks. Each is unmounted again at once.
 */
static int attach_mounted(struct eph_loader *l, int backend, bool exact, struct eph_mnt *mnt,
			  int *fell, char *why, size_t whylen)
{
	int err;

	if (backend == EPH_BACKEND_CGROUP) {
		uint64_t id;

		l->cgroup_fd = eph_cgroup2_root(mnt, &id);
		eph_mnt_undo(mnt);
		err = l->cgroup_fd < 0 ? l->cgroup_fd : 0;
		if (err == -EXDEV)
			snprintf(
				why, whylen,
				"the cgroup v2 root is not visible: ephtrace runs in a cgroup "
				"namespace of its own (its root is cgroup %llu) and would see only "
				"the sockets below it; run it in the host's cgroup namespace "
				"(docker run --cgroupns=host, nsenter -C -t 1)",
				(unsigned long long)id);
		else if (err)
			snprintf(why, whylen,
				 "no cgroup v2 root to attach to: no cgroup2 mount, "
				 "and mounting one failed: %s",
				 strerror(-err));
		if (err)
			return err;
	}
	if (backend == EPH_BACKEND_TRACEPOINT || (backend == EPH_BACKEND_CGROUP && exact) ||
	    eph_hookplan_standin(&l->plan)) {
		err = eph_tracefs_mount(mnt);
		if (err) {
			snprintf(why, whylen,
				 "tracefs is not mounted and mounting it on "
				 "/sys/kernel/tracing failed: %s%s",
				 strerror(-err),
				 err == -EPERM ?
					 " (that needs CAP_SYS_ADMIN: mount it beforehand)" :
					 "");
			goto out;
		}
	}
	err = attach_all(l, fell, why, whylen);
	eph_mnt_undo(mnt);
out:
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	l->cgroup_fd = -1;
	return err;
}

int eph_plan_hooks(struct eph_loader *l, int backend, bool mix, const struct btf *kbtf, char *why,
		   size_t whylen)
{
	struct bpf_program *p;
	int i, err, tw = 0;

	eph_hookplan_init(&l->plan, backend, mix);
	if (backend != EPH_BACKEND_FENTRY && backend != EPH_BACKEND_KPROBE)
		return 0;
	bpf_object__for_each_program(p, l->obj)
	{
		const char *fn;

		if (eph_hook_section(bpf_program__section_name(p), &fn) != backend)
			continue;
		err = eph_hookplan_add(&l->plan, bpf_program__section_name(p));
		if (err) {
			snprintf(why, whylen, "cannot plan the hook of %s: %s",
				 bpf_program__section_name(p), strerror(-err));
			return err;
		}
	}
	for (i = 0; i < l->plan.n; i++) {
		const char *fn = l->plan.hooks[i].fn;

		if (!optional_target(fn))
			continue;
		if (kernel_has_func(kbtf, fn))
			tw++;
		else
			eph_hookplan_leave_out(&l->plan, fn, "not in this kernel's BTF");
	}
	if (!tw) {
		snprintf(why, whylen,
			 "no TIME_WAIT hook (inet_twsk_hashdance[_schedule]) in this "
			 "kernel's BTF");
		return -ENOENT;
	}
	return 0;
}

/* Whether the kernel's BPF has the helper named (BPF_FUNC_loop, ...): its enum bpf_func_id. */
static bool kernel_has_helper(const struct btf *btf, const char *name)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	int id, i;

	id = btf ? btf__find_by_name_kind(btf, "bpf_func_id", BTF_KIND_ENUM) : -1;
	if (id <= 0)
		return true; /* no BTF to tell: the load will */
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, e[i].name_off), name))
			return true;
	return false;
}

void eph_probe_helpers(struct eph_loader *l, const struct btf *kbtf)
{
	if (!kernel_has_helper(kbtf, "BPF_FUNC_loop"))
		l->without |= EPH_WITHOUT_LOOP;
	if (!kernel_has_helper(kbtf, "BPF_FUNC_task_pt_regs"))
		l->without |= EPH_WITHOUT_TASK_PT_REGS;
}

void eph_degraded(const struct eph_loader *l, int backend, char *buf, size_t len)
{
	int n = 0;

	buf[0] = '\0';
	if ((l->without & EPH_WITHOUT_LOOP) &&
	    (backend == EPH_BACKEND_TRACEPOINT ||
	     (eph_hookplan_standin(&l->plan) & EPH_STANDIN_UDP_RELEASE)))
		n += snprintf(
			buf + n, len - n,
			"without bpf_loop() (5.17): the descriptor walks of process exits and "
			"close_range() stop at %d descriptors (counted when cut short)\n",
			EPH_FD_WALK_BOUNDED);
	if ((l->without & EPH_WITHOUT_TASK_PT_REGS) &&
	    (backend == EPH_BACKEND_FENTRY || backend == EPH_BACKEND_KPROBE) && n >= 0 &&
	    (size_t)n < len)
		snprintf(buf + n, len - n,
			 "without bpf_task_pt_regs() (5.15): a UDP sendto()/sendmsg() that binds "
			 "its socket is reported with a null destination\n");
}

/* A program with a *_bounded twin (the twin: *twin true); NULL-safe on the name. */
static bool has_bounded_twin(const struct bpf_object *obj, const struct bpf_program *p, bool *twin)
{
	const char *name = bpf_program__name(p), *suffix = "_bounded";
	size_t n = strlen(name), k = strlen(suffix);
	char other[96];

	*twin = n > k && !strcmp(name + n - k, suffix);
	if (*twin)
		return true;
	snprintf(other, sizeof(other), "%s%s", name, suffix);
	return bpf_object__find_program_by_name(obj, other) != NULL;
}

void eph_select_programs(struct eph_loader *l, int backend, bool exact)
{
	unsigned int standin = eph_hookplan_standin(&l->plan);
	struct bpf_program *p;
	bool twin;

	bpf_object__for_each_program(p, l->obj)
	{
		const char *sec = bpf_program__section_name(p), *fn;
		bool want = eph_hook_section(sec, &fn) ? eph_hookplan_wants(&l->plan, sec) :
							 prog_wanted(p, backend, exact, standin);

		if (want && has_bounded_twin(l->obj, p, &twin))
			want = twin == !!(l->without & EPH_WITHOUT_LOOP);
		bpf_program__set_autoload(p, want);
	}
}

int eph_attach(struct eph_loader *l, int backend, bool exact, bool *retry, char *why, size_t whylen)
{
	struct eph_mnt mnt = EPH_MNT_INIT;
	int fell = 0, err;

	*retry = false;
	err = attach_mounted(l, backend, exact, &mnt, &fell, why, whylen);
	if (!err && !fell)
		return 0;
	eph_destroy_links(l); /* a failed attach leaves nothing attached */
	if (err)
		return err;
	if (!eph_hookplan_count(&l->plan, l->plan.style)) {
		/* fentry attaches nowhere here (arm64 6.1: ENOTSUPP): the kprobe backend's; kprobe
		 * nowhere (no CONFIG_KPROBES): a tracepoint plan is the next backends' */
		snprintf(why, whylen, "no %s program could attach (%s)",
			 eph_backend_name(l->plan.style), l->plan.hooks[0].why);
		return -ENOENT;
	}
	*retry = true;
	return -EAGAIN;
}
