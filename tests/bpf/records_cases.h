/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cases of tests/bpf/records.c (its top comment says what each does) and the records each
 * expects: the network namespace's range and the listener's port, the wants of a connect(), a
 * release at close() with SO_LINGER 0, a port inside the range; connect, exhaust, bind and udp,
 * and their table. A header and not a .c, as records.h: the Makefile makes a test binary of
 * every .c in tests/bpf/; only records.c includes it.
 */
#ifndef EPH_TEST_RECORDS_CASES_H
#define EPH_TEST_RECORDS_CASES_H

#include "records.h"

#define RANGE "40000 40009"
#define RANGE_LO 40000
#define RANGE_HI 40009
#define NPORTS (RANGE_HI - RANGE_LO + 1)
#define LPORT 5000     /* the listener's: bind() takes it outside the range */
#define UDP_DPORT 5001 /* where the UDP datagram goes (nobody listens: sendto() still succeeds) */

/* --- expectations -------------------------------------------------------------------------- */

static struct want *want_add(struct tcase *t, struct sk *s, uint8_t type, uint8_t op, uint64_t t0,
			     uint64_t t1)
{
	static struct want scratch;
	struct want *w;

	if (t->nwant == MAX_WANT) {
		tfail(t, "test: more than %d records expected", MAX_WANT);
		return &scratch;
	}
	w = &t->want[t->nwant];
	*w = (struct want){ .sock = s->name,
			    .cookie = s->cookie,
			    .type = type,
			    .op = op,
			    .proto = s->proto,
			    .family = s->family,
			    .t0 = t0,
			    .t1 = t1,
			    .assign = -1 };
	if (type == EPH_ASSIGN)
		s->assign = t->nwant;
	t->nwant++;
	return w;
}

/* The cgroup hooks time a successful search (connect4 or bind4 to TCP_CONNECT_CB or
 * post_bind); the system call tracepoints time only a failed one (SYN_SENT to CLOSE). */
static uint16_t search_flag(const struct tcase *t)
{
	return t->backend == EPH_BACKEND_CGROUP ? EPH_F_SEARCH : 0;
}

/* The kernel chose this port for the case: it must be in the namespace's range, or the range
 * is not in effect and the case does not test what it says. */
static void port_in_range(struct tcase *t, const struct sk *s, uint16_t port)
{
	if (port < RANGE_LO || port > RANGE_HI)
		tfail(t, "setup: %s: getsockname() port %u outside the range %s", s->name, port,
		      RANGE);
}

/* s connected in [t0, t1]: its assignment, with what getsockname() and getpeername() say. */
static void want_connected(struct tcase *t, struct sk *s, uint64_t t0, uint64_t t1)
{
	struct want *w = want_add(t, s, EPH_ASSIGN, EPH_OP_CONNECT, t0, t1);

	w->sport = sk_name(s->fd, false, &w->saddr);
	w->dport = sk_name(s->fd, true, &w->daddr);
	w->flags = EPH_F_EPHEMERAL | EPH_F_SADDR | EPH_F_DEST | search_flag(t);
	port_in_range(t, s, w->sport);
}

/*
 * Close s (SO_LINGER 0) and expect the release of its assignment, if it had one: the port
 * and addresses the socket had just before, the owner's identity (EPH_F_OWNER), the hold's
 * op and EPH_F_EPHEMERAL; TCP reads its destination from the socket (EPH_F_DEST, 0.0.0.0:0 for
 * a socket never connected), UDP has none.
 */
