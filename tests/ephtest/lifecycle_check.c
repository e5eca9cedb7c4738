// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle scenarios (lifecycle.c): what ephtrace printed against what the workload
 * recorded: the oracle's assignments, each assign in the window of the call that took its
 * port, one release per port given back in its window, none of a port kept in TIME_WAIT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"

#define LC_TOL_NS 5000000LL /* an event's time against the workload's clock, either side */
#define LC_SHOW_MAX 600	    /* characters of an event line shown under a problem */

/* ---- the checks ---- */

static double lc_ms(const struct lc_run *lr, int64_t ns)
{
	return (ns - lr->sh->t0) / 1e6;
}

static void lc_show(struct drv *d, const struct lc_ev *e)
{
	buf_printf(&d->report, "      %.*s\n", (int)(e->len > LC_SHOW_MAX ? LC_SHOW_MAX : e->len),
		   e->line);
}

/* The assignments as check.c compares them (every field, the summary). */
static void lc_check_oracle(struct lc_run *lr)
{
	struct drv *d = &lr->d;
	struct check_in in = {
		.o = d->w.o,
		.pid = d->w.pid,
		.backend = d->backend,
		.releases = d->s->releases,
		.blind = backend_blind(lr->d.backend),
		.json = buf_str(&d->t.out),
	};
	struct check_out co = {};
	const char *first, *nl;
	int err;

	err = check_run(&in, &co);
	if (err) {
		drv_reason(d, FAIL, "comparing with the oracle: %s", strerror(-err));
	} else if (co.problems) {
		buf_printf(&d->report, "%s", buf_str(&co.report));
		first = buf_str(&co.report);
		first += strspn(first, " ");
		nl = strchr(first, '\n');
		drv_reason(d, FAIL, "%d mismatch%s against the oracle, first: %.*s", co.problems,
			   co.problems == 1 ? "" : "es",
			   (int)(nl ? nl - first : (long)strlen(first)), first);
		d->problems += co.problems;
	}
	check_out_free(&co);
}

/* How far t lies outside [from, to] (0 inside). */
static int64_t lc_outside(int64_t from, int64_t to, int64_t t)
{
	return t < from ? from - t : t > to ? t - to : 0;
}

/*
 * What a backend reports late by design (README, the backend matrices): up to the port's
 * release. The tracepoint backend (and its stand-in for the TCP connects: ephtest --stand-in): a
 * connect() that took its port and blocked in SYN_SENT, when it returns (its release comes
 * then). The cgroup backend: a TCP_FASTOPEN_CONNECT connect()'s
 * port, at tcp_connect() (the first write) or at the close before it.
 */
static bool lc_late_ok(const struct lc_run *lr, const struct lc_port *p)
{
	return (p->await_step &&
		(!strcmp(lr->d.backend, "tracepoint") || stand_in_group(EPH_STANDIN_TCP_CONNECT))) ||
	       (p->deferred && !strcmp(lr->d.backend, "cgroup"));
}

/* When p's assign may come at the latest. */
static int64_t lc_assign_by(const struct lc_run *lr, const struct lc_port *p)
{
	return lc_late_ok(lr, p) && p->fate == LC_BACK ? p->back_to : p->took_to;
}

/* Each assign at the call that took its port: within [took_from, took_to] (or up to its release
 * where lc_late_ok()). An event goes with the port of its number (and op) whose window is
 * nearest (a port can be taken again once back). */
static void lc_check_assigns(struct lc_run *lr, const struct lc_ev *evs, size_t n)
{
	const struct oracle *o = lr->d.w.o;
	struct drv *d = &lr->d;
	bool used[LC_MAX_PORTS] = {};
	struct lc_port *p, *best;
	const struct orec *r;
	int64_t t, dist;
	uint32_t i, bi = 0;
	size_t j;

	for (j = 0; j < n; j++) {
		if (strcmp(evs[j].event, "assign") || evs[j].pid != d->w.pid)
			continue;
		t = evs[j].time_ns;
		best = NULL;
		for (i = 0; i < lr->sh->nports; i++) {
			p = &lr->sh->port[i];
			r = p->rec >= 0 ? &o->rec[p->rec] : NULL;
			if (used[i] || !r || r->expect != EXPECT_ASSIGN ||
			    p->proto != evs[j].proto || p->port != evs[j].sport ||
			    strcmp(evs[j].op, op_name(r->op)))
				continue;
			if (!best || lc_outside(p->took_from, lc_assign_by(lr, p), t) <
					     lc_outside(best->took_from, lc_assign_by(lr, best), t)) {
				best = p;
				bi = i;
			}
		}
		if (!best)
			continue; /* check_run() says it is unexpected */
		used[bi] = true;
		dist = lc_outside(best->took_from, lc_assign_by(lr, best), t);
		if (dist <= LC_TOL_NS)
			continue;
		drv_problem(d,
			    "assign of %s port %u (%s) at %+.1f ms: expected while the call that "
			    "took it ran, %+.1f..%+.1f ms (%.0f ms %s)",
			    proto_name(best->proto), best->port, best->what, lc_ms(lr, t),
			    lc_ms(lr, best->took_from), lc_ms(lr, best->took_to), dist / 1e6,
			    t > best->took_to ? "late" : "early");
		lc_show(d, &evs[j]);
	}
}

