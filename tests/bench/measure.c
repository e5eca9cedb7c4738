// SPDX-License-Identifier: GPL-2.0
/* The commands that need a kernel: overhead, throughput, startup, memory. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ephbench.h"

#define MAX_ROUNDS 64
#define MAX_CONDS 16
#define MAX_SAMPLES (MAX_ROUNDS * MAX_CONDS)
#define MAX_BACKENDS 4
#define WHY_LEN 256
#define STOP_TIMEOUT_S 10

/* Options most commands share. */
struct common {
	const char *where;
	const char *ephtrace;
	char *backends[MAX_BACKENDS];
	unsigned int nbackends;
	const char *tcpconnect;
	const char *bindsnoop;
	double ready_timeout;
};

enum {
	OPT_WHERE = 1000,
	OPT_EPHTRACE,
	OPT_BACKEND,
	OPT_TCPCONNECT,
	OPT_BINDSNOOP,
	OPT_READY_TIMEOUT,
	OPT_DURATION,
	OPT_ROUNDS,
	OPT_CLIENTS,
	OPT_SETTLE,
	OPT_MODES,
	OPT_STEPS,
	OPT_RUNS,
	OPT_PORTS,
	OPT_DESTS,
	OPT_COOLDOWN,
	OPT_WORKLOAD,
	OPT_HOOKS,
};

/* clang-format off */
#define COMMON_LONGOPTS							\
	{ "where", required_argument, NULL, OPT_WHERE },		\
	{ "ephtrace", required_argument, NULL, OPT_EPHTRACE },		\
	{ "backend", required_argument, NULL, OPT_BACKEND },		\
	{ "tcpconnect", required_argument, NULL, OPT_TCPCONNECT },	\
	{ "bindsnoop", required_argument, NULL, OPT_BINDSNOOP },	\
	{ "ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT }
/* clang-format on */

static const char common_usage[] =
	"  --where NAME          label of the machine in the BENCH lines (default host)\n"
	"  --ephtrace PATH       ephtrace binary (default ./ephtrace)\n"
	"  --backend B[,B]       ephtrace backends (default tracepoint)\n"
	"  --tcpconnect PATH     libbpf-tools tcpconnect to compare with (default: none)\n"
	"  --bindsnoop PATH      libbpf-tools bindsnoop to compare with (default: none)\n"
	"  --ready-timeout SECS  how long a tracer may take to attach (default 30)\n";

static void common_init(struct common *c)
{
	memset(c, 0, sizeof(*c));
	c->where = "host";
	c->ephtrace = "./ephtrace";
	c->backends[0] = "tracepoint";
	c->nbackends = 1;
	c->ready_timeout = 30;
}

static int bad(const char *cmd, const char *what, const char *value)
{
	fprintf(stderr, "ephbench %s: bad %s '%s'\n", cmd, what, value ? value : "");
	return 2;
}

/* 1: taken, 0: not a common option, 2: bad value. */
static int common_opt(const char *cmd, int opt, char *arg, struct common *c)
{
	char *save = NULL, *tok;

	switch (opt) {
	case OPT_WHERE:
		c->where = arg;
		return 1;
	case OPT_EPHTRACE:
		c->ephtrace = arg;
		return 1;
	case OPT_BACKEND:
		c->nbackends = 0;
		for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (c->nbackends == MAX_BACKENDS)
				return bad(cmd, "backend list", arg);
			c->backends[c->nbackends++] = tok;
		}
		return c->nbackends ? 1 : bad(cmd, "backend list", arg);
	case OPT_TCPCONNECT:
		c->tcpconnect = arg;
		return 1;
	case OPT_BINDSNOOP:
		c->bindsnoop = arg;
		return 1;
	case OPT_READY_TIMEOUT:
		return parse_double(arg, 0.1, 600, &c->ready_timeout) ?
			       bad(cmd, "ready timeout", arg) :
			       1;
	}
	return 0;
}

static int usage(const char *cmd, const char *text)
{
	fprintf(stderr, "Usage: ephbench %s [OPTIONS]\n%s%s", cmd, text, common_usage);
	return 2;
}

