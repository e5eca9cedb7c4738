// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle scenarios over TCP (lifecycle.h; lifecycle.c drives them; syn-blackhole is in
 * lifecycle_syn.c):
 *
 *   refused        10 connect()s to a closed port, 5 blocking (ECONNREFUSED) and 5 not
 *                  (EINPROGRESS: on loopback the RST came before connect() returned, the socket
 *                  is closed then, getsockname() still names the port): each an assign and a
 *                  release within the call.
 *   rst-close      connections ended by a RST, 4 of each: SO_LINGER 0 close() by us from
 *                  ESTABLISHED, and from FIN_WAIT2 (after shutdown(SHUT_WR)); a RST from the
 *                  peer in ESTABLISHED and in FIN_WAIT2. No TIME_WAIT (checked in
 *                  /proc/net/tcp): a release each, when the RST went or came. Then 2 closed by us
 *                  first with a FIN: TIME_WAIT, no release while the workload runs (when its
 *                  namespace goes, inet_twsk_purge() ends them: fentry and kprobe report those
 *                  releases, allowed after the workload's end). The listener's close: a release.
 *   tfo            TCP Fast Open (net.ipv4.tcp_fastopen 3 in the namespace, a TFO listener): 3
 *                  sendto(MSG_FASTOPEN) and 1 sendmsg(MSG_FASTOPEN) from unbound sockets (the
 *                  first asks for the cookie, the others carry data in the SYN): connect()'s port
 *                  search runs inside the send, so each is an assign with op connect, at the
 *                  send. TCP_FASTOPEN_CONNECT (the cookie cached): connect() takes the port and
 *                  returns 0 with no SYN sent (deferred to the first write()): 2 written
 *                  LC_GAP_MS later, 2 closed and 2 shut down without a write: the assign at
 *                  connect(), the release at the RST, close() or shutdown().
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lifecycle.h"

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif
#ifndef TCPI_OPT_SYN_DATA
#define TCPI_OPT_SYN_DATA 32
#endif

#define LC_CLOSED_PORT 5001 /* refused: nobody listens */
#define LC_NR_REFUSED 10
#define LC_NR_RST 4 /* connections of each RST kind */
#define LC_NR_TW 2  /* closed with a FIN, into TIME_WAIT */

/* ---- refused ---- */

int lc_refused(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_port *p;
	int64_t t0, t1;
	struct orec *r;
	int i, fd, err;
	socklen_t len = sizeof(err);
	bool nb;

	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	for (i = 0; i < LC_NR_REFUSED; i++) {
		nb = i >= LC_NR_REFUSED / 2;
		fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
		if (fd < 0)
			return lc_fail(o, "socket()", errno);
		r = lc_connect(o, fd, LC_CLOSED_PORT, LC_CONNECT, &t0, &t1);
		if (r->err != (nb ? EINPROGRESS : ECONNREFUSED))
			return lc_fail(o,
				       nb ? "non-blocking connect() to a closed port: expected "
					    "EINPROGRESS got" :
					    "connect() to a closed port: expected ECONNREFUSED got",
				       r->err);
		if (nb) { /* the RST came before connect() returned: the socket is closed */
			if (lc_state(fd) != TCP_CLOSE ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err != ECONNREFUSED)
				return lc_fail(o,
					       "non-blocking connect() to a closed port: not "
					       "refused before it returned",
					       0);
		}
		if (!r->port)
			return lc_fail(o, "getsockname() after a refused connect(): no port", 0);
		p = lc_port_new(o, r, nb ? "non-blocking connect(), refused" : "connect(), refused",
				t0, t1);
		p->back_from = t0; /* the RST came within the call */
		p->back_to = wall_ns();
		close(fd);
	}
	snprintf(sh->note, sizeof(sh->note), "kernel: %d refused before connect() returned",
		 LC_NR_REFUSED);
	drv_done(o, 1);
	return 0;
}

/* ---- rst-close ---- */

#define RC_US 0		  /* SO_LINGER 0 close() by us, ESTABLISHED */
#define RC_US_FIN_WAIT2 1 /* the same after shutdown(SHUT_WR) */
#define RC_PEER 2	  /* the peer's SO_LINGER 0 close(), ESTABLISHED */
#define RC_PEER_FIN_WAIT2 3
#define RC_TIME_WAIT 4 /* close() by us first, with a FIN */

static const char *const rc_what[] = {
	"RST by us (SO_LINGER 0), ESTABLISHED", "RST by us (SO_LINGER 0), FIN_WAIT2",
	"RST by the peer, ESTABLISHED",		"RST by the peer, FIN_WAIT2",
	"FIN by us first: TIME_WAIT, kept",
};

/* One connection of kind k to the listener, ended as k says. */
static int lc_rst_one(struct oracle *o, int lfd, int k)
{
	struct pollfd pfd = { .events = POLLIN };
	int64_t t0, t1, deadline;
	struct lc_port *p;
	struct orec *r;
	int fd, st = 0;
	char ch;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket()", errno);
	r = lc_connect(o, fd, LC_LISTEN_PORT, LC_CONNECT, &t0, &t1);
	if (r->ret)
		return lc_fail(o, "connect() to the listener", r->err);
	p = lc_port_new(o, r, rc_what[k], t0, t1);
	pfd.fd = accept(lfd, NULL, NULL);
	if (pfd.fd < 0)
		return lc_fail(o, "accept()", errno);
	if (k == RC_US_FIN_WAIT2 || k == RC_PEER_FIN_WAIT2) {
		if (shutdown(fd, SHUT_WR) || lc_wait_state(fd, TCP_FIN_WAIT2, LC_STATE_MS))
			return lc_fail(o, "shutdown(SHUT_WR): no FIN_WAIT2", errno);
	}
	switch (k) {
	case RC_US:
	case RC_US_FIN_WAIT2:
		lc_close_back(p, fd, true);
		close(pfd.fd);
		break;
	case RC_PEER:
	case RC_PEER_FIN_WAIT2:
		p->back_from = wall_ns();
		drv_rst_close(pfd.fd);
		if (lc_wait_state(fd, TCP_CLOSE, LC_STATE_MS))
			return lc_fail(o, "the peer's RST did not close the socket", ETIMEDOUT);
		p->back_to = wall_ns();
		close(fd);
		break;
	default:
		p->fate = LC_KEPT;
		close(fd);
		if (poll(&pfd, 1, LC_STATE_MS) != 1 || read(pfd.fd, &ch, 1) != 0)
			return lc_fail(o, "the server side: no EOF", ETIMEDOUT);
		close(pfd.fd);
		deadline = now_ms() + LC_STATE_MS;
		while (lc_tcp_entries(p->port, &st) != 1 || st != TCP_TIME_WAIT) {
			if (now_ms() > deadline)
				return lc_fail(o, "closed first with a FIN: no TIME_WAIT", 0);
			usleep(1000);
		}
		return 0;
	}
	return lc_gone(o, p);
}

int lc_rst_close(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_port *lp;
	int i, k, lfd;

	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	lfd = lc_listener(o, false, &lp);
	if (lfd < 0)
		return -1;
	for (i = 0; i < LC_NR_RST; i++)
		for (k = RC_US; k <= RC_PEER_FIN_WAIT2; k++)
			if (lc_rst_one(o, lfd, k))
				return -1;
	for (i = 0; i < LC_NR_TW; i++)
		if (lc_rst_one(o, lfd, RC_TIME_WAIT))
			return -1;
	lc_close_back(lp, lfd, false);
	sh->end_ns = wall_ns();
	snprintf(sh->note, sizeof(sh->note),
		 "kernel: no socket left on a port ended by a RST, %d in TIME_WAIT", LC_NR_TW);
	drv_done(o, 1);
	return 0;
}

/* ---- tfo ---- */

/* A MSG_FASTOPEN send (how) from a fresh socket: the connection accepted, its byte read, then a
 * RST. *syn_data counts the SYNs that carried the byte. */
static int lc_tfo_send(struct oracle *o, int lfd, int how, unsigned int *syn_data)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct lc_port *p;
	int64_t t0, t1;
	struct orec *r;
	int fd, afd;
	char ch;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket()", errno);
	r = lc_connect(o, fd, LC_LISTEN_PORT, how, &t0, &t1);
	if (r->ret != 1 || !r->port)
		return lc_fail(o,
			       how == LC_SENDTO ? "sendto(MSG_FASTOPEN)" : "sendmsg(MSG_FASTOPEN)",
			       r->err);
	p = lc_port_new(
		o, r, how == LC_SENDTO ? "sendto(MSG_FASTOPEN), RST" : "sendmsg(MSG_FASTOPEN), RST",
		t0, t1);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0 || read(afd, &ch, 1) != 1)
		return lc_fail(o, "the TFO connection's byte", errno);
	if (!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
	    (ti.tcpi_options & TCPI_OPT_SYN_DATA))
		(*syn_data)++;
	lc_close_back(p, fd, true);
	close(afd);
	return lc_gone(o, p);
}

