// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace serve: a Prometheus endpoint (libmicrohttpd) over the kernel's counters and
 * histograms, the ring buffer's per-process counts and the port range of every netns.
 *
 * Three threads: the main one (the event loop) drains the ring buffer into the tracker, applies
 * what the tracker's worker found, and shuts down HTTP connections past their request
 * deadline; the tracker's worker (tracker.h) dumps sock_diag in every namespace, walks /proc
 * for the owners of new sockets and the cgroups of new pids, and checks which processes
 * exited, all without the lock; libmicrohttpd's one serves the requests, one at a time,
 * reading the BPF maps itself (they are only system calls on map fds) and what the main thread
 * keeps under `lock`. The lock is only held for work in memory, so neither the event loop (its
 * heartbeat is /healthz) nor a scrape ever waits for a resync.
 *
 * This file: the options, the listener and the event loop. A scrape is gathered in
 * serve_metrics.c, the requests are answered in serve_http.c; serve_int.h has what they share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "cmdline.h"
#include "commands.h"
#include "event.h"
#include "httplimit.h"
#include "metrics.h"
#include "msg.h"
#include "serve_int.h"
#include "tracker.h"

/* clang-format off */
static const char usage[] =
	"Usage: ephtrace serve [OPTIONS]\n"
	"Serve Prometheus metrics over HTTP: port assignments and failures, port search and hold\n"
	"time histograms, ports held and failures per process name and container, usable ports per\n"
	"network namespace.\n"
	"GET /metrics (text 0.0.4, or OpenMetrics 1.0 when Accept asks for\n"
	"application/openmetrics-text) and GET /healthz.\n"
	"\n"
	"  -l, --listen ADDR:PORT  where to listen (default " SERVE_DEFAULT_LISTEN "; [::1]:PORT\n"
	"                       for IPv6; port 0 picks a free one). 10099 follows Prometheus's\n"
	"                       exporter port registry (the 9100-9999 block is full).\n"
	"      --top N          at most N series per process/destination table (default 20);\n"
	"                       the rest are counted in ephtrace_series_truncated\n"
	"      --pid-labels     label process series and findings by pid too (debugging: a series\n"
	"                       per pid comes and goes with it); by default a process is its comm\n"
	"                       and container, its pids summed, exited ones' failures kept\n"
	"      --bpf-stats      turn on BPF run-time stats while serving (as the sysctl\n"
	"                       kernel.bpf_stats_enabled=1) for ephtrace_bpf_program_* metrics\n"
	EPH_NODE_USAGE
	EPH_LOADER_USAGE
	EPH_HELP_USAGE
	"\n"
	"EXAMPLES:\n"
	"  ephtrace serve                          # http://127.0.0.1:10099/metrics\n"
	"  ephtrace serve --listen 0.0.0.0:10099   # every interface (mind who can reach it)\n"
	"  ephtrace serve --top 50 --backend tracepoint\n";

enum {
	OPT_TOP = 1000,
	OPT_BPF_STATS,
	OPT_PID_LABELS
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "bpf-stats", no_argument, NULL, OPT_BPF_STATS },
	{ "pid-labels", no_argument, NULL, OPT_PID_LABELS },
	EPH_HELP_LONGOPTS,
	EPH_LOADER_LONGOPTS,
	EPH_NODE_LONGOPTS,
	{},
};
/* clang-format on */

struct serve_opts {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned int top;
	bool bpf_stats;
	bool pid_labels;
};

