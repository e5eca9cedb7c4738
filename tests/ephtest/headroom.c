// SPDX-License-Identifier: GPL-2.0
/*
 * The headroom scenarios: the ports_left of `ephtrace status --json` and `ephtrace top --json`
 * against what the kernel still grants.
 *
 * One workload in a private network namespace (a range of 63 or 64 ports, tcp_tw_reuse per
 * scenario) builds a mixed state and keeps it: listeners outside the range and one or two
 * inside it, TCP bind(0) holders, bind-before-connect sockets, established connections (some
 * from IPv4-mapped IPv6 sockets), connections closed by us first (TIME_WAIT), connected and
 * bound UDP sockets. It names the snapshot rows its sockets fill (hr_row). The driver reads
 * ephtrace: status, and top started before the state or after it. Then the workload counts,
 * row after row, what the kernel grants: connect() from fresh sockets until EADDRNOTAVAIL (a
 * destination), bind(addr:0) until EADDRINUSE (a bind scope), UDP connect() until EAGAIN (the
 * namespace's udp_ports_left); it closes each count's sockets with RST before the next one, so
 * that every count starts from the state. Every row's ports_left must equal its count, in
 * status and in top.
 *
 * Two kinds of count change the state for the counts after them (count_phase() orders them):
 * - connect() to a destination with TIME_WAIT sockets recycles them when tcp_tw_reuse allows,
 *   which frees their ports for bind(0) on their address (127.0.0.1) and on 0.0.0.0; recycling
 *   one destination's TIME_WAIT changes nothing for another destination's connect();
 * - bind(0) that lands on a port whose bind bucket connect() made (a socket on another
 *   address) sets the bucket's fastreuse, and before 6.18 ("tcp: Update bind bucket state on
 *   port release") it stays set once that socket is closed: every later connect() skips the
 *   port. Measured on 6.12: after a bind(127.0.0.2:0) count, every destination's count dropped
 *   to the same 28. A bind(127.0.0.1:0) count lands only on ports of the state's ::1
 *   connections, bind(0.0.0.0:0) on none (it conflicts with every IPv4 socket).
 * So: UDP; destinations without TIME_WAIT (and with it under tcp_tw_reuse 0); bind scopes of
 * 127.0.0.1 and 0.0.0.0; destinations whose TIME_WAIT may be recycled; the other bind scopes.
 * A state with ::1 connections, recyclable TIME_WAIT and a 127.0.0.1 or 0.0.0.0 bind scope has
 * no such order: the workload refuses it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ephtest.h"

#define HR_NR_LISTEN 3
#define HR_NR_TCP_ADDRS 4
#define HR_NR_UDP_ADDRS 3
#define HR_COUNT_MAX 512	/* sockets per count: more than any range here means a runaway */
#define HR_TW_AGE_MS 2100	/* TIME_WAIT older than 1 s (tcp_tw_reuse 1 and 2: reusable) */
#define HR_INTERVAL "1"		/* top -i */
#define HR_RESYNC "2"		/* top --resync */
#define HR_RESYNC_LAG_MS 3100	/* top: a snapshot after a resync that followed the state */
#define HR_STEP_MS 3000		/* one connection or TIME_WAIT of the state within this */
#define HR_UDP_DPORT 5300	/* UDP destinations 5300..5302: nobody listens, UDP does not care */
#define HR_UDP_PROBE_DPORT 5399 /* where the udp_ports_left count connects */
#define HR_MAX_SOCKS 4096	/* lines of /proc/self/net/{tcp,udp}{,6} read */
#define SHOW_MAX 6000		/* characters of a snapshot shown under a problem */

/* TCP states of /proc/net/tcp */
#define ST_ESTABLISHED 1
#define ST_TIME_WAIT 6
#define ST_CLOSE 7 /* bound, not listening or connected: not in /proc/net/tcp */

/* The destinations: a listener on each (outside the range) and the state's clients. */
enum {
	D_LO_5000,
	D_LO_5001,
	D_LO2_5000,
	D_LO_5002,
	D_V6_5000,
	HR_NR_DESTS
};

static const struct {
	const char *daddr;
	uint16_t dport;
} dest_at[HR_NR_DESTS] = {
	[D_LO_5000] = { "127.0.0.1", 5000 },  [D_LO_5001] = { "127.0.0.1", 5001 },
	[D_LO2_5000] = { "127.0.0.2", 5000 }, [D_LO_5002] = { "127.0.0.1", 5002 },
	[D_V6_5000] = { "::1", 5000 },
};

/* The clients of a destination in the state. */
struct hr_dest {
	uint8_t est;	/* connect() from fresh sockets, kept */
	uint8_t mapped; /* the same from AF_INET6 sockets to ::ffff:daddr (IPv4 only) */
	uint8_t bbc;	/* bind(127.0.0.1:0), then connect() (no IP_BIND_ADDRESS_NO_PORT) */
	uint8_t tw;	/* connected, then closed by us first: TIME_WAIT */
	uint16_t fixed; /* one more: bind(127.0.0.1:fixed), then connect(); 0: none */
};

/* A TCP socket bound to a fixed port inside the range (then listening, or not). */
struct hr_fixed {
	const char *addr; /* NULL: none */
	uint16_t port;
};

struct hr_case {
	struct hr_fixed listen[HR_NR_LISTEN];
	struct hr_fixed bound; /* bound, not listening: a bind scope's hold the allocator did not
				* choose (on a listener's port, from another address) */
	struct hr_dest dest[HR_NR_DESTS];
	uint8_t tcp_bind0[HR_NR_TCP_ADDRS]; /* TCP bind(0) holders on tcp_addr[] */
	uint8_t udp_conn;		    /* UDP connect() (autobind) to 127.0.0.1:5300-5302 */
	uint8_t udp_bind0[HR_NR_UDP_ADDRS]; /* UDP bind(0) on udp_addr[] */
	bool aged;	 /* read ephtrace HR_TW_AGE_MS after the last TIME_WAIT */
	bool top_before; /* top runs from before the state (else started after it) */
};

static const char *const tcp_addr[HR_NR_TCP_ADDRS] = { "127.0.0.1", "127.0.0.2", "::1", "0.0.0.0" };
static const char *const udp_addr[HR_NR_UDP_ADDRS] = { "127.0.0.1", "127.0.0.2", "0.0.0.0" };

/* tcp_tw_reuse 2, TIME_WAIT aged, top from before */
const struct hr_case hr_case_basic = {
	.listen = { { "127.0.0.1", 40021 } },
	.bound = { "127.0.0.2", 40021 },
	.dest = {
		[D_LO_5000] = { .est = 8, .bbc = 3 },
		[D_LO_5001] = { .est = 4, .mapped = 3 },
		[D_LO2_5000] = { .est = 5 },
		[D_LO_5002] = { .tw = 7 },
	},
	.tcp_bind0 = { 9, 2, 0 },
	.udp_conn = 14,
	.udp_bind0 = { 8, 3, 0 },
	.aged = true,
	.top_before = true,
};

/* tcp_tw_reuse 0, TIME_WAIT fresh, top from after */
const struct hr_case hr_case_twreuse0 = {
	.listen = { { "127.0.0.1", 40040 } },
	.dest = {
		[D_LO_5000] = { .est = 5, .bbc = 6 },
		[D_LO_5001] = { .est = 6, .mapped = 2, .tw = 4 },
		[D_LO2_5000] = { .est = 3 },
		[D_LO_5002] = { .tw = 10 },
		[D_V6_5000] = { .est = 4 },
	},
	.tcp_bind0 = { 12, 0, 0 },
	.udp_conn = 20,
	.udp_bind0 = { 5, 0, 1 },
	.aged = false,
	.top_before = false,
};

/* tcp_tw_reuse 1, TIME_WAIT aged, top from before */
const struct hr_case hr_case_twreuse1 = {
	.listen = { { "127.0.0.1", 40007 } },
	.dest = {
		[D_LO_5000] = { .est = 9, .bbc = 1 },
		[D_LO_5001] = { .est = 2, .mapped = 5 },
		[D_LO2_5000] = { .est = 7, .tw = 3 },
		[D_LO_5002] = { .tw = 9 },
	},
	.tcp_bind0 = { 10, 0, 3 },
	.udp_conn = 9,
	.udp_bind0 = { 12, 0, 0 },
	.aged = true,
	.top_before = true,
};

