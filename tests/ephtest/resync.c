// SPDX-License-Identifier: GPL-2.0
/*
 * resync-quiet: the sock_diag reconciliation of top (--resync) on a namespace where nothing
 * changes must find nothing released.
 *
 * The workload makes about 1000 sockets that hold ports of the range, of every kind top tracks
 * (established IPv4, IPv6 and IPv4-mapped connections to several destinations, bind-before-connect,
 * TCP sockets only bound, listeners on ports of the range, connected and bound UDP sockets, UDP
 * sockets autobound on the wildcard by sendto() (its event knows the datagram's destination, not
 * the socket's); those made before top starts are connected after its first snapshot, which moves
 * them to 127.0.0.1 with no port chosen, so with no event: the resyncs must move them): half before
 * top starts (found by its first sock_diag pass), a quarter at once after it attached (while it may
 * still be reading sock_diag: its events and its first pass both see them) and a quarter after its
 * first snapshot (seen as events only). Then nothing changes for RQ_QUIET_NS while top reconciles
 * every second: the reconciliations must happen (resyncs grows) and release nothing of its
 * namespace (its netns row's resync_released stays 0 in every snapshot: nothing was released, no
 * TIME_WAIT ended, nothing dropped; top reconciles every namespace of the host, where other sockets
 * come and go). In the last snapshot every destination and bind scope must hold what the workload
 * made (kernels before 6.8 list no TCP socket only bound: those made before top are not expected
 * there).
 */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ephtest.h"

#define RQ_QUIET_NS 6000000000LL /* nothing changes this long (top running) */
#define RQ_MIN_RESYNCS 3	 /* reconciliations in that time, at least */
#define RQ_RESYNC "1"		 /* top --resync */
#define RQ_INTERVAL "0.5"	 /* top -i */
#define WAIT_MS(d) (5000 * (d)->op->timeout_s)
#define RQ_PARTS 3 /* before top, at once after it attached, after its first snapshot */

enum rq_kind {
	K_CONNECT,   /* connect() from a fresh socket; family of daddr (IPv4-mapped: AF_INET6) */
	K_BBC,	     /* bind(addr:0), then connect() */
	K_BOUND,     /* TCP bind(addr:0) only */
	K_LISTEN,    /* TCP bind(addr:0), listen() */
	K_UDP_CONN,  /* UDP connect() (autobind) */
	K_UDP_BOUND, /* UDP bind(addr:0) */
	K_UDP_SENT,  /* UDP sendto() (autobind on the wildcard); those before top connect()ed after
		      * its first snapshot (to row SENT_TO_ROW) */
};

/*
 * The rows of the snapshot the workload's sockets count in: destinations (top names an
 * IPv4-mapped one as IPv4) and bind scopes (TCP bound only or listening; UDP by the address
 * bound or, connected, the source chosen). Each destination has a listener (outside the range).
 */
static const struct rq_row {
	const char *proto; /* NULL: a destination (TCP) */
	const char *addr;  /* destination or scope address */
	uint16_t dport;
} rows[] = {
	{ NULL, "127.0.0.1", 5000 }, { NULL, "127.0.0.1", 5001 }, { NULL, "127.0.0.2", 5000 },
	{ NULL, "::1", 5000 },	     { NULL, "::1", 5001 },	  { NULL, "127.0.0.1", 5002 },
	{ "tcp", "127.0.0.1", 0 },   { "tcp", "::1", 0 },	  { "udp", "127.0.0.1", 0 },
	{ "udp", "::1", 0 },	     { "udp", "0.0.0.0", 0 },
};

#define NR_ROWS (sizeof(rows) / sizeof(rows[0]))
#define NR_DESTS 6    /* the first rows */
#define SENT_TO_ROW 8 /* K_UDP_SENT's sockets, connected: udp 127.0.0.1 */