/* "127.0.0.1:10099", "[::1]:10099" */
static int parse_listen(const char *s, struct serve_opts *o)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&o->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&o->addr;
	const char *colon = strrchr(s, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t n;
	uint64_t port;

	if (!colon || colon == s || eph_parse_u64(colon + 1, 0, 65535, &port))
		return -EINVAL;
	n = colon - s;
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(&o->addr, 0, sizeof(o->addr));
	if (host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		o->addrlen = sizeof(*in6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		return -EINVAL;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(port);
	o->addrlen = sizeof(*in4);
	return 0;
}

/* One of serve's own options: 1 = taken, 0 = not one of them, 2 = bad value (printed). */
static int serve_opt(void *ctx, int opt, const char *arg, char **argv)
{
	struct serve_opts *o = ctx;
	uint64_t v;

	(void)argv;
	switch (opt) {
	case 'l':
		if (parse_listen(arg, o))
			return eph_bad_value("serve", "listen address", arg,
					     "IPV4:PORT or [IPV6]:PORT, numeric");
		return 1;
	case OPT_TOP:
		if (eph_parse_u64(arg, 1, 100000, &v))
			return eph_bad_value("serve", "top", arg, "a number from 1 to 100000");
		o->top = v;
		return 1;
	case OPT_BPF_STATS:
		o->bpf_stats = true;
		return 1;
	case OPT_PID_LABELS:
		o->pid_labels = true;
		return 1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct serve_opts *o, struct eph_loader_opts *lo)
{
	const struct eph_cmdline cl = {
		.cmd = "serve",
		.usage = usage,
		.optstring = ":l:vh",
		.longopts = longopts,
		.lo = lo,
		.node_root = true,
		.opt = serve_opt,
		.ctx = o,
	};

	return eph_cmdline_parse(&cl, argc, argv);
}

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in4->sin_port));
	}
	return buf;
}

/* Bound before BPF is loaded, so that a taken port fails fast and says so. */
static int open_listener(struct serve_opts *o)
{
	char where[64];
	int fd, one = 1, err;

	fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out_err;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (o->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&o->addr, o->addrlen) || listen(fd, SERVE_BACKLOG))
		goto out_close;
	o->addrlen = sizeof(o->addr);
	if (getsockname(fd, (struct sockaddr *)&o->addr, &o->addrlen)) /* the port, if 0 */
		goto out_close;
	return fd;

out_close:
	err = errno;
	close(fd);
	errno = err;
out_err:
	eph_err("cannot listen on %s: %s", addr_text(&o->addr, where, sizeof(where)),
		strerror(errno));
	return -1;
}

/* ---- the event loop's side ---- */

