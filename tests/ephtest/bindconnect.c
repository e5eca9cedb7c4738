// SPDX-License-Identifier: GPL-2.0
/*
 * The bind-connect scenarios: TCP connect() on sockets that bind() gave a port already. The
 * kernel chooses no port then (inet_hash_connect only checks that the 4-tuple is free), so
 * ephtrace reports a bound_connect event (EPH_CONNECT) and no assign; a connect() whose 4-tuple
 * is taken fails with EADDRNOTAVAIL, reported as a fail with "bound" (not port exhaustion).
 * With IP_BIND_ADDRESS_NO_PORT, bind(addr:0) takes no port and connect() chooses it: an assign
 * with "bind_address_no_port". Every call is recorded in the oracle with what the kernel
 * answered; check.c compares it with `ephtrace events --json`, flags included.
 *
 * On loopback (127.0.0.1, or ::1 for bind-connect-v6), a listener on BC_LISTEN_PORT, then
 * (every socket stays open until the end):
 *   fixed    bind(BC_FIXED_PORT), a port inside the range, then connect(): bound_connect, not
 *            ephemeral (first, so that no bind(0) took that port)
 *   refused  the same with BC_REFUSED_PORT, to BC_CLOSED_PORT where nobody listens:
 *            ECONNREFUSED, still a bound_connect (the 4-tuple was free, the SYN went out)
 * BC_NR times each of
 *   any      bind(0) then connect(): bound_connect, ephemeral
 *   nonblock the same with SOCK_NONBLOCK: connect() says EINPROGRESS, the handshake ends,
 *            connect() again says 0, then EISCONN: still one bound_connect
 *   no_port  IP_BIND_ADDRESS_NO_PORT + bind(0) (no port, no event) + connect(): an assign with
 *            bind_address_no_port, not bound
 * then a connect() of an unbound socket to BC_CLOSED_PORT: ECONNREFUSED, an assign (the port
 * was taken before the SYN; it goes back with the RST). Last, twice: two SO_REUSEADDR sockets
 * on one port (bind(0), then bind() of the port the first got), both connect() to the
 * listener: the first is a bound_connect, the second fails with EADDRNOTAVAIL (the 4-tuple is
 * the first's): a fail with bound. First the fixed-port socket fails (it keeps its port),
 * then, roles swapped, the bind(0) one (its port goes back to the pool with the failure: the
 * fail names it).
 *
 * Not here: a bind(0) socket whose connect() fails after its SYN before connect() returns
 * (refused, timed out). Its port goes back at once; fentry and kprobe report the bound_connect
 * then the release, the tracepoint backend the release only (README, what it cannot know).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ephtest.h"

#define BC_LISTEN_PORT 5000 /* outside the range */
#define BC_CLOSED_PORT 5001 /* nobody listens: ECONNREFUSED */
#define BC_FIXED_PORT 40010 /* inside the scenario's range 40000-40063; bound before any bind(0) */
#define BC_REFUSED_PORT 40011 /* the same, for the refused connect() */
#define BC_NR 3
#define BC_CONNECT_TIMEOUT_MS 5000

struct bc {
	struct oracle *o;
	int family; /* AF_INET or AF_INET6 */
};

static int bc_fail(const struct bc *b, const char *what, int err)
{
	snprintf(b->o->msg, sizeof(b->o->msg), "%s: %s", what, strerror(err));
	return -1;
}

/* The port of a sockaddr, and its address into addr (16 bytes, IPv4 in the first 4). */
static uint16_t bc_sa(const struct sockaddr_storage *ss, uint8_t addr[16])
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		memcpy(addr, &sin->sin_addr, 4);
		return ntohs(sin->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(addr, &sin6->sin6_addr, 16);
		return ntohs(sin6->sin6_port);
	}
	return 0;
}

/* The socket's local port (0 if none) and its address into addr. */
static uint16_t bc_local(int fd, uint8_t addr[16])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		ss.ss_family = AF_UNSPEC;
	return bc_sa(&ss, addr);
}

/* Loopback:port. */
static socklen_t bc_dest(const struct bc *b, uint16_t port, struct sockaddr_storage *ss)
{
	socklen_t len;

	drv_sockaddr(b->family == AF_INET ? "127.0.0.1" : "::1", port, ss, &len);
	return len;
}

