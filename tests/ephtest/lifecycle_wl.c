// SPDX-License-Identifier: GPL-2.0
/*
 * The lifecycle scenarios' workload (lifecycle.h): the calls that take a port, recorded in the
 * oracle and in struct lc_port with the wall-clock windows of what took it and gave it back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lifecycle.h"

/* ---- the workload: recording ---- */

/* o->msg = "what: why" (err 0: what alone); returns -1. */
int lc_fail(struct oracle *o, const char *what, int err)
{
	if (err)
		snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(err));
	else
		snprintf(o->msg, sizeof(o->msg), "%s", what);
	return -1;
}

/* The same from a helper process, which the driver learns of through lc_shared.failed. */
int lc_helper_fail(struct oracle *o, const char *what, int err)
{
	lc_fail(o, what, err);
	__atomic_store_n(&lc_of(o)->failed, 1, __ATOMIC_SEQ_CST);
	return -1;
}

void lc_ready(struct oracle *o, int nsteps)
{
	lc_of(o)->nsteps = nsteps;
	__atomic_store_n(&lc_of(o)->ready, 1, __ATOMIC_SEQ_CST);
}

static struct lc_port lc_scratch;

/* A port taken by r's call, in the window [from, to]; given back (LC_BACK) unless said. */
struct lc_port *lc_port_new(struct oracle *o, const struct orec *r, const char *what, int64_t from,
			    int64_t to)
{
	struct lc_shared *sh = lc_of(o);
	struct lc_port *p = &lc_scratch;

	if (sh->nports < LC_MAX_PORTS)
		p = &sh->port[sh->nports++];
	else
		sh->overflow++;
	memset(p, 0, sizeof(*p));
	p->rec = r >= o->rec && r < o->rec + ORACLE_MAX ? (int32_t)(r - o->rec) : -1;
	p->fd = -1;
	p->port = r->port;
	p->proto = r->proto;
	p->fate = LC_BACK;
	p->took_from = from;
	p->took_to = to;
	snprintf(p->what, sizeof(p->what), "%s", what);
	return p;
}

void lc_dest(uint16_t port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* The socket's local port (0 if none), its address into addr. */
uint16_t lc_local(int fd, uint8_t addr[16])
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(addr, 0, 16);
	if (getsockname(fd, (struct sockaddr *)&sin, &len) || sin.sin_family != AF_INET)
		return 0;
	memcpy(addr, &sin.sin_addr, 4);
	return ntohs(sin.sin_port);
}

int lc_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -1;
	return ti.tcpi_state;
}

int lc_wait_state(int fd, int st, int ms)
{
	int64_t deadline = now_ms() + ms;

	while (lc_state(fd) != st) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/* Sockets of the namespace (TIME_WAIT included) on local port lport in /proc/self/net/tcp: how
 * many, and the state of the last one into *st. */
int lc_tcp_entries(uint16_t lport, int *st)
{
	unsigned int lp, rp, state;
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/net/tcp", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*u: %*x:%x %*x:%x %x", &lp, &rp, &state) != 3 || lp != lport)
			continue;
		n++;
		*st = state;
	}
	fclose(f);
	return n;
}

/* The kernel has no socket on p's port any more (no TIME_WAIT): else o->msg says which. */
int lc_gone(struct oracle *o, const struct lc_port *p)
{
	char msg[160];
	int st = 0, n = lc_tcp_entries(p->port, &st);

	if (n == 0)
		return 0;
	snprintf(msg, sizeof(msg), "%s: port %u still in /proc/net/tcp (%d, state %d)", p->what,
		 p->port, n, st);
	return lc_fail(o, msg, n < 0 ? -n : 0);
}

/* A record of a TCP call that takes a port on the way to 127.0.0.1:dport (connect(), or the one
 * inside a MSG_FASTOPEN send): ephemeral, its destination set. */
struct orec *lc_rec_connect(struct oracle *o, uint16_t dport)
{
	struct orec *r = rec_new(o, OP_CONNECT, IPPROTO_TCP, AF_INET);
	struct sockaddr_in sin;

