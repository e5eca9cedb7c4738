// SPDX-License-Identifier: GPL-2.0
/*
 * The headroom scenarios' workload, building the state (headroom.c tells the whole story): the
 * listeners outside and inside the range, the destinations' clients (established, IPv4-mapped,
 * bind-before-connect, TIME_WAIT), the bind scopes' TCP and UDP holders and the connected UDP
 * sockets, each row of the snapshot they fill named (hr_row) with what the kernel shows of it;
 * then the rows ordered so that no count changes a later one (count_phase()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "headroom.h"

/* Where each destination (D_*) listens, and the source its clients bind with
 * IP_BIND_ADDRESS_NO_PORT (NULL: the one the kernel chooses, 127.0.0.1 or ::1). */
static const struct {
	const char *daddr;
	uint16_t dport;
	const char *saddr;
} dest_at[HR_NR_DESTS] = {
	[D_LO_5000] = { "127.0.0.1", 5000, NULL },
	[D_LO_5001] = { "127.0.0.1", 5001, NULL },
	[D_LO2_5000] = { "127.0.0.2", 5000, NULL },
	[D_LO_5002] = { "127.0.0.1", 5002, NULL },
	[D_V6_5000] = { "::1", 5000, NULL },
	[D_SRC2_5000] = { "127.0.0.1", 5000, "127.0.0.2" },
};

/* bind(0)'s sockets are the default kind: IPv6 ones without IPV6_V6ONLY ("::" takes the port
 * on every address of both families) */
static const char *const tcp_addr[HR_NR_TCP_ADDRS] = { "127.0.0.1", "127.0.0.2", "::1", "0.0.0.0",
						       "::" };
static const char *const udp_addr[HR_NR_UDP_ADDRS] = { "127.0.0.1", "127.0.0.2", "0.0.0.0", "::1",
						       "::" };
/* ---- the workload: building the state ---- */

/* o->msg = "<what>: <strerror(err)>"; returns -1. */
int hr_fail_errno(struct oracle *o, int err, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(o->msg, sizeof(o->msg), "%s: %s", what, strerror(err));
	return -1;
}

/* A TCP socket bound to addr:port (IPv6: IPV6_V6ONLY unless dual), nonblocking; listening if
 * listener. */
static int fixed_socket(struct hr_state *st, const char *addr, uint16_t port, bool listener,
			bool dual)
{
	struct hr_shared *hr = &st->o->hr;
	struct sockaddr_storage ss;
	int family, fd, v6only = !dual, one = 1;
	uint8_t a[16];
	socklen_t len;

	family = hr_addr_parse(addr, a);
	hr_sa_make(family, a, port, &ss, &len);
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hr_fail_errno(st->o, errno, "socket() to bind %s:%u", addr, port);
	if ((family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only))) ||
	    (listener && st->c->reuse_listen &&
	     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || (listener && listen(fd, 1024))) {
		hr_fail_errno(st->o, errno, "%s on %s:%u", listener ? "listener" : "bind", addr,
			      port);
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
		return hr_fail_errno(st->o, n ? errno : ETIMEDOUT, "accept() of %s", what);
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		return hr_fail_errno(st->o, errno, "accept() of %s", what);
	return afd;
}

/* bind(addr:port) of a fresh socket, kept (SO_REUSEADDR if reuse); port 0: the kernel's choice,
 * told in *got. */
static int bind_port(struct hr_state *st, int type, const char *addr, uint16_t port, bool reuse,
		     uint16_t *got)
{
	struct hr_shared *hr = &st->o->hr;
	struct sockaddr_storage ss;
	int family, fd, lfamily = 0, one = 1;
	uint8_t a[16], l[16];
	socklen_t len;

	family = hr_addr_parse(addr, a);
	hr_sa_make(family, a, port, &ss, &len);
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hr_fail_errno(st->o, errno, "socket() to bind %s:%u", addr, port);
	if ((reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&ss, len) || !(lfamily = hr_sock_local(fd, l, got))) {
		hr_fail_errno(st->o, errno, "%s bind(%s:%u)%s of the state",
			      type == SOCK_STREAM ? "TCP" : "UDP", addr, port,
			      reuse ? " with SO_REUSEADDR" : "");
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM && hr->nbound < HR_MAX_BOUND) {
		hr->bound[hr->nbound].family = lfamily;
		memcpy(hr->bound[hr->nbound].addr, l, 16);
		hr->bound[hr->nbound++].port = *got;
	}
	return fd;
}