/*
 * When p's release is due: around what gave it back. The cgroup backend without --exact-errors
 * has no system call tracepoint, so it sees a UDP port that connect(AF_UNSPEC) gave back only
 * at the socket's close (sock_release; README, what each backend loses).
 */
static void lc_back_window(const struct lc_run *lr, const struct lc_port *p, int64_t *from,
			   int64_t *to)
{
	*from = p->disconnected && backend_blind(lr->d.backend) ? p->close_from : p->back_from;
	*to = p->disconnected && backend_blind(lr->d.backend) ? p->close_to : p->back_to;
}

/* A port that backend does not see taken, so neither given back: a UDP connect()'s autobind
 * without --exact-errors (check.c's blind_to()). */
static bool lc_unseen(const struct lc_run *lr, const struct lc_port *p)
{
	const struct oracle *o = lr->d.w.o;

	return backend_blind(lr->d.backend) && p->proto == IPPROTO_UDP && p->rec >= 0 &&
	       o->rec[p->rec].op == OP_CONNECT;
}

/* How far t lies outside p's window (0 inside). */
static int64_t lc_distance(const struct lc_run *lr, const struct lc_port *p, int64_t t)
{
	int64_t from, to;

	lc_back_window(lr, p, &from, &to);
	return lc_outside(from, to, t);
}

/* The port a release of the workload's is for: of the unmatched ones of its protocol and number
 * (a port can be taken again once back), the one whose window is nearest; a kept one (TIME_WAIT)
 * only when there is no other; NULL when none is left. */
static struct lc_port *lc_release_of(struct lc_run *lr, const struct lc_ev *e)
{
	struct lc_port *best = NULL, *kept = NULL;
	uint32_t i;

	for (i = 0; i < lr->sh->nports; i++) {
		struct lc_port *p = &lr->sh->port[i];

		if (p->released || p->proto != e->proto || p->port != e->sport)
			continue;
		if (p->fate == LC_KEPT)
			kept = kept ? kept : p;
		else if (!best ||
			 lc_distance(lr, p, e->time_ns) < lc_distance(lr, best, e->time_ns))
			best = p;
	}
	return best ? best : kept;
}

/* One release per port given back, in its window; none of a port kept (TIME_WAIT) while the
 * workload ran. *tw_purged: releases of kept ports after its end. */