static void close_release(struct tcase *t, struct sk *s)
{
	const struct want *a = s->assign >= 0 ? &t->want[s->assign] : NULL;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint64_t t0, t1;
	struct want *w;

	if (s->fd < 0)
		return;
	sport = sk_name(s->fd, false, &saddr);
	dport = sk_name(s->fd, true, &daddr);
	t0 = now_ns();
	close_rst(s->fd);
	t1 = now_ns();
	s->fd = -1;
	if (!a)
		return; /* no port taken (the failed connect()): nothing to release */
	w = want_add(t, s, EPH_RELEASE, a->op, t0, t1);
	w->assign = s->assign;
	w->sport = sport;
	w->saddr = saddr;
	w->flags = EPH_F_OWNER | EPH_F_HELD | EPH_F_SADDR |
		   (a->flags & (EPH_F_EPHEMERAL | EPH_F_V6ONLY));
	if (s->proto == IPPROTO_TCP) {
		w->flags |= EPH_F_DEST;
		w->dport = dport;
		w->daddr = daddr;
	}
}

#define SETUP(t, ok, what)                                                \
	({                                                                \
		bool ok_ = (ok);                                          \
		if (!ok_)                                                 \
			tfail(t, "setup: %s: %s", what, strerror(errno)); \
		ok_;                                                      \
	})

/* --- the cases ----------------------------------------------------------------------------- */

/* A listener bound to 127.0.0.1:LPORT: a bind() of a given port, not ephemeral. */
static bool listener(struct tcase *t, struct sk *s)
{
	struct sockaddr_in a = lo_addr(LPORT);
	uint64_t t0, t1;
	struct want *w;
	int rc;

	if (!SETUP(t, !sk_open(s, SOCK_STREAM, "listener"), "socket"))
		return false;
	t0 = now_ns();
	rc = bind(s->fd, (struct sockaddr *)&a, sizeof(a));
	t1 = now_ns();
	if (!SETUP(t, !rc, "bind(127.0.0.1:LPORT)") || !SETUP(t, !listen(s->fd, 64), "listen"))
		return false;
	w = want_add(t, s, EPH_ASSIGN, EPH_OP_BIND, t0, t1);
	w->sport = sk_name(s->fd, false, &w->saddr);
	w->req_port = LPORT;
	w->flags = EPH_F_REQ | EPH_F_SADDR | search_flag(t);
	return true;
}

static bool connect_lo(struct sk *s, uint64_t *t0, uint64_t *t1)
{
	struct sockaddr_in a = lo_addr(LPORT);
	int rc;

	*t0 = now_ns();
	rc = connect(s->fd, (struct sockaddr *)&a, sizeof(a));
	*t1 = now_ns();
	return !rc;
}

static void case_connect(struct tcase *t)
{
	struct sk lst = { .fd = -1 }, c = { .fd = -1 };
	uint64_t t0, t1;

	if (listener(t, &lst) && SETUP(t, !sk_open(&c, SOCK_STREAM, "client"), "socket") &&
	    SETUP(t, connect_lo(&c, &t0, &t1), "connect"))
		want_connected(t, &c, t0, t1);
	close_release(t, &c);
	close_release(t, &lst);
}

static void case_exhaust(struct tcase *t)
{
	static char names[NPORTS][16];
	struct sk lst = { .fd = -1 }, c[NPORTS], over = { .fd = -1 };
	uint64_t t0, t1;
	struct want *w;
	int i, n = 0, err;

	if (!listener(t, &lst))
		goto out;
	/* the range to one destination: every port once, then none */
	for (n = 0; n < NPORTS; n++) {
		snprintf(names[n], sizeof(names[n]), "client%d", n);
		if (!SETUP(t, !sk_open(&c[n], SOCK_STREAM, names[n]), "socket") ||
		    !SETUP(t, connect_lo(&c[n], &t0, &t1), "connect within the range")) {
			close(c[n].fd);
			goto out;
		}
		want_connected(t, &c[n], t0, t1);
	}
	if (!SETUP(t, !sk_open(&over, SOCK_STREAM, "client-over"), "socket"))
		goto out;
	err = connect_lo(&over, &t0, &t1) ? 0 : errno;
	if (err != EADDRNOTAVAIL) {
		tfail(t, "setup: connect() %d to a range of %d: expected EADDRNOTAVAIL, got %s",
		      NPORTS + 1, NPORTS, err ? strerrorname_np(err) : "success");
		goto out;
	}
	/* the errno connect() returned; no port, the destination the call asked for, the source
	 * address the socket had when the search failed */
	w = want_add(t, &over, EPH_FAIL, EPH_OP_CONNECT, t0, t1);
	w->err = err;
	w->dport = LPORT;
	w->saddr = w->daddr = htonl(INADDR_LOOPBACK);
	w->flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_SADDR | EPH_F_DEST;
out:
	close_release(t, &over);
	for (i = 0; i < n; i++)
		close_release(t, &c[i]);
	close_release(t, &lst);
}

