// SPDX-License-Identifier: GPL-2.0
/*
 * A port's life after its assignment: `ephtrace events --json --releases` against what the
 * kernel did, in time as well as in count (issue 14).
 *
 * The workload records every call that took a port in the oracle (check.c compares the
 * assignments field by field, as for every events scenario) and, for each port, in struct
 * lc_port: the wall-clock window of the call that took it (its assign event's "time" must fall
 * in it) and its fate: LC_BACK, one release whose time falls in the window of what gave the
 * port back (the close() of the last copy of a UDP socket, a RST, the exit of the last process
 * holding it), or LC_KEPT, no release while the workload runs (it is in TIME_WAIT). A release
 * before its window (the first of several copies closed) or none at all is a failure on every
 * backend: the kernel frees the port when the socket goes, and the README's matrices name no
 * backend that cannot see it (the tracepoint backend's UDP row says when it reports a release,
 * at close() or at the exit of the last process holding the file table, not that it misses the
 * last copy). Times come from ephtrace's CLOCK_MONOTONIC, converted to the wall clock:
 * LC_TOL_NS is allowed either side, and phases that a backend could mistake for each other are
 * LC_GAP_MS apart.
 *
 * The scenarios are in lifecycle_syn.c (syn-blackhole), lifecycle_tcp.c (refused, rst-close,
 * tfo) and lifecycle_udp.c (udp-fork, udp-dup), the workload's recording in lifecycle_wl.c,
 * the checks of what ephtrace printed in lifecycle_check.c.
 */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lifecycle.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

#define LC_READY_MS 10000 /* the workload's setup (nft, a fork) */
#define LC_STEP_MS 30000
#define LC_SETTLE_MS 300 /* after the workload's end, before ephtrace is stopped */

/* ---- the driver ---- */

/* ephtrace events --json --backend B -p PID --releases; waits until it attached. */
static int lc_start_events(struct drv *d)
{
	const char *args[] = { "-p", NULL, NULL, NULL };
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)d->w.pid);
	args[1] = pid;
	if (d->s->releases)
		args[2] = "--releases";
	return drv_start_ephtrace(d, "events", args);
}

/* Read ephtrace's output for about ms (or sleep when it is done). */
static void lc_pump(struct drv *d, int ms)
{
	if (d->t_started && (d->t.out_fd >= 0 || d->t.err_fd >= 0))
		tracer__pump(&d->t, ms);
	else
		usleep(ms * 1000);
}

/* A helper process failed, or the workload's process ended when it should not have. */
static bool lc_broken(struct lc_run *lr, bool may_exit)
{
	struct drv *d = &lr->d;
	char st[64];

	if (__atomic_load_n(&lr->sh->failed, __ATOMIC_SEQ_CST)) {
		drv_reason(d, FAIL, "workload helper: %s", d->w.o->msg);
		return true;
	}
	if (!workload__poll(&d->w))
		return false;
	if (WIFEXITED(d->w.status) && !WEXITSTATUS(d->w.status) && may_exit)
		return false;
	drv_reason(d, FAIL, "workload %d: %s: %s", (int)d->w.pid,
		   status_text(d->w.status, st, sizeof(st)),
		   d->w.o->msg[0] ? d->w.o->msg : "exited before its steps were done");
	return true;
}

/* pidfds of the helpers the workload started since the last look (they are alive now: each
 * waits for a step the driver has not allowed yet). */