/* ---- the tracers ---- */

struct cond {
	char name[48];
	const char *tool;    /* "off", "ephtrace", "tcpconnect", "bindsnoop" */
	const char *mode;    /* ephtrace: "events", "top" */
	const char *backend; /* ephtrace: the one asked for */
	const char *path;    /* "hooks": ephtrace-hooks instead of ephtrace */
	char *argv[16];
	struct tracer_spec spec;
	bool na;
	char why[WHY_LEN];
	double rate[MAX_ROUNDS];
	double ratio[MAX_ROUNDS];
	double cost[MAX_ROUNDS]; /* CPU µs per connection */
	double cost_ratio[MAX_ROUNDS];
	double wakeups[MAX_ROUNDS];	/* of the tracer, per connection */
	double tracer_cost[MAX_ROUNDS]; /* CPU µs per connection in the tracer's process */
	double startup[MAX_ROUNDS];
	unsigned int n;
	unsigned int failures; /* samples that failed (the tracer did not start or died) */
	char first_failure[WHY_LEN];
};

static void cond_ephtrace(struct cond *c, const struct common *o, const char *mode,
			  const char *backend, bool releases, enum tracer_out out)
{
	unsigned int i = 0;

	snprintf(c->name, sizeof(c->name), "ephtrace %s (%s)", mode, backend);
	c->tool = "ephtrace";
	c->mode = mode;
	c->backend = backend;
	c->argv[i++] = (char *)(c->path ? c->path : o->ephtrace);
	c->argv[i++] = (char *)mode;
	c->argv[i++] = "--json";
	if (!strcmp(mode, "top")) {
		c->argv[i++] = "-i";
		c->argv[i++] = "1";
	}
	if (releases)
		c->argv[i++] = "--releases";
	c->argv[i++] = "--backend";
	c->argv[i++] = (char *)backend;
	c->argv[i] = NULL;
	c->spec = (struct tracer_spec){ .argv = c->argv,
					.out = out,
					.ready = READY_STDERR,
					.match = "using backend",
					.timeout_s = o->ready_timeout };
}

/*
 * A libbpf-tools tool. Its stdout is fully buffered unless it is a terminal, so its header line
 * shows up only on a pty; with stdout on /dev/null (as ephtrace's), it is ready when it sleeps
 * in epoll_wait (perf_buffer__poll), which it does only once attached.
 */
static void cond_peer(struct cond *c, const struct common *o, const char *tool, const char *path,
		      bool pty)
{
	snprintf(c->name, sizeof(c->name), "%s", tool);
	c->tool = tool;
	c->argv[0] = (char *)path;
	c->argv[1] = NULL;
	c->spec = (struct tracer_spec){ .argv = c->argv,
					.out = pty ? OUT_PTY : OUT_NULL,
					.ready = pty ? READY_STDOUT : READY_POLL,
					.match = "PID",
					.timeout_s = o->ready_timeout };
}

/* ephtrace printed "using backend NAME ...": is it the one asked for? */
static int check_backend(struct cond *c, struct tracer *t, char *why, size_t len)
{
	char line[256], want[64];
	const char *p;

	if (!c->backend)
		return 0;
	tracer__ready_line(t, line, sizeof(line));
	p = strstr(line, "using backend ");
	snprintf(want, sizeof(want), "using backend %s", c->backend);
	if (p && !strncmp(p, want, strlen(want)) &&
	    (p[strlen(want)] == ' ' || p[strlen(want)] == '\0'))
		return 0;
	snprintf(why, len, "asked for %s, got: %.200s", c->backend, line);
	return -EINVAL;
}