static void case_bind(struct tcase *t)
{
	struct sockaddr_in a = lo_addr(0);
	struct sk s = { .fd = -1 };
	uint64_t t0, t1;
	struct want *w;
	int rc;

	if (!SETUP(t, !sk_open(&s, SOCK_STREAM, "bound"), "socket"))
		return;
	t0 = now_ns();
	rc = bind(s.fd, (struct sockaddr *)&a, sizeof(a));
	t1 = now_ns();
	if (SETUP(t, !rc, "bind(127.0.0.1:0)")) {
		w = want_add(t, &s, EPH_ASSIGN, EPH_OP_BIND, t0, t1);
		w->sport = sk_name(s.fd, false, &w->saddr);
		w->flags = EPH_F_REQ | EPH_F_EPHEMERAL | EPH_F_SADDR | search_flag(t);
		port_in_range(t, &s, w->sport);
	}
	close_release(t, &s);
}

/* bind([::]:0) of a TCP socket with IPV6_V6ONLY v6only, kept open in *s. */
static void bind6_one(struct tcase *t, struct sk *s, int v6only, const char *name)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	uint64_t t0, t1;
	struct want *w;
	int rc;

	if (!SETUP(t, !sk_open_family(s, AF_INET6, SOCK_STREAM, name), "socket(AF_INET6)") ||
	    !SETUP(t, !setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)),
		   "IPV6_V6ONLY"))
		return;
	t0 = now_ns();
	rc = bind(s->fd, (struct sockaddr *)&a, sizeof(a));
	t1 = now_ns();
	if (SETUP(t, !rc, "bind([::]:0)")) {
		w = want_add(t, s, EPH_ASSIGN, EPH_OP_BIND, t0, t1);
		w->sport = sk_name(s->fd, false, &w->saddr);
		w->flags = EPH_F_REQ | EPH_F_EPHEMERAL | EPH_F_SADDR | search_flag(t) |
			   (v6only ? EPH_F_V6ONLY : 0);
		port_in_range(t, s, w->sport);
	}
}

static void case_bind6(struct tcase *t)
{
	struct sk only = { .fd = -1 }, dual = { .fd = -1 };

	bind6_one(t, &only, 1, "v6only");
	bind6_one(t, &dual, 0, "dual");
	close_release(t, &only);
	close_release(t, &dual);
}

static void case_udp(struct tcase *t)
{
	struct sockaddr_in a = lo_addr(UDP_DPORT);
	struct sk s = { .fd = -1 };
	uint64_t t0, t1;
	struct want *w;
	ssize_t rc;

	if (!SETUP(t, !sk_open(&s, SOCK_DGRAM, "udp"), "socket"))
		return;
	t0 = now_ns();
	rc = sendto(s.fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a));
	t1 = now_ns();
	if (SETUP(t, rc == 1, "sendto")) {
		/* the destination is the call's; the source the socket's (0.0.0.0: autobind
		 * takes a port, no address) */
		w = want_add(t, &s, EPH_ASSIGN, EPH_OP_SENDMSG, t0, t1);
		w->sport = sk_name(s.fd, false, &w->saddr);
		w->dport = UDP_DPORT;
		w->daddr = htonl(INADDR_LOOPBACK);
		w->flags = EPH_F_EPHEMERAL | EPH_F_SADDR | EPH_F_DEST;
		port_in_range(t, &s, w->sport);
	}
	close_release(t, &s);
}