#define TFO_WRITE 0    /* the first write() sends the SYN, LC_GAP_MS after connect() */
#define TFO_CLOSE 1    /* close() with no write(): no SYN ever */
#define TFO_SHUTDOWN 2 /* shutdown() with no write() (tcp_disconnect()), then close() */

static const char *const tfo_what[] = {
	"TCP_FASTOPEN_CONNECT, write() later, RST",
	"TCP_FASTOPEN_CONNECT, close() with no write()",
	"TCP_FASTOPEN_CONNECT, shutdown() with no write()",
};

/* TCP_FASTOPEN_CONNECT with a cookie cached: connect() takes the port and returns 0, the SYN
 * waits for the first write() (tcp_fastopen_defer_connect()); how says what comes next. */
static int lc_tfo_deferred(struct oracle *o, int lfd, int how)
{
	struct lc_port *p;
	int64_t t0, t1;
	struct orec *r;
	int fd, afd, one = 1;
	char ch;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket()", errno);
	if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)))
		return lc_fail(o, "setsockopt(TCP_FASTOPEN_CONNECT)", errno);
	r = lc_connect(o, fd, LC_LISTEN_PORT, LC_CONNECT, &t0, &t1);
	if (r->ret || !r->port)
		return lc_fail(o, "connect() with TCP_FASTOPEN_CONNECT", r->err);
	if (lc_state(fd) != TCP_SYN_SENT)
		return lc_fail(o, "connect() with TCP_FASTOPEN_CONNECT: not deferred (no cookie?)",
			       0);
	p = lc_port_new(o, r, tfo_what[how], t0, t1);
	if (p)
		p->deferred = 1;
	usleep(LC_GAP_MS * 1000);
	if (how == TFO_CLOSE) {
		lc_close_back(p, fd, false);
		return lc_gone(o, p);
	}
	if (how == TFO_SHUTDOWN) {
		p->back_from = wall_ns();
		if (shutdown(fd, SHUT_RDWR))
			return lc_fail(o, "shutdown() of a deferred connection", errno);
		p->back_to = wall_ns();
		close(fd);
		return lc_gone(o, p);
	}
	if (write(fd, "x", 1) != 1)
		return lc_fail(o, "write() after TCP_FASTOPEN_CONNECT", errno);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0 || read(afd, &ch, 1) != 1)
		return lc_fail(o, "the deferred connection's byte", errno);
	lc_close_back(p, fd, true);
	close(afd);
	return lc_gone(o, p);
}