/*
 * 40000-40062, 63 ports; top from after. UDP may take any of them. connect() and bind(0) scan an
 * even number of ports (62) per call, and which end of the range a call leaves out (40000 or
 * 40062) depends on where its scan starts, which moves from call to call: with an end free the
 * kernel's count is 62 or 63 (measured on 6.18: 63 in 37 runs of 40). Listeners on 0.0.0.0 at
 * both ends (they conflict with a bind to any IPv4 address, and their bind buckets stop every
 * connect()) make the TCP counts exact: every call sees 40001-40061.
 */
const struct hr_case hr_case_odd = {
	.listen = { { "0.0.0.0", 40000 }, { "0.0.0.0", 40062 }, { "127.0.0.1", 40017 } },
	.dest = {
		[D_LO_5000] = { .est = 7, .bbc = 4 },
		[D_LO_5001] = { .est = 5, .mapped = 1, .tw = 2 },
		[D_LO2_5000] = { .est = 2 },
		[D_LO_5002] = { .tw = 6 },
	},
	.tcp_bind0 = { 8, 3, 0, 1 },
	.udp_conn = 11,
	.udp_bind0 = { 6, 0, 0 },
	.aged = true,
	.top_before = false,
};

/*
 * 40000-40062 again, with 40000 taken by a bind() to it (then connect(), so no bind scope) and
 * 40062 free: connect() reaches 40062 from 30 of the 31 places its scan can start, and once the
 * even ports it sees are taken it takes 40062 before any odd one, so the count is exact (2 000
 * runs of 2 000 on 6.18): 62 ports, 40001-40062. bind(0) takes odd ports first and 40062 may be
 * its last one: no bind-only socket and no listener in the range here (a bind scope's count
 * would be one short now and then). tcp_tw_reuse 0, fresh TIME_WAIT; top from before.
 */
const struct hr_case hr_case_odd_low = {
	.dest = {
		[D_LO_5000] = { .est = 6, .bbc = 3, .fixed = 40000 },
		[D_LO_5001] = { .est = 4, .mapped = 2 },
		[D_LO2_5000] = { .est = 3, .tw = 2 },
		[D_LO_5002] = { .tw = 5 },
		[D_V6_5000] = { .est = 2 },
	},
	.udp_conn = 8,
	.udp_bind0 = { 7, 0, 2 },
	.aged = false,
	.top_before = true,
};

/* 40010-40013,40040,40051 reserved, a listener on 40011; tcp_tw_reuse 0, aged; top before */
const struct hr_case hr_case_reserved = {
	.listen = { { "127.0.0.1", 40011 }, { "127.0.0.1", 40030 } },
	.dest = {
		[D_LO_5000] = { .est = 6, .bbc = 2 },
		[D_LO_5001] = { .est = 3, .mapped = 4, .tw = 2 },
		[D_LO2_5000] = { .est = 4 },
		[D_LO_5002] = { .tw = 8 },
		[D_V6_5000] = { .est = 5 },
	},
	.tcp_bind0 = { 11, 1, 0 },
	.udp_conn = 7,
	.udp_bind0 = { 10, 2, 0 },
	.aged = true,
	.top_before = true,
};

/* ---- addresses ---- */

/* "127.0.0.1" or "::1" into bytes (AF_INET in the first 4, the rest 0); its family or 0. */
static int addr_parse(const char *s, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	return 0;
}

static void sa_make(int family, const uint8_t addr[16], uint16_t port, struct sockaddr_storage *ss,
		    socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		*len = sizeof(*sin6);
	}
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 one; *family follows. */
static void unmap(int *family, uint8_t addr[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	if (*family != AF_INET6 || memcmp(addr, prefix, 12))
		return;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
}

static bool is_mapped(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(addr, prefix, 12);
}

/* The local address and port of fd, IPv4-mapped ones as IPv4. Returns its family, 0 on error. */
static int sock_local(int fd, uint8_t addr[16], uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int family;

	memset(addr, 0, 16);
	*port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	family = ss.ss_family;
	if (family == AF_INET) {
		memcpy(addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (family == AF_INET6) {
		memcpy(addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		unmap(&family, addr);
	}
	return family;
}

static const char *addr_text(int family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

/* "dest tcp 127.0.0.1 -> 127.0.0.2:5000", "scope udp 0.0.0.0", "netns udp autobind" */
static const char *row_name(const struct hr_row *r, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	bool v6 = r->family == AF_INET6;

	if (r->kind == HR_DEST)
		snprintf(buf, len, "dest tcp %s -> %s%s%s:%u",
			 addr_text(r->family, r->saddr, s, sizeof(s)), v6 ? "[" : "",
			 addr_text(r->family, r->daddr, d, sizeof(d)), v6 ? "]" : "", r->dport);
	else if (r->kind == HR_SCOPE)
		snprintf(buf, len, "scope %s %s", proto_name(r->proto),
			 addr_text(r->family, r->saddr, s, sizeof(s)));
	else
		snprintf(buf, len, "netns udp autobind");
	return buf;
}

/* ---- the workload: the kernel's socket table (/proc/self/net/...) ---- */

struct hr_sock {
	uint8_t proto, family, state;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
};

static struct hr_sock socks[HR_MAX_SOCKS];

static void hex_addr(const char *hex, int family, uint8_t addr[16])
{
	int i, n = family == AF_INET ? 1 : 4;
	char word[9];
	uint32_t w;

	memset(addr, 0, 16);
	for (i = 0; i < n; i++) { /* each 32-bit word as the kernel holds it, in hex */
		memcpy(word, hex + 8 * i, 8);
		word[8] = '\0';
		w = strtoul(word, NULL, 16);
		memcpy(addr + 4 * i, &w, 4);
	}
}

static int read_table(struct oracle *o, const char *path, int proto, int family, int n)
{
	char line[512], l[40], r[40];
	unsigned int lport, rport, st;
	struct hr_sock *s;
	int lfam, rfam;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT && family == AF_INET6)
			return n; /* no IPv6: nothing there */
		snprintf(o->msg, sizeof(o->msg), "open %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) && n < HR_MAX_SOCKS) {
		if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x", l, &lport, r,
			   &rport, &st) != 5)
			continue; /* the header */
		s = &socks[n++];
		s->proto = proto;
		s->state = st;
		s->lport = lport;
		s->rport = rport;
		hex_addr(l, family, s->laddr);
		hex_addr(r, family, s->raddr);
		/* an IPv4-mapped socket has an IPv4 4-tuple (both ends mapped, or no remote) */
		lfam = rfam = family;
		unmap(&lfam, s->laddr);
		unmap(&rfam, s->raddr);
		s->family = lfam;
	}
	fclose(f);
	return n;
}

/* Every TCP and UDP socket of the namespace of pid (0: ours) into socks; their number or -1. */
static int read_socks(struct oracle *o, pid_t pid)
{
	static const struct {
		const char *name;
		int proto, family;
	} tables[] = {
		{ "tcp", IPPROTO_TCP, AF_INET },
		{ "tcp6", IPPROTO_TCP, AF_INET6 },
		{ "udp", IPPROTO_UDP, AF_INET },
		{ "udp6", IPPROTO_UDP, AF_INET6 },
	};
	char path[64];
	size_t i;
	int n = 0;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]) && n >= 0; i++) {
		if (pid)
			snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, tables[i].name);
		else
			snprintf(path, sizeof(path), "/proc/self/net/%s", tables[i].name);
		n = read_table(o, path, tables[i].proto, tables[i].family, n);
	}
	if (n >= HR_MAX_SOCKS) {
		snprintf(o->msg, sizeof(o->msg), "more than %d sockets in the namespace",
			 HR_MAX_SOCKS);
		return -1;
	}
	return n;
}

/* Sockets with a local port in the range: TCP not in TIME_WAIT, TCP in TIME_WAIT, UDP. */
struct census {
	unsigned int tcp, tw, udp;
};

static int take_census(struct oracle *o, const struct scenario *s, struct census *c)
{
	int i, n = read_socks(o, 0);

	memset(c, 0, sizeof(*c));
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (socks[i].lport < s->range_lo || socks[i].lport > s->range_hi)
			continue;
		if (socks[i].proto == IPPROTO_UDP)
			c->udp++;
		else if (socks[i].state == ST_TIME_WAIT)
			c->tw++;
		else
			c->tcp++;
	}
	return 0;
}