	lc_dest(dport, &sin);
	r->has_dest = true;
	memcpy(r->daddr, &sin.sin_addr, 4);
	r->dport = dport;
	r->ephemeral = true;
	return r;
}

/*
 * What the call returned, and the port: an assign when the socket has one, whatever the errno
 * (EINPROGRESS, ECONNREFUSED...: it came after the port was taken, so the event carries none).
 * After a failure the source address reads 0.0.0.0 (tcp_disconnect() reset it): the one the
 * kernel chose is the loopback route's, the destination's.
 */
static void lc_result(struct orec *r, int fd, int ret, int err)
{
	static const uint8_t any[16];

	r->ret = ret;
	r->err = ret < 0 ? err : 0;
	r->port = lc_local(fd, r->addr);
	if (r->port && !memcmp(r->addr, any, sizeof(any)))
		memcpy(r->addr, r->daddr, 4);
	r->expect = r->port ? EXPECT_ASSIGN : EXPECT_NONE;
}

/* connect() of fd to 127.0.0.1:dport (or a MSG_FASTOPEN send of one byte), recorded, with the
 * wall-clock window of the call in *t0, *t1. */
struct orec *lc_connect(struct oracle *o, int fd, uint16_t dport, int how, int64_t *t0, int64_t *t1)
{
	struct orec *r = lc_rec_connect(o, dport);
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct sockaddr_in sin;
	struct msghdr m = { .msg_name = &sin,
			    .msg_namelen = sizeof(sin),
			    .msg_iov = &iov,
			    .msg_iovlen = 1 };
	int ret, err;

	lc_dest(dport, &sin);
	*t0 = wall_ns();
	if (how == LC_SENDTO)
		ret = sendto(fd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&sin, sizeof(sin));
	else if (how == LC_SENDMSG)
		ret = sendmsg(fd, &m, MSG_FASTOPEN);
	else
		ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	err = errno;
	*t1 = wall_ns();
	lc_result(r, fd, ret, err);
	return r;
}

/* A UDP socket bound to loopback:port, recorded (a bind assign), its port in the list. */
int lc_udp_bound(struct oracle *o, int family, uint16_t port, const char *what,
		 struct lc_port **pp)
{
	int64_t t0, t1;
	int fd, err;

	fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket(SOCK_DGRAM)", errno);
	t0 = wall_ns();
	err = rec_bind(o, fd, IPPROTO_UDP, family, port);
	t1 = wall_ns();
	if (err) {
		close(fd);
		return lc_fail(o, "UDP bind() to loopback", -err);
	}
	*pp = lc_port_new(o, &o->rec[o->n - 1], what, t0, t1);
	return fd;
}

/* A TCP listener on 127.0.0.1:LC_LISTEN_PORT, its bind() recorded (a port it holds until the
 * end); tfo: TCP_FASTOPEN on it. */
int lc_listener(struct oracle *o, bool tfo, struct lc_port **pp)
{
	int fd, err, one = 1, qlen = 16;
	int64_t t0, t1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return lc_fail(o, "socket() of the listener", errno);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto out_err;
	t0 = wall_ns();
	err = rec_bind(o, fd, IPPROTO_TCP, AF_INET, LC_LISTEN_PORT);
	t1 = wall_ns();
	if (err) {
		errno = -err;
		goto out_err;
	}
	*pp = lc_port_new(o, &o->rec[o->n - 1], "the listener, closed at the end", t0, t1);
	if (tfo && setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)))
		goto out_err;
	if (listen(fd, 64))
		goto out_err;
	return fd;

out_err:
	err = errno;
	close(fd);
	return lc_fail(o, "the listener on 127.0.0.1:5000", err);
}

/* close() of fd, the window around it given back to p. */
void lc_close_back(struct lc_port *p, int fd, bool rst)
{
	p->back_from = wall_ns();
	if (rst)
		drv_rst_close(fd);
	else
		close(fd);
	p->back_to = wall_ns();
}
