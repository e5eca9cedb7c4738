// SPDX-License-Identifier: GPL-2.0
/*
 * sockrange: the socket_range of `ephtrace status --json` against what the kernel grants to
 * connect() from sockets with the same IP_LOCAL_PORT_RANGE.
 *
 * In a private network namespace (40000-40063, 40015 and 40050 reserved, tcp_tw_reuse 0) the
 * workload holds a mix. With IP_LOCAL_PORT_RANGE SR_LO-SR_HI (20 ports, 40015 among them: 19
 * usable): a TCP socket only bound by bind(127.0.0.1:0), one bound the same way and listening,
 * one bound the same way and connected to :5001 (the three on ports of the socket range whose
 * bind buckets bind() made: lost to every connect()), live connections to :5000 and :5001, two
 * connections to :5000 closed by us first (TIME_WAIT, never reused here). Without it, or with a
 * range that does not narrow the netns one, or a narrower one fewer sockets use: more
 * connections to :5000, and to :5002 (whose row must have no socket_range). The driver reads
 * status (JSON and text), then the workload asks the kernel, for :5000 and :5001: connect()
 * from fresh sockets with the socket range until EADDRNOTAVAIL, then without it, closing each
 * count's sockets with RST so that every count starts from the state. socket_range.ports_left
 * must equal the first count, ports_left the second; socket_range says the range, its usable
 * ports and how many live sockets use it.
 *
 * The socket range has an even size: 6.1 scans an even count of its ports (parity passes),
 * 6.8+ every port of it one after another (tcp/dccp: change source port selection at connect()
 * time); both reach them all. Before 6.8 sock_diag lists no socket only bound: there status
 * finds the bound-only holder with its port iterator (bound_only_listed must be true). A
 * kernel without the option (setsockopt fails with ENOPROTOOPT) makes it a SKIP; status
 * without its port iterator (the only source of a socket's range) a FAIL.
 */
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ephtest.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

#define SR_LO 40010 /* the socket range */
#define SR_HI 40029
#define SR_USABLE 19	  /* 40015 is reserved */
#define SR_MINOR_LO 40040 /* a narrower range, used by fewer sockets */
#define SR_MINOR_HI 40049
#define SR_WIDE_LO 30000 /* a range wider than the netns one: no narrowing */
#define SR_WIDE_HI 50000
#define SR_COUNT_MAX 256 /* sockets per count: more means a runaway */
#define SR_MAX_FDS 512
#define SR_STEP_MS(d) (5000 * (d)->op->timeout_s)

enum {
	D_5000,
	D_5001,
	D_5002,
	SR_NR_DESTS
};

static const uint16_t dport_of[SR_NR_DESTS] = { 5000, 5001, 5002 };

/* The connections of the state: with the socket range, in TIME_WAIT (made with it), plain,
 * with the wide range, with the minority range. */
static const struct {
	uint8_t ranged, tw, plain, wide, minor;
} mix[SR_NR_DESTS] = {
	[D_5000] = { .ranged = 6, .tw = 2, .plain = 8, .wide = 1, .minor = 1 },
	[D_5001] = { .ranged = 3 },
	[D_5002] = { .plain = 1, .wide = 1 },
};

struct sr_shared {
	int32_t no_option;		 /* setsockopt(IP_LOCAL_PORT_RANGE)'s errno, if it failed */
	uint32_t sockets[SR_NR_DESTS];	 /* live connections with the socket range */
	uint32_t bound_only;		 /* sockets only bound, on ports of the socket range */
	int32_t granted[SR_NR_DESTS][2]; /* [0] with the socket range, [1] without */
	int32_t stop_err[SR_NR_DESTS][2]; /* the errno that ended each count */
};

_Static_assert(sizeof(struct sr_shared) <= DRV_PRIV_SIZE, "sr_shared does not fit");

static struct sr_shared *sr_of(struct oracle *o)
{
	return (struct sr_shared *)o->priv;
}

/* ---- the workload ---- */

static int lfd[SR_NR_DESTS];
static int kept[SR_MAX_FDS], nkept; /* the state's sockets, and what the listeners accepted */

static int fail(struct oracle *o, const char *what, int port)
{
	snprintf(o->msg, sizeof(o->msg), "%s (port %d): %s", what, port, strerror(errno));
	return -1;
}

static void keep(int fd)
{
	if (nkept < SR_MAX_FDS)
		kept[nkept++] = fd;
}