/*
 * A UDP socket bound to 0.0.0.0 (port 0, or a given port: SOCK_BINDPORT_LOCK) connect()s to
 * 127.0.0.1: the kernel moves it to the route's source address, 127.0.0.1, with no port chosen,
 * which the tracepoint backend reports (EPH_CONNECT, UDP: the address it has now, the
 * destination); connect(AF_UNSPEC) moves the given port's socket back to 0.0.0.0 (the other's
 * is unhashed: its release). The cgroup backend sees neither move (no hook after connect()).
 */
static bool udp_moved(struct tcase *t, struct sk *s, bool connected, uint64_t t0, uint64_t t1)
{
	const struct want *a = s->assign >= 0 ? &t->want[s->assign] : NULL;
	struct want *w;

	if (t->backend == EPH_BACKEND_CGROUP)
		return true;
	w = want_add(t, s, EPH_CONNECT, EPH_OP_CONNECT, t0, t1);
	w->sport = sk_name(s->fd, false, &w->saddr);
	w->flags = EPH_F_BOUND | EPH_F_SADDR | (a ? a->flags & EPH_F_EPHEMERAL : 0);
	if (connected) {
		w->dport = sk_name(s->fd, true, &w->daddr);
		w->flags |= EPH_F_DEST;
	}
	return w->saddr == htonl(connected ? INADDR_LOOPBACK : INADDR_ANY) ||
	       SETUP(t, false, "the address the kernel gave the socket");
}

static void udp_bind_connect(struct tcase *t, struct sk *s, uint16_t port, const char *name,
			     bool disconnect)
{
	struct sockaddr_in any = lo_addr(port), dst = lo_addr(UDP_DPORT);
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	uint64_t t0, t1;
	struct want *w;
	int rc;

	any.sin_addr.s_addr = htonl(INADDR_ANY);
	if (!SETUP(t, !sk_open(s, SOCK_DGRAM, name), "socket"))
		return;
	t0 = now_ns();
	rc = bind(s->fd, (struct sockaddr *)&any, sizeof(any));
	t1 = now_ns();
	if (!SETUP(t, !rc, "bind(0.0.0.0)"))
		return;
	w = want_add(t, s, EPH_ASSIGN, EPH_OP_BIND, t0, t1);
	w->sport = sk_name(s->fd, false, &w->saddr);
	w->req_port = port;
	w->flags = EPH_F_REQ | EPH_F_SADDR | search_flag(t) | (port ? 0 : EPH_F_EPHEMERAL);
	port_in_range(t, s, w->sport);
	t0 = now_ns();
	rc = connect(s->fd, (struct sockaddr *)&dst, sizeof(dst));
	t1 = now_ns();
	if (!SETUP(t, !rc, "connect(127.0.0.1)") || !udp_moved(t, s, true, t0, t1) || !disconnect)
		return;
	t0 = now_ns();
	rc = connect(s->fd, &unspec, sizeof(unspec));
	t1 = now_ns();
	if (SETUP(t, !rc, "connect(AF_UNSPEC)"))
		udp_moved(t, s, false, t0, t1);
}

static void case_udp_move(struct tcase *t)
{
	struct sk any0 = { .fd = -1 }, given = { .fd = -1 };

	/* the given port first: bind(0) might have chosen it */
	udp_bind_connect(t, &given, RANGE_HI, "udp-given", true);
	udp_bind_connect(t, &any0, 0, "udp-any0", false);
	close_release(t, &any0);
	close_release(t, &given);
}

static const struct {
	const char *name;
	void (*run)(struct tcase *t);
} cases[] = {
	{ "connect", case_connect },
	{ "exhaust", case_exhaust },
	{ "bind", case_bind },
	{ "bind6", case_bind6 },
	{ "udp", case_udp },
	{ "udp-move", case_udp_move },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

#endif /* EPH_TEST_RECORDS_CASES_H */
