// SPDX-License-Identifier: GPL-2.0
/*
 * tw-slab-reuse: a TIME_WAIT ended early while the memory of its socket holds another
 * connection.
 *
 * ephtrace names a socket by its kernel address (sock_id). A connection A to 127.0.0.1:5000 is
 * closed by us first: its port sits in TIME_WAIT (a timewait socket of its own) and A's socket
 * is freed. The next connection B is likely given A's memory: the same address. Then a
 * connection C binds A's port (SO_REUSEADDR on both) and connects to the same destination: the
 * kernel reuses A's 4-tuple (timestamps on, tcp_tw_reuse 1, the TIME_WAIT older than a second;
 * bind-before-connect may reuse it younger, see tcp_twsk_unique) and kills A's TIME_WAIT
 * (inet_twsk_deschedule_put: a release with the TIME_WAIT flag, which names A's sock_id).
 * B must keep its hold, with no sock_diag resync to repair anything (--resync far away, and
 * resyncs 0 in the snapshot): see tw_check() for what each backend must show. TW_CYCLES
 * cycles, so that the memory is reused at least once; /proc/net/tcp shows each socket's
 * address (hashed, but the same address hashes the same) to tell when it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ephtest.h"

#define TW_CYCLES 20
#define TW_DPORT 5000
#define TW_AGE_MS 1100		 /* the TIME_WAITs older than this before the C's connect */
#define TW_STEP_MS 2000		 /* a state change on loopback takes far less than this */
#define TW_SETTLE_NS 600000000LL /* the snapshot checked: this long after the workload's end */
#define TW_INTERVAL "0.5"
#define TW_RESYNC "3600"
#define ST_ESTABLISHED 1
#define ST_TIME_WAIT 6

struct tw_cycle {
	uint16_t a_port, b_port;
	char a_sk[24], b_sk[24]; /* /proc/net/tcp's address of the socket ("" unknown) */
	int32_t c_err;		 /* C's bind() or connect() errno, 0 if it connected */
	uint8_t c_tw_left;	 /* A's TIME_WAIT still there after C connected */
};

struct tw_shared {
	struct tw_cycle cycle[TW_CYCLES];
	uint32_t done;	     /* cycles where C took A's 4-tuple and A's TIME_WAIT went */
	uint32_t reused;     /* cycles where B's socket had A's address */
	uint32_t known;	     /* cycles where /proc/net/tcp showed both addresses */
	uint32_t est, tw;    /* the kernel's sockets of the range to the destination, at the end */
	int64_t tw_recycled; /* TcpExt TWRecycled over the C's */
	int64_t end_wall_ns; /* when the workload was done */
};

_Static_assert(sizeof(struct tw_shared) <= DRV_PRIV_SIZE, "tw_shared does not fit");

static struct tw_shared *tw_of(struct oracle *o)
{
	return (struct tw_shared *)o->priv;
}

/* ---- the workload ---- */

/* In /proc/self/net/tcp, the sockets from lport (0: any) to 127.0.0.1:TW_DPORT: how many are
 * in state st (-1: any), and the address of the last one in sk (if not NULL). */
static int tcp_find(uint16_t lport, int st, char *sk, size_t len)
{
	unsigned int lp, rp, state;
	char line[512], addr[24];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/net/tcp", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*u: %*x:%x %*x:%x %x %*x:%*x %*x:%*x %*x %*u %*u %*u %*d %23s",
			   &lp, &rp, &state, addr) != 4 ||
		    (lport && lp != lport) || rp != TW_DPORT || (st >= 0 && (int)state != st))
			continue;
		n++;
		if (sk)
			snprintf(sk, len, "%s", strspn(addr, "0") == strlen(addr) ? "" : addr);
	}
	fclose(f);
	return n;
}

