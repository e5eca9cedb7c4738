// SPDX-License-Identifier: GPL-2.0
/*
 * The findings scenarios: each kind of user/core/findings.h reproduced for real, and nothing else.
 *
 * One scenario per kind builds, in a private network namespace (the scenario's range and
 * sysctls), a state where only that kind's rule can hold (the workloads are in findings_wl.c),
 * with `ephtrace top --json` running from before it: the finding must appear in top (with the
 * pid and the destination or port it is about) and, for the kinds a snapshot can show, in
 * `ephtrace status --json` too; no other kind may appear in that namespace, in any snapshot of
 * top from the start of the state on, nor in status, and the kind itself with no other pid.
 * find-plain is the other side: a long plain workload, where nothing above info may appear.
 * Each state, and why only its kind can fire, is written next to it in specs[]. findings_check.c
 * reads a snapshot's findings, findings_wl.c builds the states.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "findings_scn.h"

#define FD_PORT 5000		  /* the destination of the TCP states */
#define FD_UDP_PORT 9999	  /* of the UDP one (nothing listens: connect() needs nobody) */
#define FD_FIXED 7000		  /* the fixed port of find-fixedport (outside the range) */
#define FD_SETTLE_NS 1500000000LL /* top: the finding checked this long after the state */
#define FD_FIND_NS 8000000000LL	  /* ... and must be there this long after it (window 10 s) */
#define FD_STEP_MS(r) (5000 * (r)->d.op->timeout_s)
#define FD_SHOW 3 /* snapshots whose problems are shown; the rest are counted */

