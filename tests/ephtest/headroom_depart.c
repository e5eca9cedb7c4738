// SPDX-License-Identifier: GPL-2.0
/*
 * Departures (hr_case.departures): top started after the state, so every socket of it is one
 * top found in its first snapshot, not one whose taking it saw; it never resyncs. Then part of
 * the state goes: per destination with two plain connections or more, one closed with RST and,
 * where the destination has TIME_WAIT already (the order of the counts stays as it was:
 * hr_countable()), one closed by us first (into TIME_WAIT); per address, the last TCP and UDP
 * bind(0) holder (no other socket shares its port); the last connected UDP socket. And a UDP
 * socket bound to 0.0.0.0:0 connect()s to 127.0.0.1, which moves it there (no port chosen: the
 * other addresses' bind(0) may take its port again), where the backend sees it (not the cgroup
 * backend: no hook after a connect()). top must let those ports go (or move into TIME_WAIT, or
 * to 127.0.0.1) from the kernel side's events alone: its next snapshot is checked against the
 * counts as every other one.
 *
 * Before 6.8 sock_diag lists no TCP socket only bound: a snapshot finds those by the port
 * iterator's walk of the bind hash, which cannot make them a cookie, so the kernel side cannot
 * follow them and their release waits for a resync (README). There the TCP bind(0) holders
 * stay (the RESULT line says so).
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "headroom.h"

/* The row a departure changes: held one less (a bind scope's is only shown). */
static void scope_gone(struct hr_state *st, int proto, int a)
{
	struct hr_row *r = hr_scope_row(&st->o->hr, proto, hr_scope_addr(proto, a));

	if (r && r->held)
		r->held--;
}

/* A TCP socket bind() kept: out of the list shown on a failure (hr_shared.bound). */
static void unlist_bound(struct hr_shared *hr, int fd)
{
	uint8_t addr[16];
	uint16_t port;
	uint32_t i;

	if (!hr_sock_local(fd, addr, &port))
		return;
	for (i = 0; i < hr->nbound; i++)
		if (hr->bound[i].port == port && !memcmp(hr->bound[i].addr, addr, 16)) {
			hr->bound[i] = hr->bound[--hr->nbound];
			return;
		}
}

static int close_rst(struct hr_state *st, int cli, int srv)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(cli, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		return hr_fail_errno(st->o, errno, "SO_LINGER 0 on a connection of the state");
	close(cli);
	close(srv);
	return 0;
}

/* Closed by us first: our side goes into TIME_WAIT once the server closes its own. */
static int close_fin(struct hr_state *st, int cli, int srv)
{
	struct pollfd p = { .fd = srv, .events = POLLIN };
	int n;
	char c;

	close(cli);
	do {
		n = poll(&p, 1, HR_STEP_MS);
	} while (n < 0 && errno == EINTR);
	if (n <= 0 || read(srv, &c, 1) != 0) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "departures: no EOF on a server side within %d ms", HR_STEP_MS);
		close(srv);
		return -1;
	}
	close(srv);
	return 0;
}

static int depart_dests(struct hr_state *st)
{
	struct hr_shared *hr = &st->o->hr;
	int d;

	for (d = 0; d < HR_NR_DESTS; d++) {
		if (!st->dep_cli[d][0] || !st->dep_cli[d][1])
			continue;
		if (close_rst(st, st->dep_cli[d][0] - 1, st->dep_srv[d][0] - 1))
			return -1;
		st->gone_rst[d] = 1;
		hr->ndeparted++;
		if (!st->c->dest[d].tw)
			continue;
		if (close_fin(st, st->dep_cli[d][1] - 1, st->dep_srv[d][1] - 1))
			return -1;
		st->gone_fin[d] = 1;
		hr->tw_total++;
		hr->ndeparted++;
	}
	return 0;
}

/* connect() of fd, a UDP socket bound to 0.0.0.0: its port goes from that bind scope to
 * 127.0.0.1's (the source address of the route), as the kernel confirms. */
static int udp_move(struct hr_state *st, int fd)
{
	struct hr_row *to = hr_scope_row(&st->o->hr, IPPROTO_UDP, "127.0.0.1");
	struct sockaddr_storage ss;
	uint8_t lo[16], got[16];
	uint16_t port;
	socklen_t len;

	hr_addr_parse("127.0.0.1", lo);
	hr_sa_make(AF_INET, lo, HR_UDP_DPORT, &ss, &len);
	if (!to) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "departures: the case has no UDP 127.0.0.1 row to move a socket to");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len))
		return hr_fail_errno(st->o, errno, "departures: UDP connect() of a 0.0.0.0 socket");
	if (hr_sock_local(fd, got, &port) != AF_INET || memcmp(got, lo, 16)) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "departures: a UDP socket on 0.0.0.0 connected to 127.0.0.1 is not on "
			 "127.0.0.1");
		return -1;
	}
	scope_gone(st, IPPROTO_UDP, 2);
	to->held++;
	st->o->hr.moved_udp = 1;
	return 0;
}

/* Whether sock_diag lists TCP sockets only bound (6.8, TCP_BOUND_INACTIVE). */
static bool bound_listed(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return true;
	return major > 6 || (major == 6 && minor >= 8);
}

int hr_depart(struct hr_state *st)
{
	struct hr_shared *hr = &st->o->hr;
	int a;

	if (depart_dests(st))
		return -1;
	hr->bound_kept = !bound_listed();
	for (a = 0; a < HR_NR_TCP_ADDRS && !hr->bound_kept; a++) {
		if (!st->dep_tcp[a])
			continue;
		unlist_bound(hr, st->dep_tcp[a] - 1);
		close(st->dep_tcp[a] - 1);
		scope_gone(st, IPPROTO_TCP, a);
		hr->ndeparted++;
	}
	for (a = 0; a < HR_NR_UDP_ADDRS; a++) {
		if (!st->dep_udp[a])
			continue;
		close(st->dep_udp[a] - 1);
		scope_gone(st, IPPROTO_UDP, a);
		hr->ndeparted++;
	}
	if (st->dep_udpc) {
		close(st->dep_udpc - 1);
		scope_gone(st, IPPROTO_UDP, 0); /* its port is 127.0.0.1's */
		hr->ndeparted++;
	}
	if (hr->move_udp && st->move_udp && udp_move(st, st->move_udp - 1))
		return -1;
	return hr_check_dests(st);
}