/* Wait until lport's connection to the destination is in state st. */
static int wait_state(uint16_t lport, int st)
{
	int64_t deadline = now_ms() + TW_STEP_MS;

	while (tcp_find(lport, st, NULL, 0) <= 0) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static int64_t tw_recycled(void)
{
	char head[4096], vals[4096], *hs, *vs, *h, *v;
	int64_t n = -1;
	FILE *f = fopen("/proc/self/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(head, "TcpExt:", 7))
			continue;
		h = strtok_r(head, " \n", &hs);
		v = strtok_r(vals, " \n", &vs);
		while (h && v && strcmp(h, "TWRecycled")) {
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		if (h && v)
			n = strtoll(v, NULL, 10);
	}
	fclose(f);
	return n;
}

/* o->msg = "cycle N: what: why" (cycle < 0: none); returns -1. */
static int fail(struct oracle *o, int cycle, const char *what, int err)
{
	if (cycle < 0)
		snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(err));
	else
		snprintf(o->msg, sizeof(o->msg), "cycle %d: %s: %s", cycle + 1, what,
			 strerror(err));
	return -1;
}

/* A connection to the destination from a fresh socket (bound to 127.0.0.1:port if port), its
 * server side accepted into *afd; the fd, or -errno. */
static int tw_connect(int lfd, uint16_t port, int *afd)
{
	struct sockaddr_storage ss;
	int fd, one = 1, err;
	socklen_t len;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto out_err;
	drv_sockaddr("127.0.0.1", port, &ss, &len);
	if (port && bind(fd, (struct sockaddr *)&ss, len))
		goto out_err;
	drv_sockaddr("127.0.0.1", TW_DPORT, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len))
		goto out_err;
	*afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*afd < 0)
		goto out_err;
	return fd;

out_err:
	err = -errno;
	close(fd);
	return err;
}

/* A, closed by us first into TIME_WAIT; then B at once. B and its server side are kept. */
static int cycle_ab(struct oracle *o, int lfd, int i)
{
	struct tw_cycle *c = &tw_of(o)->cycle[i];
	struct pollfd p = { .events = POLLIN };
	int a, b, bs;
	char ch;

	a = tw_connect(lfd, 0, &p.fd);
	if (a < 0)
		return fail(o, i, "connection A", -a);
	c->a_port = drv_local_port(a);
	tcp_find(c->a_port, ST_ESTABLISHED, c->a_sk, sizeof(c->a_sk));
	close(a);
	if (poll(&p, 1, TW_STEP_MS) != 1 || read(p.fd, &ch, 1) != 0)
		return fail(o, i, "A's server side: no EOF", ETIMEDOUT);
	/* the server's FIN; its side stays open so that A's memory is the last one freed */
	shutdown(p.fd, SHUT_WR);
	if (wait_state(c->a_port, ST_TIME_WAIT))
		return fail(o, i, "A not in TIME_WAIT", ETIMEDOUT);
	b = tw_connect(lfd, 0, &bs);
	if (b < 0)
		return fail(o, i, "connection B", -b);
	close(p.fd);
	c->b_port = drv_local_port(b);
	tcp_find(c->b_port, ST_ESTABLISHED, c->b_sk, sizeof(c->b_sk));
	tw_of(o)->known += c->a_sk[0] && c->b_sk[0];
	tw_of(o)->reused += c->a_sk[0] && !strcmp(c->a_sk, c->b_sk);
	return 0;
}

/* C on A's port: A's TIME_WAIT must go, C be established on A's 4-tuple. C is kept. */
static void cycle_c(struct oracle *o, int lfd, int i)
{
	struct tw_cycle *c = &tw_of(o)->cycle[i];
	int fd, afd;

	fd = tw_connect(lfd, c->a_port, &afd);
	if (fd < 0) {
		c->c_err = -fd;
		return;
	}
	c->c_tw_left = tcp_find(c->a_port, ST_TIME_WAIT, NULL, 0) > 0;
	if (!c->c_tw_left && tcp_find(c->a_port, ST_ESTABLISHED, NULL, 0) == 1)
		tw_of(o)->done++;
}

