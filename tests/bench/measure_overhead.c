// SPDX-License-Identifier: GPL-2.0
/*
 * `ephbench overhead` (measure.h): a loop (connect+accept+close by default) with no tracer and
 * with each tracer, alternating in rounds; each tracer sample against the mean of the two
 * samples around it: the ratios of throughput and of CPU time per call, per tracer.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"

/* ---- overhead ---- */

static const char overhead_usage[] =
	"A loop (connect+accept+close by default) with no tracer and with each tracer,\n"
	"alternating, in rounds: off, A, off, B, off... Each tracer sample is compared with the\n"
	"mean of the two samples around it; prints the ratios' median, minimum and maximum per\n"
	"tracer, of the throughput and of the CPU time per call (the loop's threads, kernel\n"
	"included, plus the tracer's process: robust to other load on a shared machine).\n"
	"  --duration SECS   per sample (default 0.5)\n"
	"  --rounds N        samples per condition (default 11)\n"
	"  --clients N       client threads, each with its own listener and server thread (1)\n"
	"  --settle SECS     between a tracer's attach and the sample (default 0.2)\n"
	"  --cooldown SECS   after a tracer exits, before the next sample (default 0.2): its\n"
	"                    detach leaves work behind (RCU callbacks, trampolines, kprobes)\n"
	"                    that would slow the sample without tracer after it\n"
	"  --modes LIST      ephtrace commands: events,top (default both)\n"
	"  --workload W      connect (the loop, default); bind: bind(127.0.0.1:0) and close,\n"
	"                    what bindsnoop traces (the connect loop never binds); syscall:\n"
	"                    getppid(), which never touches a socket: what a tracer costs every\n"
	"                    process of the machine\n"
	"  --hooks PATH      also ephtrace-hooks (make bench builds it): `events` with every BPF\n"
	"                    program returning at once, what the hooks cost with nothing done\n";

struct overhead_opts {
	struct common c;
	double duration;
	double settle;
	double cooldown;
	unsigned int rounds;
	unsigned int clients;
	bool events;
	bool top;
	enum loop_workload workload;
	const char *hooks; /* ephtrace-hooks, the reference */
};

static int overhead_args(int argc, char **argv, struct overhead_opts *o)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "settle", required_argument, NULL, OPT_SETTLE },
		{ "cooldown", required_argument, NULL, OPT_COOLDOWN },
		{ "modes", required_argument, NULL, OPT_MODES },
		{ "workload", required_argument, NULL, OPT_WORKLOAD },
		{ "hooks", required_argument, NULL, OPT_HOOKS },
		{},
	};
	int opt, r;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		r = common_opt("overhead", opt, optarg, &o->c);
		if (r == 1)
			continue;
		if (r)
			return r;
		switch (opt) {
		case OPT_DURATION:
			if (parse_double(optarg, 0.05, 600, &o->duration))
				return measure_bad("overhead", "duration", optarg);
			break;
		case OPT_SETTLE:
			if (parse_double(optarg, 0, 60, &o->settle))
				return measure_bad("overhead", "settle time", optarg);
			break;
		case OPT_COOLDOWN:
			if (parse_double(optarg, 0, 60, &o->cooldown))
				return measure_bad("overhead", "cool-down time", optarg);
			break;
		case OPT_ROUNDS:
			if (parse_uint(optarg, 1, MAX_ROUNDS, &o->rounds))
				return measure_bad("overhead", "rounds", optarg);
			break;
		case OPT_CLIENTS:
			if (parse_uint(optarg, 1, BENCH_MAX_CLIENTS, &o->clients))
				return measure_bad("overhead", "clients", optarg);
			break;
		case OPT_MODES:
			o->events = strstr(optarg, "events");
			o->top = strstr(optarg, "top");
			if (!o->events && !o->top)
				return measure_bad("overhead", "modes", optarg);
			break;
		case OPT_WORKLOAD:
			if (loop_workload_parse(optarg, &o->workload))
				return measure_bad("overhead", "workload", optarg);
			break;
		case OPT_HOOKS:
			o->hooks = optarg;
			break;
		default:
			return measure_usage("overhead", overhead_usage);
		}
	}
	return optind < argc ? measure_usage("overhead", overhead_usage) : 0;
}

/* What one sample measured (a connection: a call of the loop's workload). */
struct sample {
	double rate;	    /* connections per second */
	double cost;	    /* CPU µs per connection: the loop's threads and the tracer's */
	double wakeups;	    /* the tracer's, per connection */
	double tracer_cost; /* CPU µs per connection of the tracer's process alone */
};