/* The sockets made before top (n of each; each part after it: n / 2) and their row. */
static const struct rq_mix {
	enum rq_kind kind;
	const char *addr;  /* bind address, or NULL */
	const char *daddr; /* destination, or NULL */
	uint16_t dport;
	uint16_t n;
	unsigned int row;
} mix[] = {
	{ K_CONNECT, NULL, "127.0.0.1", 5000, 120, 0 },
	{ K_CONNECT, NULL, "127.0.0.1", 5001, 60, 1 },
	{ K_CONNECT, NULL, "::ffff:127.0.0.1", 5001, 20, 1 },
	{ K_CONNECT, NULL, "127.0.0.2", 5000, 60, 2 },
	{ K_CONNECT, NULL, "::1", 5000, 80, 3 },
	{ K_CONNECT, NULL, "::1", 5001, 30, 4 },
	{ K_BBC, "127.0.0.1", "127.0.0.1", 5002, 40, 5 },
	{ K_BOUND, "127.0.0.1", NULL, 0, 30, 6 },
	{ K_LISTEN, "127.0.0.1", NULL, 0, 6, 6 },
	{ K_BOUND, "::1", NULL, 0, 10, 7 },
	{ K_UDP_CONN, NULL, "127.0.0.1", 5300, 30, 8 },
	{ K_UDP_BOUND, "127.0.0.1", NULL, 0, 20, 8 },
	{ K_UDP_CONN, NULL, "::1", 5300, 10, 9 },
	{ K_UDP_BOUND, "0.0.0.0", NULL, 0, 10, 10 },
	{ K_UDP_SENT, NULL, "127.0.0.1", 5300, 12, 10 },
};

#define NR_MIX (sizeof(mix) / sizeof(mix[0]))

struct rq_shared {
	uint32_t held[NR_ROWS]; /* sockets made that count in each row */
	/* what each part added (the last one moves some from one row to another: -1 in one) */
	int32_t part_held[RQ_PARTS][NR_ROWS];
	/* TCP bound only before top: kernels < 6.8 list none (no sock_diag, no event shows them) */
	uint32_t unlisted[NR_ROWS];
	uint32_t made[RQ_PARTS]; /* sockets with a port of the range, per part */
	uint32_t listeners;	 /* of which listening */
};

_Static_assert(sizeof(struct rq_shared) <= DRV_PRIV_SIZE, "rq_shared does not fit");

static struct rq_shared *rq_of(struct oracle *o)
{
	return (struct rq_shared *)o->priv;
}

/* ---- the workload ---- */

static int lfd[NR_DESTS];
static int sent_fd[64], nsent; /* the K_UDP_SENT sockets, to connect in the last part */

static int fail(struct oracle *o, const char *what, const char *addr, int port)
{
	snprintf(o->msg, sizeof(o->msg), "%s %s:%d: %s", what, addr ? addr : "-", port,
		 strerror(errno));
	return -1;
}

/* A TCP or UDP socket of the family of addr (or of daddr when addr is NULL), bound to addr:0 if
 * addr is not NULL; an IPv6 one is V6ONLY unless daddr is IPv4-mapped. */
static int bound_socket(struct oracle *o, int type, const char *addr, const char *daddr)
{
	int v6only = !daddr || strncmp(daddr, "::ffff:", 7);
	struct sockaddr_storage ss;
	int family, fd;
	socklen_t len;

	family = drv_sockaddr(addr ? addr : daddr, 0, &ss, &len);
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(o, "socket() for", addr ? addr : daddr, 0);
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only))) {
		close(fd);
		return fail(o, "IPV6_V6ONLY for", addr ? addr : daddr, 0);
	}
	if (addr && bind(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return fail(o, "bind", addr, 0);
	}
	return fd;
}

static int make_one(struct oracle *o, const struct rq_mix *m, int part)
{
	int type = m->kind >= K_UDP_CONN ? SOCK_DGRAM : SOCK_STREAM;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, afd;

	fd = bound_socket(o, type, m->addr, m->daddr);
	if (fd < 0)
		return -1;
	if (m->kind == K_LISTEN && listen(fd, 16))
		return fail(o, "listen on", m->addr, 0);
	if (m->kind == K_UDP_SENT) {
		drv_sockaddr(m->daddr, m->dport, &ss, &len);
		if (sendto(fd, "q", 1, 0, (struct sockaddr *)&ss, len) != 1)
			return fail(o, "sendto", m->daddr, m->dport);
		if (!part && nsent == (int)(sizeof(sent_fd) / sizeof(sent_fd[0])))
			return fail(o, "too many sockets to connect later for", m->daddr, m->dport);
		if (!part)
			sent_fd[nsent++] = fd;
	} else if (m->daddr) {
		drv_sockaddr(m->daddr, m->dport, &ss, &len);
		if (connect(fd, (struct sockaddr *)&ss, len))
			return fail(o, "connect to", m->daddr, m->dport);
	}
	if (m->row < NR_DESTS) {
		afd = accept4(lfd[m->row], NULL, NULL, SOCK_CLOEXEC);
		if (afd < 0)
			return fail(o, "accept on", rows[m->row].addr, rows[m->row].dport);
	}
	rq_of(o)->held[m->row]++;
	rq_of(o)->part_held[part][m->row]++;
	rq_of(o)->unlisted[m->row] += m->kind == K_BOUND && !part;
	return 0;
}

