// SPDX-License-Identifier: GPL-2.0
/*
 * The headroom scenarios: the ports_left of `ephtrace status --json` and `ephtrace top --json`
 * against what the kernel still grants.
 *
 * One workload in a private network namespace (a range of 63 or 64 ports, tcp_tw_reuse per
 * scenario) builds a mixed state and keeps it: listeners outside the range and one or two inside
 * it, TCP bind(0) holders, bind-before-connect sockets, established connections (some from
 * IPv4-mapped IPv6 sockets), connections closed by us first (TIME_WAIT), connected and bound UDP
 * sockets. It names the snapshot rows its sockets fill (hr_row). The driver reads ephtrace:
 * status, and top started before the state or after it. Then the workload counts, row after row,
 * what the kernel grants: connect() from fresh sockets until EADDRNOTAVAIL (a destination; and a
 * listener no socket of the state uses: the namespace's new_dest_ports_left), bind(addr:0) until
 * EADDRINUSE (a bind scope), UDP connect() until EAGAIN (the namespace's udp_ports_left); it
 * closes each count's sockets with RST before the next one, so that every count starts from the
 * state. Every row's ports_left must equal its count, in status and in top.
 *
 * Two kinds of count change the state for the counts after them (count_phase() orders them):
 * - connect() to a destination with TIME_WAIT sockets recycles them when tcp_tw_reuse allows,
 *   which frees their ports for bind(0) on their address (127.0.0.1) and on 0.0.0.0; recycling
 *   one destination's TIME_WAIT changes nothing for another destination's connect();
 * - bind(0) that lands on a port whose bind bucket connect() made (a socket on another
 *   address) sets the bucket's fastreuse, and before 6.18 ("tcp: Update bind bucket state on
 *   port release") it stays set once that socket is closed: every later connect() skips the
 *   port. Measured on 6.12: after a bind(127.0.0.2:0) count, every destination's count dropped
 *   to the same 28. A bind(127.0.0.1:0) count lands only on ports of the state's ::1 and
 *   127.0.0.2 connections, bind(127.0.0.2:0) on those from 127.0.0.1 and ::1, bind(0.0.0.0:0)
 *   on none (it conflicts with every IPv4 socket), bind(::1:0) on those of its IPv4
 *   connections, bind(:::0) (no IPV6_V6ONLY) on none at all.
 * So: UDP; the new destination, and destinations without TIME_WAIT (and with it under tcp_tw_reuse
 * 0); bind scopes of 127.0.0.1, 0.0.0.0 and ::, of ::1 when [::1]:5000 has TIME_WAIT (a ::1 count
 * after that TIME_WAIT was recycled got as many ports more: headroom-random, seeds 1 and 4), and
 * of 127.0.0.2 when the connections from 127.0.0.2 have (seed 26011, 3 more);
 * destinations whose TIME_WAIT may be recycled; the other bind scopes. A state with ::1
 * connections, recyclable TIME_WAIT and a 127.0.0.1 or 0.0.0.0 bind scope, or with IPv4
 * connections, recyclable TIME_WAIT on ::1 and a ::1 bind scope (or the same with the
 * connections from 127.0.0.2 and its bind scope), has no such order: the workload refuses it
 * (hr_countable()).
 *
 * This file holds the driver (ephtrace's status and top, read while the workload
 * holds its state; the RESULT line); headroom_state.c builds the state, headroom_count.c counts
 * what the kernel grants, headroom_check.c compares (headroom.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "headroom.h"

static void set_reason(struct hr_run *r, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The first reason wins. */
static void set_reason(struct hr_run *r, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (r->verdict != PASS)
		return;
	r->verdict = v;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

void hr_problem(struct hr_run *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&r->report, "  FAIL %s\n", line);
	set_reason(r, FAIL, "%s", line);
	r->problems++;
}

static bool workload_died(struct hr_run *r)
{
	char st[64];

	if (!workload__poll(&r->w))
		return false;
	set_reason(r, FAIL, "workload %d: %s: %s", (int)r->w.pid,
		   status_text(r->w.status, st, sizeof(st)), r->w.o->msg);
	return true;
}