/* Step 1: the A/B halves of every cycle, a wait, the C's; the kernel's count. */
int tw_workload(struct oracle *o)
{
	struct tw_shared *sh = tw_of(o);
	struct sockaddr_storage ss;
	int lfd, i, one = 1;
	int64_t before;
	socklen_t len;

	drv_sockaddr("127.0.0.1", TW_DPORT, &ss, &len);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 1024))
		return fail(o, -1, "listener on 127.0.0.1:5000", errno);
	drv_wait_go(o, 1);
	for (i = 0; i < TW_CYCLES; i++)
		if (cycle_ab(o, lfd, i))
			return -1;
	usleep(TW_AGE_MS * 1000);
	before = tw_recycled();
	for (i = 0; i < TW_CYCLES; i++)
		cycle_c(o, lfd, i);
	sh->tw_recycled = before < 0 ? -1 : tw_recycled() - before;
	sh->est = tcp_find(0, ST_ESTABLISHED, NULL, 0);
	sh->tw = tcp_find(0, ST_TIME_WAIT, NULL, 0);
	sh->end_wall_ns = wall_ns();
	drv_done(o, 1);
	for (;;)
		pause();
}

/* ---- the driver ---- */

/* What the cycles that did not complete ran into: "; 3 C's failed (the first: EADDRNOTAVAIL);
 * 1 TIME_WAIT left after C connected". */
static void say_incomplete(struct drv *d)
{
	const struct tw_shared *sh = tw_of(d->w.o);
	unsigned int i, left = 0, errs = 0;
	char tmp[16];
	int err = 0;

	for (i = 0; i < TW_CYCLES; i++) {
		left += sh->cycle[i].c_tw_left;
		if (sh->cycle[i].c_err && !errs++)
			err = sh->cycle[i].c_err;
	}
	if (errs)
		buf_printf(&d->done, "; %u C's failed (the first: %s)", errs,
			   errno_name(err, tmp, sizeof(tmp)));
	if (left)
		buf_printf(&d->done, "; %u TIME_WAIT left after C connected", left);
}

/* What top said of the workload's ports: its destination, its bind scope, its process. */
struct tw_seen {
	double held, tw; /* destination 127.0.0.1:TW_DPORT */
	double scope;	 /* bind scope tcp 127.0.0.1 (0: no row) */
	double proc;	 /* the workload's process row (0: no row) */
};

static void tw_read(struct drv *d, json_object *snap, struct tw_seen *seen)
{
	json_object *a, *e;
	size_t i, n;
	double v;

	*seen = (struct tw_seen){ .held = -1, .tw = -1 };
	e = snap_dest(snap, d->w.o->netns, "127.0.0.1", TW_DPORT);
	if (e && (jnum(e, "held", &seen->held) != 1 || jnum(e, "time_wait", &seen->tw) != 1))
		seen->held = seen->tw = -1;
	a = jarr(snap, "bind_scopes");
	n = a ? json_object_array_length(a) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (jnum(e, "netns", &v) == 1 && v == (double)d->w.o->netns && jstr(e, "addr") &&
		    !strcmp(jstr(e, "addr"), "127.0.0.1") && jstr(e, "proto") &&
		    !strcmp(jstr(e, "proto"), "tcp"))
			jnum(e, "held", &seen->scope);
	}
	a = jarr(snap, "processes");
	n = a ? json_object_array_length(a) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (jnum(e, "pid", &v) == 1 && v == d->w.pid)
			jnum(e, "held", &seen->proc);
	}
}

/*
 * fentry, kprobe: no hold lost (the B's) or left over (the A's): the destination and the bind
 * scope together hold what the kernel has established, nothing in TIME_WAIT, and the
 * destination holds every B. The C's (bind() then connect()) move from the bind scope
 * 127.0.0.1 to the destination with their bound_connect event (README, "What each source
 * cannot see"); their ports count against every destination wherever they are counted.
 * tracepoint: the end of a TIME_WAIT is no event there: every B must be held outside TIME_WAIT.
 */
