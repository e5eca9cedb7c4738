// SPDX-License-Identifier: GPL-2.0
/*
 * The findings scenarios: each kind of user/findings.h reproduced for real, and nothing else.
 *
 * One scenario per kind builds, in a private network namespace (the scenario's range and
 * sysctls), a state where only that kind's rule can hold (the workloads are in findings_wl.c),
 * with `ephtrace top --json` running from before it: the finding must appear in top (with the
 * workload's pid and the destination or port it is about) and, for the kinds a snapshot can
 * show, in `ephtrace status --json` too; no other kind may appear in that namespace, in any
 * snapshot of top from the start of the state on, nor in status. find-plain is the other side:
 * a long plain workload, where nothing above info may appear. Each state, and why only its
 * kind can fire, is written next to it in specs[].
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

enum fd_who {
	WHO_NULL,	  /* pid null: the finding is about the namespace */
	WHO_MAIN,	  /* the workload's pid */
	WHO_ROLE,	  /* the second process's pid */
	WHO_MAIN_OR_NULL, /* the workload's, or null where the owner is gone (TIME_WAIT) */
};

struct fd_spec {
	const char *name;
	int mode, role_mode; /* enum fd_mode; role_mode FD_NONE: no second process */
	uint32_t count, role_count;
	uint16_t dport;	       /* the destination port, or the fixed port */
	uint16_t sr_lo, sr_hi; /* IP_LOCAL_PORT_RANGE of the connections (sr_hi 0: none) */
	uint32_t rate, seconds, hold_ms; /* FD_PLAIN */
	const char *kind;		 /* the one expected (NULL: none above info) */
	bool dest;			 /* the finding names 127.0.0.1:dport */
	bool fixed;			 /* the finding names tcp port dport */
	enum fd_who top_who, status_who;
	bool in_status; /* status shows it too (else status shows no finding at all) */
	const char *ringbuf;
};