static int start(struct cond *c, struct tracer **t, char *why, size_t len)
{
	int err = tracer__start(&c->spec, t, why, len);

	return err ?: check_backend(c, *t, why, len);
}

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
				return bad("overhead", "duration", optarg);
			break;
		case OPT_SETTLE:
			if (parse_double(optarg, 0, 60, &o->settle))
				return bad("overhead", "settle time", optarg);
			break;
		case OPT_COOLDOWN:
			if (parse_double(optarg, 0, 60, &o->cooldown))
				return bad("overhead", "cool-down time", optarg);
			break;
		case OPT_ROUNDS:
			if (parse_uint(optarg, 1, MAX_ROUNDS, &o->rounds))
				return bad("overhead", "rounds", optarg);
			break;
		case OPT_CLIENTS:
			if (parse_uint(optarg, 1, BENCH_MAX_CLIENTS, &o->clients))
				return bad("overhead", "clients", optarg);
			break;
		case OPT_MODES:
			o->events = strstr(optarg, "events");
			o->top = strstr(optarg, "top");
			if (!o->events && !o->top)
				return bad("overhead", "modes", optarg);
			break;
		case OPT_WORKLOAD:
			if (loop_workload_parse(optarg, &o->workload))
				return bad("overhead", "workload", optarg);
			break;
		case OPT_HOOKS:
			o->hooks = optarg;
			break;
		default:
			return usage("overhead", overhead_usage);
		}
	}
	return optind < argc ? usage("overhead", overhead_usage) : 0;
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
		err = start(c, &t, why, len);
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

		err = start(&conds[i], &t, conds[i].why, sizeof(conds[i].why));
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

	err = start(c, &t, why, len);
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
		return usage("throughput", throughput_usage);
	}
	if (optind < argc)
		return usage("throughput", throughput_usage);
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

/* ---- startup ---- */

static const char startup_usage[] =
	"Time from exec to attached: ephtrace's \"using backend\" line on stderr, tcpconnect's\n"
	"header line (on a pseudo-terminal). Runs alternate between the tools.\n"
	"  --runs N          per tool (default 5)\n";

int cmd_startup(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "runs", required_argument, NULL, OPT_RUNS },
		{},
	};
	struct common o;
	struct cond conds[MAX_BACKENDS + 1];
	unsigned int runs = 5, nc = 0, i, r;
	int opt, err;

	common_init(&o);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		err = common_opt("startup", opt, optarg, &o);
		if (err == 1)
			continue;
		if (err)
			return err;
		if (opt == OPT_RUNS && !parse_uint(optarg, 1, MAX_ROUNDS, &runs))
			continue;
		return usage("startup", startup_usage);
	}
	if (optind < argc)
		return usage("startup", startup_usage);
	memset(conds, 0, sizeof(conds));
	for (i = 0; i < o.nbackends; i++)
		cond_ephtrace(&conds[nc++], &o, "events", o.backends[i], false, OUT_NULL);
	if (o.tcpconnect)
		cond_peer(&conds[nc++], &o, "tcpconnect", o.tcpconnect, true);
	for (r = 0; r < runs; r++) {
		for (i = 0; i < nc; i++) {
			struct cond *c = &conds[(i + r) % nc];
			struct tracer *t = NULL;

			if (c->na)
				continue;
			if (start(c, &t, c->why, sizeof(c->why)))
				c->na = true;
			else
				c->startup[c->n++] = tracer__startup_s(t);
			tracer__free(t);
		}
	}
	for (i = 0; i < nc; i++) {
		struct cond *c = &conds[i];
		double med, min, max;
		char why[WHY_LEN];

		if (c->na) {
			bench_quote(why, sizeof(why), c->why);
			bench_line("startup", o.where, "tool=%s backend=%s status=na error=\"%s\"",
				   c->tool, c->backend ?: "-", why);
			continue;
		}
		stats(c->startup, c->n, &med, &min, &max);
		bench_line("startup", o.where,
			   "tool=%s backend=%s status=ok n=%u ms=%.1f "
			   "ms_min=%.1f ms_max=%.1f",
			   c->tool, c->backend ?: "-", c->n, med * 1e3, min * 1e3, max * 1e3);
	}
	return 0;
}

/* ---- memory ---- */