/* Client sockets of the range to the row's destination: established, TIME_WAIT, other. */
static int dest_states(struct oracle *o, const struct scenario *s, const struct hr_row *r,
		       unsigned int *est, unsigned int *tw, unsigned int *other)
{
	int i, n = read_socks(o, 0);

	*est = *tw = *other = 0;
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct hr_sock *k = &socks[i];

		if (k->proto != IPPROTO_TCP || k->family != r->family || k->rport != r->dport ||
		    memcmp(k->raddr, r->daddr, 16) || k->lport < s->range_lo ||
		    k->lport > s->range_hi)
			continue;
		if (k->state == ST_ESTABLISHED)
			(*est)++;
		else if (k->state == ST_TIME_WAIT)
			(*tw)++;
		else
			(*other)++;
	}
	return 0;
}

/* ---- the workload: building the state ---- */

struct hr_state {
	struct oracle *o;
	const struct scenario *s;
	const struct hr_case *c;
	int lfd[HR_NR_DESTS + HR_NR_LISTEN]; /* every listener (drained after each count) */
	int nr_lfd;
	int dest_lfd[HR_NR_DESTS];
	int dest_row[HR_NR_DESTS]; /* index in o->hr.row, -1 if it has no socket */
};

static int fail_errno(struct oracle *o, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* o->msg = "<what>: <strerror(err)>"; returns -1. */
static int fail_errno(struct oracle *o, int err, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(err));
	return -1;
}

/* A TCP socket bound to addr:port (IPv6: V6ONLY), nonblocking; listening if listener. */
static int fixed_socket(struct hr_state *st, const char *addr, uint16_t port, bool listener)
{
	struct hr_shared *hr = &st->o->hr;
	struct sockaddr_storage ss;
	int family, fd, one = 1;
	uint8_t a[16];
	socklen_t len;

	family = addr_parse(addr, a);
	sa_make(family, a, port, &ss, &len);
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno(st->o, errno, "socket() to bind %s:%u", addr, port);
	if ((family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || (listener && listen(fd, 1024))) {
		fail_errno(st->o, errno, "%s on %s:%u", listener ? "listener" : "bind", addr, port);
		close(fd);
		return -1;
	}
	if (listener) {
		st->lfd[st->nr_lfd++] = fd;
	} else if (hr->nbound < HR_MAX_BOUND) {
		hr->bound[hr->nbound].family = family;
		memcpy(hr->bound[hr->nbound].addr, a, 16);
		hr->bound[hr->nbound++].port = port;
	}
	return fd;
}

/* Accept the connection just made to lfd (waits up to HR_STEP_MS). */
static int accept_one(struct hr_state *st, int lfd, const char *what)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int afd, n;

	do {
		n = poll(&p, 1, HR_STEP_MS);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return fail_errno(st->o, n ? errno : ETIMEDOUT, "accept() of %s", what);
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		return fail_errno(st->o, errno, "accept() of %s", what);
	return afd;
}

/* bind(addr:0) of a fresh socket, kept. */
static int bind0(struct hr_state *st, int type, const char *addr)
{
	struct hr_shared *hr = &st->o->hr;
	struct sockaddr_storage ss;
	uint16_t port;
	int family, fd;
	uint8_t a[16];
	socklen_t len;

	family = addr_parse(addr, a);
	sa_make(family, a, 0, &ss, &len);
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno(st->o, errno, "socket() to bind %s:0", addr);
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		fail_errno(st->o, errno, "%s bind(%s:0) of the state",
			   type == SOCK_STREAM ? "TCP" : "UDP", addr);
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM && hr->nbound < HR_MAX_BOUND) {
		hr->bound[hr->nbound].family = sock_local(fd, hr->bound[hr->nbound].addr, &port);
		hr->bound[hr->nbound++].port = port;
	}
	return fd;
}

static struct hr_row *add_row(struct hr_shared *hr, int kind, int proto, const char *addr)
{
	struct hr_row *r = &hr->row[hr->nrows++];

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->proto = proto;
	r->family = addr ? addr_parse(addr, r->saddr) : AF_INET;
	r->granted = -1;
	return r;
}

/* Record the row of destination d once: the source address the kernel chose. */
static int dest_seen(struct hr_state *st, int d, int fd)
{
	struct hr_shared *hr = &st->o->hr;
	uint8_t saddr[16], daddr[16];
	struct hr_row *r;
	char a[INET6_ADDRSTRLEN];
	uint16_t port;
	int family;

	family = sock_local(fd, saddr, &port);
	if (!family || port < st->s->range_lo || port > st->s->range_hi) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "a connection to %s:%u got local port %u, outside the range",
			 dest_at[d].daddr, dest_at[d].dport, port);
		return -1;
	}
	if (st->dest_row[d] >= 0) {
		r = &hr->row[st->dest_row[d]];
		if (memcmp(r->saddr, saddr, 16)) {
			snprintf(st->o->msg, sizeof(st->o->msg),
				 "connections to %s:%u got different source addresses (%s)",
				 dest_at[d].daddr, dest_at[d].dport,
				 addr_text(family, saddr, a, sizeof(a)));
			return -1;
		}
		return 0;
	}
	st->dest_row[d] = hr->nrows;
	r = add_row(hr, HR_DEST, IPPROTO_TCP, NULL);
	r->family = addr_parse(dest_at[d].daddr, daddr);
	memcpy(r->saddr, saddr, 16);
	memcpy(r->daddr, daddr, 16);
	r->dport = dest_at[d].dport;
	if (family != r->family) {
		snprintf(st->o->msg, sizeof(st->o->msg), "a connection to %s:%u has a %s source",
			 dest_at[d].daddr, dest_at[d].dport, family_name(family));
		return -1;
	}
	return 0;
}

/*
 * One connection of the state to destination d from a fresh socket of family (AF_INET6 to an
 * IPv4 destination: IPv4-mapped), bound first to 127.0.0.1:bind_port unless bind_port < 0. Its
 * server side is accepted and kept. Returns the client's fd, the server's in *afd.
 */
static int connect_one(struct hr_state *st, int d, int family, int bind_port, int *afd)
{
	struct sockaddr_storage ss;
	uint8_t a[16], lo[16];
	int fd, dfam, off = 0;
	char what[96];
	socklen_t len;

	dfam = addr_parse(dest_at[d].daddr, a);
	if (family == AF_INET6 && dfam == AF_INET) { /* ::ffff:a.b.c.d */
		memmove(a + 12, a, 4);
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
	}
	snprintf(what, sizeof(what), "a %sconnection to %s:%u",
		 family != dfam ? "IPv4-mapped " :
		 bind_port >= 0 ? "bind-before-connect " :
				  "",
		 dest_at[d].daddr, dest_at[d].dport);
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno(st->o, errno, "socket() for %s", what);
	if (family == AF_INET6 && dfam == AF_INET &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off))) {
		fail_errno(st->o, errno, "IPV6_V6ONLY 0 for %s", what);
		goto out_close;
	}
	if (bind_port >= 0) {
		addr_parse("127.0.0.1", lo);
		sa_make(AF_INET, lo, bind_port, &ss, &len);
		if (bind(fd, (struct sockaddr *)&ss, len)) {
			fail_errno(st->o, errno, "bind(127.0.0.1:%d) for %s", bind_port, what);
			goto out_close;
		}
	}
	sa_make(family, a, dest_at[d].dport, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		fail_errno(st->o, errno, "connect() of %s", what);
		goto out_close;
	}
	*afd = accept_one(st, st->dest_lfd[d], what);
	if (*afd < 0 || dest_seen(st, d, fd))
		goto out_close;
	return fd;

out_close:
	close(fd);
	return -1;
}

/* A connection closed by us first: once the server closes its side, ours is in TIME_WAIT. */
static int time_wait_one(struct hr_state *st, int d)
{
	struct pollfd p = { .events = POLLIN };
	uint8_t a[16];
	int fd, n;
	char c;

	fd = connect_one(st, d, addr_parse(dest_at[d].daddr, a), -1, &p.fd);
	if (fd < 0)
		return -1;
	close(fd);
	do {
		n = poll(&p, 1, HR_STEP_MS);
	} while (n < 0 && errno == EINTR);
	if (n <= 0 || read(p.fd, &c, 1) != 0) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "server side of a connection to %s:%u: no EOF within %d ms",
			 dest_at[d].daddr, dest_at[d].dport, HR_STEP_MS);
		close(p.fd);
		return -1;
	}
	close(p.fd);
	return 0;
}

