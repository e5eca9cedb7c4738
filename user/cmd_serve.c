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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "commands.h"
#include "event.h"
#include "httplimit.h"
#include "findings.h"
#include "metrics.h"
#include "tracker.h"
#include "netns.h"

/*
 * Default port: 10099. Prometheus keeps a registry of exporter ports (the wiki page "Default
 * port allocations"); its 9100-9999 block is fully allocated since 2023 and new exporters
 * are given ports from 10000 on. 10099 is not claimed there as far as we could check; it has
 * to be registered before a release.
 */
#define SERVE_DEFAULT_LISTEN "127.0.0.1:10099"
#define SERVE_DEFAULT_TOP 20
#define SERVE_MAX_PROCS 16384 /* processes counted from events at once */
#define SERVE_PRUNE_MS 10000  /* forget exited processes that hold nothing */
#define SERVE_TICK_MS 1000    /* occupancy housekeeping (exited processes, resync when due) */
#define SERVE_RESYNC_MS 5000  /* sock_diag reconciliation of the ports held */
#define SERVE_STALE_MS 5000   /* /healthz fails when the event loop stalls this long */
/*
 * Limits for a hostile network (slowloris, floods, huge headers); README, "ephtrace serve",
 * says what a peer can and cannot do and what tests/host/httpabuse.py measured.
 * - A new connection is always let in. When its address then has more than SERVE_MAX_PER_IP
 *   open connections, its connection that has waited longest for an answer is shut down; when
 *   everyone has more than SERVE_MAX_CONNECTIONS, the longest waiting one of the address with
 *   the most (httplimit.h). With plain caps (libmicrohttpd's), 4 addresses holding 16 slow
 *   connections each locked every scraper out, and 16 from the scraper's own address did too.
 * - SERVE_HARD_*: libmicrohttpd's own caps, above those, only bound what is accepted before
 *   the connections shut down are closed (at SERVE_HARD_CONNECTIONS it stops calling accept(),
 *   the rest waits in the listen backlog; above SERVE_HARD_PER_IP it closes the newcomer).
 * - SERVE_IDLE_TIMEOUT_S is libmicrohttpd's, and every byte received resets it: a peer that
 *   trickles one header byte every few seconds is never idle (0.9.75 has no request deadline).
 *   SERVE_REQUEST_DEADLINE_S bounds the whole wait, from the connect or the previous answer.
 * - SERVE_CONN_MEMORY: libmicrohttpd's pool per connection; the request line and headers, and
 *   the bookkeeping of each header, must fit (else 431: about 16100 bytes, or ~300 headers).
 */
#define SERVE_MAX_CONNECTIONS 64
#define SERVE_MAX_PER_IP 16
#define SERVE_HARD_CONNECTIONS 256
#define SERVE_HARD_PER_IP 32
#define SERVE_IDLE_TIMEOUT_S 10
#define SERVE_REQUEST_DEADLINE_S 15
#define SERVE_CONN_MEMORY 16384
#define SERVE_BACKLOG 1024 /* a full queue drops SYNs: a scraper's connect would wait 1 s */

/* clang-format off */
static const char usage[] =
	"Usage: ephtrace serve [OPTIONS]\n"
	"Serve Prometheus metrics over HTTP: port assignments and failures, port search and hold\n"
	"time histograms, ports held per process, usable ports per network namespace.\n"
	"GET /metrics (text 0.0.4, or OpenMetrics 1.0 when Accept asks for\n"
	"application/openmetrics-text) and GET /healthz.\n"
	"\n"
	"  -l, --listen ADDR:PORT  where to listen (default " SERVE_DEFAULT_LISTEN "; [::1]:PORT\n"
	"                       for IPv6; port 0 picks a free one). 10099 follows Prometheus's\n"
	"                       exporter port registry (the 9100-9999 block is full).\n"
	"      --top N          at most N series per process/destination table (default 20);\n"
	"                       the rest are counted in ephtrace_series_truncated\n"
	"      --bpf-stats      turn on BPF run-time stats while serving (as the sysctl\n"
	"                       kernel.bpf_stats_enabled=1) for ephtrace_bpf_program_* metrics\n"
	EPH_NODE_USAGE
	EPH_LOADER_USAGE
	"  -h, --help           this text\n"
	"\n"
	"EXAMPLES:\n"
	"  ephtrace serve                          # http://127.0.0.1:10099/metrics\n"
	"  ephtrace serve --listen 0.0.0.0:10099   # every interface (mind who can reach it)\n"
	"  ephtrace serve --top 50 --backend tracepoint\n";