/* Accept what is queued on every listener; the fds go to out (NULL: kept for good). */
static void drain(int *out, int *nout)
{
	int d, fd;

	for (d = 0; d < SR_NR_DESTS; d++) {
		while ((fd = accept4(lfd[d], NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			if (!out)
				keep(fd);
			else if (*nout < SR_MAX_FDS)
				out[(*nout)++] = fd;
			else
				close(fd);
		}
	}
}

/* A TCP/IPv4 socket with IP_LOCAL_PORT_RANGE lo-hi (none when hi is 0); -1 with errno. */
static int sr_socket(uint16_t lo, uint16_t hi)
{
	uint32_t range = (uint32_t)hi << 16 | lo;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0 || !hi)
		return fd;
	if (setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range))) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A connection to destination d from a fresh socket with lo-hi (hi 0: none); its fd or -1. */
static int connect_one(struct oracle *o, int d, uint16_t lo, uint16_t hi)
{
	int fd = sr_socket(lo, hi);

	if (fd < 0)
		return fail(o, "socket with IP_LOCAL_PORT_RANGE", hi);
	if (drv_loopback(fd, dport_of[d], false)) {
		close(fd);
		return fail(o, "connect to 127.0.0.1", dport_of[d]);
	}
	drain(NULL, NULL);
	return fd;
}

/* Closed by us first, its peer's FIN read: the port sits in TIME_WAIT when this returns. */
static int time_wait_one(struct oracle *o, int d)
{
	int fd = connect_one(o, d, SR_LO, SR_HI), afd;
	char c;

	if (fd < 0)
		return -1;
	afd = kept[nkept - 1]; /* just accepted by drain() */
	if (shutdown(fd, SHUT_WR) || read(afd, &c, 1) != 0 || close(afd) || read(fd, &c, 1) != 0)
		return fail(o, "closing first", drv_local_port(fd));
	nkept--;
	close(fd);
	return 0;
}

/* bind(127.0.0.1:0) with the socket range; then listen() or connect() to :5001 as said. */
static int bound_one(struct oracle *o, bool do_listen, bool do_connect)
{
	int fd = sr_socket(SR_LO, SR_HI);
	uint16_t port;

	if (fd < 0)
		return fail(o, "socket with IP_LOCAL_PORT_RANGE", SR_HI);
	if (drv_loopback(fd, 0, true))
		return fail(o, "bind(127.0.0.1:0)", 0);
	port = drv_local_port(fd);
	if (port < SR_LO || port > SR_HI) {
		snprintf(o->msg, sizeof(o->msg), "bind(0) chose %u, outside %u-%u", port, SR_LO,
			 SR_HI);
		return -1;
	}
	if ((do_listen && listen(fd, 4)) ||
	    (do_connect && drv_loopback(fd, dport_of[D_5001], false)))
		return fail(o, do_listen ? "listen" : "connect after bind", port);
	keep(fd);
	drain(NULL, NULL);
	return 0;
}