/* The last part connects the K_UDP_SENT sockets: from their row to SENT_TO_ROW (what that
 * part adds to each row: one less in one). */
static int connect_sent(struct oracle *o, const struct rq_mix *m, int part)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int k;

	drv_sockaddr(m->daddr, m->dport, &ss, &len);
	for (k = 0; k < nsent; k++) {
		if (connect(sent_fd[k], (struct sockaddr *)&ss, len))
			return fail(o, "connect (after sendto) to", m->daddr, m->dport);
		rq_of(o)->held[m->row]--;
		rq_of(o)->held[SENT_TO_ROW]++;
		rq_of(o)->part_held[part][m->row]--;
		rq_of(o)->part_held[part][SENT_TO_ROW]++;
	}
	return 0;
}

static int make_part(struct oracle *o, int part)
{
	unsigned int n;
	size_t i, k;

	for (i = 0; i < NR_MIX; i++) {
		if (mix[i].kind == K_UDP_SENT && part == RQ_PARTS - 1 &&
		    connect_sent(o, &mix[i], part))
			return -1;
		n = part ? mix[i].n / 2 : mix[i].n;
		for (k = 0; k < n; k++)
			if (make_one(o, &mix[i], part))
				return -1;
		rq_of(o)->made[part] += n;
		rq_of(o)->listeners += mix[i].kind == K_LISTEN ? n : 0;
	}
	return 0;
}

/* The listeners, then step k makes part k - 1. Then every socket stays. */
int rq_workload(struct oracle *o)
{
	struct sockaddr_storage ss;
	int family, on = 1;
	socklen_t len;
	size_t d;

	for (d = 0; d < NR_DESTS; d++) {
		family = drv_sockaddr(rows[d].addr, rows[d].dport, &ss, &len);
		lfd[d] = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd[d] < 0 ||
		    (family == AF_INET6 &&
		     setsockopt(lfd[d], IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on))) ||
		    bind(lfd[d], (struct sockaddr *)&ss, len) || listen(lfd[d], 1024))
			return fail(o, "listener on", rows[d].addr, rows[d].dport);
	}
	for (d = 0; d < RQ_PARTS; d++) {
		drv_wait_go(o, d + 1);
		if (make_part(o, d))
			return -1;
		drv_done(o, d + 1);
	}
	for (;;)
		pause();
}

/* ---- the driver ---- */

/* The snapshot's row r of netns, or NULL. */
static json_object *find_row(json_object *snap, uint64_t netns, const struct rq_row *r)
{
	json_object *a = jarr(snap, "bind_scopes"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	const char *p, *addr;
	double v;

	if (!r->proto)
		return snap_dest(snap, netns, r->addr, r->dport);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		p = jstr(e, "proto");
		addr = jstr(e, "addr");
		if (jnum(e, "netns", &v) == 1 && v == (double)netns && p && addr &&
		    !strcmp(p, r->proto) && !strcmp(addr, r->addr))
			return e;
	}
	return NULL;
}

static double held_of(json_object *snap, uint64_t netns, const struct rq_row *r)
{
	json_object *e = snap ? find_row(snap, netns, r) : NULL;
	double v;

	return e && jnum(e, "held", &v) == 1 ? v : -1;
}

static void row_name(const struct rq_row *r, char *buf, size_t len)
{
	bool v6 = strchr(r->addr, ':');

	if (r->proto)
		snprintf(buf, len, "scope %s %s", r->proto, r->addr);
	else
		snprintf(buf, len, "dest %s%s%s:%u", v6 ? "[" : "", r->addr, v6 ? "]" : "",
			 r->dport);
}