static const struct fd_spec specs[] = {
	/*
	 * Range 32768-60999 (the default). A: 50 x bind(127.0.0.1:0) + connect() to :5000, kept
	 * (ports whose bind bucket bind() made); B: 50 x IP_BIND_ADDRESS_NO_PORT + the same bind
	 * + connect() (ports connect() chose: no bind bucket of bind()'s). 100 of 28232 ports:
	 * nothing is near full, no TIME_WAIT, no UDP, no failed bind().
	 */
	{ .name = "find-bbc",
	  .mode = FD_BIND0,
	  .count = 50,
	  .role_mode = FD_NO_PORT,
	  .role_count = 50,
	  .dport = FD_PORT,
	  .kind = "bind_before_connect",
	  .top_who = WHO_MAIN,
	  .status_who = WHO_MAIN,
	  .in_status = true },
	/*
	 * Default range, tcp_tw_reuse 2. 200 connections to :5000, each held 5 ms and closed by
	 * us first: 200 TIME_WAIT (no live connection), 1 % of the range.
	 */
	{ .name = "find-twchurn",
	  .mode = FD_TW_CHURN,
	  .count = 200,
	  .dport = FD_PORT,
	  .kind = "time_wait_churn",
	  .dest = true,
	  .top_who = WHO_MAIN,
	  .status_who = WHO_MAIN_OR_NULL,
	  .in_status = true },
	/*
	 * Range 40000-54199 (14200 >= 14116: not narrow; parity differs). 12000 connections kept
	 * to :5000: 2200 ports left to it (< 20 %), while a new destination gets all 14200.
	 */
	{ .name = "find-single",
	  .mode = FD_CONNS,
	  .count = 12000,
	  .dport = FD_PORT,
	  .kind = "single_destination",
	  .dest = true,
	  .top_who = WHO_MAIN,
	  .status_who = WHO_MAIN,
	  .in_status = true,
	  .ringbuf = "16M" },
	/*
	 * Range 40000-40999 (1000 ports). 600 connections kept to :5000: 60 % used (>= 50 %), 400
	 * left (> 20 %: not single_destination).
	 */
	{ .name = "find-narrow",
	  .mode = FD_CONNS,
	  .count = 600,
	  .dport = FD_PORT,
	  .kind = "narrow_range",
	  .top_who = WHO_NULL,
	  .status_who = WHO_NULL,
	  .in_status = true },
	/* Range 40000-40998: both ends even. 10 connections: 1 % used. */
	{ .name = "find-parity",
	  .mode = FD_CONNS,
	  .count = 10,
	  .dport = FD_PORT,
	  .kind = "range_parity",
	  .top_who = WHO_NULL,
	  .status_who = WHO_NULL,
	  .in_status = true },
	/*
	 * Range 40000-54199. 12000 UDP sockets connect()ed to 127.0.0.1:9999: each autobinds a
	 * port of its own, 2200 left (< 20 %). No TCP at all.
	 */
	{ .name = "find-udpcap",
	  .mode = FD_UDP,
	  .count = 12000,
	  .dport = FD_UDP_PORT,
	  .kind = "udp_connected_cap",
	  .top_who = WHO_MAIN,
	  .status_who = WHO_MAIN,
	  .in_status = true,
	  .ringbuf = "16M" },
	/*
	 * Default range. A listens on 127.0.0.1:7000; B tries bind(127.0.0.1:7000) 5 times,
	 * 100 ms apart: EADDRINUSE each. Events only: status must show nothing.
	 */
	{ .name = "find-fixedport",
	  .mode = FD_LISTEN,
	  .role_mode = FD_FIXED_BIND,
	  .role_count = 5,
	  .dport = FD_FIXED,
	  .kind = "fixed_port_conflict",
	  .fixed = true,
	  .top_who = WHO_ROLE },
	/*
	 * Range 40000-44999 (5000 ports, narrow but 18 of them used). 18 connections to :5000
	 * with IP_LOCAL_PORT_RANGE 40100-40119: 2 of its 20 left (< 20 %).
	 */
	{ .name = "find-socketrange",
	  .mode = FD_CONNS,
	  .count = 18,
	  .dport = FD_PORT,
	  .sr_lo = 40100,
	  .sr_hi = 40119,
	  .kind = "socket_range",
	  .dest = true,
	  .top_who = WHO_MAIN,
	  .status_who = WHO_MAIN,
	  .in_status = true },
	/*
	 * Default range. 6 keep-alive connections used all along, and 150 short connections a
	 * second for 20 s (3000), each with one request, held 300 ms, closed by us first: the
	 * TIME_WAITs of a normal client. time_wait_churn may say so (info); nothing may warn.
	 */
	{ .name = "find-plain",
	  .mode = FD_PLAIN,
	  .count = 3000,
	  .rate = 150,
	  .seconds = 20,
	  .hold_ms = 300,
	  .dport = FD_PORT },
};

struct fd_run {
	struct drv d;
	const struct fd_spec *sp;
	struct workload w2; /* the second process, if any */
	bool w2_started;
	int bad_snaps; /* snapshots of top with a problem */
	char top_saw[512], status_saw[512];
};

static const struct fd_spec *spec_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (!strcmp(specs[i].name, name))
			return &specs[i];
	return NULL;
}

static void set_shared(struct oracle *o, const struct fd_spec *sp, bool role)
{
	struct fd_shared *sh = fd_of(o);

	sh->mode = role ? sp->role_mode : sp->mode;
	sh->count = role ? sp->role_count : sp->count;
	sh->dport = sp->dport;
	sh->sr_lo = sp->sr_lo;
	sh->sr_hi = sp->sr_hi;
	sh->rate = sp->rate;
	sh->seconds = sp->seconds;
	sh->hold_ms = sp->hold_ms;
}

/* ---- the second process ---- */

static int role_start(struct fd_run *r)
{
	int err;

	err = workload__start_role(&r->w2, r->d.s, "eph-find-b", r->d.s->run, r->d.w.pid);
	r->w2_started = true;
	if (err) {
		drv_reason(&r->d, FAIL, "second process: %s",
			   r->w2.o ? r->w2.o->msg : strerror(-err));
		return err;
	}
	set_shared(r->w2.o, r->sp, true);
	return workload__release(&r->w2);
}

