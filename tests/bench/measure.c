// SPDX-License-Identifier: GPL-2.0
/*
 * The commands that need a kernel (overhead, throughput, startup, memory, progcost; measure.h):
 * the options most of them share, the tracers they compare (ephtrace in a mode and a backend,
 * libbpf-tools tcpconnect and bindsnoop), started and checked; and `ephbench startup`. The
 * other commands are in measure_overhead.c, measure_throughput.c and measure_cost.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "measure.h"

static const char common_usage[] =
	"  --where NAME          label of the machine in the BENCH lines (default host)\n"
	"  --ephtrace PATH       ephtrace binary (default ./ephtrace)\n"
	"  --backend B[,B]       ephtrace backends (default tracepoint)\n"
	"  --tcpconnect PATH     libbpf-tools tcpconnect to compare with (default: none)\n"
	"  --bindsnoop PATH      libbpf-tools bindsnoop to compare with (default: none)\n"
	"  --ready-timeout SECS  how long a tracer may take to attach (default 30)\n";

void common_init(struct common *c)
{
	memset(c, 0, sizeof(*c));
	c->where = "host";
	c->ephtrace = "./ephtrace";
	c->backends[0] = "tracepoint";
	c->nbackends = 1;
	c->ready_timeout = 30;
}

int measure_bad(const char *cmd, const char *what, const char *value)
{
	fprintf(stderr, "ephbench %s: bad %s '%s'\n", cmd, what, value ? value : "");
	return 2;
}

/* 1: taken, 0: not a common option, 2: bad value. */
int common_opt(const char *cmd, int opt, char *arg, struct common *c)
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
				return measure_bad(cmd, "backend list", arg);
			c->backends[c->nbackends++] = tok;
		}
		return c->nbackends ? 1 : measure_bad(cmd, "backend list", arg);
	case OPT_TCPCONNECT:
		c->tcpconnect = arg;
		return 1;
	case OPT_BINDSNOOP:
		c->bindsnoop = arg;
		return 1;
	case OPT_READY_TIMEOUT:
		return parse_double(arg, 0.1, 600, &c->ready_timeout) ?
			       measure_bad(cmd, "ready timeout", arg) :
			       1;
	}
	return 0;
}

int measure_usage(const char *cmd, const char *text)
{
	fprintf(stderr, "Usage: ephbench %s [OPTIONS]\n%s%s", cmd, text, common_usage);
	return 2;
}

void cond_ephtrace(struct cond *c, const struct common *o, const char *mode, const char *backend,
		   bool releases, enum tracer_out out)
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
void cond_peer(struct cond *c, const struct common *o, const char *tool, const char *path, bool pty)
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

int cond_start(struct cond *c, struct tracer **t, char *why, size_t len)
{
	int err = tracer__start(&c->spec, t, why, len);

	return err ?: check_backend(c, *t, why, len);
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
		return measure_usage("startup", startup_usage);
	}
	if (optind < argc)
		return measure_usage("startup", startup_usage);
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
			if (cond_start(c, &t, c->why, sizeof(c->why)))
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
