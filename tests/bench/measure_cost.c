// SPDX-License-Identifier: GPL-2.0
/*
 * What ephtrace costs in memory and per BPF program (measure.h): `ephbench memory` (the RSS of
 * `ephtrace top` before and while a workload holds N connections to M destinations, and what
 * its snapshot said it held and dropped) and `ephbench progcost` (the runs per connection and
 * the nanoseconds per run of each BPF program of `ephtrace events` on the connect loop, from
 * the kernel's run-time statistics, read through bpf()).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "measure.h"

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
	err = cond_start(&c, tp, why, len);
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
		return measure_usage("memory", memory_usage);
	}
	if (optind < argc)
		return measure_usage("memory", memory_usage);
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
	err = cond_start(&c, &t, why, len);
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
		return measure_usage("progcost", progcost_usage);
	}
	if (optind < argc)
		return measure_usage("progcost", progcost_usage);
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