/* A TCP socket with the boolean option level/opt turned on (none when opt is 0). */
static int bc_socket(const struct bc *b, int type, int level, int opt)
{
	int fd = socket(b->family, type, IPPROTO_TCP), one = 1;

	if (fd < 0)
		return bc_fail(b, "socket()", errno);
	if (opt && setsockopt(fd, level, opt, &one, sizeof(one))) {
		snprintf(b->o->msg, sizeof(b->o->msg), "setsockopt(%d, %d): %s", level, opt,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A non-blocking connect() in progress: wait for its end; 0 once connected, else -errno. */
static int bc_finish(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0, n;

	do {
		n = poll(&pfd, 1, BC_CONNECT_TIMEOUT_MS);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n ? -errno : -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

/*
 * connect() of fd to loopback:dport, recorded. bind_any: fd's bind() asked for port 0 (the
 * event's "ephemeral" when fd had a port); no_port: IP_BIND_ADDRESS_NO_PORT is set. What
 * ephtrace must report: a fail on EADDRNOTAVAIL; else, when the SYN went out (connect()
 * succeeded, is in progress, or was refused), a bound_connect when fd had a port, an assign
 * when connect() chose it. A bound socket that fails is recorded with the port it had: a
 * bind(0) port goes back to the pool with the failure (getsockname() says 0 after it), and the
 * fail event names it. Returns 0 or -errno (-EINPROGRESS included).
 */
static int bc_connect(const struct bc *b, int fd, uint16_t dport, bool bind_any, bool no_port)
{
	struct orec *r = rec_new(b->o, OP_CONNECT, IPPROTO_TCP, b->family);
	struct sockaddr_storage ss;
	socklen_t len = bc_dest(b, dport, &ss);
	uint8_t before[16];
	uint16_t port;
	int ret;

	port = bc_local(fd, before);
	r->bound = port != 0;
	r->no_port = no_port;
	r->ephemeral = r->bound ? bind_any : true;
	r->has_dest = true;
	r->dport = bc_sa(&ss, r->daddr);
	ret = connect(fd, (struct sockaddr *)&ss, len);
	r->ret = ret;
	r->err = ret < 0 ? errno : 0;
	r->port = bc_local(fd, r->addr);
	if (!r->err || r->err == EINPROGRESS || r->err == ECONNREFUSED) {
		r->expect = r->bound ? EXPECT_BOUND_CONNECT : EXPECT_ASSIGN;
		/* a refused connect() of an unbound socket: tcp_disconnect() cleared the source
		 * address the kernel chose, the one of the loopback route (the destination) */
		if (r->err == ECONNREFUSED && !r->bound)
			memcpy(r->addr, r->daddr, sizeof(r->addr));
	} else if (r->err == EADDRNOTAVAIL) {
		r->expect = EXPECT_FAIL;
		if (r->bound) {
			r->port = port;
			memcpy(r->addr, before, sizeof(r->addr));
		}
	}
	return -r->err;
}

/* A socket bound to loopback:port (the bind() recorded), or -1 with the reason in o->msg. */
static int bc_bound(const struct bc *b, int type, int level, int opt, uint16_t port)
{
	int fd = bc_socket(b, type, level, opt), err;

	if (fd < 0)
		return -1;
	err = rec_bind(b->o, fd, IPPROTO_TCP, b->family, port);
	if (err) {
		close(fd);
		return bc_fail(b, port ? "bind(loopback:port)" : "bind(loopback:0)", -err);
	}
	return fd;
}

static int bc_listener(const struct bc *b)
{
	int fd = bc_bound(b, SOCK_STREAM, 0, 0, BC_LISTEN_PORT);

	if (fd >= 0 && listen(fd, 64)) {
		bc_fail(b, "listen()", errno);
		close(fd);
		return -1;
	}
	return fd;
}

/* bind(loopback:port) then connect(): one bound_connect. */
static int bc_plain(const struct bc *b, uint16_t port)
{
	int fd = bc_bound(b, SOCK_STREAM, 0, 0, port), err;

	if (fd < 0)
		return -1;
	err = bc_connect(b, fd, BC_LISTEN_PORT, port == 0, false);
	return err ? bc_fail(b, "connect() after bind()", -err) : 0;
}

/* The same without blocking: EINPROGRESS, the handshake ends, then 0 and EISCONN. */
static int bc_nonblock(const struct bc *b)
{
	int fd = bc_bound(b, SOCK_STREAM | SOCK_NONBLOCK, 0, 0, 0), err;
	struct sockaddr_storage ss;
	socklen_t len;

	if (fd < 0)
		return -1;
	err = bc_connect(b, fd, BC_LISTEN_PORT, true, false);
	if (err != -EINPROGRESS) /* not what the case is about: say so */
		return bc_fail(b, "non-blocking connect() after bind(): expected EINPROGRESS got",
			       -err);
	err = bc_finish(fd);
	if (err)
		return bc_fail(b, "non-blocking connect(): SO_ERROR", -err);
	/*
	 * Some event loops connect() again to learn the result: Linux says 0 once (the socket
	 * goes from SS_CONNECTING to SS_CONNECTED), then EISCONN. Not recorded (a connected socket
	 * can take no port) and no event: the bound_connect was the first call's.
	 */
	len = bc_dest(b, BC_LISTEN_PORT, &ss);
	err = connect(fd, (struct sockaddr *)&ss, len) ? errno : 0;
	if (!err)
		err = connect(fd, (struct sockaddr *)&ss, len) ? errno : 0;
	if (err != EISCONN)
		return bc_fail(b, "connect() again: expected 0, then EISCONN, got", err);
	return 0;
}

/* connect() to a port nobody listens on, from a socket bound to port (0: not bound). */
static int bc_refused(const struct bc *b, uint16_t port)
{
	int fd = port ? bc_bound(b, SOCK_STREAM, 0, 0, port) : bc_socket(b, SOCK_STREAM, 0, 0);
	int err;

	if (fd < 0)
		return -1;
	err = bc_connect(b, fd, BC_CLOSED_PORT, false, false);
	if (err != -ECONNREFUSED)
		return bc_fail(b, "connect() to a closed port: expected ECONNREFUSED got", -err);
	return 0;
}

/* IP_BIND_ADDRESS_NO_PORT: bind() takes no port (no event), connect() chooses it. */
static int bc_no_port(const struct bc *b)
{
	int fd = bc_bound(b, SOCK_STREAM, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 0), err;

	if (fd < 0)
		return -1;
	err = bc_connect(b, fd, BC_LISTEN_PORT, true, true);
	return err ? bc_fail(b, "connect() after IP_BIND_ADDRESS_NO_PORT bind()", -err) : 0;
}

/*
 * Two SO_REUSEADDR sockets on one port, one destination: the second connect() finds its
 * 4-tuple taken. any_fails: the bind(0) socket connects second (and fails), else the one bound
 * to the port it got.
 */
static int bc_reuse(const struct bc *b, bool any_fails)
{
	int any, fixed, err;
	uint8_t addr[16];

	any = bc_bound(b, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, 0);
	if (any < 0)
		return -1;
	fixed = bc_bound(b, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, bc_local(any, addr));
	if (fixed < 0)
		return -1;
	err = any_fails ? bc_connect(b, fixed, BC_LISTEN_PORT, false, false) :
			  bc_connect(b, any, BC_LISTEN_PORT, true, false);
	if (err)
		return bc_fail(b, "connect() of the first SO_REUSEADDR socket", -err);
	err = any_fails ? bc_connect(b, any, BC_LISTEN_PORT, true, false) :
			  bc_connect(b, fixed, BC_LISTEN_PORT, false, false);
	if (err != -EADDRNOTAVAIL)
		return bc_fail(b, "connect() of the second: expected EADDRNOTAVAIL got", -err);
	return 0;
}

static int bc_run(struct oracle *o, int family)
{
	const struct bc b = { .o = o, .family = family };
	int i;

	if (bc_listener(&b) < 0 || bc_plain(&b, BC_FIXED_PORT) || bc_refused(&b, BC_REFUSED_PORT))
		return -1;
	for (i = 0; i < BC_NR; i++)
		if (bc_plain(&b, 0) || bc_nonblock(&b) || bc_no_port(&b))
			return -1;
	if (bc_refused(&b, 0) || bc_reuse(&b, false))
		return -1;
	return bc_reuse(&b, true);
}

int bc_workload(struct oracle *o)
{
	return bc_run(o, AF_INET);
}

int bc_workload_v6(struct oracle *o)
{
	return bc_run(o, AF_INET6);
}