/* Read ephtrace's output (if it runs) or sleep, for about ms. */
static void idle(struct hr_run *r, int ms)
{
	if (r->t_started && (r->t.out_fd >= 0 || r->t.err_fd >= 0))
		tracer__pump(&r->t, ms);
	else
		usleep(ms * 1000);
}

/* Wait until the workload sets *flag. */
static int wait_workload(struct hr_run *r, const int32_t *flag, const char *what)
{
	int64_t deadline = now_ms() + 5000LL * r->op->timeout_s;

	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		if (workload_died(r))
			return -EIO;
		if (now_ms() > deadline) {
			set_reason(r, FAIL, "workload: %s not done within %d s", what,
				   5 * r->op->timeout_s);
			return -ETIMEDOUT;
		}
		idle(r, 10);
	}
	return 0;
}

static void free_tracer(struct hr_run *r)
{
	if (r->t_started)
		tracer__free(&r->t);
	r->t_started = false;
}

static void keep_output(struct hr_run *r, const char *what)
{
	char path[512];
	FILE *f;

	if (!r->op->keep_dir || !r->t_started)
		return;
	snprintf(path, sizeof(path), "%s/%s.%s.json", r->op->keep_dir, r->s->name, what);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(buf_str(&r->t.out), f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.%s.stderr", r->op->keep_dir, r->s->name, what);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(buf_str(&r->t.err), f);
	fclose(f);
}

static int start_tracer(struct hr_run *r, const char *const *args, unsigned int flags)
{
	char *argv[16];
	int n = 0, err;

	argv[n++] = (char *)r->op->ephtrace;
	while (*args && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	err = tracer__start_flags(&r->t, argv, flags);
	if (err) {
		set_reason(r, FAIL, "cannot start %s: %s", r->op->ephtrace, strerror(-err));
		return err;
	}
	r->t_started = true;
	return 0;
}

static int start_top(struct hr_run *r)
{
	const char *args[] = { "top",
			       "--json",
			       "-i",
			       HR_INTERVAL,
			       "--resync",
			       r->s->hr->departures ? HR_RESYNC_NEVER : HR_RESYNC,
			       "--backend",
			       r->op->backend,
			       NULL };
	int64_t deadline = now_ms() + 1000LL * r->op->timeout_s;
	const char *found;
	char st[64];
	int err;

	if (start_tracer(r, args, 0))
		return -EIO;
	while (!tracer__attached(&r->t)) {
		if (r->t.exited && r->t.err_fd < 0 && r->t.out_fd < 0) {
			set_reason(r, FAIL, "ephtrace top did not attach (%s): %.200s",
				   status_text(r->t.status, st, sizeof(st)), buf_str(&r->t.err));
			return -EIO;
		}
		if (now_ms() > deadline) {
			set_reason(r, FAIL,
				   "no \"using backend \" line from ephtrace top within %d s",
				   r->op->timeout_s);
			return -ETIMEDOUT;
		}
		err = tracer__pump(&r->t, 100);
		if (err) {
			set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
			return err;
		}
	}
	found = strstr(buf_str(&r->t.err), "using backend ") + strlen("using backend ");
	snprintf(r->backend, sizeof(r->backend), "%.*s", (int)strcspn(found, " \n()"), found);
	return 0;
}

/* The first snapshot of top taken at or after r->ready_ns; then top is stopped (SIGINT). */
static int take_top(struct hr_run *r)
{
	int64_t deadline = now_ms() + 1000LL * r->op->timeout_s;
	size_t off = 0, len;
	const char *line;
	json_object *snap;
	char st[64];
	int err;

	for (;;) {
		line = next_line(&r->t.out, &off, &len);
		if (!line) {
			if (r->t.exited && r->t.out_fd < 0) {
				set_reason(r, FAIL,
					   "ephtrace top exited before a snapshot came (%s)",
					   status_text(r->t.status, st, sizeof(st)));
				return -EIO;
			}
			if (now_ms() > deadline) {
				set_reason(r, FAIL, "no snapshot from ephtrace top within %d s",
					   r->op->timeout_s);
				return -ETIMEDOUT;
			}
			tracer__pump(&r->t, 100);
			continue;
		}
		r->top_snap = strndup(line, len);
		if (!r->top_snap)
			return -ENOMEM;
		snap = json_tokener_parse(r->top_snap);
		if (!snap) {
			hr_problem(r, "%s: top: expected a JSON object per line got %.200s",
				   r->s->name, r->top_snap);
			return -EIO;
		}
		if (parse_time(jstr(snap, "time")) >= r->ready_ns) {
			json_object_put(snap);
			break;
		}
		json_object_put(snap);
		free(r->top_snap);
		r->top_snap = NULL;
	}
	err = tracer__stop(&r->t, 1000 * r->op->timeout_s);
	keep_output(r, "top");
	if (err) {
		set_reason(r, FAIL, "ephtrace top did not stop after SIGINT: %s", strerror(-err));
		return err;
	}
	if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status)) {
		set_reason(r, FAIL, "expected ephtrace top to exit 0 after SIGINT got %s",
			   status_text(r->t.status, st, sizeof(st)));
		return -EIO;
	}
	return 0;
}