static int sample(struct cond *c, struct loop *lp, const struct overhead_opts *o, struct sample *sm,
		  char *why, size_t len)
{
	struct tracer *t = NULL;
	struct loop_result res;
	uint64_t wk0 = 0, wk1 = 0;
	int err = 0;

	if (strcmp(c->tool, "off")) {
		err = cond_start(c, &t, why, len);
		if (err)
			goto out_stop;
		sleep_ns(o->settle * 1e9);
	}
	if (t)
		proc_wakeups(tracer__pid(t), &wk0);
	err = loop__run(lp, o->clients, 0, o->duration, t ? tracer__pid(t) : 0, &res);
	if (t)
		proc_wakeups(tracer__pid(t), &wk1);
	if (err) {
		snprintf(why, len, "loop: %s", strerror(-err));
		goto out_stop;
	}
	if (!res.connects) {
		snprintf(why, len, "no call completed (%s)", strerror(res.first_err));
		err = -EIO;
		goto out_stop;
	}
	if (t && !tracer__alive(t)) {
		tracer__last_err(t, why, len);
		err = -ECHILD;
		goto out_stop;
	}
	sm->rate = res.rate;
	sm->cost = (res.cpu_s + res.watch_cpu_s) * 1e6 / res.connects;
	sm->tracer_cost = res.watch_cpu_s * 1e6 / res.connects;
	sm->wakeups = wk1 > wk0 ? (double)(wk1 - wk0) / res.total_connects : 0;
out_stop:
	if (t) {
		tracer__stop(t, STOP_TIMEOUT_S);
		sleep_ns(o->cooldown * 1e9);
	}
	tracer__free(t);
	return err;
}

/* A sample without tracer; a failed one (a stall of the machine: no connection in the whole
 * window) is counted and taken again, once. */
static int off_sample(struct cond *off, struct loop *lp, const struct overhead_opts *o,
		      struct sample *sm, char *why, size_t len)
{
	if (!sample(off, lp, o, sm, why, len))
		return 0;
	if (!off->failures++)
		snprintf(off->first_failure, sizeof(off->first_failure), "%.200s", why);
	return sample(off, lp, o, sm, why, len);
}