static int listeners(struct oracle *o)
{
	int d, one = 1;

	for (d = 0; d < SR_NR_DESTS; d++) {
		lfd[d] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (lfd[d] < 0 || setsockopt(lfd[d], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    drv_loopback(lfd[d], dport_of[d], true) || listen(lfd[d], 1024))
			return fail(o, "listener on 127.0.0.1", dport_of[d]);
	}
	return 0;
}

static int build_dest(struct oracle *o, int d)
{
	struct sr_shared *sh = sr_of(o);
	static const struct {
		uint16_t lo, hi;
	} with[] = { { SR_LO, SR_HI },
		     { 0, 0 },
		     { SR_WIDE_LO, SR_WIDE_HI },
		     { SR_MINOR_LO, SR_MINOR_HI } };
	const unsigned int n[] = { mix[d].ranged, mix[d].plain, mix[d].wide, mix[d].minor };
	unsigned int k, i;
	int fd;

	for (k = 0; k < sizeof(with) / sizeof(with[0]); k++) {
		for (i = 0; i < n[k]; i++) {
			fd = connect_one(o, d, with[k].lo, with[k].hi);
			if (fd < 0)
				return -1;
			keep(fd);
		}
	}
	sh->sockets[d] += mix[d].ranged;
	for (i = 0; i < mix[d].tw; i++)
		if (time_wait_one(o, d))
			return -1;
	return 0;
}

static int build_state(struct oracle *o)
{
	struct sr_shared *sh = sr_of(o);
	int fd, d;

	fd = sr_socket(SR_LO, SR_HI);
	if (fd < 0 && errno == ENOPROTOOPT) {
		sh->no_option = errno;
		return 0;
	}
	if (fd < 0)
		return fail(o, "setsockopt(IP_LOCAL_PORT_RANGE)", SR_HI);
	close(fd);
	if (listeners(o) || bound_one(o, false, false) || bound_one(o, true, false) ||
	    bound_one(o, false, true))
		return -1;
	sh->bound_only = 1;
	sh->sockets[D_5001] = 1; /* the one bound, then connected */
	for (d = 0; d < SR_NR_DESTS; d++)
		if (build_dest(o, d))
			return -1;
	return 0;
}

/* connect() to d from fresh sockets (with the socket range when ranged) until the kernel
 * refuses; all closed with RST after, then what the listeners accepted. */
static int count_dest(struct oracle *o, int d, bool ranged)
{
	struct sr_shared *sh = sr_of(o);
	int fds[SR_COUNT_MAX], acc[SR_MAX_FDS], n = 0, nacc = 0, i, fd;

	sh->stop_err[d][!ranged] = 0;
	while (n < SR_COUNT_MAX) {
		fd = sr_socket(SR_LO, ranged ? SR_HI : 0);
		if (fd < 0)
			return fail(o, "socket for a count", dport_of[d]);
		if (drv_loopback(fd, dport_of[d], false)) {
			sh->stop_err[d][!ranged] = errno;
			close(fd);
			break;
		}
		fds[n++] = fd;
		drain(acc, &nacc);
	}
	sh->granted[d][!ranged] = n;
	for (i = 0; i < n; i++)
		drv_rst_close(fds[i]);
	drain(acc, &nacc);
	for (i = 0; i < nacc; i++)
		close(acc[i]);
	return 0;
}

int sr_workload(struct oracle *o)
{
	int d;

	drv_wait_go(o, 1);
	if (build_state(o))
		return 1;
	drv_done(o, 1);
	drv_wait_go(o, 2);
	for (d = 0; d < D_5002; d++)
		if (count_dest(o, d, true) || count_dest(o, d, false))
			return 1;
	drv_done(o, 2);
	for (;;)
		pause();
}

/* ---- the driver ---- */

/*
 * `ephtrace status -v [--json] --netns INODE -l 0` once: its stdout (malloc), NULL on failure.
 * Without its port iterator status knows no socket's range: a FAIL here (root, BTF), with the
 * reason -v makes it print.
 */
static char *run_status(struct drv *d, bool json)
{
	char netns[32], st[64], *out = NULL;
	char *argv[] = { (char *)d->op->ephtrace, "status", "-v", "--netns", netns, "-l", "0",
			 json ? "--json" : NULL,  NULL };
	const char *why;
	int err;

	snprintf(netns, sizeof(netns), "%llu", (unsigned long long)d->w.o->netns);
	err = tracer__start(&d->t, argv);
	if (err) {
		drv_reason(d, FAIL, "cannot start %s: %s", d->op->ephtrace, strerror(-err));
		return NULL;
	}
	d->t_started = true;
	err = tracer__wait(&d->t, 1000 * d->op->timeout_s);
	if (err)
		drv_reason(d, FAIL, "ephtrace status: %s",
			   err == -ETIMEDOUT ? "did not exit in time" : strerror(-err));
	else if (!WIFEXITED(d->t.status) || WEXITSTATUS(d->t.status))
		drv_reason(d, FAIL, "expected ephtrace status to exit 0 got %s: %.200s",
			   status_text(d->t.status, st, sizeof(st)), buf_str(&d->t.err));
	else if ((why = strstr(buf_str(&d->t.err), "ephtrace status: port iterator:")))
		drv_problem(d, "expected status to read the sockets' ranges got \"%.*s\"",
			    (int)strcspn(why, "\n"), why);
	else
		out = strdup(buf_str(&d->t.out));
	tracer__free(&d->t);
	d->t_started = false;
	return out;
}

static bool bound_only_listed(json_object *snap, uint64_t netns)
{
	json_object *a = jarr(snap, "netns"), *e, *b;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double v;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (jnum(e, "netns", &v) == 1 && v == (double)netns &&
		    json_object_object_get_ex(e, "bound_only_listed", &b))
			return json_object_get_boolean(b);
	}
	return true;
}

static void check_num(struct drv *d, int dest, const char *what, json_object *o, const char *key,
		      double want)
{
	double v;
	int r = jnum(o, key, &v);

	if (r != 1 || v != want)
		drv_problem(d, "127.0.0.1:%u %s: expected %.0f got %s%.0f", dport_of[dest], what,
			    want, r == 1 ? "" : "no number ", r == 1 ? v : 0);
}