/* status -v --json --netns INODE once (whether it may load BPF is the status scenario's check;
 * -v says when it went on without its port iterator). */
static int take_status(struct hr_run *r)
{
	char netns[32], st[64];
	const char *args[] = { "status", "-v", "--json", "--netns", netns, NULL };
	size_t off = 0, len;
	const char *line;
	int err;

	snprintf(netns, sizeof(netns), "%" PRIu64, r->w.o->netns);
	free_tracer(r);
	if (start_tracer(r, args, 0))
		return -EIO;
	err = tracer__wait(&r->t, 1000 * r->op->timeout_s);
	keep_output(r, "status");
	if (err) {
		set_reason(r, FAIL, "ephtrace status: %s",
			   err == -ETIMEDOUT ? "did not exit in time" : strerror(-err));
		return err;
	}
	if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status)) {
		set_reason(r, FAIL, "expected ephtrace status to exit 0 got %s: %.200s",
			   status_text(r->t.status, st, sizeof(st)), buf_str(&r->t.err));
		return -EIO;
	}
	line = next_line(&r->t.out, &off, &len);
	if (!line || off != r->t.out.len) {
		set_reason(r, FAIL, "expected one line from ephtrace status got %s",
			   line ? "more" : "none");
		return -EIO;
	}
	r->status_snap = strndup(line, len);
	r->no_iter = strstr(buf_str(&r->t.err), "port iterator:") &&
		     strstr(buf_str(&r->t.err), "(going on without it)");
	r->no_walk = strstr(buf_str(&r->t.err), "port iterator: without its walk");
	free_tracer(r);
	return r->status_snap ? 0 : -ENOMEM;
}

/* Let the wall clock reach ns (measured on the monotonic one), reading top meanwhile. */
static void wait_until(struct hr_run *r, int64_t ns)
{
	int64_t end = now_ms() + (ns - wall_ns()) / 1000000 + 1;

	while (now_ms() < end)
		idle(r, 20);
}

/* ---- the scenario ---- */

static int start_workload(struct hr_run *r)
{
	int err;

	err = workload__start_role(&r->w, r->s, "eph-headroom", hr_workload, 0);
	r->w_started = true;
	if (err == -EAGAIN)
		set_reason(r, SKIP, "%s", r->w.o->msg);
	else if (err)
		set_reason(r, FAIL, "workload: %s", r->w.o ? r->w.o->msg : strerror(-err));
	if (!err)
		r->w.o->hr.c = r->s->hr;
	return err;
}

/*
 * When snapshots see the state as it will be counted: TIME_WAIT aged; top (from before) resynced
 * with sock_diag since (the tracepoint backend sees no bucket kind, fixed-port binds may not be
 * events at all: the snapshot checked is the model's, not the events' race with it).
 */