/* clang-format on */

enum {
	OPT_TOP = 1000,
	OPT_BPF_STATS
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "bpf-stats", no_argument, NULL, OPT_BPF_STATS },
	{ "help", no_argument, NULL, 'h' },
	EPH_LOADER_LONGOPTS,
	EPH_NODE_LONGOPTS,
	{},
};

struct serve_opts {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned int top;
	bool bpf_stats;
};

struct serve {
	struct eph_loader *l;
	struct eph_httplimit *hl; /* connections to the HTTP endpoint */
	const char *backend;
	unsigned int top;
	int stats_fd;		       /* BPF_ENABLE_STATS, or -1 */
	uint64_t bad_records;	       /* malformed ring-buffer records (event loop only) */
	_Atomic uint64_t heartbeat_ms; /* last turn of the event loop */
	pthread_mutex_t lock;	       /* protects what follows */
	struct eph_proc_counts *procs; /* failures by process and errno */
	struct eph_tracker t;	       /* ports held: destinations, processes, ranges */
	int err;		       /* of the event callback (-ENOMEM) */
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

static int parse_args(int argc, char **argv, struct serve_opts *o, struct eph_loader_opts *lo)
{
	uint64_t v;
	int opt;

	opterr = 0;
	optind = 0; /* glibc: a full restart, also of a cluster left half read */
	while ((opt = getopt_long(argc, argv, ":l:vh", longopts, NULL)) != -1) {
		int taken = eph_loader_opt("serve", opt, optarg, lo) ?:
			    eph_node_opt("serve", opt, optarg);

		if (taken == 1)
			continue;
		if (taken)
			return taken;
		switch (opt) {
		case 'l':
			if (parse_listen(optarg, o))
				return eph_bad_value("serve", "listen address", optarg,
						     "IPV4:PORT or [IPV6]:PORT, numeric");
			break;
		case OPT_TOP:
			if (eph_parse_u64(optarg, 1, 100000, &v))
				return eph_bad_value("serve", "top", optarg,
						     "a number from 1 to 100000");
			o->top = v;
			break;
		case OPT_BPF_STATS:
			o->bpf_stats = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return eph_bad_option("serve", opt, argv);
		}
	}
	if (optind < argc)
		return eph_bad_arg("serve", argv[optind]);
	return -1;
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
	fprintf(stderr, "ephtrace serve: cannot listen on %s: %s\n",
		addr_text(&o->addr, where, sizeof(where)), strerror(errno));
	return -1;
}

/* ---- the event loop's side ---- */

static int on_record(void *ctx, const void *data, size_t size)
{
	struct serve *s = ctx;
	struct eph_rec r;
	int err;

	if (eph_decode(data, size, s->t.o.mono_to_wall, &r)) {
		s->bad_records++; /* only this thread touches it */
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	err = eph_proc_counts__add(s->procs, &r);
	if (err)
		s->err = err;
	eph_tracker__event(&s->t, &r);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* The pids of the per-process counts, and which of them are gone: listed under the lock,
 * looked up (kill(pid, 0)) without it. */
struct pid_list {
	uint32_t *v;
	size_t n, cap;
	bool listing; /* listing the pids, else answering from the gone ones (sorted) */
};

static int cmp_pid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool pid_alive(uint32_t pid, void *ctx)
{
	struct pid_list *l = ctx;

	if (!l->listing)
		return !l->n || !bsearch(&pid, l->v, l->n, sizeof(pid), cmp_pid);
	/* pid 0: events in interrupt context; kill(0, ...) would mean our process group */
	if (pid && !eph_grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v)))
		l->v[l->n++] = pid;
	return true;
}

/* Forget the exited processes of the per-process counts that hold nothing. Returns the event
 * callback's error (-ENOMEM), or 0. */
static int prune_procs(struct serve *s)
{
	struct pid_list l = { .listing = true };
	size_t i, k = 0;
	int err;

	pthread_mutex_lock(&s->lock);
	eph_proc_counts__prune(s->procs, pid_alive, &l);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < l.n; i++)
		if (kill(l.v[i], 0) && errno == ESRCH)
			l.v[k++] = l.v[i];
	l.n = k;
	l.listing = false;
	qsort(l.v, l.n, sizeof(*l.v), cmp_pid);
	pthread_mutex_lock(&s->lock);
	if (l.n)
		eph_proc_counts__prune(s->procs, pid_alive, &l);
	err = s->err;
	pthread_mutex_unlock(&s->lock);
	free(l.v);
	return err;
}

