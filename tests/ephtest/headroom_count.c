// SPDX-License-Identifier: GPL-2.0
/*
 * The headroom scenarios' workload, counting (headroom.c tells the whole story): addresses and
 * the names of rows, the kernel's socket table read from /proc/self/net/{tcp,udp}{,6} (the
 * census of the range, a destination's clients by state), and the counts of what the kernel
 * still grants, row after row from fresh sockets closed with RST, each checked to leave the state
 * as it was; and hr_workload(), the workload's body: build, wait for the driver, count.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "headroom.h"

/* ---- addresses ---- */

/* "127.0.0.1" or "::1" into bytes (AF_INET in the first 4, the rest 0); its family or 0. */
int hr_addr_parse(const char *s, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	return 0;
}

void hr_sa_make(int family, const uint8_t addr[16], uint16_t port, struct sockaddr_storage *ss,
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

bool hr_is_mapped(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(addr, prefix, 12);
}

/* The local address and port of fd, IPv4-mapped ones as IPv4. Returns its family, 0 on error. */
int hr_sock_local(int fd, uint8_t addr[16], uint16_t *port)
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

const char *hr_addr_text(int family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

/* "dest tcp 127.0.0.1 -> 127.0.0.2:5000", "scope udp 0.0.0.0", "netns udp autobind",
 * "netns tcp new dest 127.0.0.3:5000" */
const char *hr_row_name(const struct hr_row *r, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	bool v6 = r->family == AF_INET6;

	if (r->kind == HR_DEST)
		snprintf(buf, len, "dest tcp %s -> %s%s%s:%u",
			 hr_addr_text(r->family, r->saddr, s, sizeof(s)), v6 ? "[" : "",
			 hr_addr_text(r->family, r->daddr, d, sizeof(d)), v6 ? "]" : "", r->dport);
	else if (r->kind == HR_SCOPE)
		snprintf(buf, len, "scope %s %s", proto_name(r->proto),
			 hr_addr_text(r->family, r->saddr, s, sizeof(s)));
	else if (r->kind == HR_NETNS_NEW)
		snprintf(buf, len, "netns tcp new dest %s:%u",
			 hr_addr_text(r->family, r->daddr, d, sizeof(d)), r->dport);
	else
		snprintf(buf, len, "netns udp autobind");
	return buf;
}

/* ---- the workload: the kernel's socket table (/proc/self/net/...) ---- */

struct hr_sock hr_socks[HR_MAX_SOCKS];

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
		s = &hr_socks[n++];
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

/* Every TCP and UDP socket of the namespace of pid (0: ours) into hr_socks; their number or -1. */
int hr_read_socks(struct oracle *o, pid_t pid)
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

int hr_take_census(struct oracle *o, const struct scenario *s, struct census *c)
{
	int i, n = hr_read_socks(o, 0);

	memset(c, 0, sizeof(*c));
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (hr_socks[i].lport < s->range_lo || hr_socks[i].lport > s->range_hi)
			continue;
		if (hr_socks[i].proto == IPPROTO_UDP)
			c->udp++;
		else if (hr_socks[i].state == ST_TIME_WAIT)
			c->tw++;
		else
			c->tcp++;
	}
	return 0;
}

/* Client sockets of the range from the row's source to its destination: established,
 * TIME_WAIT, other. */
int hr_dest_states(struct oracle *o, const struct scenario *s, const struct hr_row *r,
		   unsigned int *est, unsigned int *tw, unsigned int *other)
{
	int i, n = hr_read_socks(o, 0);

	*est = *tw = *other = 0;
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct hr_sock *k = &hr_socks[i];

		if (k->proto != IPPROTO_TCP || k->family != r->family || k->rport != r->dport ||
		    memcmp(k->raddr, r->daddr, 16) || memcmp(k->laddr, r->saddr, 16) ||
		    k->lport < s->range_lo || k->lport > s->range_hi)
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

	if (r->kind == HR_DEST && r->src_bound && (ret = hr_bind_no_port(fd, r->family, r->saddr)))
		return ret;
	if (r->kind == HR_DEST || r->kind == HR_NETNS_NEW) {
		hr_sa_make(r->family, r->daddr, r->dport, &ss, &len);
		ret = connect(fd, (struct sockaddr *)&ss, len);
		return ret && errno != EINPROGRESS ? -errno : 0;
	}
	if (r->kind == HR_SCOPE) {
		hr_sa_make(r->family, r->saddr, 0, &ss, &len);
		return bind(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
	}
	hr_addr_parse("127.0.0.1", lo);
	hr_sa_make(AF_INET, lo, HR_UDP_PROBE_DPORT, &ss, &len);
	return connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
}

static int stop_errno(const struct hr_row *r)
{
	if (r->kind == HR_DEST || r->kind == HR_NETNS_NEW)
		return EADDRNOTAVAIL;
	return r->kind == HR_SCOPE ? EADDRINUSE : EAGAIN;
}

/* Fresh sockets try until the row's errno; all closed with RST. Sets r->granted. */
static int count_row(struct hr_state *st, struct hr_row *r)
{
	static int fds[HR_COUNT_MAX];
	int n, fd, err = 0, type;
	char name[128], tmp[16], tmp2[16];

	type = r->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	if (r->kind == HR_DEST || r->kind == HR_NETNS_NEW)
		type |= SOCK_NONBLOCK;
	hr_row_name(r, name, sizeof(name));
	for (n = 0; n < HR_COUNT_MAX; n++) {
		fd = socket(r->family, type | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			hr_fail_errno(st->o, errno, "counting %s: socket() #%d", name, n + 1);
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

static bool census_clean(const struct census *now, const struct census *before,
			 const struct hr_row *r)
{
	/* a TIME_WAIT of the row's own destination may have been recycled by the count */
	return now->tcp == before->tcp && now->udp == before->udp &&
	       (now->tw == before->tw || (r->time_wait && now->tw < before->tw));
}

/*
 * After a count: every socket of the range is the state's again (no count's one lingers). Read
 * again for up to HR_SETTLE_MS: the count's resets are handled in softirq, and /proc/net/tcp,
 * read a page at a time, can list a socket twice while the table changes under it (seen once
 * on 5.10 under TCG: 8 more sockets than the state, right after a count).
 */
static int check_clean(struct hr_state *st, const struct census *before, const struct hr_row *r)
{
	struct census now;
	char name[128];
	int waited;

	for (waited = 0;; waited += 50) {
		if (hr_take_census(st->o, st->s, &now))
			return -1;
		if (census_clean(&now, before, r))
			return 0;
		if (waited >= HR_SETTLE_MS)
			break;
		usleep(50 * 1000);
	}
	snprintf(st->o->msg, sizeof(st->o->msg),
		 "after counting %s the range has %u TCP, %u TIME_WAIT, %u UDP sockets; before "
		 "it %u, %u, %u",
		 hr_row_name(r, name, sizeof(name)), now.tcp, now.tw, now.udp, before->tcp,
		 before->tw, before->udp);
	return -1;
}

static int count_rows(struct hr_state *st)
{
	struct hr_shared *hr = &st->o->hr;
	struct census before;
	uint32_t i;

	if (hr_take_census(st->o, st->s, &before))
		return -1;
	for (i = 0; i < hr->nrows; i++) {
		if (count_row(st, &hr->row[i]) || check_clean(st, &before, &hr->row[i]))
			return -1;
		if (hr_take_census(st->o, st->s, &before))
			return -1;
	}
	return 0;
}

/* The workload's body: build, tell, wait for the driver, count, tell; then hold until killed. */
/* ---- the order of the counts ---- */

/* Where a row's count goes so that no count changes a later one (headroom.c says why). */
static int count_phase(const struct hr_state *st, const struct hr_row *r)
{
	static const uint8_t any[16];
	uint8_t lo[16], lo2[16], lo6[16];
	bool recycles = !st->s->tw_reuse || strcmp(st->s->tw_reuse, "0");

	if (r->proto == IPPROTO_UDP)
		return 0;
	if (r->kind == HR_NETNS_NEW)
		return 1; /* no socket of the state is on its 4-tuples */
	if (r->kind == HR_DEST)
		return !r->time_wait || !recycles ? 1 : 3;
	hr_addr_parse("127.0.0.1", lo);
	hr_addr_parse("127.0.0.2", lo2);
	hr_addr_parse("::1", lo6);
	if (r->family == AF_INET && (!memcmp(r->saddr, lo, 16) || !memcmp(r->saddr, any, 16)))
		return 2; /* TIME_WAIT of the state (on 127.0.0.1) conflicts with its binds */
	if (r->family == AF_INET6 && !memcmp(r->saddr, lo6, 16) && st->c->dest[D_V6_5000].tw &&
	    recycles)
		return 2; /* so does the TIME_WAIT to [::1]:5000 (on ::1) */
	if (r->family == AF_INET && !memcmp(r->saddr, lo2, 16) && st->c->dest[D_SRC2_5000].tw &&
	    recycles)
		return 2; /* and the TIME_WAIT from 127.0.0.2 */
	if (r->family == AF_INET6 && !memcmp(r->saddr, any, 16))
		return 2; /* "::" conflicts with every TIME_WAIT, and its binds land only on ports no
			   * socket has: they change no bucket another count meets */
	return 4;
}

bool hr_countable(const struct hr_case *c, const char *tw_reuse, const char **why)
{
	const struct hr_dest *v6 = &c->dest[D_V6_5000], *src2 = &c->dest[D_SRC2_5000];
	unsigned int d, tw = 0, v4 = 0, v6n = v6->est + v6->mapped + v6->bbc + v6->tw;

	for (d = 0; d < HR_NR_DESTS; d++) {
		const struct hr_dest *de = &c->dest[d];

		tw += de->tw;
		if (d != D_V6_5000)
			v4 += de->est + de->mapped + de->bbc + de->tw + !!de->fixed;
	}
	if (!tw || (tw_reuse && !strcmp(tw_reuse, "0")))
		return true; /* no phase 3 */
	if ((c->tcp_bind0[0] || c->tcp_bind0[3]) && v6n) {
		*why = "::1 connections, recyclable TIME_WAIT and a bind scope on 127.0.0.1 or 0.0.0.0";
		return false;
	}
	if (c->tcp_bind0[2] && v6->tw && v4) {
		*why = "IPv4 connections, recyclable TIME_WAIT on ::1 and a bind scope on ::1";
		return false;
	}
	if (c->tcp_bind0[0] && src2->est + src2->tw) {
		*why = "127.0.0.2 connections, recyclable TIME_WAIT and a bind scope on 127.0.0.1";
		return false;
	}
	if (c->tcp_bind0[1] && src2->tw && v4 - src2->est - src2->tw + v6n) {
		*why = "connections from 127.0.0.1 or ::1, recyclable TIME_WAIT from 127.0.0.2 and a "
		       "bind scope on 127.0.0.2";
		return false;
	}
	return true;
}

int hr_order_rows(struct hr_state *st)
{
	struct hr_shared *hr = &st->o->hr;
	const char *why = NULL;
	struct hr_row tmp;
	uint32_t i, j;
	int d;

	if (!hr_countable(st->c, st->s->tw_reuse, &why)) {
		snprintf(st->o->msg, sizeof(st->o->msg),
			 "this state has no order of counts where none changes another: %s", why);
		return -1;
	}
	for (i = 1; i < hr->nrows; i++) /* stable insertion sort on the phase */
		for (j = i;
		     j > 0 && count_phase(st, &hr->row[j - 1]) > count_phase(st, &hr->row[j]);
		     j--) {
			tmp = hr->row[j - 1];
			hr->row[j - 1] = hr->row[j];
			hr->row[j] = tmp;
			for (d = 0; d < HR_NR_DESTS; d++) { /* for the departures' check */
				if (st->dest_row[d] == (int)j)
					st->dest_row[d] = (int)j - 1;
				else if (st->dest_row[d] == (int)j - 1)
					st->dest_row[d] = (int)j;
			}
		}
	return 0;
}

int hr_workload(struct oracle *o)
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
	if (hr_build_state(&st))
		return -1;
	o->hr.built_wall_ns = wall_ns();
	__atomic_store_n(&o->hr.built, 1, __ATOMIC_SEQ_CST);
	if (st.c->departures) {
		while (!__atomic_load_n(&o->hr.depart, __ATOMIC_SEQ_CST))
			usleep(2000);
		if (hr_depart(&st))
			return -1;
		o->hr.departed_wall_ns = wall_ns();
		__atomic_store_n(&o->hr.departed, 1, __ATOMIC_SEQ_CST);
	}
	while (!__atomic_load_n(&o->hr.count, __ATOMIC_SEQ_CST))
		usleep(2000);
	if (count_rows(&st))
		return -1;
	__atomic_store_n(&o->hr.counted, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}