static unsigned int lc_check_releases(struct lc_run *lr, const struct lc_ev *evs, size_t n,
				      unsigned int *tw_purged_out)
{
	struct drv *d = &lr->d;
	unsigned int good = 0, tw_purged = 0;
	int64_t from, to, dist;
	struct lc_port *p;
	uint32_t i;
	size_t j;

	for (j = 0; j < n; j++) {
		const struct lc_ev *e = &evs[j];

		if (strcmp(e->event, "release") || e->pid != d->w.pid)
			continue;
		p = lc_release_of(lr, e);
		if (!p) {
			drv_problem(d,
				    "release of %s port %lld at %+.1f ms: expected none (no such "
				    "port, or it came back once already)",
				    proto_name(e->proto), e->sport, lc_ms(lr, e->time_ns));
			lc_show(d, e);
			continue;
		}
		p->released = 1;
		lc_back_window(lr, p, &from, &to);
		dist = lc_outside(from, to, e->time_ns);
		if (p->fate == LC_KEPT && lr->sh->end_ns && e->time_ns >= lr->sh->end_ns) {
			tw_purged++; /* the namespace went, and its TIME_WAIT sockets with it */
		} else if (p->fate == LC_KEPT) {
			drv_problem(d,
				    "release of %s port %u (%s) at %+.1f ms: expected none while "
				    "the workload ran (until %+.1f ms), the kernel holds it in "
				    "TIME_WAIT",
				    proto_name(p->proto), p->port, p->what, lc_ms(lr, e->time_ns),
				    lc_ms(lr, lr->sh->end_ns));
			lc_show(d, e);
		} else if (dist > LC_TOL_NS) {
			drv_problem(d,
				    "release of %s port %u (%s) at %+.1f ms: expected when the "
				    "kernel gave it back, %+.1f..%+.1f ms (%.0f ms %s)",
				    proto_name(p->proto), p->port, p->what, lc_ms(lr, e->time_ns),
				    lc_ms(lr, from), lc_ms(lr, to), dist / 1e6,
				    e->time_ns < from ? "early: a copy still held it" : "late");
			lc_show(d, e);
		} else {
			good++;
		}
	}
	for (i = 0; i < lr->sh->nports; i++) {
		p = &lr->sh->port[i];
		lc_back_window(lr, p, &from, &to);
		if (p->fate == LC_BACK && !p->released && !lc_unseen(lr, p))
			drv_problem(d,
				    "expected a release of %s port %u (%s) at %+.1f..%+.1f ms got "
				    "none",
				    proto_name(p->proto), p->port, p->what, lc_ms(lr, from),
				    lc_ms(lr, to));
	}
	*tw_purged_out = tw_purged;
	return good;
}

/* syn-blackhole: each awaited assign came out while its socket was in SYN_SENT. */
static void lc_check_awaited(struct lc_run *lr, const struct lc_ev *evs, size_t n)
{
	struct drv *d = &lr->d;
	const struct lc_ev *e;
	uint32_t i;

	for (i = 0; i < lr->sh->nports; i++) {
		const struct lc_port *p = &lr->sh->port[i];

		if (!p->await_step)
			continue;
		if (!p->still_syn) {
			drv_reason(d, FAIL,
				   "the kernel: port %u (%s) left SYN_SENT before it was "
				   "checked: the scenario did not happen",
				   p->port, p->what);
			continue;
		}
		if (p->seen || lc_late_ok(lr, p))
			continue;
		e = lc_find_assign(evs, n, d->w.pid, p);
		drv_problem(d,
			    "assign of tcp port %u (%s): expected in ephtrace's output within %d "
			    "ms, while the socket was in SYN_SENT, got %s",
			    p->port, p->what, LC_AWAIT_MS,
			    e ? "it only after the socket had left SYN_SENT" : "none at all");
		if (e)
			lc_show(d, e);
	}
}

void lc_check(struct lc_run *lr)
{
	struct drv *d = &lr->d;
	unsigned int good, back = 0, kept = 0, purged = 0, unseen = 0;
	struct buf tally = {};
	struct lc_ev *evs;
	uint32_t i;
	size_t n;

	if (lr->sh->overflow) {
		drv_reason(d, FAIL, "%u ports did not fit LC_MAX_PORTS", lr->sh->overflow);
		return;
	}
	drv_check_backend(d);
	lc_check_oracle(lr);
	evs = lc_events(d, &n);
	lc_check_assigns(lr, evs, n);
	good = lc_check_releases(lr, evs, n, &purged);
	lc_check_awaited(lr, evs, n);
	free(evs);
	for (i = 0; i < lr->sh->nports; i++) {
		const struct lc_port *p = &lr->sh->port[i];

		unseen += p->fate == LC_BACK && lc_unseen(lr, p);
		back += p->fate == LC_BACK && !lc_unseen(lr, p);
		kept += p->fate == LC_KEPT;
	}
	oracle_tally(d->w.o, 0, &tally);
	buf_printf(&d->done, "%s; releases %u of %u in their windows", buf_str(&tally), good, back);
	if (unseen)
		buf_printf(&d->done,
			   " (%u more, of UDP connect()s' ports, not expected: cgroup backend "
			   "without --exact-errors)",
			   unseen);
	if (kept)
		buf_printf(&d->done,
			   ", %u kept in TIME_WAIT without one while the workload ran (%u released "
			   "with its namespace after)",
			   kept, purged);
	if (lr->sh->note[0])
		buf_printf(&d->done, "; %s", lr->sh->note);
	buf_printf(&d->done, "; backend %s", d->backend);
	buf_free(&tally);
}