/* clang-format off */
static const struct fd_spec specs[] = {
	/*
	 * Range 32768-60999 (the default). A: 50 x bind(127.0.0.1:0) + connect() to :5000, kept
	 * (ports whose bind bucket bind() made); B: 50 x IP_BIND_ADDRESS_NO_PORT + the same bind
	 * + connect() (ports connect() chose: no bind bucket of bind()'s), kept; C: 20 x
	 * bind(127.0.0.1:0) + connect(), each closed with RST at once: only the connect() events
	 * (the kernel side's bound-connect record, every backend) can show C, in top, and status
	 * must not. 100 of 28232 ports held: nothing is near full, no TIME_WAIT, no UDP, no failed
	 * bind().
	 */
	{ .name = "find-bbc", .mode = FD_BIND0, .count = 50,
	  .role = { { FD_NO_PORT, 50 }, { FD_BIND0_RST, 20 } }, .dport = FD_PORT,
	  .kind = "bind_before_connect", .top = W_MAIN | W_C, .status = W_MAIN },
	/*
	 * Default range, tcp_tw_reuse 2. 200 connections to :5000, each held 5 ms and closed by
	 * us first: 200 TIME_WAIT (no live connection), 1 % of the range. In status the
	 * TIME_WAITs have no owner any more: pid null there.
	 */
	{ .name = "find-twchurn", .mode = FD_TW_CHURN, .count = 200, .dport = FD_PORT,
	  .kind = "time_wait_churn", .dest = true, .top = W_MAIN, .status = W_NULL },
	/*
	 * Range 40000-54199 (14200 >= 14116: not narrow; parity differs). 12000 connections kept
	 * to :5000: 2200 ports left to it (< 20 %), while a new destination gets all 14200. Not
	 * in the test VMs: there the 12000 connects take 35-65 s (TCG), with top or without:
	 * once the even ports are used each connect() scans them all before the odd ones.
	 */
	{ .name = "find-single", .mode = FD_CONNS, .count = 12000, .dport = FD_PORT,
	  .kind = "single_destination", .dest = true, .top = W_MAIN, .status = W_MAIN,
	  .ringbuf = "16M",
	  .vm_skip = "12000 connects to one destination take 35-65 s under TCG (the kernel's "
		     "parity scan); the rule is checked on the host, these connects' events by "
		     "find-narrow" },
	/*
	 * Range 40000-40999 (1000 ports). 600 connections kept to :5000: 60 % used (>= 50 %), 400
	 * left (> 20 %: not single_destination). The finding is about the namespace: pid null.
	 */
	{ .name = "find-narrow", .mode = FD_CONNS, .count = 600, .dport = FD_PORT,
	  .kind = "narrow_range", .top = W_NULL, .status = W_NULL },
	/* Range 40000-40998: both ends even. 10 connections: 1 % used. */
	{ .name = "find-parity", .mode = FD_CONNS, .count = 10, .dport = FD_PORT,
	  .kind = "range_parity", .top = W_NULL, .status = W_NULL },
	/*
	 * Range 40000-54199. 12000 UDP sockets connect()ed to 127.0.0.1:9999: each autobinds a
	 * port of its own, 2200 left (< 20 %). No TCP at all.
	 */
	{ .name = "find-udpcap", .mode = FD_UDP, .count = 12000, .dport = FD_UDP_PORT,
	  .kind = "udp_connected_cap", .top = W_MAIN, .status = W_MAIN, .ringbuf = "16M" },
	/*
	 * Default range. A listens on 127.0.0.1:7000; B tries bind(127.0.0.1:7000) 5 times,
	 * 100 ms apart: EADDRINUSE each. Events only: status must show nothing.
	 */
	{ .name = "find-fixedport", .mode = FD_LISTEN, .role = { { FD_FIXED_BIND, 5 } },
	  .dport = FD_FIXED, .kind = "fixed_port_conflict", .fixed = true, .top = W_B },
	/*
	 * Range 40000-44999 (5000 ports: narrow, but 18 of them used). 18 connections to :5000
	 * with IP_LOCAL_PORT_RANGE 40100-40119: 2 of its 20 left (< 20 %).
	 */
	{ .name = "find-socketrange", .mode = FD_CONNS, .count = 18, .dport = FD_PORT,
	  .sr_lo = 40100, .sr_hi = 40119, .kind = "socket_range", .dest = true, .top = W_MAIN,
	  .status = W_MAIN },
	/*
	 * Default range. 6 keep-alive connections used all along, and 150 short connections a
	 * second for 20 s (3000), each with one request, held 300 ms, closed by us first: the
	 * TIME_WAITs of a normal client (about 2800 when it ends, 10 % of the range).
	 * time_wait_churn says so, at info (TIME_WAIT is most of the destination's 4-tuples, from
	 * connections held 0.3 s): allowed; nothing may warn. 10 s (1500) in the test VMs.
	 */
	{ .name = "find-plain", .mode = FD_PLAIN, .rate = 150, .seconds = 20, .vm_seconds = 10,
	  .hold_ms = 300, .dport = FD_PORT },
};
/* clang-format on */

static const struct fd_spec *spec_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (!strcmp(specs[i].name, name))
			return &specs[i];
	return NULL;
}

static void set_shared(const struct fd_run *r, struct oracle *o, int mode, uint32_t count)
{
	const struct fd_spec *sp = r->sp;
	struct fd_shared *sh = fd_of(o);

	sh->mode = mode;
	sh->count = count;
	sh->dport = sp->dport;
	sh->sr_lo = sp->sr_lo;
	sh->sr_hi = sp->sr_hi;
	sh->rate = sp->rate;
	sh->seconds = r->vm && sp->vm_seconds ? sp->vm_seconds : sp->seconds;
	if (mode == FD_PLAIN)
		sh->count = sh->rate * sh->seconds;
	sh->hold_ms = sp->hold_ms;
}

/* ---- the other processes ---- */