/* The snapshot's row of the workload's netns, or NULL. */
static json_object *our_netns(const struct drv *d, json_object *snap)
{
	json_object *a = jarr(snap, "netns"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double v;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (jnum(e, "netns", &v) == 1 && v == (double)d->w.o->netns)
			return e;
	}
	return NULL;
}

/* Does the snapshot say that this kernel lists no TCP socket only bound (before 6.8)? Then no
 * one sees those made before top. */
static bool bound_unlisted(struct drv *d, json_object *snap)
{
	json_object *e = our_netns(d, snap), *listed;

	return e && json_object_object_get_ex(e, "bound_only_listed", &listed) &&
	       !json_object_get_boolean(listed);
}

/* What row i should hold after the first parts were made, as the snapshot can see it. */
static unsigned int want_of(struct drv *d, json_object *snap, int parts, size_t i)
{
	const struct rq_shared *sh = rq_of(d->w.o);
	int32_t n = 0;
	int p;

	for (p = 0; p < parts; p++)
		n += sh->part_held[p][i];
	return (unsigned int)n - (bound_unlisted(d, snap) ? sh->unlisted[i] : 0);
}

/* Where the released holds were: each row against what the workload had made by then (prev:
 * the snapshot before, made after prev_parts parts; snap: after every part). */
static void show_rows(struct drv *d, json_object *prev, int prev_parts, json_object *snap)
{
	uint64_t netns = d->w.o->netns;
	unsigned int want_was, want_now;
	double was, now;
	char name[64];
	size_t i;

	buf_printf(&d->report, "      %-24s %22s %22s\n", "row: held (should be)",
		   "snapshot before", "this snapshot");
	for (i = 0; i < NR_ROWS; i++) {
		was = held_of(prev, netns, &rows[i]);
		now = held_of(snap, netns, &rows[i]);
		want_was = prev ? want_of(d, prev, prev_parts, i) : 0;
		want_now = want_of(d, snap, RQ_PARTS, i);
		row_name(&rows[i], name, sizeof(name));
		buf_printf(&d->report, "      %-24s %15.0f (%4u) %15.0f (%4u)%s\n", name, was,
			   want_was, now, want_now,
			   was != want_was || now != want_now ? "  <-" : "");
	}
}

/* The last snapshot: every row holds what the workload made, destinations no TIME_WAIT. */
static void check_rows(struct drv *d, json_object *snap, unsigned int *unlisted)
{
	const struct rq_shared *sh = rq_of(d->w.o);
	unsigned int want;
	double held, tw;
	json_object *e;
	char name[64];
	size_t i;

	*unlisted = 0;
	for (i = 0; i < NR_ROWS; i++) {
		want = want_of(d, snap, RQ_PARTS, i);
		*unlisted += sh->held[i] - want;
		e = find_row(snap, d->w.o->netns, &rows[i]);
		if (e && jnum(e, "held", &held) == 1 && held == want &&
		    jnum(e, "time_wait", &tw) == 1 && tw == 0)
			continue;
		row_name(&rows[i], name, sizeof(name));
		drv_problem(d,
			    "%s: expected held %u (what the workload made%s), time_wait 0 got %s",
			    name, want,
			    want != sh->held[i] ? ", less those only bound before top: unlisted "
						  "here" :
						  "",
			    e ? json_object_to_json_string(e) : "no row");
	}
}

/* What the snapshots said: resyncs at the quiet start and at the end, the most dropped. */
struct rq_tally {
	int snaps, released; /* snapshots read; of which with resync_released > 0 */
	int prev_parts;	     /* parts made before the snapshot before this one */
	double first, resyncs, dropped, max_released;
	double all_released; /* in every netns: the host's too (said, not checked) */
	int64_t when;	     /* of the last one */
};

/* One snapshot: resync_released must be 0; the rows that moved are shown once if not. */
static int rq_check(struct drv *d, json_object *prev, json_object *snap, int64_t quiet,
		    struct rq_tally *t)
{
	double released, dropped;

	json_object *ns = our_netns(d, snap);