static int build_dest(struct hr_state *st, int d)
{
	const struct hr_dest *de = &st->c->dest[d];
	uint8_t a[16];
	int family = addr_parse(dest_at[d].daddr, a), i, afd;

	for (i = 0; i < de->est + de->mapped + de->bbc; i++) {
		bool mapped = i >= de->est && i < de->est + de->mapped;

		if (connect_one(st, d, mapped ? AF_INET6 : family,
				i >= de->est + de->mapped ? 0 : -1, &afd) < 0)
			return -1;
	}
	for (i = 0; i < de->tw; i++)
		if (time_wait_one(st, d))
			return -1;
	return 0;
}

/* UDP connect() of a fresh socket (autobind: port on 0.0.0.0, then the source set). */
static int udp_connect_one(struct hr_state *st, uint16_t dport)
{
	struct sockaddr_storage ss;
	uint8_t a[16], got[16];
	char t[INET6_ADDRSTRLEN];
	uint16_t port;
	socklen_t len;
	int fd;

	addr_parse("127.0.0.1", a);
	sa_make(AF_INET, a, dport, &ss, &len);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno(st->o, errno, "socket() for a UDP connect");
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		fail_errno(st->o, errno, "UDP connect() to 127.0.0.1:%u of the state", dport);
		close(fd);
		return -1;
	}
	if (sock_local(fd, got, &port) != AF_INET || memcmp(got, a, 16)) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "a UDP socket connected to 127.0.0.1:%u has source %s:%u, not 127.0.0.1",
			 dport, addr_text(AF_INET, got, t, sizeof(t)), port);
		close(fd);
		return -1;
	}
	return fd;
}

/* Is port in the scenario's ip_local_reserved_ports ("A-B,C,...")? */
static bool port_reserved(const struct scenario *s, unsigned int port)
{
	const char *p = s->reserved;
	unsigned int a, b;
	int n;

	while (p && *p) {
		n = 0;
		if (sscanf(p, "%u-%u%n", &a, &b, &n) == 2 && n) {
			if (port >= a && port <= b)
				return true;
		} else if (sscanf(p, "%u%n", &a, &n) == 1 && n) {
			if (port == a)
				return true;
		} else {
			break;
		}
		p += n;
		p += *p == ',';
	}
	return false;
}

static bool fixed_on(const struct hr_state *st, const struct hr_fixed *f, const char *addr)
{
	return f->addr && !strcmp(f->addr, addr) && f->port >= st->s->range_lo &&
	       f->port <= st->s->range_hi && !port_reserved(st->s, f->port);
}

/* The state's fixed-port sockets on addr (listening or not) whose port the allocators could
 * hand out: ephtrace counts them in the bind scope of their address. */
static unsigned int fixed_holds(const struct hr_state *st, const char *addr)
{
	unsigned int i, n = fixed_on(st, &st->c->bound, addr);

	for (i = 0; i < HR_NR_LISTEN; i++)
		n += fixed_on(st, &st->c->listen[i], addr);
	return n;
}

/* Bind scopes: TCP bind(0) holders, UDP connected and bound sockets; their rows first. */
static int build_scopes(struct hr_state *st)
{
	struct hr_shared *hr = &st->o->hr;
	const struct hr_case *c = st->c;
	struct hr_row *r;
	int a, i;

	for (a = 0; a < HR_NR_TCP_ADDRS; a++) {
		if (!c->tcp_bind0[a])
			continue;
		r = add_row(hr, HR_SCOPE, IPPROTO_TCP, tcp_addr[a]);
		r->held = c->tcp_bind0[a] + fixed_holds(st, tcp_addr[a]);
		for (i = 0; i < c->tcp_bind0[a]; i++)
			if (bind0(st, SOCK_STREAM, tcp_addr[a]) < 0)
				return -1;
	}
	for (a = 0; a < HR_NR_UDP_ADDRS; a++) {
		if (!c->udp_bind0[a] && (a || !c->udp_conn))
			continue;
		r = add_row(hr, HR_SCOPE, IPPROTO_UDP, udp_addr[a]);
		r->held = c->udp_bind0[a] + (a ? 0 : c->udp_conn);
		for (i = 0; !a && i < c->udp_conn; i++)
			if (udp_connect_one(st, HR_UDP_DPORT + i % 3) < 0)
				return -1;
		for (i = 0; i < c->udp_bind0[a]; i++)
			if (bind0(st, SOCK_DGRAM, udp_addr[a]) < 0)
				return -1;
	}
	add_row(hr, HR_NETNS_UDP, IPPROTO_UDP, NULL);
	return 0;
}

/* Wait until the kernel shows each destination as built; fill held and time_wait. */
static int check_dests(struct hr_state *st)
{
	unsigned int est, tw, other, want_est, want_tw;
	int64_t deadline = now_ms() + HR_STEP_MS;
	char name[128];
	struct hr_row *r;
	int d;

	for (d = 0; d < HR_NR_DESTS; d++) {
		const struct hr_dest *de = &st->c->dest[d];

		if (st->dest_row[d] < 0)
			continue;
		r = &st->o->hr.row[st->dest_row[d]];
		want_est = de->est + de->mapped + de->bbc + !!de->fixed;
		want_tw = de->tw;
		r->held = want_est + want_tw;
		r->time_wait = want_tw;
		r->mapped = de->mapped;
		for (;;) {
			if (dest_states(st->o, st->s, r, &est, &tw, &other))
				return -1;
			if (est == want_est && tw == want_tw && !other)
				break;
			if (now_ms() > deadline) {
				snprintf(st->o->msg, sizeof(st->o->msg),
					 "%s: the kernel shows %u established, %u in TIME_WAIT, %u "
					 "in another state; expected %u, %u, 0",
					 row_name(r, name, sizeof(name)), est, tw, other, want_est,
					 want_tw);
				return -1;
			}
			usleep(10000);
		}
	}
	return 0;
}

/* Where a row's count goes so that no count changes a later one (see the top of the file). */
static int count_phase(const struct hr_state *st, const struct hr_row *r)
{
	static const uint8_t any[16];
	uint8_t lo[16];
	bool recycles = !st->s->tw_reuse || strcmp(st->s->tw_reuse, "0");

	if (r->proto == IPPROTO_UDP)
		return 0;
	if (r->kind == HR_DEST)
		return !r->time_wait || !recycles ? 1 : 3;
	addr_parse("127.0.0.1", lo);
	if (r->family == AF_INET && (!memcmp(r->saddr, lo, 16) || !memcmp(r->saddr, any, 16)))
		return 2; /* TIME_WAIT of the state (on 127.0.0.1) conflicts with its binds */
	return 4;
}

static int order_rows(struct hr_state *st)
{
	const struct hr_dest *v6 = &st->c->dest[D_V6_5000];
	struct hr_shared *hr = &st->o->hr;
	bool phase[5] = {};
	struct hr_row tmp;
	uint32_t i, j;

	for (i = 0; i < hr->nrows; i++)
		phase[count_phase(st, &hr->row[i])] = true;
	if (phase[2] && phase[3] && v6->est + v6->mapped + v6->bbc + v6->tw) {
		snprintf(
			st->o->msg, sizeof(st->o->msg),
			"this state has no order of counts where none changes another: ::1 "
			"connections, recyclable TIME_WAIT and a bind scope on 127.0.0.1 or 0.0.0.0");
		return -1;
	}
	for (i = 1; i < hr->nrows; i++) /* stable insertion sort on the phase */
		for (j = i;
		     j > 0 && count_phase(st, &hr->row[j - 1]) > count_phase(st, &hr->row[j]);
		     j--) {
			tmp = hr->row[j - 1];
			hr->row[j - 1] = hr->row[j];
			hr->row[j] = tmp;
		}
	return 0;
}

