/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the commands that need a kernel (ephbench.h): what they share. measure.c holds the
 * options most commands take, the tracers compared (struct cond: ephtrace in a mode and a
 * backend, or a libbpf-tools peer) and `ephbench startup`; measure_overhead.c holds `ephbench
 * overhead`, measure_throughput.c `ephbench throughput`, measure_cost.c `ephbench memory` and
 * `ephbench progcost`.
 */
#ifndef EPHBENCH_MEASURE_H
#define EPHBENCH_MEASURE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

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

void common_init(struct common *c);
/* "ephbench CMD: bad WHAT 'VALUE'" on stderr; returns 2. */
int measure_bad(const char *cmd, const char *what, const char *value);
/* 1: taken, 0: not a common option, 2: bad value. */
int common_opt(const char *cmd, int opt, char *arg, struct common *c);
/* The usage of cmd (text, then the common options) on stderr; returns 2. */
int measure_usage(const char *cmd, const char *text);

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

void cond_ephtrace(struct cond *c, const struct common *o, const char *mode, const char *backend,
		   bool releases, enum tracer_out out);
/* A libbpf-tools tool, ready on a pty (its header line) or once it polls. */
void cond_peer(struct cond *c, const struct common *o, const char *tool, const char *path,
	       bool pty);
/* Start the tracer of c; ephtrace must say it uses the backend asked for. 0 or -errno. */
int cond_start(struct cond *c, struct tracer **t, char *why, size_t len);

#endif /* EPHBENCH_MEASURE_H */