/* ---- the HTTP side ---- */

struct vec {
	void *v;
	size_t n, cap, sz;
};

static void *vec_push(struct vec *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		void *v = reallocarray(a->v, cap, a->sz);

		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	return memset((char *)a->v + a->n++ * a->sz, 0, a->sz);
}

static int add_stat(void *ctx, const void *key, uint64_t value)
{
	struct eph_metrics_stat *e = vec_push(ctx);

	if (!e)
		return -ENOMEM;
	memcpy(&e->key, key, sizeof(e->key));
	e->value = value;
	return 0;
}

static int add_hist(void *ctx, const void *key, uint64_t value)
{
	int err = eph_hists__add(ctx, key, value);

	return err == -EINVAL ? 0 : err; /* a key from a newer BPF object: skip it */
}

static int add_prog(void *ctx, const char *name, uint64_t run_time_ns, uint64_t run_cnt)
{
	struct eph_metrics_prog *e = vec_push(ctx);

	if (!e)
		return -ENOMEM;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->run_time_ns = run_time_ns;
	e->run_cnt = run_cnt;
	return 0;
}

static bool sysctl_bpf_stats_on(void)
{
	char c = '0';
	int fd = open("/proc/sys/kernel/bpf_stats_enabled", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c == '1';
}

/* Program rows only while stats are on or were on (a zero would read as "free"). */
static int collect_progs(struct serve *s, struct vec *progs)
{
	const struct eph_metrics_prog *p;
	bool on = s->stats_fd >= 0 || sysctl_bpf_stats_on();
	size_t i;
	int err;

	err = eph_loader__prog_stats(s->l, add_prog, progs);
	if (err)
		return err;
	for (i = 0, p = progs->v; !on && i < progs->n; i++)
		on = p[i].run_cnt || p[i].run_time_ns;
	if (!on)
		progs->n = 0;
	return 0;
}

/* The occupancy tracker's bind scopes as metric rows (the ports held, what the model says is
 * left, and the failures counted since the scope is tracked). */
static int scope_metrics(const struct eph_occ_rows *rows, struct eph_metrics_input *in,
			 struct eph_metrics_scope **scopes)
{
	size_t i;

	*scopes = calloc(rows->nscopes + 1, sizeof(**scopes));
	if (!*scopes)
		return -ENOMEM;
	for (i = 0; i < rows->nscopes; i++) {
		const struct eph_occ_scope_row *r = &rows->scopes[i];
		struct eph_metrics_scope *m = &(*scopes)[i];

		m->netns = r->key.netns;
		m->proto = r->key.proto;
		m->family = r->key.family;
		memcpy(m->addr, r->key.addr, r->key.family == AF_INET ? 4 : 16);
		m->held = r->st.held;
		m->ports_left = r->st.ports_left;
		m->utilization = r->st.utilization;
		m->fail_inuse = r->fail_inuse;
		m->fail_again = r->fail_again;
		m->ct = r->ct;
	}
	in->scopes = *scopes;
	in->nscopes = rows->nscopes;
	return 0;
}

/* The occupancy tracker's rows as metric rows: destinations, namespaces with a known range,
 * and the ports each known process holds (the unknown owner of TIME_WAIT found at start has
 * no pid to label it with: it counts in the destinations, not in a process series). */
static int occ_metrics(const struct eph_occ_rows *rows, struct eph_metrics_input *in,
		       struct eph_metrics_dest **dests, struct eph_metrics_proc **procs,
		       struct eph_metrics_netns **netns)
{
	size_t i, alen;

	*dests = calloc(rows->ndests + 1, sizeof(**dests));
	*procs = calloc(rows->nprocs + 1, sizeof(**procs));
	*netns = calloc(rows->nnetns + 1, sizeof(**netns));
	if (!*dests || !*procs || !*netns)
		return -ENOMEM;
	for (i = 0; i < rows->ndests; i++) {
		const struct eph_occ_dest_row *r = &rows->dests[i];
		struct eph_metrics_dest *d = &(*dests)[in->ndests++];

		alen = r->key.family == AF_INET ? 4 : 16;
		d->netns = r->key.netns;
		d->proto = r->key.proto;
		d->family = r->key.family;
		d->dport = r->key.dport;
		memcpy(d->saddr, r->key.saddr, alen);
		memcpy(d->daddr, r->key.daddr, alen);
		d->held = r->st.held;
		d->ports_left = r->st.ports_left;
		d->utilization = r->st.utilization;
		d->exhaust_in_s = r->st.exhaust_in_s;
		d->failures = r->st.failures;
		d->ct = r->ct;
	}
	for (i = 0; i < rows->nprocs; i++) {
		const struct eph_occ_proc_row *r = &rows->procs[i];
		struct eph_metrics_proc *p;

		if (!r->pid)
			continue;
		p = &(*procs)[in->nprocs++];
		p->pid = r->pid;
		memcpy(p->comm, r->comm, EPH_COMM_LEN);
		p->held = r->st.held;
		p->ct = r->ct;
	}
	for (i = 0; i < rows->nnetns; i++) {
		if (!rows->netns[i].have_range)
			continue; /* absent rather than wrong */
		(*netns)[in->nnetns].netns = rows->netns[i].netns;
		(*netns)[in->nnetns].ct = rows->netns[i].ct;
		(*netns)[in->nnetns++].usable = rows->netns[i].usable;
	}
	in->dests = *dests;
	in->procs = *procs;
	in->netns = *netns;
	return 0;
}

/* The findings as gauge rows (their strings live as long as fs). */
static int finding_rows(const struct eph_findings *fs, struct eph_metrics_finding **out)
{
	size_t i;

	*out = calloc(fs->n + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < fs->n; i++) {
		const struct eph_finding *f = &fs->f[i];
		struct eph_metrics_finding *m = &(*out)[i];
		char a[64];

		m->kind = eph_find_kind_name(f->kind);
		m->severity = eph_find_severity_name(f->severity);
		m->netns = f->netns;
		m->pid = f->who.pid;
		memcpy(m->comm, f->who.comm, sizeof(m->comm));
		m->ct = eph_container__none(&f->who.ct) ? NULL : &f->who.ct;
		if (f->has_dest && !eph_addr_str(f->dest.family, f->dest.daddr, a, sizeof(a)))
			snprintf(m->target, sizeof(m->target),
				 f->dest.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
				 f->dest.dport);
		else if (f->kind == EPH_FIND_FIXED_PORT_CONFLICT)
			snprintf(m->target, sizeof(m->target), "%s port %u",
				 eph_proto_name(f->proto), f->port);
	}
	return 0;
}

static int build_metrics(struct serve *s, enum eph_metrics_format fmt, struct strbuf *sb)
{
	struct vec stats = { .sz = sizeof(struct eph_metrics_stat) };
	struct vec progs = { .sz = sizeof(struct eph_metrics_prog) };
	struct eph_metrics_proc *procs = NULL, *held = NULL;
	struct eph_metrics_proc_fail *fails = NULL;
	struct eph_metrics_netns *netns = NULL;
	struct eph_metrics_dest *dests = NULL;
	struct eph_metrics_scope *scopes = NULL;
	struct eph_occ_rows rows = { 0 };
	struct eph_findings fs = { 0 };
	struct eph_metrics_finding *finds = NULL;
	size_t nheld = 0;
	struct eph_hists h = EPH_HISTS_INIT;
	uint64_t cnt[EPH_CNT_MAX];
	struct eph_metrics_input in = {
		.version = EPH_VERSION,
		.backend = s->backend,
		.counters = cnt,
		.hists = &h,
		.top = s->top,
	};
	int err;

	err = eph_loader__counters(s->l, cnt);
	if (!err)
		err = eph_loader__foreach(s->l, EPH_MAP_STATS, add_stat, &stats);
	if (!err)
		err = eph_loader__foreach(s->l, EPH_MAP_HISTS, add_hist, &h);
	if (!err)
		err = collect_progs(s, &progs);
	if (err)
		goto out_free;
	pthread_mutex_lock(&s->lock);
	err = eph_proc_counts__rows(s->procs, &held, &nheld, &fails, &in.nfails);
	in.procs_untracked = eph_proc_counts__untracked(s->procs);
	in.resyncs = eph_occ__resyncs(s->t.occ);
	in.resync_released = eph_occ__resync_released(s->t.occ);
	if (!err)
		err = eph_occ__rows(s->t.occ, eph_now_ns(), &rows);
	if (!err)
		err = eph_occ__findings(s->t.occ, eph_now_ns(), &fs);
	pthread_mutex_unlock(&s->lock);
	if (!err)
		err = occ_metrics(&rows, &in, &dests, &procs, &netns);
	if (!err)
		err = scope_metrics(&rows, &in, &scopes);
	if (!err)
		err = finding_rows(&fs, &finds);
	if (err)
		goto out_free;
	for (size_t i = 0; i < in.nfails; i++) /* the failures' processes: their containers */
		fails[i].ct = eph_occ_rows__container(&rows, fails[i].pid);
	in.stats = stats.v;
	in.nstats = stats.n;
	in.progs = progs.v;
	in.nprogs = progs.n;
	in.fails = fails;
	in.findings = finds;
	in.nfindings = fs.n;
	err = eph_metrics_write(sb, &in, fmt);
out_free:
	free(stats.v);
	free(progs.v);
	free(held);
	free(procs);
	free(fails);
	free(dests);
	free(scopes);
	free(netns);
	eph_occ_rows__free(&rows);
	eph_findings__free(&fs);
	free(finds);
	eph_hists__free(&h);
	return err;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned int status, const char *type,
			       struct strbuf *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	/* The response takes the buffer (malloc'ed by strbuf) and frees it. */
	r = MHD_create_response_from_buffer(body->len, body->buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		sb_free(body);
		return MHD_NO;
	}
	body->buf = NULL;
	body->len = body->cap = 0;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_BAD_REQUEST) /* where the next request starts is unknown */
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct strbuf sb = STRBUF_INIT;

	if (sb_puts(&sb, text))
		return MHD_NO;
	return respond(c, status, "text/plain; charset=utf-8", &sb);
}