static const char memory_usage[] =
	"RSS of `ephtrace top --json -i 1` before and while a workload holds N connections\n"
	"(N ports taken by connect(), to --dests addresses 127.0.0.1.. and a port per worker\n"
	"process of the workload).\n"
	"  --ports N         connections held (default 100000)\n"
	"  --dests N         destinations (default 4)\n";

/* The ports held by processes named comm in a top snapshot line (-1: none listed). */
static int64_t snapshot_held(const char *line, const char *comm)
{
	const char *p = strstr(line, "\"processes\":[");
	char key[48];
	int64_t held = -1;

	snprintf(key, sizeof(key), "\"comm\":\"%s\",", comm);
	while (p && (p = strstr(p, key))) {
		p = strstr(p, "\"held\":");
		if (p)
			held = (held < 0 ? 0 : held) + strtoll(p + strlen("\"held\":"), NULL, 10);
	}
	return held;
}

static uint64_t snapshot_dropped(const char *line)
{
	const char *p = strrchr(line, '}');

	/* "dropped" is the last member of the snapshot */
	while (p && p > line && strncmp(p, "\"dropped\":", 10))
		p--;
	return p && p > line ? strtoull(p + 10, NULL, 10) : 0;
}

static int memory_run(const struct common *o, unsigned int ports, unsigned int dests,
		      struct tracer **tp, char *why, size_t len)
{
	uint64_t rss0, hwm0, rss, hwm, deadline, n;
	static char line[256 * 1024], max_holds[16];
	unsigned int i;
	struct holds *h = NULL;
	struct cond c = { 0 };
	double t_open;
	int64_t held = -1;
	int err;

	err = bench_netns_enter();
	if (err) {
		snprintf(why, len, "network namespace: %s", strerror(-err));
		return err;
	}
	cond_ephtrace(&c, o, "top", o->backends[0], false, OUT_PIPE);
	/* room in the kernel's table for every port: the default (65536) would count the rest
	 * as dropped, and the figure is about tracking them all */
	snprintf(max_holds, sizeof(max_holds), "%u", ports + ports / 4);
	for (i = 0; c.argv[i]; i++)
		;
	c.argv[i++] = "--max-holds";
	c.argv[i++] = max_holds;
	c.argv[i] = NULL;
	err = start(&c, tp, why, len);
	if (err)
		return err;
	/* its first snapshot: the start-up seed is done */
	for (deadline = now_ns() + 10000000000ull; !tracer__lines(*tp) && now_ns() < deadline;)
		sleep_ns(10000000);
	err = proc_rss_kb(tracer__pid(*tp), &rss0, &hwm0);
	if (err) {
		snprintf(why, len, "RSS of ephtrace: %s", strerror(-err));
		return err;
	}
	t_open = now_ns() / 1e9;
	err = holds__open(ports, dests, &h, why, len);
	if (err)
		return err;
	t_open = now_ns() / 1e9 - t_open;
	/* until a snapshot shows every port held by this process */
	for (deadline = now_ns() + 30000000000ull, n = tracer__lines(*tp); now_ns() < deadline;) {
		sleep_ns(50000000);
		if (tracer__lines(*tp) == n)
			continue;
		n = tracer__lines(*tp);
		tracer__last_line(*tp, line, sizeof(line));
		held = snapshot_held(line, "ephbench");
		if (held >= ports)
			break;
	}
	err = proc_rss_kb(tracer__pid(*tp), &rss, &hwm);
	holds__free(h);
	if (err) {
		snprintf(why, len, "RSS of ephtrace: %s", strerror(-err));
		return err;
	}
	if (held < ports) {
		snprintf(why, len, "its snapshots show %lld of the %u ports held (last line %.80s)",
			 (long long)held, ports, line);
		return -EIO;
	}
	bench_line("memory", o->where,
		   "backend=%s status=ok ports=%u dests=%u held=%lld max_holds=%s "
		   "rss_kb=%" PRIu64 " hwm_kb=%" PRIu64 " idle_rss_kb=%" PRIu64 " dropped=%" PRIu64
		   " open_s=%.1f",
		   o->backends[0], ports, dests, (long long)held, max_holds, rss, hwm, rss0,
		   snapshot_dropped(line), t_open);
	return 0;
}