	t->when = snap_time(snap);
	t->snaps++;
	/* the workload's netns: top reconciles the host's every namespace, where sockets come
	 * and go as they please (a TIME_WAIT's end, which the tracepoint backend never sees) */
	if (jnum(snap, "resyncs", &t->resyncs) != 1 || !ns ||
	    jnum(ns, "resync_released", &released) != 1 || jnum(snap, "dropped", &dropped) != 1 ||
	    jnum(snap, "resync_released", &t->all_released) != 1) {
		drv_problem(d,
			    "expected numbers resyncs, resync_released and dropped in every "
			    "snapshot, and resync_released in the workload's netns row, got none");
		return -EPROTO;
	}
	if (quiet && t->when >= quiet && t->first < 0)
		t->first = t->resyncs;
	t->dropped = dropped > t->dropped ? dropped : t->dropped;
	t->max_released = released > t->max_released ? released : t->max_released;
	if (released && !t->released++) {
		drv_problem(d,
			    "snapshot %+.2f s from the quiet start: expected resync_released 0 in "
			    "the workload's netns (nothing was released) got %.0f after %.0f "
			    "resyncs (dropped %.0f)",
			    quiet ? (t->when - quiet) / 1e9 : 0.0, released, t->resyncs, dropped);
		show_rows(d, prev, t->prev_parts, snap);
	}
	return 0;
}

static void run_resync(struct drv *d)
{
	const char *args[] = { "-i", RQ_INTERVAL, "--resync", RQ_RESYNC, NULL };
	const struct rq_shared *sh = rq_of(d->w.o);
	struct rq_tally t = { .first = -1 };
	json_object *snap, *prev = NULL;
	unsigned int unlisted;
	int64_t quiet = 0;

	if (drv_step(d, 1, WAIT_MS(d), "the sockets before top") || drv_start_top(d, args) ||
	    drv_step(d, 2, WAIT_MS(d), "the sockets at top's start"))
		return;
	prev = drv_snapshot(d, 5000); /* made before it: in it, or in the events read after it */
	t.prev_parts = 2;
	if (!prev || rq_check(d, NULL, prev, 0, &t) ||
	    drv_step(d, 3, WAIT_MS(d), "the sockets after top's first snapshot"))
		goto out;
	quiet = wall_ns();
	while (t.when < quiet + RQ_QUIET_NS && (snap = drv_snapshot(d, 5000))) {
		if (rq_check(d, prev, snap, quiet, &t)) {
			json_object_put(snap);
			goto out;
		}
		json_object_put(prev);
		prev = snap;
		t.prev_parts = RQ_PARTS;
	}
	if (t.when < quiet + RQ_QUIET_NS)
		goto out; /* top stopped: the reason is set */
	if (t.resyncs - t.first < RQ_MIN_RESYNCS)
		drv_problem(d, "expected at least %d resyncs in %.0f s of --resync %s got %.0f",
			    RQ_MIN_RESYNCS, RQ_QUIET_NS / 1e9, RQ_RESYNC, t.resyncs - t.first);
	check_rows(d, prev, &unlisted);
	buf_printf(
		&d->done,
		"%u sockets with ports of the range (%u before top, %u at its start, %u after "
		"its first snapshot; %u listening); %.0f resyncs in %.1f s quiet; "
		"resync_released at most %.0f in %d snapshots (the host's namespaces: %.0f); "
		"dropped %.0f; the last snapshot's %d destinations and %d bind scopes against what "
		"was made",
		sh->made[0] + sh->made[1] + sh->made[2], sh->made[0], sh->made[1], sh->made[2],
		sh->listeners, t.resyncs - t.first, (t.when - quiet) / 1e9, t.max_released, t.snaps,
		t.all_released, t.dropped, NR_DESTS, (int)NR_ROWS - NR_DESTS);
	if (unlisted)
		buf_printf(&d->done, " (less %u only bound before top: this kernel lists none)",
			   unlisted);
	buf_printf(&d->done, "; backend %s", d->backend);
	drv_check_backend(d);
	drv_stop_top(d);
out:
	json_object_put(prev);
}

enum verdict rq_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct drv d = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();

	if (!drv_start_workload(&d, "eph-quiet"))
		run_resync(&d);
	return drv_finish(&d, t0);
}