static int64_t ready_at(struct hr_run *r, bool top_running)
{
	int64_t built = r->w.o->hr.built_wall_ns, ready = built;

	if (r->s->hr->aged)
		ready = built + HR_TW_AGE_MS * 1000000LL;
	if (top_running && ready < built + HR_RESYNC_LAG_MS * 1000000LL)
		ready = built + HR_RESYNC_LAG_MS * 1000000LL;
	return ready;
}

/*
 * Departures: top from after the state, then part of it goes once top has shown a snapshot (it
 * has seeded from sock_diag); the snapshot checked is the first one HR_DEPART_SETTLE_MS after
 * the kernel showed them (TIME_WAIT aged too when the case says so).
 */
static int take_top_departed(struct hr_run *r)
{
	struct hr_shared *hr = &r->w.o->hr;
	int64_t deadline = now_ms() + 1000LL * r->op->timeout_s;

	if (start_top(r))
		return -EIO;
	while (!memchr(buf_str(&r->t.out), '\n', r->t.out.len)) {
		if ((r->t.exited && r->t.out_fd < 0) || now_ms() > deadline) {
			set_reason(r, FAIL, "no snapshot from ephtrace top within %d s: %.200s",
				   r->op->timeout_s, buf_str(&r->t.err));
			return -EIO;
		}
		tracer__pump(&r->t, 50);
	}
	/* the cgroup backend has no hook after a connect(): a UDP socket's move it cannot see */
	hr->move_udp = strcmp(r->backend, "cgroup") != 0;
	__atomic_store_n(&hr->depart, 1, __ATOMIC_SEQ_CST);
	if (wait_workload(r, &hr->departed, "departures"))
		return -EIO;
	r->ready_ns = hr->departed_wall_ns + HR_DEPART_SETTLE_MS * 1000000LL;
	if (r->s->hr->aged)
		r->ready_ns = hr->departed_wall_ns + HR_TW_AGE_MS * 1000000LL;
	wait_until(r, r->ready_ns);
	return take_top(r);
}

static void run_headroom(struct hr_run *r)
{
	const struct hr_case *c = r->s->hr;

	if (start_workload(r))
		return;
	if (c->top_before && start_top(r))
		return;
	workload__release(&r->w);
	if (wait_workload(r, &r->w.o->hr.built, "building the state"))
		return;
	r->ready_ns = ready_at(r, c->top_before);
	wait_until(r, r->ready_ns);
	if (c->departures ? take_top_departed(r) : c->top_before && take_top(r))
		return;
	free_tracer(r);
	if (take_status(r))
		return;
	if (!c->top_before && !c->departures && (start_top(r) || take_top(r)))
		return;
	free_tracer(r);
	if (workload_died(r))
		return;
	hr_take_table(r);
	__atomic_store_n(&r->w.o->hr.count, 1, __ATOMIC_SEQ_CST);
	if (wait_workload(r, &r->w.o->hr.counted, "counting"))
		return;
	hr_compare(r);
	buf_printf(&r->done,
		   "%u rows: status and top said the ports the kernel granted; %u TIME_WAIT %s; "
		   "top from %s the state, backend %s",
		   r->w.o->hr.nrows, r->w.o->hr.tw_total, c->aged ? "older than 2 s" : "fresh",
		   c->top_before ? "before" : "after", r->backend);
	if (c->departures)
		buf_printf(&r->done,
			   "; then %u of its sockets went (RST, FIN into TIME_WAIT, %sUDP bind(0) "
			   "holders, connected UDP) and top, which never resynced, followed%s",
			   r->w.o->hr.ndeparted, r->w.o->hr.bound_kept ? "" : "TCP and ",
			   r->w.o->hr.bound_kept ?
				   " (TCP bind(0) holders kept: before 6.8 a snapshot cannot give "
				   "them a cookie, their release waits for a resync)" :
				   "");
	if (c->departures)
		buf_printf(&r->done, "; %s",
			   r->w.o->hr.moved_udp ?
				   "a UDP socket on 0.0.0.0 connect()ed, which moved it to 127.0.0.1" :
				   "no UDP socket moved (the cgroup backend cannot see it)");
	if (r->blind)
		buf_printf(&r->done,
			   "; SKIPPED %u TCP row(s) of snapshots without the port iterator (bpf() "
			   "refused, a kernel before 5.9) or its walk (before 5.17), which cannot see "
			   "every port bind() made (%u bound-only sockets; bind-before-connect's "
			   "buckets): checked as upper bounds only",
			   r->blind, r->w.o->hr.nbound);
}