static int on_record(void *ctx, const void *data, size_t size)
{
	struct serve *s = ctx;
	struct eph_rec r;

	if (eph_decode(data, size, s->t.o.mono_to_wall, &r)) {
		s->bad_records++; /* only this thread touches it */
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	eph_tracker__event(&s->t, &r); /* the failure series too (eph_occ__count_series) */
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* The per-process failures waiting for their process's container, given it where the tracker
 * knows it now, or without one for a process gone or waiting too long (under the lock). 0 or
 * -ENOMEM. Processes that exited and hold nothing go with the tracker's prune. */
int resolve_procs(struct serve *s)
{
	return eph_occ__settle_series(s->t.occ, eph_now_ns());
}

/* The tracker's housekeeping (tick) or the worker's result alone: in memory, under the lock,
 * after what the ring buffer holds (events older than what is applied). 0, or -errno said. */
static int tracker_turn(struct serve *s, bool tick)
{
	int err;

	pthread_mutex_lock(&s->lock);
	if (tick)
		s->t.o.mono_to_wall = eph_mono_to_wall_ns();
	pthread_mutex_unlock(&s->lock);
	err = eph_loader__poll(s->l, 0);
	pthread_mutex_lock(&s->lock);
	if (err >= 0)
		err = tick ? eph_tracker__tick(&s->t, eph_now_ns()) :
			     eph_tracker__poll(&s->t, eph_now_ns());
	if (err >= 0) /* what the worker found may name the containers of new pids */
		err = resolve_procs(s);
	pthread_mutex_unlock(&s->lock);
	if (err)
		eph_err("%s", strerror(-err));
	return err;
}

static int event_loop(struct serve *s)
{
	uint64_t now = eph_now_ms(), next_tick = now + SERVE_TICK_MS;
	int err;

	while (!eph_exiting) {
		err = eph_loader__poll(s->l, 100);
		if (err == -EINTR)
			break;
		if (err < 0) {
			eph_err("reading the ring buffer failed: %s", strerror(-err));
			return 1;
		}
		now = eph_now_ms();
		atomic_store(&s->heartbeat_ms, now);
		eph_httplimit__expire(s->hl, now);
		if (now < next_tick && eph_tracker__pending(&s->t)) { /* the worker's, at once */
			err = tracker_turn(s, false);
			if (err)
				return 1;
		}
		if (now >= next_tick) {
			if (tracker_turn(s, true))
				return 1;
			next_tick = eph_now_ms() + SERVE_TICK_MS;
		}
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct eph_loader_opts lo = EPH_LOADER_OPTS_INIT;
	struct serve_opts o = { .top = SERVE_DEFAULT_TOP };
	struct serve s = { .stats_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct MHD_Daemon *d = NULL;
	struct eph_httplimit_stats hs;
	char where[64];
	int ret, fd, err;

	parse_listen(SERVE_DEFAULT_LISTEN, &o);
	ret = parse_args(argc, argv, &o, &lo);
	if (ret >= 0)
		return ret;
	s.top = o.top;
	s.pid_labels = o.pid_labels;
	s.procs = eph_proc_counts__new(SERVE_MAX_PROCS, o.pid_labels);
	s.hl = eph_httplimit__new(
		&(struct eph_httplimit_opts){ .max_conns = SERVE_MAX_CONNECTIONS,
					      .max_per_addr = SERVE_MAX_PER_IP,
					      .slots = SERVE_HARD_CONNECTIONS,
					      .deadline_ms = SERVE_REQUEST_DEADLINE_S * 1000ULL });
	if (!s.procs || !s.hl) {
		eph_err("%s", strerror(errno));
		ret = 1;
		goto out_free;
	}
	fd = open_listener(&o);
	if (fd < 0) {
		ret = 1;
		goto out_free;
	}
	lo.seeds = true;
	lo.map_reads = true;
	ret = eph_start(&lo, on_record, &s, &s.l);
	if (ret)
		goto out_close;
	s.backend = eph_backend_name(eph_loader__backend(s.l));
	if (o.bpf_stats) {
		s.stats_fd = eph_loader__enable_stats();
		if (s.stats_fd < 0)
			eph_err("cannot turn BPF run-time stats on: %s (needs CAP_SYS_ADMIN); going "
				"on without them",
				strerror(-s.stats_fd));
	}
	/* attached first, then the sockets that exist already: nothing falls in between */
	err = eph_tracker__init(&s.t,
				&(struct eph_tracker_opts){ .resync_ms = SERVE_RESYNC_MS,
							    .mono_to_wall = eph_mono_to_wall_ns(),
							    .warn = true,
							    .verbose = lo.verbose,
							    .log = lo.verbose,
							    .loader = s.l });
	if (err) {
		eph_err("cannot read the sockets of any namespace: %s", strerror(-err));
		ret = 1;
		goto out_close;
	}
	eph_occ__count_series(s.t.occ, s.procs);
	err = eph_tracker__start_worker(&s.t);
	if (err) {
		eph_err("cannot start the resync thread: %s", strerror(-err));
		ret = 1;
		goto out_close;
	}
	atomic_store(&s.heartbeat_ms, eph_now_ms());
	d = start_http(&s, fd, lo.verbose);
	if (!d) {
		eph_err("cannot start the HTTP server on %s",
			addr_text(&o.addr, where, sizeof(where)));
		ret = 1;
		goto out_close;
	}
	fd = -1; /* the daemon owns it now */
	eph_note("listening on http://%s/metrics", addr_text(&o.addr, where, sizeof(where)));
	ret = event_loop(&s);
	MHD_stop_daemon(d);
	if (s.bad_records)
		eph_note("%llu malformed records ignored", (unsigned long long)s.bad_records);
	eph_httplimit__stats(s.hl, &hs);
	if (hs.evicted || hs.expired || hs.untracked)
		eph_note("HTTP connections shut down: %llu to make room, %llu at the %d s request "
			 "deadline (%llu beyond the table)",
			 (unsigned long long)hs.evicted, (unsigned long long)hs.expired,
			 SERVE_REQUEST_DEADLINE_S, (unsigned long long)hs.untracked);
out_close:
	if (fd >= 0)
		close(fd);
out_free:
	if (s.stats_fd >= 0)
		close(s.stats_fd);
	eph_loader__free(s.l);
	eph_proc_counts__free(s.procs);
	eph_httplimit__free(s.hl);
	if (s.t.occ)
		eph_tracker__fini(&s.t);
	return ret;
}