int cmd_overhead(int argc, char **argv)
{
	struct overhead_opts o = { .duration = 0.5,
				   .settle = 0.2,
				   .cooldown = 0.2,
				   .rounds = 11,
				   .clients = 1,
				   .events = true,
				   .top = true };
	static double offs[MAX_SAMPLES], off_cost[MAX_SAMPLES];
	double med, min, max, rmed, cmed, cmin, cmax, crmed, wmed, tmed;
	struct cond *conds, *off;
	struct loop *lp = NULL;
	unsigned int nc = 0, noff = 0, i, r, b;
	char why[WHY_LEN];
	int err, ret = 1;

	common_init(&o.c);
	err = overhead_args(argc, argv, &o);
	if (err)
		return err;
	conds = calloc(MAX_CONDS, sizeof(*conds));
	if (!conds)
		return 1;
	off = &conds[nc++];
	snprintf(off->name, sizeof(off->name), "off");
	off->tool = "off";
	for (b = 0; b < o.c.nbackends; b++) {
		if (o.events)
			cond_ephtrace(&conds[nc++], &o.c, "events", o.c.backends[b], false,
				      OUT_NULL);
		if (o.top)
			cond_ephtrace(&conds[nc++], &o.c, "top", o.c.backends[b], false, OUT_NULL);
		if (o.hooks) {
			conds[nc].path = o.hooks;
			cond_ephtrace(&conds[nc], &o.c, "events", o.c.backends[b], false, OUT_NULL);
			snprintf(conds[nc].name, sizeof(conds[nc].name), "hooks only (%s)",
				 o.c.backends[b]);
			conds[nc++].tool = "hooks";
		}
	}
	if (o.c.tcpconnect)
		cond_peer(&conds[nc++], &o.c, "tcpconnect", o.c.tcpconnect, false);
	if (o.c.bindsnoop)
		cond_peer(&conds[nc++], &o.c, "bindsnoop", o.c.bindsnoop, false);

	err = bench_netns_enter() ?: loop__new(o.clients, &lp);
	if (err) {
		fprintf(stderr, "ephbench overhead: network namespace or listeners: %s\n",
			strerror(-err));
		goto out_free;
	}
	loop__set_workload(lp, o.workload);
	/* Which tracers attach here at all; this also warms the caches (BTF, binaries). */
	for (i = 1; i < nc; i++) {
		struct tracer *t = NULL;

		err = cond_start(&conds[i], &t, conds[i].why, sizeof(conds[i].why));
		conds[i].na = err;
		tracer__free(t);
		fprintf(stderr, "ephbench overhead: %s: %s%s\n", conds[i].name,
			err ? "n/a: " : "attaches", err ? conds[i].why : "");
	}
	/*
	 * Every tracer sample sits between two samples without a tracer and is compared with
	 * their mean (slow drifts of a shared machine cancel); the order turns every round.
	 */
	for (r = 0; r < o.rounds; r++) {
		struct sample before, after, on;

		err = off_sample(off, lp, &o, &before, why, sizeof(why));
		if (!err && noff < MAX_SAMPLES) {
			offs[noff] = before.rate;
			off_cost[noff++] = before.cost;
		}
		for (i = 0; !err && i < nc - 1; i++) {
			struct cond *c = &conds[1 + (i + r) % (nc - 1)];

			if (c->na)
				continue;
			/* one failure may be bad luck (it is counted); a second one ends it */
			if (sample(c, lp, &o, &on, why, sizeof(why))) {
				if (!c->failures++)
					snprintf(c->first_failure, sizeof(c->first_failure),
						 "round %u: %.200s", r + 1, why);
				if (sample(c, lp, &o, &on, why, sizeof(why))) {
					c->failures++;
					c->na = true;
					snprintf(c->why, sizeof(c->why), "round %u: %.200s", r + 1,
						 why);
					continue;
				}
			}
			err = off_sample(off, lp, &o, &after, why, sizeof(why));
			if (err)
				break;
			c->rate[c->n] = on.rate;
			c->cost[c->n] = on.cost;
			c->wakeups[c->n] = on.wakeups;
			c->tracer_cost[c->n] = on.tracer_cost;
			c->ratio[c->n] = on.rate / ((before.rate + after.rate) / 2);
			c->cost_ratio[c->n++] = on.cost / ((before.cost + after.cost) / 2);
			if (noff < MAX_SAMPLES) {
				offs[noff] = after.rate;
				off_cost[noff++] = after.cost;
			}
			before = after;
		}
		if (err) {
			fprintf(stderr, "ephbench overhead: the loop without tracer failed: %s\n",
				why);
			goto out_free;
		}
		fprintf(stderr, "ephbench overhead: round %u/%u done, off %.0f/s, %.3f us/call\n",
			r + 1, o.rounds, before.rate, before.cost);
	}
	stats(off_cost, noff, &cmed, &cmin, &cmax);
	stats(offs, noff, &med, &min, &max);
	bench_quote(why, sizeof(why), off->first_failure);
	bench_line("loop", o.c.where,
		   "workload=%s clients=%u duration=%g samples=%u rate=%.0f rate_min=%.0f "
		   "rate_max=%.0f us_per_conn=%.4f us_min=%.4f us_max=%.4f failures=%u "
		   "first_failure=\"%s\"",
		   loop_workload_name(o.workload), o.clients, o.duration, noff, med, min, max, cmed,
		   cmin, cmax, off->failures, why);
	for (i = 1; i < nc; i++) {
		struct cond *c = &conds[i];
		char q[WHY_LEN];

		if (c->na || !c->n) {
			bench_quote(q, sizeof(q), c->why);
			bench_line("overhead", o.c.where,
				   "workload=%s tool=%s mode=%s backend=%s status=na "
				   "error=\"%s\"",
				   loop_workload_name(o.workload), c->tool, c->mode ?: "-",
				   c->backend ?: "-", q);
			continue;
		}
		stats(c->rate, c->n, &rmed, &min, &max);
		stats(c->cost, c->n, &cmed, &cmin, &cmax);
		stats(c->cost_ratio, c->n, &crmed, &cmin, &cmax);
		stats(c->wakeups, c->n, &wmed, &min, &max);
		stats(c->tracer_cost, c->n, &tmed, &min, &max);
		stats(c->ratio, c->n, &med, &min, &max);
		bench_quote(q, sizeof(q), c->first_failure);
		bench_line("overhead", o.c.where,
			   "workload=%s tool=%s mode=%s backend=%s status=ok n=%u "
			   "ratio=%.4f ratio_min=%.4f ratio_max=%.4f rate=%.0f cpu_ratio=%.4f "
			   "cpu_ratio_min=%.4f cpu_ratio_max=%.4f us_per_conn=%.4f clients=%u "
			   "tracer_us_per_conn=%.4f wakeups_per_conn=%.2f duration=%g failures=%u "
			   "first_failure=\"%s\"",
			   loop_workload_name(o.workload), c->tool, c->mode ?: "-",
			   c->backend ?: "-", c->n, med, min, max, rmed, crmed, cmin, cmax, cmed,
			   o.clients, tmed, wmed, o.duration, c->failures, q);
	}
	ret = 0;
out_free:
	loop__free(lp);
	free(conds);
	return ret;
}
