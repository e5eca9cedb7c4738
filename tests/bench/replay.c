// SPDX-License-Identifier: GPL-2.0
/*
 * The aggregation core without a kernel: synthetic ring-buffer records through eph_decode,
 * eph_summary__add and eph_occ__event, as `ephtrace events` and `ephtrace top` consume them.
 * Generating the records is not timed.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ephbench.h"
#include "event.h"
#include "occupancy.h"
#include "summary.h"

#define CHUNK 65536
#define NETNS 4026532100u
#define PORT_LOW 32768
#define PORT_HIGH 60999

struct live {
	uint64_t sock_id;
	uint64_t cookie;
	uint64_t since;
	uint32_t pid;
	uint32_t dest;
	uint16_t sport;
};

/* A stream of connect() assignments, their releases and a few failures. */
struct gen {
	uint64_t rng;
	uint64_t ts;
	uint64_t serial;
	struct live *live;
	unsigned int nlive;
	unsigned int cap; /* ports held at most at once */
	unsigned int pids;
	unsigned int dests;
	unsigned int fail_pm; /* failures per mille of the connects */
	uint16_t *next_port;  /* per destination */
	uint64_t n[5];	      /* generated, by type */
};

static uint64_t rnd(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static int gen_init(struct gen *g, unsigned int cap, unsigned int pids, unsigned int dests,
		    unsigned int fail_pm)
{
	unsigned int i;

	memset(g, 0, sizeof(*g));
	g->rng = 0x9e3779b97f4a7c15ull;
	g->ts = 1000000000000ull;
	g->cap = cap;
	g->pids = pids;
	g->dests = dests;
	g->fail_pm = fail_pm;
	g->live = calloc(cap, sizeof(*g->live));
	g->next_port = calloc(dests, sizeof(*g->next_port));
	if (!g->live || !g->next_port)
		return -ENOMEM;
	for (i = 0; i < dests; i++)
		g->next_port[i] = PORT_LOW + i * 7919 % (PORT_HIGH - PORT_LOW);
	return 0;
}

static void gen_free(struct gen *g)
{
	free(g->live);
	free(g->next_port);
}

static void ev_common(struct gen *g, struct eph_event *e, uint32_t pid, uint32_t dest)
{
	e->ts_ns = g->ts;
	e->cgroup_id = 4000 + pid % 32;
	e->pid = pid;
	e->tid = pid + 1;
	e->netns = NETNS;
	e->dport = 443 + dest % 4;
	e->proto = IPPROTO_TCP;
	e->family = AF_INET;
	e->backend = EPH_BACKEND_FENTRY;
	e->saddr[0] = 10;
	e->saddr[3] = 1;
	e->daddr[0] = 10;
	e->daddr[1] = 1 + dest / 65536;
	e->daddr[2] = dest / 256;
	e->daddr[3] = dest % 256;
	/* a process named client-N whose thread worker-N did it, as a thread pool would */
	snprintf(e->comm, sizeof(e->comm), "worker-%u", pid % 1000);
	snprintf(e->pcomm, sizeof(e->pcomm), "client-%u", pid % 1000);
}

static void gen_one(struct gen *g, struct eph_event *e)
{
	bool release = g->nlive == g->cap || (g->nlive > g->cap / 2 && rnd(g) % 2);

	memset(e, 0, sizeof(*e));
	g->ts += 1000; /* 1 µs apart in event time */
	if (release) {
		unsigned int i = rnd(g) % g->nlive;
		struct live l = g->live[i];

		g->live[i] = g->live[--g->nlive];
		ev_common(g, e, l.pid, l.dest);
		e->type = EPH_RELEASE;
		e->op = EPH_OP_NONE;
		e->flags = EPH_F_EPHEMERAL | EPH_F_DEST | EPH_F_SADDR | EPH_F_OWNER | EPH_F_HELD;
		e->held_ns = g->ts - l.since;
		e->sock_id = l.sock_id;
		e->cookie = l.cookie;
		e->sport = l.sport;
	} else {
		uint32_t pid = 1000 + rnd(g) % g->pids, dest = rnd(g) % g->dests;

		ev_common(g, e, pid, dest);
		e->op = EPH_OP_CONNECT;
		e->flags = EPH_F_EPHEMERAL | EPH_F_DEST | EPH_F_SADDR | EPH_F_OWNER | EPH_F_SEARCH;
		e->search_ns = 1500 + rnd(g) % 8000;
		if (rnd(g) % 1000 < g->fail_pm) {
			e->type = EPH_FAIL;
			e->err = 99; /* EADDRNOTAVAIL */
		} else {
			struct live *l = &g->live[g->nlive++];

			e->type = EPH_ASSIGN;
			e->sport = g->next_port[dest];
			g->next_port[dest] = e->sport == PORT_HIGH ? PORT_LOW : e->sport + 1;
			e->sock_id = 0xffff888100000000ull + ++g->serial * 2048;
			e->cookie = g->serial;
			*l = (struct live){ .sock_id = e->sock_id,
					    .cookie = e->cookie,
					    .since = g->ts,
					    .pid = pid,
					    .dest = dest,
					    .sport = e->sport };
		}
	}
	g->n[e->type]++;
}

/* One run: events per second of processing time. */
static int replay_run(struct gen *g, double seconds, struct eph_event *buf, double *rate)
{
	struct eph_occ_opts oo = { 0 };
	struct eph_summary *s = eph_summary__new();
	struct eph_occ *occ = eph_occ__new(&oo);
	uint64_t spent = 0, done = 0;
	int err = -ENOMEM;

	if (!s || !occ)
		goto out_free;
	g->nlive = 0; /* a new core knows none of the holds of the last run */
	err = eph_occ__set_range(occ, NETNS, PORT_LOW, PORT_HIGH, NULL);
	if (err)
		goto out_free;
	eph_occ__start(occ, g->ts);
	while (spent < seconds * 1e9) {
		uint64_t t0;
		unsigned int i;

		for (i = 0; i < CHUNK; i++)
			gen_one(g, &buf[i]);
		t0 = now_ns();
		for (i = 0; i < CHUNK && !err; i++) {
			struct eph_rec r;

			err = eph_decode(&buf[i], sizeof(buf[i]), 0, &r) ?:
				      eph_summary__add(s, &r)		 ?:
									   eph_occ__event(occ, &r);
		}
		spent += now_ns() - t0;
		done += CHUNK;
		if (err)
			goto out_free;
	}
	*rate = done / (spent / 1e9);
	if (eph_occ__dropped(occ))
		fprintf(stderr, "ephbench replay: the core dropped %llu holds\n",
			(unsigned long long)eph_occ__dropped(occ));
out_free:
	eph_occ__free(occ);
	eph_summary__free(s);
	return err;
}

/*
 * Heap bytes of the occupancy core holding `holds` ports of one process, to 4 destinations. The
 * generator's own list of what it handed out (2 x holds entries) is allocated before the first
 * count: it is the benchmark's, not the core's.
 */
static int core_memory(unsigned int holds, size_t *bytes)
{
	struct eph_occ_opts oo = { .max_ports = holds > EPH_OCC_DEFAULT_MAX_PORTS ? holds : 0 };
	struct mallinfo2 before, after;
	struct eph_occ *occ = NULL;
	struct gen g;
	unsigned int i;
	int err;

	err = gen_init(&g, 2 * holds, 1, 4, 0); /* never above half: no release */
	if (err)
		goto out_free;
	before = mallinfo2();
	occ = eph_occ__new(&oo);
	err = occ ? eph_occ__set_range(occ, NETNS, 1024, 65535, NULL) : -ENOMEM;
	for (i = 0; i < holds && !err; i++) {
		struct eph_event e;
		struct eph_rec r;

		gen_one(&g, &e);
		if (e.type != EPH_ASSIGN) {
			err = -EINVAL;
			break;
		}
		err = eph_decode(&e, sizeof(e), 0, &r) ?: eph_occ__event(occ, &r);
	}
	if (!err && eph_occ__dropped(occ))
		err = -ENOSPC;
	after = mallinfo2();
	*bytes = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
out_free:
	eph_occ__free(occ);
	gen_free(&g);
	return err;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "where", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "pids", required_argument, NULL, 'p' },
		{ "dests", required_argument, NULL, 'd' },
		{ "live", required_argument, NULL, 'l' },
		{ "fail-per-mille", required_argument, NULL, 'f' },
		{ "holds", required_argument, NULL, 'H' },
		{},
	};
	unsigned int runs = 5, pids = 200, dests = 1000, live = 20000, fail_pm = 10, holds = 100000;
	double seconds = 0.4, rates[64], med, min, max;
	const char *where = "host";
	struct eph_event *buf;
	size_t bytes;
	unsigned int i;
	struct gen g;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if ((opt == 'w' && (where = optarg)) ||
		    (opt == 's' && !parse_double(optarg, 0.01, 60, &seconds)) ||
		    (opt == 'r' && !parse_uint(optarg, 1, 64, &runs)) ||
		    (opt == 'p' && !parse_uint(optarg, 1, 1000000, &pids)) ||
		    (opt == 'd' && !parse_uint(optarg, 1, 1000000, &dests)) ||
		    (opt == 'l' && !parse_uint(optarg, 2, EPH_OCC_DEFAULT_MAX_PORTS, &live)) ||
		    (opt == 'f' && !parse_uint(optarg, 0, 1000, &fail_pm)) ||
		    (opt == 'H' && !parse_uint(optarg, 0, 1000000, &holds)))
			continue;
		fprintf(stderr,
			"Usage: ephbench replay [--where NAME] [--seconds S] [--runs N] "
			"[--pids N] [--dests N] [--live N] [--fail-per-mille N] [--holds N]\n");
		return 2;
	}
	buf = calloc(CHUNK, sizeof(*buf));
	if (!buf || gen_init(&g, live, pids, dests, fail_pm)) {
		fprintf(stderr, "ephbench replay: out of memory\n");
		return 1;
	}
	for (i = 0; i < runs; i++) {
		err = replay_run(&g, seconds, buf, &rates[i]);
		if (err) {
			fprintf(stderr, "ephbench replay: %s\n", strerror(-err));
			break;
		}
	}
	if (!err) {
		stats(rates, runs, &med, &min, &max);
		bench_line("replay", where,
			   "status=ok n=%u events_per_s=%.0f min=%.0f max=%.0f "
			   "pids=%u dests=%u live=%u fail_per_mille=%u assign=%llu release=%llu "
			   "fail=%llu",
			   runs, med, min, max, pids, dests, live, fail_pm,
			   (unsigned long long)g.n[EPH_ASSIGN],
			   (unsigned long long)g.n[EPH_RELEASE], (unsigned long long)g.n[EPH_FAIL]);
		err = holds ? core_memory(holds, &bytes) : 0; /* --holds 0: skip it */
		if (holds && err)
			bench_line("corememory", where, "status=na holds=%u error=\"%s\"", holds,
				   strerror(-err));
		else if (holds)
			bench_line("corememory", where, "status=ok holds=%u bytes=%zu", holds,
				   bytes);
	}
	gen_free(&g);
	free(buf);
	return err ? 1 : 0;
}