int cmd_memory(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "ports", required_argument, NULL, OPT_PORTS },
		{ "dests", required_argument, NULL, OPT_DESTS },
		{},
	};
	unsigned int ports = 100000, dests = 4;
	struct tracer *t = NULL;
	char why[WHY_LEN] = "";
	struct common o;
	int opt, err;

	common_init(&o);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		err = common_opt("memory", opt, optarg, &o);
		if (err == 1)
			continue;
		if (err)
			return err;
		if (opt == OPT_PORTS && !parse_uint(optarg, 1, 1000000, &ports))
			continue;
		if (opt == OPT_DESTS && !parse_uint(optarg, 1, 250, &dests))
			continue;
		return usage("memory", memory_usage);
	}
	if (optind < argc)
		return usage("memory", memory_usage);
	err = memory_run(&o, ports, dests, &t, why, sizeof(why));
	tracer__free(t);
	if (err) {
		char q[WHY_LEN];

		bench_quote(q, sizeof(q), why);
		bench_line("memory", o.where, "backend=%s status=na ports=%u error=\"%s\"",
			   o.backends[0], ports, q);
	}
	return err ? 1 : 0;
}

/* ---- progcost ---- */

static const char progcost_usage[] =
	"What each BPF program of `ephtrace events` costs on the connect loop: with the kernel's\n"
	"run-time statistics on (BPF_ENABLE_STATS while it runs; they add two clock reads to\n"
	"every program run, included in the figures), the runs per connection and the\n"
	"nanoseconds per run of each program, and their sum per connection. One line per backend.\n"
	"  --duration SECS   the loop's measured window (default 2)\n";

#define MAX_PROGS 256

struct prog_cost {
	int fd;
	char name[BPF_OBJ_NAME_LEN];
	uint64_t cnt, ns; /* at the start of the window, then the difference */
};

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

/* The ids of the BPF programs loaded now (at most max). */
static unsigned int prog_ids(uint32_t *ids, unsigned int max)
{
	union bpf_attr a;
	unsigned int n = 0;
	uint32_t id = 0;

	for (;;) {
		memset(&a, 0, sizeof(a));
		a.start_id = id;
		if (sys_bpf(BPF_PROG_GET_NEXT_ID, &a))
			return n;
		id = a.next_id;
		if (n < max)
			ids[n++] = id;
	}
}