/* net.ipv4.tcp_tw_reuse of the namespace (the workload's own). */
static int set_tw_reuse(struct hr_state *st, const char *v)
{
	int fd = open("/proc/sys/net/ipv4/tcp_tw_reuse", O_WRONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write(fd, v, strlen(v));

	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)strlen(v))
		return fail_errno(st->o, errno, "net.ipv4.tcp_tw_reuse = %s", v);
	return 0;
}

static int build_state(struct hr_state *st)
{
	struct census cen;
	uint8_t a[16];
	int i, d, afd;

	for (d = 0; d < HR_NR_DESTS; d++) {
		const struct hr_dest *de = &st->c->dest[d];

		st->dest_row[d] = -1;
		st->dest_lfd[d] = -1;
		if (de->est + de->mapped + de->bbc + de->tw + de->fixed == 0)
			continue;
		st->dest_lfd[d] = fixed_socket(st, dest_at[d].daddr, dest_at[d].dport, true);
		if (st->dest_lfd[d] < 0)
			return -1;
	}
	for (i = 0; i < HR_NR_LISTEN; i++)
		if (st->c->listen[i].addr &&
		    fixed_socket(st, st->c->listen[i].addr, st->c->listen[i].port, true) < 0)
			return -1;
	if (st->c->bound.addr && fixed_socket(st, st->c->bound.addr, st->c->bound.port, false) < 0)
		return -1;
	for (d = 0; d < HR_NR_DESTS; d++) /* first: a connect() could take the port */
		if (st->c->dest[d].fixed && connect_one(st, d, addr_parse(dest_at[d].daddr, a),
							st->c->dest[d].fixed, &afd) < 0)
			return -1;
	if (build_scopes(st))
		return -1;
	/* the state's own connects must not reuse its TIME_WAITs (slow under TCG, a first one can
	 * pass its second before the last is made): reuse is the scenario's again for the counts */
	if (set_tw_reuse(st, "0"))
		return -1;
	for (d = 0; d < HR_NR_DESTS; d++)
		if (build_dest(st, d))
			return -1;
	if (set_tw_reuse(st, st->s->no_tw_reuse ? "0" : st->s->tw_reuse ? st->s->tw_reuse : "2"))
		return -1;
	if (check_dests(st))
		return -1;
	if (order_rows(st))
		return -1;
	if (take_census(st->o, st->s, &cen))
		return -1;
	st->o->hr.tw_total = cen.tw;
	return 0;
}

/* ---- the workload: counting what the kernel grants ---- */

static void rst_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* The server sides of a count's connections (reset by now): accepted and closed. */
static void drain_listeners(struct hr_state *st)
{
	int i, fd;

	for (i = 0; i < st->nr_lfd; i++)
		while ((fd = accept4(st->lfd[i], NULL, NULL, SOCK_CLOEXEC)) >= 0)
			close(fd);
}

/* One try of a row's count on a fresh socket: 0 (granted) or -errno. */
static int try_once(const struct hr_row *r, int fd)
{
	struct sockaddr_storage ss;
	uint8_t lo[16];
	socklen_t len;
	int ret;

	if (r->kind == HR_DEST) {
		sa_make(r->family, r->daddr, r->dport, &ss, &len);
		ret = connect(fd, (struct sockaddr *)&ss, len);
		return ret && errno != EINPROGRESS ? -errno : 0;
	}
	if (r->kind == HR_SCOPE) {
		sa_make(r->family, r->saddr, 0, &ss, &len);
		return bind(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
	}
	addr_parse("127.0.0.1", lo);
	sa_make(AF_INET, lo, HR_UDP_PROBE_DPORT, &ss, &len);
	return connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
}

static int stop_errno(const struct hr_row *r)
{
	return r->kind == HR_DEST ? EADDRNOTAVAIL : r->kind == HR_SCOPE ? EADDRINUSE : EAGAIN;
}

/* Fresh sockets try until the row's errno; all closed with RST. Sets r->granted. */
static int count_row(struct hr_state *st, struct hr_row *r)
{
	static int fds[HR_COUNT_MAX];
	int n, fd, err = 0, type;
	char name[128], tmp[16], tmp2[16];

	type = r->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	if (r->kind == HR_DEST)
		type |= SOCK_NONBLOCK;
	row_name(r, name, sizeof(name));
	for (n = 0; n < HR_COUNT_MAX; n++) {
		fd = socket(r->family, type | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fail_errno(st->o, errno, "counting %s: socket() #%d", name, n + 1);
			goto out_close;
		}
		err = try_once(r, fd);
		if (!err) {
			fds[n] = fd;
			continue;
		}
		close(fd);
		break;
	}
	if (err == -stop_errno(r)) {
		r->granted = n;
		r->stop_err = -err;
	} else if (err) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "counting %s: try #%d failed with %s, not %s", name, n + 1,
			 errno_name(-err, tmp, sizeof(tmp)),
			 errno_name(stop_errno(r), tmp2, sizeof(tmp2)));
	} else {
		snprintf(st->o->msg, sizeof(st->o->msg), "counting %s: no %s after %d tries", name,
			 errno_name(stop_errno(r), tmp, sizeof(tmp)), HR_COUNT_MAX);
	}
out_close:
	while (n-- > 0)
		rst_close(fds[n]);
	drain_listeners(st);
	return r->granted >= 0 ? 0 : -1;
}

/* After a count: every socket of the range is the state's again (no count's one lingers). */
static int check_clean(struct hr_state *st, const struct census *before, const struct hr_row *r)
{
	struct census now;
	char name[128];

	if (take_census(st->o, st->s, &now))
		return -1;
	/* a TIME_WAIT of the row's own destination may have been recycled by the count */
	if (now.tcp == before->tcp && now.udp == before->udp &&
	    (now.tw == before->tw || (r->time_wait && now.tw < before->tw)))
		return 0;
	snprintf(st->o->msg, sizeof(st->o->msg),
		 "after counting %s the range has %u TCP, %u TIME_WAIT, %u UDP sockets; before "
		 "it %u, %u, %u",
		 row_name(r, name, sizeof(name)), now.tcp, now.tw, now.udp, before->tcp, before->tw,
		 before->udp);
	return -1;
}

static int count_rows(struct hr_state *st)
{
	struct hr_shared *hr = &st->o->hr;
	struct census before;
	uint32_t i;

	if (take_census(st->o, st->s, &before))
		return -1;
	for (i = 0; i < hr->nrows; i++) {
		if (count_row(st, &hr->row[i]) || check_clean(st, &before, &hr->row[i]))
			return -1;
		if (take_census(st->o, st->s, &before))
			return -1;
	}
	return 0;
}

