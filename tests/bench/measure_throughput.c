// SPDX-License-Identifier: GPL-2.0
/*
 * `ephbench throughput` (measure.h): the highest event rate `ephtrace events --json --releases`
 * takes with no drop: more client threads of the loop until it reports dropped events, then a
 * bisection of the offered connection rate; connect() or bind() as the workload.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"

/* ---- throughput ---- */

static const char throughput_usage[] =
	"The highest event rate `ephtrace events --json --releases` takes with no drop: more\n"
	"clients until it drops, then a bisection of the offered connection rate.\n"
	"  --duration SECS   per step (default 2)\n"
	"  --clients N       most client threads to try (default 8)\n"
	"  --steps N         bisection steps once it dropped (default 5)\n"
	"  --workload W      connect (the loop) or bind (bind(0) and close: no handshake, more\n"
	"                    events per second from the same CPUs); default connect\n";

struct tp_step {
	unsigned int clients;
	double offered;	  /* connections/s asked for, 0 = unlimited */
	double conn_rate; /* connections/s made */
	double ev_rate;	  /* events/s ephtrace printed */
	uint64_t events;
	uint64_t dropped;
};

struct tp_opts {
	struct common c;
	double duration;
	unsigned int clients;
	unsigned int steps;
};

static int parse_dropped(const char *line, uint64_t *dropped)
{
	const char *p;

	if (!strstr(line, "\"event\":\"summary\""))
		return -ENOENT;
	p = strstr(line, "],\"dropped\":"); /* after the processes */
	if (!p)
		return -ENOENT;
	*dropped = strtoull(p + strlen("],\"dropped\":"), NULL, 10);
	return 0;
}

static int tp_step(const struct tp_opts *o, struct cond *c, struct loop *lp, struct tp_step *st,
		   char *why, size_t len)
{
	static char last[256 * 1024]; /* the summary names every process seen */
	struct tracer *t = NULL;
	struct loop_result res;
	uint64_t n, prev, stable_since, deadline;
	int err;

	err = cond_start(c, &t, why, len);
	if (err)
		goto out_free;
	sleep_ns(200000000);
	prev = tracer__lines(t);
	err = loop__run(lp, st->clients, st->offered, o->duration, 0, &res);
	if (err) {
		snprintf(why, len, "loop: %s", strerror(-err));
		goto out_free;
	}
	/* let it print what is still in the ring buffer (at most 3 s: other processes' events
	 * may never stop) */
	stable_since = now_ns();
	deadline = stable_since + 3000000000ull;
	for (n = tracer__lines(t); now_ns() - stable_since < 300000000ull && now_ns() < deadline;) {
		uint64_t m;

		sleep_ns(20000000);
		m = tracer__lines(t);
		if (m != n)
			stable_since = now_ns();
		n = m;
	}
	tracer__stop(t, STOP_TIMEOUT_S);
	tracer__last_line(t, last, sizeof(last));
	if (parse_dropped(last, &st->dropped)) {
		snprintf(why, len, "no summary line at the end of its output");
		err = -EIO;
		goto out_free;
	}
	st->events = n - prev;
	st->conn_rate = res.total_connects / res.total_seconds;
	st->ev_rate = st->events / res.total_seconds;
	fprintf(stderr,
		"ephbench throughput: %u clients, offered %.0f/s: %.0f calls/s, "
		"%.0f events/s, dropped %" PRIu64 "\n",
		st->clients, st->offered, st->conn_rate, st->ev_rate, st->dropped);
out_free:
	tracer__free(t);
	return err;
}

int cmd_throughput(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "steps", required_argument, NULL, OPT_STEPS },
		{ "workload", required_argument, NULL, OPT_MODES },
		{},
	};
	struct tp_opts o = { .duration = 2, .clients = 8, .steps = 5 };
	struct tp_step best = { 0 }, drop = { 0 };
	enum loop_workload wl = LOOP_CONNECT;
	const char *workload = "connect";
	struct loop *lp = NULL;
	char why[WHY_LEN] = "";
	unsigned int cl, i;
	struct cond c = { 0 };
	double lo, hi;
	int opt, err;

	common_init(&o.c);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		err = common_opt("throughput", opt, optarg, &o.c);
		if (err == 1)
			continue;
		if (err)
			return err;
		if (opt == OPT_DURATION && !parse_double(optarg, 0.1, 600, &o.duration))
			continue;
		if (opt == OPT_CLIENTS && !parse_uint(optarg, 1, BENCH_MAX_CLIENTS, &o.clients))
			continue;
		if (opt == OPT_STEPS && !parse_uint(optarg, 0, 20, &o.steps))
			continue;
		/* getppid() makes no event: not a workload for this one */
		if (opt == OPT_MODES && !loop_workload_parse(optarg, &wl) && wl != LOOP_SYSCALL) {
			workload = optarg;
			continue;
		}
		return measure_usage("throughput", throughput_usage);
	}
	if (optind < argc)
		return measure_usage("throughput", throughput_usage);
	cond_ephtrace(&c, &o.c, "events", o.c.backends[0], true, OUT_PIPE);
	err = bench_netns_enter() ?: loop__new(o.clients, &lp);
	if (err) {
		snprintf(why, sizeof(why), "network namespace or listeners: %s", strerror(-err));
		goto out;
	}
	loop__set_workload(lp, wl);
	/* more clients, as fast as they go, until it drops */
	for (cl = 1; cl <= o.clients; cl *= 2) {
		struct tp_step st = { .clients = cl };

		err = tp_step(&o, &c, lp, &st, why, sizeof(why));
		if (err)
			goto out;
		if (st.dropped) {
			drop = st;
			break;
		}
		if (st.ev_rate > best.ev_rate)
			best = st;
	}
	/* then between the best rate without drops and the first with some */
	lo = best.conn_rate;
	hi = drop.conn_rate;
	for (i = 0; drop.dropped && i < o.steps && hi > lo; i++) {
		struct tp_step st = { .clients = drop.clients, .offered = (lo + hi) / 2 };

		err = tp_step(&o, &c, lp, &st, why, sizeof(why));
		if (err)
			goto out;
		if (st.dropped) {
			hi = st.offered;
			drop = st;
		} else {
			lo = st.offered;
			if (st.ev_rate > best.ev_rate)
				best = st;
		}
	}
out:
	if (err || !best.events) {
		char q[WHY_LEN];

		bench_quote(q, sizeof(q), why[0] ? why : "no step without drops");
		bench_line("throughput", o.c.where, "backend=%s workload=%s status=na error=\"%s\"",
			   o.c.backends[0], workload, q);
	} else {
		bench_line(
			"throughput", o.c.where,
			"backend=%s workload=%s status=ok "
			"events_per_s=%.0f calls_per_s=%.0f clients=%u bound=%s "
			"drop_events_per_s=%.0f drop_clients=%u drop_offered=%.0f dropped=%" PRIu64,
			o.c.backends[0], workload, best.ev_rate, best.conn_rate, best.clients,
			drop.dropped ? "exact" : "lower", drop.ev_rate, drop.clients, drop.offered,
			drop.dropped);
	}
	loop__free(lp);
	return err ? 1 : 0;
}