/* One destination of the snapshot against the counts. */
static void check_dest(struct drv *d, json_object *snap, int dest)
{
	const struct sr_shared *sh = sr_of(d->w.o);
	json_object *row = snap_dest(snap, d->w.o->netns, "127.0.0.1", dport_of[dest]), *sr;
	bool has = row && json_object_object_get_ex(row, "socket_range", &sr);

	if (!row) {
		drv_problem(d, "no destination row for 127.0.0.1:%u", dport_of[dest]);
		return;
	}
	if (dest == D_5002) {
		if (has)
			drv_problem(d,
				    "127.0.0.1:5002: expected no socket_range (no socket narrows "
				    "the range) got %s",
				    json_object_to_json_string(sr));
		return;
	}
	if (sh->stop_err[dest][0] != EADDRNOTAVAIL || sh->stop_err[dest][1] != EADDRNOTAVAIL)
		drv_problem(d,
			    "127.0.0.1:%u: expected the counts to end with EADDRNOTAVAIL got "
			    "%s and %s",
			    dport_of[dest], strerror(sh->stop_err[dest][0]),
			    strerror(sh->stop_err[dest][1]));
	check_num(d, dest, "ports_left (connect() without the socket range)", row, "ports_left",
		  sh->granted[dest][1]);
	if (!has) {
		drv_problem(d, "127.0.0.1:%u: expected a socket_range got none", dport_of[dest]);
		return;
	}
	check_num(d, dest, "socket_range.low", sr, "low", SR_LO);
	check_num(d, dest, "socket_range.high", sr, "high", SR_HI);
	check_num(d, dest, "socket_range.sockets", sr, "sockets", sh->sockets[dest]);
	check_num(d, dest, "socket_range.usable", sr, "usable", SR_USABLE);
	check_num(d, dest, "socket_range.ports_left (connect() with it)", sr, "ports_left",
		  sh->granted[dest][0]);
}

static void check_text(struct drv *d, const char *text)
{
	const struct sr_shared *sh = sr_of(d->w.o);
	char want[128];
	int dest;

	for (dest = 0; dest < D_5002; dest++) {
		snprintf(want, sizeof(want),
			 "note: %u sockets to 127.0.0.1:%u use IP_LOCAL_PORT_RANGE %u-%u:\n",
			 sh->sockets[dest], dport_of[dest], SR_LO, SR_HI);
		if (!strstr(text, want))
			drv_problem(d, "expected the text of status to say \"%.*s\" got:\n%s",
				    (int)strlen(want) - 1, want, text);
	}
}

static void run_sockrange(struct drv *d)
{
	const struct sr_shared *sh = sr_of(d->w.o);
	char *json = NULL, *text = NULL;
	json_object *snap = NULL;
	int dest;

	if (drv_step(d, 1, SR_STEP_MS(d), "building the state"))
		return;
	if (sh->no_option) {
		drv_reason(d, SKIP,
			   "setsockopt(IP_LOCAL_PORT_RANGE): %s: this kernel has no per-socket "
			   "port range (Linux 6.3, backported to 6.1.y)",
			   strerror(sh->no_option));
		return;
	}
	json = run_status(d, true);
	text = json ? run_status(d, false) : NULL;
	snap = json ? json_tokener_parse(json) : NULL;
	if (json && !snap)
		drv_problem(d, "expected one JSON object from status got %.300s", json);
	if (!snap || !text || drv_step(d, 2, SR_STEP_MS(d), "counting"))
		goto out_free;
	if (!bound_only_listed(snap, d->w.o->netns))
		drv_problem(d, "expected bound_only_listed true (status's port iterator lists the "
			       "bound-only sockets sock_diag does not, before 6.8) got false");
	for (dest = 0; dest < SR_NR_DESTS; dest++)
		check_dest(d, snap, dest);
	check_text(d, text);
	if (d->op->verbose)
		printf("  status:\n%s  status --json:\n    %s", text, json);
	buf_printf(&d->done,
		   "socket range %u-%u: the kernel granted :5000 %d connect()s with it, %d "
		   "without; :5001 %d and %d; status said so (socket_range.ports_left, "
		   "ports_left)",
		   SR_LO, SR_HI, sh->granted[D_5000][0], sh->granted[D_5000][1],
		   sh->granted[D_5001][0], sh->granted[D_5001][1]);
out_free:
	json_object_put(snap);
	free(json);
	free(text);
}

enum verdict sr_drive(const struct scenario *s, const struct occ_opts *op)
{
	struct drv d = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();

	if (!drv_start_workload(&d, "eph-sockrange"))
		run_sockrange(&d);
	return drv_finish(&d, t0);
}