static int roles_start(struct fd_run *r)
{
	static const char *const comm[FD_ROLES] = { "eph-find-b", "eph-find-c" };
	struct workload *w;
	int i, err;

	for (i = 0; i < FD_ROLES && r->sp->role[i].mode; i++) {
		w = &r->role[i];
		err = workload__start_role(w, r->d.s, comm[i], r->d.s->run, r->d.w.pid);
		r->nroles++;
		if (err) {
			drv_reason(&r->d, FAIL, "process %s: %s", comm[i],
				   w->o ? w->o->msg : strerror(-err));
			return err;
		}
		set_shared(r, w->o, r->sp->role[i].mode, r->sp->role[i].count);
		err = workload__release(w);
		if (err) {
			drv_reason(&r->d, FAIL, "releasing %s: %s", comm[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

/* drv_step() for the other processes, one after the other. */
static int roles_step(struct fd_run *r, int k, const char *what)
{
	int64_t deadline = now_ms() + FD_STEP_MS(r);
	struct workload *w;
	char st[64];
	int i;

	for (i = 0; i < r->nroles; i++) {
		w = &r->role[i];
		__atomic_store_n(&w->o->sync.go, k, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&w->o->sync.done, __ATOMIC_SEQ_CST) < k) {
			if (workload__poll(w)) {
				drv_reason(&r->d, FAIL, "process %d: %s: %s", (int)w->pid,
					   status_text(w->status, st, sizeof(st)), w->o->msg);
				return -EIO;
			}
			if (!drv_idle(&r->d, 10))
				return -EIO;
			if (now_ms() > deadline) {
				drv_reason(&r->d, FAIL, "process %d: %s not done in time",
					   (int)w->pid, what);
				return -ETIMEDOUT;
			}
		}
	}
	return 0;
}

/* ---- top and status ---- */

/* top's snapshots from the start of the state on, until the findings have held since the state
 * was complete plus FD_SETTLE_NS (find-plain: until then), FD_FIND_NS at most. */
static void read_top(struct fd_run *r)
{
	const struct fd_shared *sh = fd_of(r->d.w.o);
	int64_t settle = sh->built_wall_ns + FD_SETTLE_NS, t;
	json_object *snap, *hit[W_ALL];
	unsigned int found;
	char msg[160], wt[64];
	int bad;

	while ((snap = drv_snapshot(&r->d, 5000))) {
		t = snap_time(snap);
		if (t < sh->start_wall_ns) {
			json_object_put(snap);
			continue;
		}
		bad = 0;
		snprintf(msg, sizeof(msg), "top at +%.2fs of the state",
			 (t - sh->start_wall_ns) / 1e9);
		found = fd_check_snap(r, snap, msg, r->sp->top, r->bad_snaps < FD_SHOW, &bad, hit);
		r->bad_snaps += bad > 0;
		if (t >= settle && found == r->sp->top) {
			fd_saw_all(r->top_saw, sizeof(r->top_saw), hit, 80);
			json_object_put(snap);
			return;
		}
		if (t > sh->built_wall_ns + FD_FIND_NS) {
			snprintf(
				msg, sizeof(msg),
				"expected %s with %s within %.0f s of the state got %s (at +%.2fs)",
				r->sp->kind, fd_who_text(r, r->sp->top, wt, sizeof(wt)),
				FD_FIND_NS / 1e9, found ? "only some" : "none",
				(t - sh->start_wall_ns) / 1e9);
			fd_snap_problem(r, jarr(snap, "findings"), "top", msg);
			json_object_put(snap);
			return;
		}
		json_object_put(snap);
	}
}

/* Under a problem of status: its JSON, and its stderr but libbpf's messages. */
static void show_status(struct drv *d, const struct tracer *t)
{
	const char *p = buf_str(&t->err);
	size_t len;

	buf_printf(&d->report, "    status --json -v: %s", buf_str(&t->out));
	for (; *p; p += len + (p[len] == '\n')) {
		len = strcspn(p, "\n");
		if (strncmp(p, "libbpf: ", 8))
			buf_printf(&d->report, "    status: %.*s\n", (int)len, p);
	}
}

/* `ephtrace status --json -v --netns INODE`, checked; under a problem its output. */
static void check_status(struct fd_run *r)
{
	struct drv *d = &r->d;
	char netns[32], st[64], msg[160], wt[64];
	char *argv[] = {
		(char *)d->op->ephtrace, "status", "--json", "-v", "--netns", netns, NULL
	};
	json_object *snap = NULL, *hit[W_ALL];
	struct tracer t = {};
	unsigned int found;
	int err, bad = 0;

	snprintf(netns, sizeof(netns), "%llu", (unsigned long long)d->w.o->netns);
	err = tracer__start(&t, argv);
	if (err) {
		drv_reason(d, FAIL, "cannot start %s status: %s", d->op->ephtrace, strerror(-err));
		return;
	}
	err = tracer__wait(&t, 1000 * d->op->timeout_s);
	if (err || !WIFEXITED(t.status) || WEXITSTATUS(t.status))
		drv_problem(d, "expected ephtrace status to exit 0 got %s: %.300s",
			    err ? strerror(-err) : status_text(t.status, st, sizeof(st)),
			    buf_str(&t.err));
	else if (!(snap = json_tokener_parse(buf_str(&t.out))))
		drv_problem(d, "expected one JSON object from status got %.300s", buf_str(&t.out));
	if (snap) {
		found = fd_check_snap(r, snap, "status", r->sp->status, true, &bad, hit);
		fd_saw_all(r->status_saw, sizeof(r->status_saw), hit, 0);
		if (found != r->sp->status) {
			snprintf(msg, sizeof(msg), "expected %s with %s got %s", r->sp->kind,
				 fd_who_text(r, r->sp->status, wt, sizeof(wt)),
				 found ? "only some" : "none");
			fd_snap_problem(r, jarr(snap, "findings"), "status", msg);
		}
		if (bad || found != r->sp->status)
			show_status(d, &t);
		else if (d->op->verbose)
			printf("  status --json:\n    %s", buf_str(&t.out));
	}
	json_object_put(snap);
	tracer__free(&t);
}

/* ---- the scenario ---- */

static void say_role(struct fd_run *r, int i)
{
	const struct fd_shared *rs = fd_of(r->role[i].o);
	struct buf *b = &r->d.done;

	buf_printf(b, "; pid %d: ", (int)r->role[i].pid);
	if (rs->mode == FD_NO_PORT)
		buf_printf(b, "%u with IP_BIND_ADDRESS_NO_PORT (ports %u-%u)", rs->made,
			   rs->port_lo, rs->port_hi);
	else if (rs->mode == FD_BIND0_RST)
		buf_printf(b, "%u closed with RST at once", rs->made);
	else if (rs->mode == FD_FIXED_BIND)
		buf_printf(b, "%u bind()s of it failed with EADDRINUSE", rs->failed);
}

static void say_done(struct fd_run *r)
{
	const struct fd_shared *sh = fd_of(r->d.w.o);
	struct buf *b = &r->d.done;
	int i;

	if (sh->mode == FD_LISTEN)
		buf_printf(b, "pid %d listens on 127.0.0.1:%u", (int)r->d.w.pid, sh->dport);
	else
		buf_printf(b, "pid %d: %u made in %.2f s", (int)r->d.w.pid, sh->made,
			   (sh->built_wall_ns - sh->start_wall_ns) / 1e9);
	if (sh->port_hi)
		buf_printf(b, " (ports %u-%u)", sh->port_lo, sh->port_hi);
	if (sh->mode != FD_LISTEN)
		buf_printf(b, ", kernel: %u established, %u TIME_WAIT", sh->est, sh->tw);
	if (sh->mode == FD_PLAIN)
		buf_printf(b, ", %u pings on %d kept, %u late ticks", sh->pings, FD_PLAIN_KEEP,
			   sh->late);
	for (i = 0; i < r->nroles; i++)
		say_role(r, i);
	buf_printf(b, "; top: %s", r->top_saw[0] ? r->top_saw : "nothing above info");
	if (r->info_seen[0])
		buf_printf(b, " (info: %s)", r->info_seen);
	if (r->bad_snaps > FD_SHOW)
		buf_printf(b, " (%d snapshots with problems)", r->bad_snaps);
	buf_printf(b, "; status: %s",
		   r->status_saw[0] ? r->status_saw :
		   r->sp->kind	    ? "no finding" :
				      "nothing above info");
	if (r->vm && r->sp->vm_seconds)
		buf_printf(b, " (in the test VM: %u s, %u on a host)", r->sp->vm_seconds,
			   r->sp->seconds);
	buf_printf(b, "; backend %s", r->d.backend);
}

/* What the workloads did is what the scenario needs; else a FAIL (or a SKIP) before any check. */
static int premise(struct fd_run *r)
{
	const struct fd_shared *sh = fd_of(r->d.w.o), *rs;
	char tmp[16];
	int i;

	if (sh->no_option) {
		drv_reason(&r->d, SKIP,
			   "setsockopt(IP_LOCAL_PORT_RANGE): %s: this kernel has no per-socket "
			   "port range (Linux 6.3, backported to 6.1.y)",
			   strerror(sh->no_option));
		return -1;
	}
	if (sh->made != sh->count) {
		drv_reason(&r->d, FAIL, "workload: %u of %u made", sh->made, sh->count);
		return -1;
	}
	if (sh->mode == FD_TW_CHURN && sh->tw < sh->count / 2) {
		drv_reason(&r->d, FAIL, "workload: %u TIME_WAIT of %u closed first", sh->tw,
			   sh->count);
		return -1;
	}
	for (i = 0; i < r->nroles; i++) {
		rs = fd_of(r->role[i].o);
		if (rs->mode == FD_FIXED_BIND && (rs->bad || rs->failed != rs->count)) {
			drv_reason(&r->d, FAIL,
				   "process %d: %u of %u bind()s failed, %u not with EADDRINUSE "
				   "(the first: %s)",
				   (int)r->role[i].pid, rs->failed, rs->count, rs->bad,
				   errno_name(rs->first_err, tmp, sizeof(tmp)));
			return -1;
		}
		if (rs->mode != FD_FIXED_BIND && rs->made != rs->count) {
			drv_reason(&r->d, FAIL, "process %d: %u of %u made", (int)r->role[i].pid,
				   rs->made, rs->count);
			return -1;
		}
	}
	return 0;
}

static void run_findings(struct fd_run *r)
{
	const char *args[] = { "-i", "0.5", "--ringbuf-size", r->sp->ringbuf, NULL };
	const struct fd_spec *sp = r->sp;
	int step_ms = FD_STEP_MS(r) + 1000 * sp->seconds;

	if (!sp->ringbuf)
		args[2] = NULL;
	set_shared(r, r->d.w.o, sp->mode, sp->count);
	if (roles_start(r) || drv_start_top(&r->d, args) || drv_top_ready(&r->d) ||
	    drv_step(&r->d, 1, step_ms, "building the state") ||
	    roles_step(r, 1, "its part of the state") || premise(r))
		return;
	read_top(r);
	check_status(r);
	if (drv_step(&r->d, 2, FD_STEP_MS(r), "the RST close") || roles_step(r, 2, "the RST close"))
		return;
	say_done(r);
	drv_check_backend(&r->d);
	drv_stop_top(&r->d);
}

enum verdict fd_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct fd_run r = { .d = { .s = s, .op = op, .verdict = PASS } };
	int64_t t0 = now_ms();
	int i;

	r.sp = spec_of(s->name);
	r.vm = drv_in_test_vm();
	if (!r.sp)
		drv_reason(&r.d, FAIL, "no findings spec named %s", s->name);
	else if (r.vm && r.sp->vm_skip)
		drv_reason(&r.d, SKIP, "in the test VM: %s", r.sp->vm_skip);
	else if (!drv_start_workload(&r.d, "eph-find"))
		run_findings(&r);
	for (i = 0; i < r.nroles; i++)
		workload__free(&r.role[i]);
	return drv_finish(&r.d, t0);
}