int lc_tfo(struct oracle *o)
{
	struct lc_shared *sh = lc_of(o);
	unsigned int syn_data = 0;
	struct lc_port *lp;
	FILE *f;
	int i, lfd;

	f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "w");
	if (!f || fprintf(f, "3\n") < 0 || fclose(f))
		return lc_fail(o, "net.ipv4.tcp_fastopen = 3 in the namespace", errno);
	lc_ready(o, 1);
	drv_wait_go(o, 1);
	sh->t0 = wall_ns();
	lfd = lc_listener(o, true, &lp);
	if (lfd < 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (lc_tfo_send(o, lfd, LC_SENDTO, &syn_data))
			return -1;
	if (lc_tfo_send(o, lfd, LC_SENDMSG, &syn_data))
		return -1;
	for (i = 0; i < 6; i++) /* the cookie is cached now: each connect() defers */
		if (lc_tfo_deferred(o, lfd, i / 2))
			return -1;
	lc_close_back(lp, lfd, false);
	if (!syn_data)
		return lc_fail(o, "no MSG_FASTOPEN SYN carried data: Fast Open did not happen", 0);
	snprintf(sh->note, sizeof(sh->note),
		 "kernel: %u of 4 MSG_FASTOPEN SYNs carried data (the first asks for the cookie)",
		 syn_data);
	drv_done(o, 1);
	return 0;
}