/* n bind(addr:0) holders, and shared more sockets on the first one's port (both with
 * SO_REUSEADDR: a second owner of its bind bucket, or of its UDP port, which takes no port). */
static int bind_holders(struct hr_state *st, int type, const char *addr, unsigned int n,
			unsigned int shared, int *last)
{
	uint16_t port, got;
	unsigned int i;
	int fd;

	for (i = 0; i < n; i++) {
		fd = bind_port(st, type, addr, 0, shared && !i, i ? &got : &port);
		if (fd < 0)
			return -1;
		if (i && i == n - 1) /* not the first: others may share its port */
			*last = fd + 1;
	}
	for (i = 0; n && i < shared; i++)
		if (bind_port(st, type, addr, port, true, &got) < 0)
			return -1;
	return 0;
}

const char *hr_scope_addr(int proto, int a)
{
	return proto == IPPROTO_TCP ? tcp_addr[a] : udp_addr[a];
}

struct hr_row *hr_scope_row(struct hr_shared *hr, int proto, const char *addr)
{
	uint8_t a[16];
	uint32_t i;

	hr_addr_parse(addr, a);
	for (i = 0; i < hr->nrows && i < HR_MAX_ROWS; i++)
		if (hr->row[i].kind == HR_SCOPE && hr->row[i].proto == proto &&
		    !memcmp(hr->row[i].saddr, a, 16))
			return &hr->row[i];
	return NULL;
}

static struct hr_row *add_row(struct hr_shared *hr, int kind, int proto, const char *addr)
{
	static struct hr_row spare; /* past HR_MAX_ROWS: hr_build_state() fails the state */
	struct hr_row *r = hr->nrows < HR_MAX_ROWS ? &hr->row[hr->nrows] : &spare;

	hr->nrows++;
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->proto = proto;
	r->family = addr ? hr_addr_parse(addr, r->saddr) : AF_INET;
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

	family = hr_sock_local(fd, saddr, &port);
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
				 hr_addr_text(family, saddr, a, sizeof(a)));
			return -1;
		}
		return 0;
	}
	st->dest_row[d] = hr->nrows;
	r = add_row(hr, HR_DEST, IPPROTO_TCP, NULL);
	r->family = hr_addr_parse(dest_at[d].daddr, daddr);
	memcpy(r->saddr, saddr, 16);
	memcpy(r->daddr, daddr, 16);
	r->dport = dest_at[d].dport;
	r->src_bound = dest_at[d].saddr != NULL;
	if (family != r->family) {
		snprintf(st->o->msg, sizeof(st->o->msg), "a connection to %s:%u has a %s source",
			 dest_at[d].daddr, dest_at[d].dport, family_name(family));
		return -1;
	}
	return 0;
}

/* fd bound to addr with IP_BIND_ADDRESS_NO_PORT: connect() chooses the port, from addr. */
int hr_bind_no_port(int fd, int family, const uint8_t addr[16])
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	hr_sa_make(family, addr, 0, &ss, &len);
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len))
		return -errno;
	return 0;
}

/*
 * One connection of the state to destination d from a fresh socket of family (AF_INET6 to an
 * IPv4 destination: IPv4-mapped), bound first to bind_addr:bind_port unless bind_addr is NULL,
 * or to d's source address with IP_BIND_ADDRESS_NO_PORT. Its server side is accepted and kept.
 * Returns the client's fd, the server's in *afd.
 */