static int lc_open_pidfds(struct lc_run *lr)
{
	int i, pid;

	for (i = 0; i < LC_MAX_PIDS; i++) {
		pid = __atomic_load_n(&lr->sh->pid[i], __ATOMIC_SEQ_CST);
		if (!pid || lr->pidfd[i] >= 0)
			continue;
		lr->pidfd[i] = syscall(__NR_pidfd_open, pid, 0);
		if (lr->pidfd[i] < 0) {
			drv_reason(&lr->d, FAIL, "pidfd_open(%d): %s", pid, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int lc_wait_ready(struct lc_run *lr)
{
	int64_t deadline = now_ms() + LC_READY_MS;
	struct drv *d = &lr->d;

	while (!__atomic_load_n(&lr->sh->ready, __ATOMIC_SEQ_CST)) {
		/* a workload that skips says it is ready, then exits: its exit can be seen between
		 * the read of ready above and lc_broken()'s (6.12-rt auto in make test on a9a1f81:
		 * syn-blackhole FAIL "exit status 0: no netfilter...") */
		if (workload__poll(&d->w) && __atomic_load_n(&lr->sh->ready, __ATOMIC_SEQ_CST))
			break;
		if (lc_broken(lr, false))
			return -EIO;
		if (now_ms() > deadline) {
			drv_reason(d, FAIL, "workload: setup not done within %d s",
				   LC_READY_MS / 1000);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
	if (d->w.o->skip) {
		drv_reason(d, SKIP, "%s", d->w.o->msg);
		return -EAGAIN;
	}
	return lc_open_pidfds(lr);
}

static int lc_step(struct lc_run *lr, int k)
{
	int64_t deadline = now_ms() + LC_STEP_MS;
	struct oracle *o = lr->d.w.o;

	__atomic_store_n(&o->sync.go, k, __ATOMIC_SEQ_CST);
	for (;;) {
		bool exited = workload__poll(&lr->d.w);

		if (__atomic_load_n(&o->sync.done, __ATOMIC_SEQ_CST) >= k)
			break;
		if (lc_broken(lr, exited && lr->sh->w_exits))
			return -EIO;
		if (now_ms() > deadline) {
			drv_reason(&lr->d, FAIL, "workload: step %d not done within %d s", k,
				   LC_STEP_MS / 1000);
			return -ETIMEDOUT;
		}
		lc_pump(&lr->d, 10);
	}
	return lc_open_pidfds(lr);
}

/* ---- reading the events ---- */

static void lc_copy_str(json_object *j, const char *key, char *out, size_t len)
{
	const char *s = jstr(j, key);

	snprintf(out, len, "%s", s ? s : "");
}

static int lc_parse(const char *line, size_t len, struct lc_ev *e)
{
	char *copy = strndup(line, len);
	json_object *j = copy ? json_tokener_parse(copy) : NULL;
	const char *proto;
	double v;

	free(copy);
	memset(e, 0, sizeof(*e));
	if (!j || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		return -EINVAL;
	}
	e->line = line;
	e->len = len;
	lc_copy_str(j, "event", e->event, sizeof(e->event));
	lc_copy_str(j, "op", e->op, sizeof(e->op));
	proto = jstr(j, "proto");
	e->proto = !proto ? 0 : !strcmp(proto, "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
	e->pid = jnum(j, "pid", &v) == 1 ? (long long)v : -1;
	e->sport = jnum(j, "sport", &v) == 1 ? (long long)v : -1;
	e->time_ns = parse_time(jstr(j, "time"));
	json_object_put(j);
	return 0;
}

/* Every event line of ephtrace's output so far (the summary and non-JSON lines left out). */
struct lc_ev *lc_events(const struct drv *d, size_t *n)
{
	struct lc_ev *evs = NULL, *grown, e;
	size_t off = 0, len, cap = 0;
	const char *line;

	*n = 0;
	while ((line = next_line(&d->t.out, &off, &len))) {
		if (lc_parse(line, len, &e) || !strcmp(e.event, "summary"))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(evs, cap * sizeof(*evs));
			if (!grown)
				break;
			evs = grown;
		}
		evs[(*n)++] = e;
	}
	return evs;
}

/* The assign of p by the workload in evs (any op), or NULL. */
const struct lc_ev *lc_find_assign(const struct lc_ev *evs, size_t n, pid_t pid,
				   const struct lc_port *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(evs[i].event, "assign") && evs[i].pid == pid &&
		    evs[i].proto == p->proto && evs[i].sport == p->port)
			return &evs[i];
	return NULL;
}

/* syn-blackhole: after step k, the assign of each socket the step left in SYN_SENT must come
 * out of ephtrace within LC_AWAIT_MS; the workload closes them only after that. */
static void lc_await(struct lc_run *lr, int k)
{
	int64_t deadline = now_ms() + LC_AWAIT_MS;
	struct drv *d = &lr->d;
	struct lc_ev *evs;
	bool missing;
	uint32_t i;
	size_t n;

	do {
		evs = lc_events(d, &n);
		missing = false;
		for (i = 0; i < lr->sh->nports; i++) {
			struct lc_port *p = &lr->sh->port[i];

			if (p->await_step != k || p->seen)
				continue;
			p->seen = lc_find_assign(evs, n, d->w.pid, p) != NULL;
			missing |= !p->seen;
		}
		free(evs);
		if (missing)
			lc_pump(d, 20);
	} while (missing && now_ms() < deadline);
}

/* SIGINT: ephtrace events must print its summary and exit 0. */
static int lc_stop_events(struct drv *d)
{
	return drv_stop_ephtrace(d, "events");
}

/* Wait for the end of the workload's process and of its helpers; ports given back by a helper's
 * exit get their window's end; then ephtrace reads what is left and is stopped. */
static int lc_wait_end(struct lc_run *lr)
{
	int64_t deadline = now_ms() + 1000LL * lr->d.op->timeout_s, gone_ns = 0;
	struct drv *d = &lr->d;
	struct pollfd pfd;
	char st[64];
	uint32_t i;
	int k;

	while (!workload__poll(&d->w)) {
		if (lc_broken(lr, true) || now_ms() > deadline) {
			drv_reason(d, FAIL, "workload did not exit after its last step");
			return -ETIMEDOUT;
		}
		lc_pump(d, 10);
	}
	if (!WIFEXITED(d->w.status) || WEXITSTATUS(d->w.status)) {
		drv_reason(d, FAIL, "workload %d: %s: %s", (int)d->w.pid,
			   status_text(d->w.status, st, sizeof(st)), d->w.o->msg);
		return -EIO;
	}
	for (k = 0; k < LC_MAX_PIDS; k++) {
		pfd = (struct pollfd){ .fd = lr->pidfd[k], .events = POLLIN };
		while (pfd.fd >= 0 && poll(&pfd, 1, 0) == 0) {
			if (now_ms() > deadline) {
				drv_reason(d, FAIL, "helper %d did not exit", lr->sh->pid[k]);
				return -ETIMEDOUT;
			}
			lc_pump(d, 10);
		}
		if (k == 0)
			gone_ns = wall_ns();
	}
	if (__atomic_load_n(&lr->sh->failed, __ATOMIC_SEQ_CST)) {
		drv_reason(d, FAIL, "workload helper: %s", d->w.o->msg);
		return -EIO;
	}
	for (i = 0; i < lr->sh->nports; i++)
		if (lr->sh->port[i].back_at_exit)
			lr->sh->port[i].back_to = gone_ns;
	for (deadline = now_ms() + LC_SETTLE_MS; now_ms() < deadline;)
		lc_pump(d, 20);
	return lc_stop_events(d);
}

static void lc_run_steps(struct lc_run *lr)
{
	struct drv *d = &lr->d;
	uint32_t i;
	int k;

	if (lc_wait_ready(lr) || lc_start_events(d))
		return;
	for (k = 1; k <= lr->sh->nsteps; k++) {
		if (lc_step(lr, k))
			return;
		for (i = 0; i < lr->sh->nports; i++)
			if (lr->sh->port[i].await_step == k) {
				lc_await(lr, k);
				break;
			}
	}
	if (lc_wait_end(lr))
		return;
	lc_check(lr);
}

enum verdict lc_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct lc_run lr = { .d = { .s = s, .op = op, .verdict = PASS } };
	int i;

	for (i = 0; i < LC_MAX_PIDS; i++)
		lr.pidfd[i] = -1;
	lr.t0 = now_ms();
	if (!drv_start_workload(&lr.d, "eph-lifecycle")) {
		lr.sh = lc_of(lr.d.w.o);
		lc_run_steps(&lr);
	}
	for (i = 0; i < LC_MAX_PIDS; i++) {
		if (lr.pidfd[i] < 0)
			continue;
		syscall(__NR_pidfd_send_signal, lr.pidfd[i], SIGKILL, NULL, 0);
		close(lr.pidfd[i]);
	}
	return drv_finish(&lr.d, lr.t0);
}