static int role_step(struct fd_run *r, int k, const char *what)
{
	int64_t deadline = now_ms() + FD_STEP_MS(r);
	char st[64];

	__atomic_store_n(&r->w2.o->sync.go, k, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&r->w2.o->sync.done, __ATOMIC_SEQ_CST) < k) {
		if (workload__poll(&r->w2)) {
			drv_reason(&r->d, FAIL, "second process %d: %s: %s", (int)r->w2.pid,
				   status_text(r->w2.status, st, sizeof(st)), r->w2.o->msg);
			return -EIO;
		}
		if (!drv_idle(&r->d, 10))
			return -EIO;
		if (now_ms() > deadline) {
			drv_reason(&r->d, FAIL, "second process: %s not done in time", what);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* ---- one snapshot's findings ---- */

static bool is(json_object *o, const char *key, const char *want)
{
	const char *s = jstr(o, key);

	return s && !strcmp(s, want);
}

static bool num_is(json_object *o, const char *key, double want)
{
	double v;

	return jnum(o, key, &v) == 1 && v == want;
}

static bool who_ok(const struct fd_run *r, json_object *f, enum fd_who who)
{
	double pid;
	int k = jnum(f, "pid", &pid);

	switch (who) {
	case WHO_NULL:
		return k == 0;
	case WHO_MAIN:
		return k == 1 && pid == r->d.w.pid;
	case WHO_ROLE:
		return k == 1 && r->w2_started && pid == r->w2.pid;
	case WHO_MAIN_OR_NULL:
		return k == 0 || (k == 1 && pid == r->d.w.pid);
	}
	return false;
}

static const char *who_text(const struct fd_run *r, enum fd_who who, char *buf, size_t len)
{
	switch (who) {
	case WHO_NULL:
		return "pid null";
	case WHO_MAIN:
		snprintf(buf, len, "pid %d", (int)r->d.w.pid);
		return buf;
	case WHO_ROLE:
		snprintf(buf, len, "pid %d", (int)r->w2.pid);
		return buf;
	case WHO_MAIN_OR_NULL:
		snprintf(buf, len, "pid %d or null", (int)r->d.w.pid);
		return buf;
	}
	return "?";
}

static bool place_ok(const struct fd_spec *sp, json_object *f)
{
	if (sp->dest)
		return is(f, "proto", "tcp") && is(f, "daddr", "127.0.0.1") &&
		       num_is(f, "dport", sp->dport);
	if (sp->fixed)
		return is(f, "proto", "tcp") && num_is(f, "port", sp->dport);
	return true;
}

/* The findings of our namespace, as a JSON array (malloc), for a report. */
static char *ours_json(const struct fd_run *r, json_object *fs)
{
	json_object *ours = json_object_new_array(), *f;
	size_t i, n = json_object_array_length(fs);
	char *s;

	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(fs, i);
		if (num_is(f, "netns", (double)r->d.w.o->netns))
			json_object_array_add(ours, json_object_get(f));
	}
	s = strdup(json_object_to_json_string_ext(ours, JSON_C_TO_STRING_PLAIN));
	json_object_put(ours);
	return s;
}

/* One problem about a snapshot (or status), the findings of our namespace under it. */
static void snap_problem(struct fd_run *r, json_object *fs, const char *where, const char *what)
{
	char *ours = fs ? ours_json(r, fs) : NULL;

	drv_problem(&r->d, "%s: %s", where, what);
	buf_printf(&r->d.report, "    findings of netns %llu: %s\n",
		   (unsigned long long)r->d.w.o->netns, ours ? ours : "(none: no array)");
	free(ours);
}

/*
 * The findings of snap in our namespace: the expected kind (if want) with its process and
 * place, and nothing else (find-plain: nothing above info). Returns the expected finding (a
 * reference into snap) or NULL; problems go to the report, show false: counted only.
 */
static json_object *check_snap(struct fd_run *r, json_object *snap, const char *where, bool want,
			       enum fd_who who, bool show, int *bad)
{
	const struct fd_spec *sp = r->sp;
	json_object *fs = jarr(snap, "findings"), *f, *hit = NULL;
	size_t i, n = fs ? json_object_array_length(fs) : 0;
	char what[512], wt[48];

	if (!fs) {
		if (show)
			snap_problem(r, NULL, where, "expected a \"findings\" array got none");
		(*bad)++;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(fs, i);
		if (!num_is(f, "netns", (double)r->d.w.o->netns))
			continue;
		if (want && sp->kind && is(f, "kind", sp->kind) && who_ok(r, f, who) &&
		    place_ok(sp, f)) {
			hit = f;
			continue;
		}
		if (!sp->kind && is(f, "severity", "info"))
			continue; /* find-plain: info is allowed */
		if (want && sp->kind && is(f, "kind", sp->kind))
			snprintf(what, sizeof(what), "expected %s with %s%s got %s", sp->kind,
				 who_text(r, who, wt, sizeof(wt)),
				 sp->dest  ? " to 127.0.0.1" :
				 sp->fixed ? " on tcp port" :
					     "",
				 json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
		else
			snprintf(what, sizeof(what), "expected no %s finding got %s",
				 sp->kind ? "other" : "warning or critical",
				 json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
		if (show)
			snap_problem(r, fs, where, what);
		(*bad)++;
	}
	return hit;
}

static void saw(char *buf, size_t len, json_object *f)
{
	double pid = 0, left = 0, usable = 0;

	jnum(f, "pid", &pid);
	jnum(f, "ports_left", &left);
	jnum(f, "usable", &usable);
	snprintf(buf, len, "%s %s pid %.0f, %.0f of %.0f left: \"%s\"", jstr(f, "kind"),
		 jstr(f, "severity"), pid, left, usable, jstr(f, "evidence"));
}

/* ---- top and status ---- */

/* top's snapshots from the start of the state on, until the finding has held since the state
 * was complete plus FD_SETTLE_NS (or, find-plain, until then), FD_FIND_NS at most. */
static void read_top(struct fd_run *r)
{
	const struct fd_shared *sh = fd_of(r->d.w.o);
	int64_t settle = sh->built_wall_ns + FD_SETTLE_NS, t;
	json_object *snap, *hit;
	char msg[160];
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
		hit = check_snap(r, snap, msg, true, r->sp->top_who, r->bad_snaps < FD_SHOW, &bad);
		r->bad_snaps += bad > 0;
		if (t >= settle && (hit || !r->sp->kind)) {
			if (hit)
				saw(r->top_saw, sizeof(r->top_saw), hit);
			json_object_put(snap);
			return;
		}
		if (t > sh->built_wall_ns + FD_FIND_NS) {
			snprintf(msg, sizeof(msg),
				 "top: expected %s within %.0f s of the state got none",
				 r->sp->kind, FD_FIND_NS / 1e9);
			snap_problem(r, jarr(snap, "findings"), msg, "the last snapshot");
			json_object_put(snap);
			return;
		}
		json_object_put(snap);
	}
}

/* `ephtrace status --json --netns INODE`, checked. */
static void check_status(struct fd_run *r)
{
	struct drv *d = &r->d;
	char netns[32], st[64];
	char *argv[] = { (char *)d->op->ephtrace, "status", "--json", "--netns", netns, NULL };
	json_object *snap = NULL, *hit;
	struct tracer t = {};
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
		hit = check_snap(r, snap, "status", r->sp->in_status, r->sp->status_who, true,
				 &bad);
		if (hit)
			saw(r->status_saw, sizeof(r->status_saw), hit);
		else if (r->sp->kind && r->sp->in_status)
			snap_problem(r, jarr(snap, "findings"), "status",
				     "expected the finding got none");
		if (d->op->verbose)
			printf("  status --json:\n    %s\n", buf_str(&t.out));
	}
	json_object_put(snap);
	tracer__free(&t);
}

/* ---- the scenario ---- */

static void say_done(struct fd_run *r)
{
	const struct fd_shared *sh = fd_of(r->d.w.o), *rs = r->w2_started ? fd_of(r->w2.o) : NULL;
	struct buf *b = &r->d.done;

	buf_printf(b, "%u made in %.2f s", sh->made, (sh->built_wall_ns - sh->start_wall_ns) / 1e9);
	if (sh->port_hi)
		buf_printf(b, " (ports %u-%u)", sh->port_lo, sh->port_hi);
	if (sh->mode != FD_LISTEN)
		buf_printf(b, ", kernel: %u established, %u TIME_WAIT to :%u", sh->est, sh->tw,
			   sh->dport);
	if (sh->mode == FD_PLAIN)
		buf_printf(b, ", %u pings on %d kept, %u late ticks", sh->pings, FD_PLAIN_KEEP,
			   sh->late);
	if (rs && rs->mode == FD_NO_PORT)
		buf_printf(b, "; pid %d: %u with IP_BIND_ADDRESS_NO_PORT (ports %u-%u)",
			   (int)r->w2.pid, rs->made, rs->port_lo, rs->port_hi);
	if (rs && rs->mode == FD_FIXED_BIND)
		buf_printf(b, "; pid %d: %u bind()s failed", (int)r->w2.pid, rs->failed);
	buf_printf(b, "; top: %s", r->top_saw[0] ? r->top_saw : "nothing above info");
	if (r->bad_snaps > FD_SHOW)
		buf_printf(b, " (%d snapshots with problems)", r->bad_snaps);
	if (r->sp->in_status)
		buf_printf(b, "; status: %s", r->status_saw);
	else
		buf_printf(b, "; status: no finding");
	buf_printf(b, "; backend %s", r->d.backend);
}

/* What the workloads did is what the scenario needs; else a FAIL (or a SKIP) before any check. */
static int premise(struct fd_run *r)
{
	const struct fd_shared *sh = fd_of(r->d.w.o), *rs = r->w2_started ? fd_of(r->w2.o) : NULL;
	char tmp[16];

	if (sh->no_option) {
		drv_reason(&r->d, SKIP,
			   "setsockopt(IP_LOCAL_PORT_RANGE): %s: this kernel has no per-socket "
			   "port range (Linux 6.3, backported to 6.1.y)",
			   strerror(sh->no_option));
		return -1;
	}
	if (sh->made != sh->count && sh->mode != FD_LISTEN) {
		drv_reason(&r->d, FAIL, "workload: %u of %u made", sh->made, sh->count);
		return -1;
	}
	if (sh->mode == FD_TW_CHURN && sh->tw < sh->count / 2) {
		drv_reason(&r->d, FAIL, "workload: %u TIME_WAIT of %u closed first", sh->tw,
			   sh->count);
		return -1;
	}
	if (rs && rs->mode == FD_FIXED_BIND && (rs->bad || rs->failed != rs->count)) {
		drv_reason(&r->d, FAIL,
			   "second process: %u of %u bind()s failed, %u not with "
			   "EADDRINUSE (the first: %s)",
			   rs->failed, rs->count, rs->bad,
			   errno_name(rs->first_err, tmp, sizeof(tmp)));
		return -1;
	}
	if (rs && rs->made != rs->count && rs->mode != FD_FIXED_BIND) {
		drv_reason(&r->d, FAIL, "second process: %u of %u made", rs->made, rs->count);
		return -1;
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
	set_shared(r->d.w.o, sp, false);
	if (sp->role_mode && role_start(r))
		return;
	if (drv_start_top(&r->d, args) || drv_top_ready(&r->d) ||
	    drv_step(&r->d, 1, step_ms, "building the state"))
		return;
	if (sp->role_mode && role_step(r, 1, "its part of the state"))
		return;
	if (premise(r))
		return;
	read_top(r);
	check_status(r);
	if (drv_step(&r->d, 2, FD_STEP_MS(r), "the RST close") ||
	    (sp->role_mode && role_step(r, 2, "the RST close")))
		return;
	say_done(r);
	drv_check_backend(&r->d);
	drv_stop_top(&r->d);
}

enum verdict fd_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct fd_run r = { .d = { .s = s, .op = op, .verdict = PASS } };
	int64_t t0 = now_ms();

	r.sp = spec_of(s->name);
	if (!r.sp)
		drv_reason(&r.d, FAIL, "no findings spec named %s", s->name);
	else if (!drv_start_workload(&r.d, "eph-find"))
		run_findings(&r);
	if (r.w2_started)
		workload__free(&r.w2);
	return drv_finish(&r.d, t0);
}