/* The workload's body: build, tell, wait for the driver, count, tell; then hold until killed. */
static int hr_workload(struct oracle *o)
{
	static struct hr_state st;
	const struct scenario *s = NULL;
	size_t i;

	for (i = 0; i < nr_scenarios; i++)
		if (scenarios[i].hr == o->hr.c)
			s = &scenarios[i];
	if (!s) {
		snprintf(o->msg, sizeof(o->msg), "no scenario for this headroom state");
		return -1;
	}
	st = (struct hr_state){ .o = o, .s = s, .c = o->hr.c };
	if (build_state(&st))
		return -1;
	o->hr.built_wall_ns = wall_ns();
	__atomic_store_n(&o->hr.built, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&o->hr.count, __ATOMIC_SEQ_CST))
		usleep(2000);
	if (count_rows(&st))
		return -1;
	__atomic_store_n(&o->hr.counted, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

/* ---- the driver ---- */

struct hr_run {
	const struct scenario *s;
	const struct occ_opts *op;
	struct workload w;
	bool w_started;
	struct tracer t;
	bool t_started;
	enum verdict verdict;
	char reason[512];
	struct buf report; /* the rows, the problems and the offending JSON */
	int problems;
	struct buf done; /* what a PASS says */
	char backend[32];
	struct buf table; /* the kernel's sockets in the range before the counts */
	char *top_snap;	  /* the snapshot lines checked (malloc) */
	char *status_snap;
	unsigned int blind; /* TCP rows not comparable: bound-only sockets the snapshot could not
			     * list (kernel < 6.8, bpf() refused) and no event showed */
	bool no_iter;	    /* status went on without its port iterator (bpf() refused) */
	int64_t ready_ns;   /* wall: snapshots from then on see the state as it is counted */
};

static void set_reason(struct hr_run *r, enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The first reason wins. */
static void set_reason(struct hr_run *r, enum verdict v, const char *fmt, ...)
{
	va_list ap;

	if (r->verdict != PASS)
		return;
	r->verdict = v;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void problem(struct hr_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct hr_run *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_printf(&r->report, "  FAIL %s\n", line);
	set_reason(r, FAIL, "%s", line);
	r->problems++;
}

static bool workload_died(struct hr_run *r)
{
	char st[64];

	if (!workload__poll(&r->w))
		return false;
	set_reason(r, FAIL, "workload %d: %s: %s", (int)r->w.pid,
		   status_text(r->w.status, st, sizeof(st)), r->w.o->msg);
	return true;
}

/* Read ephtrace's output (if it runs) or sleep, for about ms. */
static void idle(struct hr_run *r, int ms)
{
	if (r->t_started && (r->t.out_fd >= 0 || r->t.err_fd >= 0))
		tracer__pump(&r->t, ms);
	else
		usleep(ms * 1000);
}

/* Wait until the workload sets *flag. */
static int wait_workload(struct hr_run *r, const int32_t *flag, const char *what)
{
	int64_t deadline = now_ms() + 5000LL * r->op->timeout_s;

	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		if (workload_died(r))
			return -EIO;
		if (now_ms() > deadline) {
			set_reason(r, FAIL, "workload: %s not done within %d s", what,
				   5 * r->op->timeout_s);
			return -ETIMEDOUT;
		}
		idle(r, 10);
	}
	return 0;
}

static void free_tracer(struct hr_run *r)
{
	if (r->t_started)
		tracer__free(&r->t);
	r->t_started = false;
}

static void keep_output(struct hr_run *r, const char *what)
{
	char path[512];
	FILE *f;

	if (!r->op->keep_dir || !r->t_started)
		return;
	snprintf(path, sizeof(path), "%s/%s.%s.json", r->op->keep_dir, r->s->name, what);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(buf_str(&r->t.out), f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.%s.stderr", r->op->keep_dir, r->s->name, what);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(buf_str(&r->t.err), f);
	fclose(f);
}

static int start_tracer(struct hr_run *r, const char *const *args, unsigned int flags)
{
	char *argv[16];
	int n = 0, err;

	argv[n++] = (char *)r->op->ephtrace;
	while (*args && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	err = tracer__start_flags(&r->t, argv, flags);
	if (err) {
		set_reason(r, FAIL, "cannot start %s: %s", r->op->ephtrace, strerror(-err));
		return err;
	}
	r->t_started = true;
	return 0;
}

static int start_top(struct hr_run *r)
{
	const char *args[] = { "top",	  "--json",    "-i",	       HR_INTERVAL, "--resync",
			       HR_RESYNC, "--backend", r->op->backend, NULL };
	int64_t deadline = now_ms() + 1000LL * r->op->timeout_s;
	const char *found;
	char st[64];
	int err;

	if (start_tracer(r, args, 0))
		return -EIO;
	while (!tracer__attached(&r->t)) {
		if (r->t.exited && r->t.err_fd < 0 && r->t.out_fd < 0) {
			set_reason(r, FAIL, "ephtrace top did not attach (%s): %.200s",
				   status_text(r->t.status, st, sizeof(st)), buf_str(&r->t.err));
			return -EIO;
		}
		if (now_ms() > deadline) {
			set_reason(r, FAIL,
				   "no \"using backend \" line from ephtrace top within %d s",
				   r->op->timeout_s);
			return -ETIMEDOUT;
		}
		err = tracer__pump(&r->t, 100);
		if (err) {
			set_reason(r, FAIL, "reading ephtrace's output: %s", strerror(-err));
			return err;
		}
	}
	found = strstr(buf_str(&r->t.err), "using backend ") + strlen("using backend ");
	snprintf(r->backend, sizeof(r->backend), "%.*s", (int)strcspn(found, " \n()"), found);
	return 0;
}

/* The first snapshot of top taken at or after r->ready_ns; then top is stopped (SIGINT). */
static int take_top(struct hr_run *r)
{
	int64_t deadline = now_ms() + 1000LL * r->op->timeout_s;
	size_t off = 0, len;
	const char *line;
	json_object *snap;
	char st[64];
	int err;

	for (;;) {
		line = next_line(&r->t.out, &off, &len);
		if (!line) {
			if (r->t.exited && r->t.out_fd < 0) {
				set_reason(r, FAIL,
					   "ephtrace top exited before a snapshot came (%s)",
					   status_text(r->t.status, st, sizeof(st)));
				return -EIO;
			}
			if (now_ms() > deadline) {
				set_reason(r, FAIL, "no snapshot from ephtrace top within %d s",
					   r->op->timeout_s);
				return -ETIMEDOUT;
			}
			tracer__pump(&r->t, 100);
			continue;
		}
		r->top_snap = strndup(line, len);
		if (!r->top_snap)
			return -ENOMEM;
		snap = json_tokener_parse(r->top_snap);
		if (!snap) {
			problem(r, "%s: top: expected a JSON object per line got %.200s",
				r->s->name, r->top_snap);
			return -EIO;
		}
		if (parse_time(jstr(snap, "time")) >= r->ready_ns) {
			json_object_put(snap);
			break;
		}
		json_object_put(snap);
		free(r->top_snap);
		r->top_snap = NULL;
	}
	err = tracer__stop(&r->t, 1000 * r->op->timeout_s);
	keep_output(r, "top");
	if (err) {
		set_reason(r, FAIL, "ephtrace top did not stop after SIGINT: %s", strerror(-err));
		return err;
	}
	if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status)) {
		set_reason(r, FAIL, "expected ephtrace top to exit 0 after SIGINT got %s",
			   status_text(r->t.status, st, sizeof(st)));
		return -EIO;
	}
	return 0;
}

/* status -v --json --netns INODE once (whether it may load BPF is the status scenario's check;
 * -v says when it went on without its port iterator). */
static int take_status(struct hr_run *r)
{
	char netns[32], st[64];
	const char *args[] = { "status", "-v", "--json", "--netns", netns, NULL };
	size_t off = 0, len;
	const char *line;
	int err;

	snprintf(netns, sizeof(netns), "%" PRIu64, r->w.o->netns);
	free_tracer(r);
	if (start_tracer(r, args, 0))
		return -EIO;
	err = tracer__wait(&r->t, 1000 * r->op->timeout_s);
	keep_output(r, "status");
	if (err) {
		set_reason(r, FAIL, "ephtrace status: %s",
			   err == -ETIMEDOUT ? "did not exit in time" : strerror(-err));
		return err;
	}
	if (!WIFEXITED(r->t.status) || WEXITSTATUS(r->t.status)) {
		set_reason(r, FAIL, "expected ephtrace status to exit 0 got %s: %.200s",
			   status_text(r->t.status, st, sizeof(st)), buf_str(&r->t.err));
		return -EIO;
	}
	line = next_line(&r->t.out, &off, &len);
	if (!line || off != r->t.out.len) {
		set_reason(r, FAIL, "expected one line from ephtrace status got %s",
			   line ? "more" : "none");
		return -EIO;
	}
	r->status_snap = strndup(line, len);
	r->no_iter = strstr(buf_str(&r->t.err), "port iterator:") &&
		     strstr(buf_str(&r->t.err), "(going on without it)");
	free_tracer(r);
	return r->status_snap ? 0 : -ENOMEM;
}

/* Let the wall clock reach ns (measured on the monotonic one), reading top meanwhile. */
static void wait_until(struct hr_run *r, int64_t ns)
{
	int64_t end = now_ms() + (ns - wall_ns()) / 1000000 + 1;

	while (now_ms() < end)
		idle(r, 20);
}

/* ---- comparing ---- */

static bool str_is(json_object *o, const char *key, const char *want)
{
	const char *s = jstr(o, key);

	return s && !strcmp(s, want);
}

static bool addr_is(json_object *o, const char *key, int family, const uint8_t want[16])
{
	const char *s = jstr(o, key);
	uint8_t a[16];

	return s && addr_parse(s, a) == family && !memcmp(a, want, 16);
}

static bool in_netns(json_object *e, uint64_t netns)
{
	double v;

	return jnum(e, "netns", &v) == 1 && v == (double)netns;
}

/* The snapshot's row for hr row w, or NULL. */
static json_object *find_row(json_object *snap, uint64_t netns, const struct hr_row *w)
{
	const char *table = w->kind == HR_DEST	? "destinations" :
			    w->kind == HR_SCOPE ? "bind_scopes" :
						  "netns";
	json_object *a = jarr(snap, table), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	double port;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!in_netns(e, netns))
			continue;
		if (w->kind == HR_NETNS_UDP)
			return e;
		if (!str_is(e, "proto", proto_name(w->proto)) ||
		    !str_is(e, "family", family_name(w->family)) ||
		    !addr_is(e, w->kind == HR_DEST ? "saddr" : "addr", w->family, w->saddr))
			continue;
		if (w->kind == HR_SCOPE)
			return e;
		if (jnum(e, "dport", &port) == 1 && port == w->dport &&
		    addr_is(e, "daddr", w->family, w->daddr))
			return e;
	}
	return NULL;
}