struct framing {
	unsigned int content_length;
	unsigned int transfer_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *f = cls;

	(void)kind;
	(void)value;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		f->content_length++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		f->transfer_encoding++;
	return MHD_YES;
}

/* Two Content-Length, or one with Transfer-Encoding: where the body ends depends on who reads
 * it (libmicrohttpd 0.9.75 takes the first Content-Length), so a proxy in front could take
 * part of it for another request. RFC 9112 6.3: a 400, and the connection closed. */
static bool ambiguous_framing(struct MHD_Connection *c)
{
	struct framing f = { 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
	return f.content_length > 1 || (f.content_length && f.transfer_encoding);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req)
{
	struct serve *s = cls;
	struct strbuf sb = STRBUF_INIT;
	enum eph_metrics_format fmt;
	uint64_t age;
	int err;

	(void)version;
	(void)upload_data;
	if (!*req) {
		/* Headers are in. Refuse other methods before reading any body (the connection
		 * is then closed); answer the others on the next call, after the request ends,
		 * which lets the connection be kept alive. */
		*req = s;
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		if (ambiguous_framing(c))
			return respond_text(c, MHD_HTTP_BAD_REQUEST,
					    "ambiguous framing: two Content-Length, or "
					    "Content-Length with Transfer-Encoding\n");
		return MHD_YES;
	}
	if (*upload_data_size) { /* a GET with a body: drop it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/healthz")) {
		age = eph_now_ms() - atomic_load(&s->heartbeat_ms);
		if (age > SERVE_STALE_MS) {
			if (sb_printf(&sb, "stale: the event loop last ran %llu ms ago\n",
				      (unsigned long long)age))
				return MHD_NO;
			return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
				       &sb);
		}
		return respond_text(c, MHD_HTTP_OK, "ok\n");
	}
	if (!strcmp(url, "/"))
		return respond_text(c, MHD_HTTP_OK, "ephtrace exporter: /metrics /healthz\n");
	if (strcmp(url, "/metrics"))
		return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	fmt = eph_metrics_wants_openmetrics(
		      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT)) ?
		      EPH_METRICS_OPENMETRICS :
		      EPH_METRICS_TEXT;
	err = build_metrics(s, fmt, &sb);
	if (err) {
		sb_reset(&sb);
		if (sb_printf(&sb, "reading the kernel's counters failed: %s\n", strerror(-err)))
			return MHD_NO;
		return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", &sb);
	}
	return respond(c, MHD_HTTP_OK,
		       fmt == EPH_METRICS_OPENMETRICS ? EPH_METRICS_OPENMETRICS_TYPE :
							EPH_METRICS_TEXT_TYPE,
		       &sb);
}

/* libmicrohttpd's thread, after it accepted a connection and before it closes its socket. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode what)
{
	const union MHD_ConnectionInfo *fd, *peer;
	struct serve *s = cls;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		eph_httplimit__remove(s->hl, *socket_ctx);
		*socket_ctx = NULL;
		return;
	}
	fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	peer = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (fd && peer)
		*socket_ctx =
			eph_httplimit__add(s->hl, fd->connect_fd, peer->client_addr, eph_now_ms());
}

/* A request ended: answered in full (the next one's wait starts), or not (closing). */
static void on_completed(void *cls, struct MHD_Connection *c, void **req,
			 enum MHD_RequestTerminationCode how)
{
	const union MHD_ConnectionInfo *ctx;
	struct serve *s = cls;

	(void)req;
	if (how != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;
	ctx = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ctx && ctx->socket_context)
		eph_httplimit__answered(s->hl, ctx->socket_context, eph_now_ms());
}

static struct MHD_Daemon *start_http(struct serve *s, int fd, bool verbose)
{
	return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | (verbose ? MHD_USE_ERROR_LOG : 0), 0,
				NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SERVE_HARD_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)SERVE_HARD_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SERVE_IDLE_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_CONN_MEMORY,
				MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_NOTIFY_CONNECTION,
				on_connection, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
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
	pthread_mutex_unlock(&s->lock);
	if (err)
		fprintf(stderr, "ephtrace serve: %s\n", strerror(-err));
	return err;
}

static int event_loop(struct serve *s)
{
	uint64_t now = eph_now_ms(), next_prune = now + SERVE_PRUNE_MS;
	uint64_t next_tick = now + SERVE_TICK_MS;
	int err;

	while (!eph_exiting) {
		err = eph_loader__poll(s->l, 100);
		if (err == -EINTR)
			break;
		if (err < 0) {
			fprintf(stderr, "ephtrace serve: reading the ring buffer failed: %s\n",
				strerror(-err));
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
		if (now >= next_prune) {
			err = prune_procs(s);
			if (err) {
				fprintf(stderr, "ephtrace serve: %s\n", strerror(-err));
				return 1;
			}
			next_prune = now + SERVE_PRUNE_MS;
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
	if (eph_parse_only)
		return 0;
	s.top = o.top;
	s.procs = eph_proc_counts__new(SERVE_MAX_PROCS);
	s.hl = eph_httplimit__new(
		&(struct eph_httplimit_opts){ .max_conns = SERVE_MAX_CONNECTIONS,
					      .max_per_addr = SERVE_MAX_PER_IP,
					      .slots = SERVE_HARD_CONNECTIONS,
					      .deadline_ms = SERVE_REQUEST_DEADLINE_S * 1000ULL });
	if (!s.procs || !s.hl) {
		fprintf(stderr, "ephtrace serve: %s\n", strerror(errno));
		ret = 1;
		goto out_free;
	}
	fd = open_listener(&o);
	if (fd < 0) {
		ret = 1;
		goto out_free;
	}
	ret = eph_start("serve", &lo, on_record, &s, &s.l);
	if (ret)
		goto out_close;
	s.backend = eph_backend_name(eph_loader__backend(s.l));
	if (o.bpf_stats) {
		s.stats_fd = eph_loader__enable_stats();
		if (s.stats_fd < 0)
			fprintf(stderr,
				"ephtrace serve: cannot turn BPF run-time stats on: %s "
				"(needs CAP_SYS_ADMIN); going on without them\n",
				strerror(-s.stats_fd));
	}
	/* attached first, then the sockets that exist already: nothing falls in between */
	err = eph_tracker__init(&s.t,
				&(struct eph_tracker_opts){ .resync_ms = SERVE_RESYNC_MS,
							    .mono_to_wall = eph_mono_to_wall_ns(),
							    .warn = stderr,
							    .verbose = lo.verbose,
							    .log = lo.verbose ? stderr : NULL });
	if (err) {
		fprintf(stderr, "ephtrace serve: cannot read the sockets of any namespace: %s\n",
			strerror(-err));
		ret = 1;
		goto out_close;
	}
	err = eph_tracker__start_worker(&s.t);
	if (err) {
		fprintf(stderr, "ephtrace serve: cannot start the resync thread: %s\n",
			strerror(-err));
		ret = 1;
		goto out_close;
	}
	atomic_store(&s.heartbeat_ms, eph_now_ms());
	d = start_http(&s, fd, lo.verbose);
	if (!d) {
		fprintf(stderr, "ephtrace serve: cannot start the HTTP server on %s\n",
			addr_text(&o.addr, where, sizeof(where)));
		ret = 1;
		goto out_close;
	}
	fd = -1; /* the daemon owns it now */
	fprintf(stderr, "ephtrace serve: listening on http://%s/metrics\n",
		addr_text(&o.addr, where, sizeof(where)));
	ret = event_loop(&s);
	MHD_stop_daemon(d);
	if (s.bad_records)
		fprintf(stderr, "ephtrace serve: %llu malformed records ignored\n",
			(unsigned long long)s.bad_records);
	eph_httplimit__stats(s.hl, &hs);
	if (hs.evicted || hs.expired || hs.untracked)
		fprintf(stderr,
			"ephtrace serve: HTTP connections shut down: %llu to make room, %llu at the "
			"%d s request deadline (%llu beyond the table)\n",
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