static int connect_one(struct hr_state *st, int d, int family, const char *bind_addr, int bind_port,
		       int *afd)
{
	struct sockaddr_storage ss;
	uint8_t a[16], lo[16];
	int fd, dfam, off = 0, one = 1, err;
	char what[96];
	socklen_t len;

	dfam = hr_addr_parse(dest_at[d].daddr, a);
	if (family == AF_INET6 && dfam == AF_INET) { /* ::ffff:a.b.c.d */
		memmove(a + 12, a, 4);
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
	}
	snprintf(what, sizeof(what), "a %sconnection to %s:%u",
		 family != dfam ? "IPv4-mapped " :
		 bind_addr	? "bind-before-connect " :
				  "",
		 dest_at[d].daddr, dest_at[d].dport);
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hr_fail_errno(st->o, errno, "socket() for %s", what);
	if (family == AF_INET6 && dfam == AF_INET &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off))) {
		hr_fail_errno(st->o, errno, "IPV6_V6ONLY 0 for %s", what);
		goto out_close;
	}
	if (bind_addr) {
		hr_sa_make(hr_addr_parse(bind_addr, lo), lo, bind_port, &ss, &len);
		if ((st->c->reuse_bbc &&
		     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) ||
		    bind(fd, (struct sockaddr *)&ss, len)) {
			hr_fail_errno(st->o, errno, "bind(%s:%d) for %s", bind_addr, bind_port,
				      what);
			goto out_close;
		}
	} else if (dest_at[d].saddr &&
		   (err = hr_bind_no_port(fd, hr_addr_parse(dest_at[d].saddr, lo), lo))) {
		hr_fail_errno(st->o, -err, "IP_BIND_ADDRESS_NO_PORT bind(%s:0) for %s",
			      dest_at[d].saddr, what);
		goto out_close;
	}
	hr_sa_make(family, a, dest_at[d].dport, &ss, &len);
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		hr_fail_errno(st->o, errno, "connect() of %s", what);
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

	fd = connect_one(st, d, hr_addr_parse(dest_at[d].daddr, a), NULL, 0, &p.fd);
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
	int family = hr_addr_parse(dest_at[d].daddr, a), i, afd;
	const char *bbc_addr = de->bbc_any ? "0.0.0.0" : "127.0.0.1";

	if (family == AF_INET6)
		bbc_addr = de->bbc_any ? "::" : "::1";

	for (i = 0; i < de->est + de->mapped + de->bbc; i++) {
		bool mapped = i >= de->est && i < de->est + de->mapped;
		int fd = connect_one(st, d, mapped ? AF_INET6 : family,
				     i >= de->est + de->mapped ? bbc_addr : NULL, 0, &afd);

		if (fd < 0)
			return -1;
		if (i < 2 && i < de->est) { /* what departures may close */
			st->dep_cli[d][i] = fd + 1;
			st->dep_srv[d][i] = afd + 1;
		}
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

	hr_addr_parse("127.0.0.1", a);
	hr_sa_make(AF_INET, a, dport, &ss, &len);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hr_fail_errno(st->o, errno, "socket() for a UDP connect");
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		hr_fail_errno(st->o, errno, "UDP connect() to 127.0.0.1:%u of the state", dport);
		close(fd);
		return -1;
	}
	if (hr_sock_local(fd, got, &port) != AF_INET || memcmp(got, a, 16)) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "a UDP socket connected to 127.0.0.1:%u has source %s:%u, not 127.0.0.1",
			 dport, hr_addr_text(AF_INET, got, t, sizeof(t)), port);
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
		if (bind_holders(st, SOCK_STREAM, tcp_addr[a], c->tcp_bind0[a], c->tcp_shared[a],
				 &st->dep_tcp[a]))
			return -1;
	}
	for (a = 0; a < HR_NR_UDP_ADDRS; a++) {
		if (!c->udp_bind0[a] && (a || !c->udp_conn))
			continue;
		r = add_row(hr, HR_SCOPE, IPPROTO_UDP, udp_addr[a]);
		r->held = c->udp_bind0[a] + (a ? 0 : c->udp_conn);
		for (i = 0; !a && i < c->udp_conn; i++) {
			int fd = udp_connect_one(st, HR_UDP_DPORT + i % 3);

			if (fd < 0)
				return -1;
			if (i && i == c->udp_conn - 1)
				st->dep_udpc = fd + 1;
		}
		if (bind_holders(st, SOCK_DGRAM, udp_addr[a], c->udp_bind0[a], c->udp_shared[a],
				 &st->dep_udp[a]))
			return -1;
		if (c->departures && !strcmp(udp_addr[a], "0.0.0.0")) { /* one more to move */
			uint16_t port;
			int fd = bind_port(st, SOCK_DGRAM, udp_addr[a], 0, false, &port);

			if (fd < 0)
				return -1;
			st->move_udp = fd + 1;
			r->held++;
		}
	}
	add_row(hr, HR_NETNS_UDP, IPPROTO_UDP, NULL);
	return 0;
}