static const char *num_text(int kind, double v, char *buf, size_t len)
{
	if (kind == 1)
		snprintf(buf, len, "%.10g", v);
	else
		snprintf(buf, len, "%s", kind ? "nothing" : "null");
	return buf;
}

/* One number of a row against the truth; a problem names the row, both numbers and the case. */
static bool check_num(struct hr_run *r, const char *src, const char *name, json_object *e,
		      const char *key, double want, const char *said_as)
{
	char got[32];
	double v;
	int k = jnum(e, key, &v);

	if (k == 1 && v == want)
		return true;
	problem(r, "%s: %s %s: ephtrace said %s %s, %s %.0f", r->s->name, src, name,
		num_text(k, v, got, sizeof(got)), key, said_as, want);
	buf_printf(&r->report, "      %s row: %s\n", src,
		   json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	return false;
}

/* No IPv6 row for IPv4-mapped connections: they are IPv4 4-tuples. */
static void check_no_mapped_rows(struct hr_run *r, const char *src, json_object *snap)
{
	json_object *a = jarr(snap, "destinations"), *e;
	size_t i, n = a ? json_object_array_length(a) : 0;
	uint8_t addr[16];
	const char *s;

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(a, i);
		if (!in_netns(e, r->w.o->netns) || !str_is(e, "family", "ipv6"))
			continue;
		s = jstr(e, "daddr");
		if (s && addr_parse(s, addr) == AF_INET6 && is_mapped(addr)) {
			problem(r,
				"%s: %s: expected no IPv6 destination for the IPv4-mapped "
				"connections (they count in the IPv4 row) got one",
				r->s->name, src);
			buf_printf(&r->report, "      %s row: %s\n", src,
				   json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		}
	}
}

/* What a snapshot said of a row: -1 where it said no number. */
struct said {
	double left, held;
};

/*
 * Every row's ports_left against the kernel's count; a destination's held and time_wait against
 * the state (IPv4-mapped connections in the IPv4 row). A bind scope's held is only shown: which
 * sockets ephtrace counts there (listeners, say) is its own definition, not the kernel's.
 */
/*
 * Whether a snapshot could not see the state's bound-only TCP sockets: its namespace row says
 * they are not listed (sock_diag dumps them from 6.8; before, status and top find them with
 * their port iterator, unless bpf() is refused), and no event showed them (status, or top
 * started after the state).
 */
static bool snapshot_blind(struct hr_run *r, json_object *snap, bool events)
{
	json_object *ns = jarr(snap, "netns"), *x;
	size_t i;

	if (events || !r->w.o->hr.nbound || !ns)
		return false;
	for (i = 0; i < json_object_array_length(ns); i++) {
		json_object *n = json_object_array_get_idx(ns, i);
		double inode;

		if (jnum(n, "netns", &inode) == 1 && inode == r->w.o->netns &&
		    json_object_object_get_ex(n, "bound_only_listed", &x))
			return !json_object_get_boolean(x);
	}
	return false;
}

static void check_snapshot(struct hr_run *r, const char *src, const char *line, bool events,
			   struct said *said)
{
	const struct hr_shared *hr = &r->w.o->hr;
	bool mapped = false, shown = false, blind;
	json_object *snap, *e;
	char name[128];
	uint32_t i;
	double v;

	snap = json_tokener_parse(line);
	if (!snap || !json_object_is_type(snap, json_type_object)) {
		problem(r, "%s: %s: expected a JSON object got %.200s", r->s->name, src, line);
		json_object_put(snap);
		return;
	}
	blind = snapshot_blind(r, snap, events);
	if (blind && !r->no_iter) {
		problem(r,
			"%s: %s: expected bound_only_listed true (the port iterator lists the "
			"bound-only sockets sock_diag does not, before 6.8) got false",
			r->s->name, src);
		blind = false;
	}
	for (i = 0; i < hr->nrows; i++) {
		const struct hr_row *w = &hr->row[i];
		const char *key = w->kind == HR_NETNS_UDP ? "udp_ports_left" : "ports_left";

		said[i].left = said[i].held = -1;
		row_name(w, name, sizeof(name));
		e = find_row(snap, r->w.o->netns, w);
		if (!e && blind && w->proto == IPPROTO_TCP) {
			r->blind++; /* a row of bound-only sockets the snapshot cannot list */
			continue;
		}
		if (!e) {
			problem(r, "%s: %s: expected a row for %s got none (the kernel granted %d)",
				r->s->name, src, name, w->granted);
			if (!shown)
				buf_printf(&r->report, "      %s: %.*s%s\n", src, SHOW_MAX, line,
					   strlen(line) > SHOW_MAX ? "..." : "");
			shown = true;
			continue;
		}
		if (jnum(e, key, &v) == 1)
			said[i].left = v;
		if (jnum(e, "held", &v) == 1)
			said[i].held = v;
		if (blind && w->proto == IPPROTO_TCP) {
			/* it can only miss ports: never fewer left than the kernel grants */
			if (said[i].left < w->granted)
				problem(r,
					"%s: %s: %s: expected ports_left >= %d (the kernel granted "
					"that; bound-only sockets are not listed here) got %.0f",
					r->s->name, src, name, w->granted, said[i].left);
			r->blind++;
		} else {
			check_num(r, src, name, e, key, w->granted, "the kernel granted");
		}
		if (w->kind != HR_DEST)
			continue;
		check_num(r, src, name, e, "held", w->held,
			  w->mapped ? "the state holds (IPv4-mapped included)" : "the state holds");
		check_num(r, src, name, e, "time_wait", w->time_wait, "the state holds");
		mapped |= w->mapped > 0;
	}
	if (mapped)
		check_no_mapped_rows(r, src, snap);
	json_object_put(snap);
}

static void say_number(struct buf *b, double v)
{
	if (v < 0)
		buf_printf(b, " %6s", "-");
	else
		buf_printf(b, " %6.0f", v);
}

/* The table of rows: the kernel's count, what status and top said, what the state holds. */
static void compare(struct hr_run *r)
{
	const struct hr_shared *hr = &r->w.o->hr;
	struct said st[HR_MAX_ROWS], top[HR_MAX_ROWS];
	struct buf table = {};
	char name[128];
	uint32_t i;

	check_snapshot(r, "status", r->status_snap, false, st);
	check_snapshot(r, "top", r->top_snap, r->s->hr->top_before, top);
	buf_printf(&table, "  %-40s %6s %6s %6s %5s %4s\n", "ports left in row", "kernel", "status",
		   "top", "held", "tw");
	for (i = 0; i < hr->nrows; i++) {
		const struct hr_row *w = &hr->row[i];

		buf_printf(&table, "  %-40s %6d", row_name(w, name, sizeof(name)), w->granted);
		say_number(&table, st[i].left);
		say_number(&table, top[i].left);
		if (w->kind == HR_NETNS_UDP) {
			buf_printf(&table, "\n");
			continue;
		}
		buf_printf(&table, " %5u %4u", w->held, w->time_wait);
		if (w->mapped)
			buf_printf(&table, " (%u IPv4-mapped)", w->mapped);
		if (st[i].held != w->held || top[i].held != w->held)
			buf_printf(&table, " (ephtrace: held %.0f in status, %.0f in top)",
				   st[i].held, top[i].held);
		buf_printf(&table, "\n");
	}
	printf("%s", buf_str(&table));
	buf_free(&table);
}

static const char *tcp_state_name(unsigned int st)
{
	static const char *const names[] = { "?",	  "ESTABLISHED",   "SYN_SENT",
					     "SYN_RECV",  "FIN_WAIT1",	   "FIN_WAIT2",
					     "TIME_WAIT", "CLOSE (bound)", "CLOSE_WAIT",
					     "LAST_ACK",  "LISTEN",	   "CLOSING" };

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

static int cmp_sock(const void *a, const void *b)
{
	const struct hr_sock *x = a, *y = b;

	if (x->lport != y->lport)
		return x->lport < y->lport ? -1 : 1;
	return x->proto - y->proto;
}

/* The workload's sockets with a port in the range, by port: what a mismatch is about. */
static void take_table(struct hr_run *r)
{
	char l[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int i, n = read_socks(r->w.o, r->w.pid);

	if (n < 0) {
		buf_printf(&r->table, "    (%s)\n", r->w.o->msg);
		return;
	}
	for (i = 0; i < (int)r->w.o->hr.nbound && n < HR_MAX_SOCKS; i++) {
		struct hr_sock *k = &socks[n++];

		memset(k, 0, sizeof(*k));
		k->proto = IPPROTO_TCP;
		k->family = r->w.o->hr.bound[i].family;
		k->state = ST_CLOSE;
		k->lport = r->w.o->hr.bound[i].port;
		memcpy(k->laddr, r->w.o->hr.bound[i].addr, 16);
	}
	qsort(socks, n, sizeof(socks[0]), cmp_sock);
	for (i = 0; i < n; i++) {
		const struct hr_sock *k = &socks[i];

		if (k->lport < r->s->range_lo || k->lport > r->s->range_hi)
			continue;
		buf_printf(&r->table, "    %u %s %s", k->lport, proto_name(k->proto),
			   addr_text(k->family, k->laddr, l, sizeof(l)));
		if (k->rport)
			buf_printf(&r->table, " -> %s:%u",
				   addr_text(k->family, k->raddr, d, sizeof(d)), k->rport);
		buf_printf(&r->table, " %s\n",
			   k->proto == IPPROTO_UDP ? (k->rport ? "connected" : "bound") :
						     tcp_state_name(k->state));
	}
}

/* ---- the scenario ---- */

static int start_workload(struct hr_run *r)
{
	int err;

	err = workload__start_role(&r->w, r->s, "eph-headroom", hr_workload, 0);
	r->w_started = true;
	if (err == -EAGAIN)
		set_reason(r, SKIP, "%s", r->w.o->msg);
	else if (err)
		set_reason(r, FAIL, "workload: %s", r->w.o ? r->w.o->msg : strerror(-err));
	if (!err)
		r->w.o->hr.c = r->s->hr;
	return err;
}

/*
 * When snapshots see the state as it will be counted: TIME_WAIT aged; top (from before) resynced
 * with sock_diag since (the tracepoint backend sees no bucket kind, fixed-port binds may not be
 * events at all: the snapshot checked is the model's, not the events' race with it).
 */
static int64_t ready_at(struct hr_run *r, bool top_running)
{
	int64_t built = r->w.o->hr.built_wall_ns, ready = built;

	if (r->s->hr->aged)
		ready = built + HR_TW_AGE_MS * 1000000LL;
	if (top_running && ready < built + HR_RESYNC_LAG_MS * 1000000LL)
		ready = built + HR_RESYNC_LAG_MS * 1000000LL;
	return ready;
}

static void run_headroom(struct hr_run *r)
{
	const struct hr_case *c = r->s->hr;

	if (start_workload(r))
		return;
	if (c->top_before && start_top(r))
		return;
	workload__release(&r->w);
	if (wait_workload(r, &r->w.o->hr.built, "building the state"))
		return;
	r->ready_ns = ready_at(r, c->top_before);
	wait_until(r, r->ready_ns);
	if (c->top_before && take_top(r))
		return;
	free_tracer(r);
	if (take_status(r))
		return;
	if (!c->top_before && (start_top(r) || take_top(r)))
		return;
	free_tracer(r);
	if (workload_died(r))
		return;
	take_table(r);
	__atomic_store_n(&r->w.o->hr.count, 1, __ATOMIC_SEQ_CST);
	if (wait_workload(r, &r->w.o->hr.counted, "counting"))
		return;
	compare(r);
	buf_printf(&r->done,
		   "%u rows: status and top said the ports the kernel granted; %u TIME_WAIT %s; "
		   "top from %s the state, backend %s",
		   r->w.o->hr.nrows, r->w.o->hr.tw_total, c->aged ? "older than 2 s" : "fresh",
		   c->top_before ? "before" : "after", r->backend);
	if (r->blind)
		buf_printf(&r->done,
			   "; SKIPPED %u TCP row(s) of snapshots that cannot see the %u bound-only "
			   "sockets (bpf() refused, and this kernel's sock_diag lists none before "
			   "6.8): checked as upper bounds only",
			   r->blind, r->w.o->hr.nbound);
}

static void report(struct hr_run *r, int64_t ms)
{
	if (r->op->verbose) {
		if (r->status_snap)
			printf("  status snapshot:\n    %s\n", r->status_snap);
		if (r->top_snap)
			printf("  top snapshot:\n    %s\n", r->top_snap);
	}
	if (r->report.len)
		printf("%s", buf_str(&r->report));
	if (r->table.len && (r->op->verbose || r->verdict == FAIL))
		printf("  the kernel's sockets in the range before the counts:\n%s",
		       buf_str(&r->table));
	if (r->verdict == PASS) {
		snprintf(r->reason, sizeof(r->reason), "%s", buf_str(&r->done));
	} else if (r->problems > 1) {
		char first[sizeof(r->reason)];

		snprintf(first, sizeof(first), "%s", r->reason);
		snprintf(r->reason, sizeof(r->reason), "%d problems, the first: %.400s",
			 r->problems, first);
	}
	printf("RESULT %s %s (%s) %lldms\n", r->s->name, verdict_name(r->verdict), r->reason,
	       (long long)ms);
	fflush(stdout);
}

static void hr_run_free(struct hr_run *r)
{
	free_tracer(r);
	if (r->w_started)
		workload__free(&r->w);
	buf_free(&r->report);
	buf_free(&r->done);
	buf_free(&r->table);
	free(r->top_snap);
	free(r->status_snap);
}

enum verdict headroom_scenario(const struct scenario *s, const struct occ_opts *op)
{
	struct hr_run r = { .s = s, .op = op, .verdict = PASS };
	int64_t t0 = now_ms();
	enum verdict v;

	run_headroom(&r);
	report(&r, now_ms() - t0);
	v = r.verdict;
	hr_run_free(&r);
	return v;
}

int headroom_workload_only(const struct scenario *s, const struct occ_opts *op)
{
	struct hr_run r = { .s = s, .op = op, .verdict = PASS };
	const struct hr_shared *hr;
	char name[128], tmp[16];
	uint32_t i;

	if (start_workload(&r))
		goto out;
	workload__release(&r.w);
	if (wait_workload(&r, &r.w.o->hr.built, "building the state"))
		goto out;
	if (s->hr->aged)
		wait_until(&r, r.w.o->hr.built_wall_ns + HR_TW_AGE_MS * 1000000LL);
	__atomic_store_n(&r.w.o->hr.count, 1, __ATOMIC_SEQ_CST);
	if (wait_workload(&r, &r.w.o->hr.counted, "counting"))
		goto out;
	hr = &r.w.o->hr;
	fprintf(stderr, "ephtest: %s netns %" PRIu64 " (pid %d): %u TIME_WAIT %s\n", s->name,
		r.w.o->netns, (int)r.w.pid, hr->tw_total, s->hr->aged ? "older than 2 s" : "fresh");
	for (i = 0; i < hr->nrows; i++)
		printf("%-44s granted %d (then %s), held %u, time_wait %u, mapped %u\n",
		       row_name(&hr->row[i], name, sizeof(name)), hr->row[i].granted,
		       errno_name(hr->row[i].stop_err, tmp, sizeof(tmp)), hr->row[i].held,
		       hr->row[i].time_wait, hr->row[i].mapped);
out:
	if (r.verdict != PASS)
		fprintf(stderr, "ephtest: %s %s: %s\n", s->name, verdict_name(r.verdict), r.reason);
	hr_run_free(&r);
	return r.verdict == PASS ? 0 : 1;
}