static void tw_check(struct drv *d, const struct tw_seen *seen, bool tracepoint)
{
	const struct tw_shared *sh = tw_of(d->w.o);

	if (seen->held < 0) {
		drv_problem(d, "expected a row for destination 127.0.0.1:%d got none", TW_DPORT);
	} else if (tracepoint) {
		if (seen->held - seen->tw < TW_CYCLES)
			drv_problem(d,
				    "destination 127.0.0.1:%d: expected the %d B's held outside "
				    "TIME_WAIT got held %.0f, time_wait %.0f",
				    TW_DPORT, TW_CYCLES, seen->held, seen->tw);
	} else if (seen->held + seen->scope != sh->est || seen->tw != sh->tw) {
		drv_problem(
			d,
			"expected the destination and the bind scope 127.0.0.1 to hold the %u "
			"connections established (B's and C's), %u in TIME_WAIT got %.0f + %.0f, "
			"%.0f in TIME_WAIT",
			sh->est, sh->tw, seen->held, seen->scope, seen->tw);
	} else if (seen->held < TW_CYCLES) {
		drv_problem(
			d,
			"destination 127.0.0.1:%d: expected every one of the %d B's held got %.0f",
			TW_DPORT, TW_CYCLES, seen->held);
	}
}

static void run_twreuse(struct drv *d)
{
	const char *args[] = { "-i", TW_INTERVAL, "--resync", TW_RESYNC, NULL };
	const struct tw_shared *sh = tw_of(d->w.o);
	struct tw_seen seen;
	json_object *snap;
	double resyncs;
	bool tracepoint;

	if (drv_start_top(d, args))
		return;
	tracepoint = backend_infers_tw(d->backend);
	if (drv_top_ready(d) || drv_step(d, 1, 5000 * d->op->timeout_s, "the cycles"))
		return;
	while ((snap = drv_snapshot(d, 5000)) && snap_time(snap) < sh->end_wall_ns + TW_SETTLE_NS)
		json_object_put(snap);
	if (!snap)
		return;
	tw_read(d, snap, &seen);
	if (jnum(snap, "resyncs", &resyncs) != 1 || resyncs != 0)
		drv_problem(d, "expected no resync before the snapshot (--resync %s) got %.0f",
			    TW_RESYNC, resyncs);
	json_object_put(snap);
	if (sh->done == 0)
		drv_problem(d, "the kernel never ended a TIME_WAIT for C (TWRecycled %lld)",
			    (long long)sh->tw_recycled);
	if (sh->known && !sh->reused)
		drv_problem(d,
			    "B was never given A's socket memory (%u cycles with both addresses "
			    "known): the scenario did not happen",
			    sh->known);
	tw_check(d, &seen, tracepoint);
	buf_printf(&d->done,
		   "%u of %d cycles completed (C took A's 4-tuple, A's TIME_WAIT gone; TWRecycled "
		   "%lld), B given A's socket memory in %u of %u known; kernel: %u established, "
		   "%u TIME_WAIT; "
		   "top, no resync: destination held %.0f, time_wait %.0f, bind scope %.0f, "
		   "process %.0f",
		   sh->done, TW_CYCLES, (long long)sh->tw_recycled, sh->reused, sh->known, sh->est,
		   sh->tw, seen.held, seen.tw, seen.scope, seen.proc);
	if (tracepoint)
		buf_printf(&d->done, " (tracepoint: the end of TIME_WAIT and a bound socket's "
				     "connect() are no events there; checked that every B is "
				     "held)");
	buf_printf(&d->done, "; backend %s", d->backend);
	say_incomplete(d);
	drv_check_backend(d);
	drv_stop_top(d);
}

enum verdict tw_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct drv d = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();

	if (!drv_start_workload(&d, "eph-twreuse"))
		run_twreuse(&d);
	return drv_finish(&d, t0);
}