static void report(struct hr_run *r, int64_t ms)
{
	if (r->op->verbose) {
		if (r->status_snap)
			printf("  status snapshot:\n    %s\n", r->status_snap);
		if (r->top_snap)
			printf("  top snapshot:\n    %s\n", r->top_snap);
	}
	if (r->report.len)
		printf("%s", buf_str(&r->report));
	if (r->table.len && (r->op->verbose || r->verdict == FAIL))
		printf("  the kernel's sockets in the range before the counts:\n%s",
		       buf_str(&r->table));
	if (r->verdict == PASS) {
		snprintf(r->reason, sizeof(r->reason), "%s", buf_str(&r->done));
	} else if (r->problems > 1) {
		char first[sizeof(r->reason)];

		snprintf(first, sizeof(first), "%s", r->reason);
		snprintf(r->reason, sizeof(r->reason), "%d problems, the first: %.400s",
			 r->problems, first);
	}
	if (r->s->hr == &hr_case_random) { /* the seed, to draw the same state again */
		char said[sizeof(r->reason)];

		snprintf(said, sizeof(said), "%s", r->reason);
		snprintf(r->reason, sizeof(r->reason), "seed %llu: %.480s",
			 (unsigned long long)hr_random_drawn, said);
	}
	printf("RESULT %s %s (%s) %lldms\n", r->s->name, verdict_name(r->verdict), r->reason,
	       (long long)ms);
	fflush(stdout);
}

static void hr_run_free(struct hr_run *r)
{
	free_tracer(r);
	if (r->w_started)
		workload__free(&r->w);
	buf_free(&r->report);
	buf_free(&r->done);
	buf_free(&r->table);
	free(r->top_snap);
	free(r->status_snap);
}

enum verdict headroom_scenario(const struct scenario *s, const struct occ_opts *op)
{
	struct hr_run r = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();
	enum verdict v;

	run_headroom(&r);
	report(&r, now_ms() - t0);
	v = r.verdict;
	hr_run_free(&r);
	return v;
}

int headroom_workload_only(const struct scenario *s, const struct occ_opts *op)
{
	struct hr_run r = { .s = s, .op = op, .verdict = PASS };
	const struct hr_shared *hr;
	char name[128], tmp[16];
	uint32_t i;

	if (start_workload(&r))
		goto out;
	workload__release(&r.w);
	if (wait_workload(&r, &r.w.o->hr.built, "building the state"))
		goto out;
	if (s->hr->aged)
		wait_until(&r, r.w.o->hr.built_wall_ns + HR_TW_AGE_MS * 1000000LL);
	__atomic_store_n(&r.w.o->hr.count, 1, __ATOMIC_SEQ_CST);
	if (wait_workload(&r, &r.w.o->hr.counted, "counting"))
		goto out;
	hr = &r.w.o->hr;
	fprintf(stderr, "ephtest: %s netns %" PRIu64 " (pid %d): %u TIME_WAIT %s\n", s->name,
		r.w.o->netns, (int)r.w.pid, hr->tw_total, s->hr->aged ? "older than 2 s" : "fresh");
	for (i = 0; i < hr->nrows; i++)
		printf("%-44s granted %d (then %s), held %u, time_wait %u, mapped %u\n",
		       hr_row_name(&hr->row[i], name, sizeof(name)), hr->row[i].granted,
		       errno_name(hr->row[i].stop_err, tmp, sizeof(tmp)), hr->row[i].held,
		       hr->row[i].time_wait, hr->row[i].mapped);
out:
	if (r.verdict != PASS)
		fprintf(stderr, "ephtest: %s %s: %s\n", s->name, verdict_name(r.verdict), r.reason);
	hr_run_free(&r);
	return r.verdict == PASS ? 0 : 1;
}