static int prog_info(int fd, struct bpf_prog_info *info)
{
	union bpf_attr a;

	memset(info, 0, sizeof(*info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = fd;
	a.info.info_len = sizeof(*info);
	a.info.info = (uint64_t)(uintptr_t)info;
	return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) ? -errno : 0;
}

/* The programs loaded since before[] was taken (the tracer's): fds and first readings. */
static unsigned int new_progs(const uint32_t *before, unsigned int nbefore, struct prog_cost *p,
			      unsigned int max)
{
	static uint32_t now[MAX_PROGS];
	unsigned int n = 0, i, j, nnow = prog_ids(now, MAX_PROGS);
	struct bpf_prog_info info;
	union bpf_attr a;

	for (i = 0; i < nnow && n < max; i++) {
		for (j = 0; j < nbefore && before[j] != now[i]; j++)
			;
		if (j < nbefore)
			continue;
		memset(&a, 0, sizeof(a));
		a.prog_id = now[i];
		p[n].fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
		if (p[n].fd < 0)
			continue;
		if (prog_info(p[n].fd, &info)) {
			close(p[n].fd);
			continue;
		}
		snprintf(p[n].name, sizeof(p[n].name), "%s", info.name);
		p[n].cnt = info.run_cnt;
		p[n].ns = info.run_time_ns;
		n++;
	}
	return n;
}

static int by_ns_desc(const void *a, const void *b)
{
	const struct prog_cost *x = a, *y = b;

	return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

static int progcost_run(const struct common *o, const char *backend, double duration,
			struct loop *lp, char *why, size_t len)
{
	static uint32_t before[MAX_PROGS];
	static struct prog_cost p[MAX_PROGS];
	unsigned int nbefore = prog_ids(before, MAX_PROGS), n, i;
	struct bpf_prog_info info;
	struct loop_result res;
	struct tracer *t = NULL;
	struct cond c = { 0 };
	char progs[1024] = "";
	double total = 0, runs = 0;
	size_t off = 0;
	int err;

	cond_ephtrace(&c, o, "events", backend, false, OUT_NULL);
	err = start(&c, &t, why, len);
	if (err)
		goto out;
	sleep_ns(200000000);
	n = new_progs(before, nbefore, p, MAX_PROGS);
	if (!n) {
		snprintf(why, len, "no BPF program of ephtrace found");
		err = -ENOENT;
		goto out;
	}
	err = loop__run(lp, 1, 0, duration, tracer__pid(t), &res);
	if (err || !res.connects) {
		snprintf(why, len, "loop: %s", err ? strerror(-err) : "no connection");
		err = err ?: -EIO;
		goto out_close;
	}
	/* the window is the loop's last `duration` seconds, the counts span warm-up too: per
	 * connection over every connection made while they ran */
	for (i = 0; i < n; i++) {
		if (prog_info(p[i].fd, &info))
			continue;
		p[i].cnt = info.run_cnt - p[i].cnt;
		p[i].ns = info.run_time_ns - p[i].ns;
	}
	qsort(p, n, sizeof(p[0]), by_ns_desc); /* the costliest first */
	for (i = 0; i < n; i++) {
		double rpc = (double)p[i].cnt / res.total_connects;

		if (rpc < 0.01)
			continue;
		total += (double)p[i].ns / res.total_connects;
		runs += rpc;
		if (off < sizeof(progs))
			off += snprintf(progs + off, sizeof(progs) - off, "%s%s:%.2fx%.0f",
					off ? "," : "", p[i].name, rpc,
					p[i].cnt ? (double)p[i].ns / p[i].cnt : 0.0);
	}
	bench_line("progcost", o->where,
		   "backend=%s status=ok connects=%" PRIu64 " runs_per_conn=%.2f "
		   "ns_per_conn=%.0f progs=\"%s\"",
		   backend, res.total_connects, runs, total, progs);
out_close:
	for (i = 0; i < n; i++)
		close(p[i].fd);
out:
	if (t)
		tracer__stop(t, STOP_TIMEOUT_S);
	tracer__free(t);
	return err;
}

int cmd_progcost(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "duration", required_argument, NULL, OPT_DURATION },
		{},
	};
	char why[WHY_LEN] = "", q[WHY_LEN];
	double duration = 2;
	struct loop *lp = NULL;
	union bpf_attr a;
	struct common o;
	int opt, err, stats_fd;
	unsigned int b;

	common_init(&o);
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		err = common_opt("progcost", opt, optarg, &o);
		if (err == 1)
			continue;
		if (err)
			return err;
		if (opt == OPT_DURATION && !parse_double(optarg, 0.1, 600, &duration))
			continue;
		return usage("progcost", progcost_usage);
	}
	if (optind < argc)
		return usage("progcost", progcost_usage);
	memset(&a, 0, sizeof(a));
	a.enable_stats.type = BPF_STATS_RUN_TIME;
	stats_fd = sys_bpf(BPF_ENABLE_STATS, &a);
	err = stats_fd < 0 ? -errno : bench_netns_enter() ?: loop__new(1, &lp);
	if (err)
		snprintf(why, sizeof(why), "%s: %s",
			 stats_fd < 0 ? "BPF_ENABLE_STATS" : "network namespace or listener",
			 strerror(-err));
	for (b = 0; b < o.nbackends; b++) {
		if (!err && !progcost_run(&o, o.backends[b], duration, lp, why, sizeof(why)))
			continue;
		bench_quote(q, sizeof(q), why);
		bench_line("progcost", o.where, "backend=%s status=na error=\"%s\"", o.backends[b],
			   q);
	}
	loop__free(lp);
	if (stats_fd >= 0)
		close(stats_fd);
	return 0;
}