/* The row of a destination no socket of the state uses (the netns row's new_dest_ports_left),
 * and its listener. */
static int new_dest(struct hr_state *st)
{
	struct hr_row *r;

	if (fixed_socket(st, HR_NEW_DADDR, HR_NEW_DPORT, true, false) < 0)
		return -1;
	r = add_row(&st->o->hr, HR_NETNS_NEW, IPPROTO_TCP, NULL);
	hr_addr_parse(HR_NEW_DADDR, r->daddr);
	r->dport = HR_NEW_DPORT;
	return 0;
}

int hr_check_dests(struct hr_state *st)
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
		want_est = de->est + de->mapped + de->bbc + !!de->fixed - st->gone_rst[d] -
			   st->gone_fin[d];
		want_tw = de->tw + st->gone_fin[d];
		/* a reserved port is none the allocators hand out: ephtrace does not count it held
		 * (as fixed_holds() for a bind scope) */
		r->held = want_est + want_tw - (de->fixed && port_reserved(st->s, de->fixed));
		r->time_wait = want_tw;
		r->mapped = de->mapped;
		for (;;) {
			if (hr_dest_states(st->o, st->s, r, &est, &tw, &other))
				return -1;
			if (est == want_est && tw == want_tw && !other)
				break;
			if (now_ms() > deadline) {
				snprintf(st->o->msg, sizeof(st->o->msg),
					 "%s: the kernel shows %u established, %u in TIME_WAIT, %u "
					 "in another state; expected %u, %u, 0",
					 hr_row_name(r, name, sizeof(name)), est, tw, other,
					 want_est, want_tw);
				return -1;
			}
			usleep(10000);
		}
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
		return hr_fail_errno(st->o, errno, "net.ipv4.tcp_tw_reuse = %s", v);
	return 0;
}

int hr_build_state(struct hr_state *st)
{
	struct census cen;
	uint8_t a[16];
	int i, d, e, afd;

	for (d = 0; d < HR_NR_DESTS; d++) {
		const struct hr_dest *de = &st->c->dest[d];

		st->dest_row[d] = -1;
		st->dest_lfd[d] = -1;
		if (de->est + de->mapped + de->bbc + de->tw + de->fixed == 0)
			continue;
		for (e = 0; e < d; e++) /* the same listener serves every source */
			if (st->dest_lfd[e] >= 0 && !strcmp(dest_at[e].daddr, dest_at[d].daddr) &&
			    dest_at[e].dport == dest_at[d].dport)
				st->dest_lfd[d] = st->dest_lfd[e];
		if (st->dest_lfd[d] < 0)
			st->dest_lfd[d] =
				fixed_socket(st, dest_at[d].daddr, dest_at[d].dport, true, false);
		if (st->dest_lfd[d] < 0)
			return -1;
	}
	for (i = 0; i < HR_NR_LISTEN; i++)
		if (st->c->listen[i].addr &&
		    fixed_socket(st, st->c->listen[i].addr, st->c->listen[i].port, true,
				 st->c->listen[i].dual) < 0)
			return -1;
	if (st->c->bound.addr &&
	    fixed_socket(st, st->c->bound.addr, st->c->bound.port, false, st->c->bound.dual) < 0)
		return -1;
	if (new_dest(st))
		return -1;
	for (d = 0; d < HR_NR_DESTS; d++) /* first: a connect() could take the port */
		if (st->c->dest[d].fixed &&
		    connect_one(st, d, hr_addr_parse(dest_at[d].daddr, a), "127.0.0.1",
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
	if (hr_check_dests(st))
		return -1;
	if (st->o->hr.nrows > HR_MAX_ROWS) {
		snprintf(st->o->msg, sizeof(st->o->msg), "the state has %u rows, more than %d",
			 st->o->hr.nrows, HR_MAX_ROWS);
		return -1;
	}
	if (hr_order_rows(st))
		return -1;
	if (hr_take_census(st->o, st->s, &cen))
		return -1;
	st->o->hr.tw_total = cen.tw;
	return 0;
}
