// SPDX-License-Identifier: GPL-2.0
/*
 * The port iterator against the kernel (root). In a private network namespace, over IPv4 and
 * IPv6: a listener, a socket bound before connect() and one whose port connect() chose, both to
 * that listener, and a socket only bound. The namespace is read from another thread that enters
 * it (eph_netns__run, as status and top do): sock_diag, then the iterator's buckets
 * (eph_sockdiag_fill_buckets). Expected: the bound-then-connected socket, the listener, the
 * accepted sockets and the bound-only one BIND, the connect() one CONNECT; the same after both
 * clients closed first (TIME_WAIT, with its time left); every record matched by cookie. IPv6:
 * the bound-then-connected client has IPV6_V6ONLY (bind(::1) set it), from its record, the
 * connect() one not, connected and in TIME_WAIT (sock_diag says it of neither). A third
 * client sets IP_LOCAL_PORT_RANGE before its connect(): its record has the range as it set it,
 * the other clients' 0, and its TIME_WAIT 0 (the kernel keeps none).
 *
 * The bound-only sockets (bind(127.0.0.1:0), bind([::]:0) dual-stack, bind([::1]:0) with
 * IPV6_V6ONLY, nothing after) are in the snapshot either way: from sock_diag (6.8+) or from the iterator's walk of the bind hash
 * (before 6.8). Where it walks: one BOUND record each, with its port, address, v6only and
 * inode, none for a TIME_WAIT socket or for a bound-only socket of another namespace, none
 * for a socket a SOCK record has, and a WALKED record; the walk of every namespace at once (a
 * snapshot's: eph_sockdiag_walk) gives each record its namespace; where it does not (6.8+, or
 * EPH_TEST_WITHOUT=bpf_loop: the program a kernel before 5.17 gets, portiter_tcp_nowalk, which
 * reads the cookie sock_diag made instead of bpf_get_socket_cookie()): no such record.
 *
 * Last, a bind() on 127.0.0.2 of the port connect() gave a client: the client's record says
 * CONNECT where bind buckets go back to connect()'s once that socket leaves (6.18, known by
 * BTF), BIND before, with the bind() socket there and after it left (where the bucket stays
 * bind()'s: what the kernel did, read by the iterator).
 *
 * One "RESULT <check> PASS|FAIL|SKIP" line per check (the VM harness reads them; its driver
 * arguments are ignored). Exit 0: all passed; 1: a check failed; 77: cannot run here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "netns.h"
#include "portiter.h"
#include "sockdiag.h"

#define MAX_SOCKS 4096
#define MAX_BOUND 64
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif
#define RANGE_LO 50000 /* the ranged client's IP_LOCAL_PORT_RANGE, inside the default range */
#define RANGE_HI 50999

struct snap {
	struct eph_occ_sock s[MAX_SOCKS];
	size_t n;
	size_t ndump; /* s[0, ndump): sock_diag's; the bound-only sockets the walk added follow */
	struct eph_sockdiag_walk own; /* the namespace's walk of its own (eph_sockdiag_walk__read) */
	int own_err;
	struct eph_portiter *pi;
	int bucket_err;
	bool bound_listed;	    /* eph_sockdiag_fill_bound() added the walk's sockets */
	size_t nrecs, recs_matched; /* iterator records, and those whose cookie sock_diag has */
	struct eph_portiter_rec bound[MAX_BOUND]; /* BOUND records of the second pass */
	size_t nbound;
	bool walked;	 /* a WALKED record came */
	size_t sock_dup; /* SOCK records with the cookie of another record (SOCK or BOUND) */
	uint64_t cookies[MAX_SOCKS];
	size_t ncookies;
};

/* The sockets of one family in the namespace. */
struct peers {
	int family;
	int lst, bound, conn, only_bound, only_v6, ranged, acc[3];
	uint16_t lport, bound_port, conn_port, only_port, only_v6_port, ranged_port;
	int range_err; /* setsockopt(IP_LOCAL_PORT_RANGE)'s errno, 0 if it was set */
};

static int failed;

static void result(const char *name, const char *what, bool ok, long expected, long got)
{
	printf("RESULT %s-%s %s", name, what, ok ? "PASS" : "FAIL");
	if (!ok) {
		printf(" (expected %ld, got %ld)", expected, got);
		failed = 1;
	}
	printf("\n");
}

static void check(const char *name, const char *what, long expected, long got)
{
	result(name, what, expected == got, expected, got);
}

static int push(const struct eph_occ_sock *s, void *ctx)
{
	struct snap *sn = ctx;

	if (sn->n == MAX_SOCKS)
		return -ENOSPC;
	sn->s[sn->n++] = *s;
	return 0;
}

/* Whether another record of the pass had this cookie already. */
static bool seen_cookie(struct snap *sn, uint64_t cookie)
{
	size_t i;

	if (!cookie)
		return false;
	for (i = 0; i < sn->ncookies; i++)
		if (sn->cookies[i] == cookie)
			return true;
	if (sn->ncookies < MAX_SOCKS)
		sn->cookies[sn->ncookies++] = cookie;
	return false;
}

static int count_rec(const struct eph_portiter_rec *rec, void *ctx)
{
	struct snap *sn = ctx;
	size_t i;

	sn->sock_dup += seen_cookie(sn, rec->cookie);
	if (rec->kind == EPH_PORTITER_REC_WALKED) {
		sn->walked = true;
		return 0;
	}
	if (rec->kind == EPH_PORTITER_REC_BOUND) {
		if (sn->nbound < MAX_BOUND)
			sn->bound[sn->nbound] = *rec;
		sn->nbound++;
		return 0;
	}
	sn->nrecs++;
	for (i = 0; i < sn->n; i++)
		if (sn->s[i].proto == IPPROTO_TCP && sn->s[i].cookie == rec->cookie)
			break;
	sn->recs_matched += i < sn->n;
	return 0;
}

/* Inside the namespace (another thread): what status reads, then the records alone. */
static int read_ns(void *ctx)
{
	struct snap *sn = ctx;
	struct eph_sockdiag_bound bound = { .add = push, .ctx = sn };
	int err;

	sn->n = sn->nrecs = sn->recs_matched = sn->nbound = sn->sock_dup = sn->ncookies = 0;
	sn->walked = false;
	err = eph_sockdiag_dump(0, push, sn);
	if (err)
		return err;
	sn->ndump = sn->n;
	sn->bucket_err = eph_sockdiag_fill_bound(sn->pi, sn->s, sn->n, &bound);
	sn->bound_listed = bound.listed;
	sn->own_err = eph_sockdiag_walk__read(sn->pi, false, &sn->own);
	return eph_portiter__read(sn->pi, EPH_PORTITER_WALK_NETNS, count_rec, sn);
}

static const struct eph_occ_sock *find(const struct snap *sn, int family, uint16_t port,
				       bool local_only, int state)
{
	size_t i;

	for (i = 0; i < sn->n; i++) {
		const struct eph_occ_sock *s = &sn->s[i];

		if (s->proto == IPPROTO_TCP && s->family == family && s->sport == port &&
		    (!local_only || !s->dport) && (state < 0 || s->state == state))
			return s;
	}
	return NULL;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					       ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static socklen_t loopback(int family, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	return sizeof(struct sockaddr_in6);
}

/* A TCP socket on loopback port 0 (IPv6 with v6only 0: the wildcard, as bind(::1) would set
 * IPV6_V6ONLY); bound when bind_first. -1 on error. */
static int tcp_socket(int family, bool bind_first, int v6only)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, 0, &ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (family == AF_INET6 && v6only == 0)
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
	if (fd < 0)
		return -1;
	if (family == AF_INET6 && v6only >= 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)))
		goto out_close;
	if (bind_first && bind(fd, (struct sockaddr *)&ss, len))
		goto out_close;
	return fd;

out_close:
	close(fd);
	return -1;
}

static int connect_to(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);

	return connect(fd, (struct sockaddr *)&ss, len);
}

/* A client with IP_LOCAL_PORT_RANGE RANGE_LO-RANGE_HI, connected; p->range_err set when the
 * kernel has no such option (ENOPROTOOPT): then a plain client stands in for it. */
static int ranged_client(struct peers *p)
{
	uint32_t range = (uint32_t)RANGE_HI << 16 | RANGE_LO;

	p->ranged = tcp_socket(p->family, false, -1);
	if (p->ranged < 0)
		return -errno;
	if (setsockopt(p->ranged, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)))
		p->range_err = errno;
	if (connect_to(p->ranged, p->family, p->lport))
		return -errno;
	p->ranged_port = local_port(p->ranged);
	return 0;
}

static int make_peers(struct peers *p, int family)
{
	int i, err;

	memset(p, 0, sizeof(*p));
	p->family = family;
	p->lst = tcp_socket(family, true, 1);
	if (p->lst < 0 || listen(p->lst, 16))
		return -errno;
	p->lport = local_port(p->lst);
	p->bound = tcp_socket(family, true, -1);
	p->conn = tcp_socket(family, false, -1);
	p->only_bound = tcp_socket(family, true, 0);
	p->only_v6 = family == AF_INET6 ? tcp_socket(family, true, 1) : -1;
	if (p->bound < 0 || p->conn < 0 || p->only_bound < 0 ||
	    (family == AF_INET6 && p->only_v6 < 0))
		return -errno;
	if (connect_to(p->bound, family, p->lport) || connect_to(p->conn, family, p->lport))
		return -errno;
	err = ranged_client(p);
	if (err)
		return err;
	for (i = 0; i < 3; i++) {
		p->acc[i] = accept(p->lst, NULL, NULL);
		if (p->acc[i] < 0)
			return -errno;
	}
	p->bound_port = local_port(p->bound);
	p->conn_port = local_port(p->conn);
	p->only_port = local_port(p->only_bound);
	p->only_v6_port = p->only_v6 >= 0 ? local_port(p->only_v6) : 0;
	return 0;
}

/* Clients close first (their sides go to TIME_WAIT), then the accepted sockets. */
static void close_clients(struct peers *p)
{
	char c;
	int i;

	close(p->bound);
	close(p->conn);
	close(p->ranged);
	for (i = 0; i < 3; i++) {
		(void)!read(p->acc[i], &c, 1); /* the FIN */
		close(p->acc[i]);
	}
}

/* The IP_LOCAL_PORT_RANGE the iterator read: low in the low 16 bits, as the option packs it. */
static long range_of(const struct eph_occ_sock *s)
{
	return s ? (long)s->range_hi << 16 | s->range_lo : -1;
}

static void check_range(const struct snap *sn, const struct peers *p, const char *name, int state)
{
	const struct eph_occ_sock *r = find(sn, p->family, p->ranged_port, false, state);
	const struct eph_occ_sock *c = find(sn, p->family, p->conn_port, false, state);
	bool tw = state == TCP_TIME_WAIT;
	long want = (long)RANGE_HI << 16 | RANGE_LO;

	check(name, tw ? "tw-range-unset" : "range-unset", 0, range_of(c));
	if (p->range_err) {
		printf("RESULT %s-%s SKIP (setsockopt(IP_LOCAL_PORT_RANGE): %s)\n", name,
		       tw ? "tw-range-set" : "range-set", strerror(p->range_err));
		return;
	}
	check(name, tw ? "tw-range-set" : "range-set", tw ? 0 : want, range_of(r));
	if (!tw && r)
		result(name, "range-port-inside", r->sport >= RANGE_LO && r->sport <= RANGE_HI,
		       RANGE_LO, r->sport);
}

static void check_bucket(const char *name, const char *what, const struct eph_occ_sock *s,
			 int expected)
{
	if (!s) {
		result(name, what, false, expected, -1);
		return;
	}
	check(name, what, expected, s->bucket);
}

/* IPV6_V6ONLY of an IPv6 socket as the snapshot has it: sock_diag gives it for listening
 * and closed sockets only, the iterator's record for the others (bind(::1) sets it). */
static void check_v6only(const char *name, const char *what, const struct eph_occ_sock *s,
			 int expected)
{
	check(name, what, expected, s ? s->v6only : -1); /* -1: not in the snapshot */
}

static uint64_t sock_inode(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* addr against the address fd is bound to (getsockname) */
static void check_addr(const char *name, const char *what, int fd, const uint8_t *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *want;
	bool v4;

	if (getsockname(fd, (struct sockaddr *)&ss, &len)) {
		result(name, what, false, 0, errno);
		return;
	}
	v4 = ss.ss_family == AF_INET;
	want = v4 ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	result(name, what, !memcmp(addr, want, v4 ? 4 : 16), 1, 0);
}

/* A bound-only socket in the snapshot status makes: by sock_diag (6.8+) or the iterator's walk
 * (before), with its address, v6only, inode and bind()'s bucket; none without the walk. */
static void check_bound_sock(const struct snap *sn, const char *name, const char *what, int fd,
			     int family, uint16_t port, int v6only)
{
	const struct eph_occ_sock *s = find(sn, family, port, true, TCP_CLOSE);
	char w[64];

	if (eph_portiter__degraded(sn->pi)) {
		/* before 6.8 without the walk (no bpf_loop): not listed, as the snapshot says */
		snprintf(w, sizeof(w), "%s-unlisted", what);
		check(name, w, 0, s != NULL);
		return;
	}
	check_bucket(name, what, s, EPH_BUCKET_BIND);
	if (!s)
		return;
	snprintf(w, sizeof(w), "%s-addr", what);
	check_addr(name, w, fd, s->saddr);
	snprintf(w, sizeof(w), "%s-inode", what);
	check(name, w, (long)sock_inode(fd), (long)s->inode);
	if (family != AF_INET6)
		return;
	snprintf(w, sizeof(w), "%s-v6only", what);
	check(name, w, v6only, s->v6only);
}

static void check_connected(const struct snap *sn, const struct peers *p, const char *name)
{
	const struct eph_occ_sock *l = find(sn, p->family, p->lport, true, TCP_LISTEN);

	check_bucket(name, "bind-then-connect", find(sn, p->family, p->bound_port, false, -1),
		     EPH_BUCKET_BIND);
	check_bucket(name, "connect", find(sn, p->family, p->conn_port, false, -1),
		     EPH_BUCKET_CONNECT);
	check_bucket(name, "listener", l, EPH_BUCKET_BIND);
	check_bucket(name, "accepted", find(sn, p->family, p->lport, false, TCP_ESTABLISHED),
		     EPH_BUCKET_BIND);
	check_bound_sock(sn, name, "bound-only", p->only_bound, p->family, p->only_port, 0);
	if (p->family == AF_INET6)
		check_bound_sock(sn, name, "bound-only-v6only", p->only_v6, AF_INET6,
				 p->only_v6_port, 1);
	if (p->family == AF_INET6 && l)
		check(name, "listener-v6only", 1, l->v6only);
	if (p->family == AF_INET6) {
		check_v6only(name, "bind-then-connect-v6only",
			     find(sn, p->family, p->bound_port, false, -1), 1);
		check_v6only(name, "connect-v6only", find(sn, p->family, p->conn_port, false, -1),
			     0);
	}
	check_range(sn, p, name, TCP_ESTABLISHED);
}

/* The BOUND record of one bound-only socket: exactly one, with its address, v6only, inode. */
static void check_bound_rec(const struct snap *sn, const char *name, const char *what, int fd,
			    int family, uint16_t port, int v6only)
{
	const struct eph_portiter_rec *r = NULL;
	long n = 0;
	char w[64];
	size_t i;

	for (i = 0; i < sn->nbound && i < MAX_BOUND; i++) {
		if (sn->bound[i].family == family && sn->bound[i].sport == port) {
			r = &sn->bound[i];
			n++;
		}
	}
	snprintf(w, sizeof(w), "%s-records", what);
	check(name, w, 1, n);
	if (!r)
		return;
	snprintf(w, sizeof(w), "%s-addr", what);
	check_addr(name, w, fd, r->addr);
	snprintf(w, sizeof(w), "%s-v6only", what);
	check(name, w, v6only, r->v6only);
	snprintf(w, sizeof(w), "%s-inode", what);
	check(name, w, (long)sock_inode(fd), (long)r->inode);
	snprintf(w, sizeof(w), "%s-bucket", what);
	check(name, w, EPH_PORTITER_BIND, r->bucket);
	snprintf(w, sizeof(w), "%s-state", what);
	check(name, w, TCP_CLOSE, r->state);
}

/*
 * The iterator's walk of the bind hash, where it walks (before 6.8): the three bound-only
 * sockets of the namespace, each once, nothing else (no TIME_WAIT, no socket of another
 * namespace: other is the inode of one in the first namespace), and the WALKED record. Where
 * sock_diag lists them: no walk at all.
 */
static void check_walk(const struct snap *sn, const struct peers *p4, const struct peers *p6,
		       uint64_t other, const char *name)
{
	long others = 0;
	size_t i;

	if (eph_sockdiag_kernel_lists_bound() || eph_portiter__degraded(sn->pi)) {
		/* 6.8+, or the program without the walk (no bpf_loop: EPH_TEST_WITHOUT) */
		check(name, "absent", 0, (long)(sn->nbound + sn->walked));
		return;
	}
	check(name, "walked", 1, sn->walked);
	check(name, "bound-listed", 1, sn->bound_listed);
	check(name, "records", 3, (long)sn->nbound);
	check(name, "cookies-once", 0, (long)sn->sock_dup);
	for (i = 0; i < sn->nbound && i < MAX_BOUND; i++)
		others += sn->bound[i].inode == other;
	for (i = 0; i < sn->n; i++)
		others += sn->s[i].inode == other;
	check(name, "other-netns", 0, others);
	check_bound_rec(sn, name, "v4", p4->only_bound, AF_INET, p4->only_port, 0);
	check_bound_rec(sn, name, "v6", p6->only_bound, AF_INET6, p6->only_port, 0);
	check_bound_rec(sn, name, "v6-v6only", p6->only_v6, AF_INET6, p6->only_v6_port, 1);
}

/*
 * The walk for every namespace (eph_sockdiag_walk: one per snapshot), read from the first
 * namespace: the private namespace's three bound-only sockets carry its inode, the first
 * namespace's bound-only socket (other) the first one's, and eph_sockdiag_walk__add() gives the
 * private namespace those three. Where nothing walks: no record, not whole.
 */
static int add_count(const struct eph_occ_sock *s, void *ctx)
{
	(void)s;
	++*(long *)ctx;
	return 0;
}

static void check_walk_all(const struct snap *sn, uint32_t netns, uint32_t self_netns,
			   uint64_t other)
{
	struct eph_sockdiag_walk w = { 0 };
	long mine = 0, added = 0, other_netns = -1;
	struct eph_sockdiag_bound b = { .add = add_count, .ctx = &added, .netns = netns };
	size_t i;

	check("walk-all", "read", 0, eph_sockdiag_walk__read(sn->pi, true, &w));
	if (eph_sockdiag_kernel_lists_bound() || eph_portiter__degraded(sn->pi)) {
		check("walk-all", "absent", 0, (long)(w.n + w.whole));
		eph_sockdiag_walk__clear(&w);
		return;
	}
	check("walk-all", "whole", 1, w.whole);
	check("walk-own", "read", 0, sn->own_err);
	check("walk-own", "whole", 1, sn->own.whole);
	for (i = 0; i < sn->own.n; i++)
		mine += sn->own.recs[i].netns == netns;
	check("walk-own", "records", 3, (long)sn->own.n);
	check("walk-own", "netns", 3, mine);
	mine = 0;
	for (i = 0; i < w.n; i++) {
		mine += w.recs[i].netns == netns;
		if (w.recs[i].inode == other)
			other_netns = w.recs[i].netns;
	}
	check("walk-all", "private-netns-records", 3, mine);
	check("walk-all", "first-netns-record", self_netns, other_netns);
	check("walk-all", "add", 0, eph_sockdiag_walk__add(&w, sn->s, sn->ndump, &b));
	check("walk-all", "added", 3, added);
	check("walk-all", "listed", 1, b.listed);
	eph_sockdiag_walk__clear(&w);
}

static void check_time_wait(const struct snap *sn, const struct peers *p, const char *name)
{
	const struct eph_occ_sock *b = find(sn, p->family, p->bound_port, false, TCP_TIME_WAIT);
	const struct eph_occ_sock *c = find(sn, p->family, p->conn_port, false, TCP_TIME_WAIT);

	check_bucket(name, "tw-bind-then-connect", b, EPH_BUCKET_BIND);
	check_bucket(name, "tw-connect", c, EPH_BUCKET_CONNECT);
	if (p->family == AF_INET6) {
		check_v6only(name, "tw-bind-then-connect-v6only", b, 1);
		check_v6only(name, "tw-connect-v6only", c, 0);
	}
	if (c)
		result(name, "tw-left-ms", c->tw_left_ms > 0 && c->tw_left_ms <= 60000, 60000,
		       c->tw_left_ms);
	check_range(sn, p, name, TCP_TIME_WAIT);
}

/* Whether this kernel's bind buckets go back to connect()'s once only sockets connect() bound
 * own them (6.18: struct inet_bind2_bucket has a fastreuse of its own). -1: no BTF. */
static int bucket_resets(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_member *m;
	const struct btf_type *t;
	int id, i, found = 0;

	if (!btf)
		return -1;
	id = btf__find_by_name_kind(btf, "inet_bind2_bucket", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, m = t ? btf_members(t) : NULL; t && i < btf_vlen(t); i++, m++)
		found |= !strcmp(btf__name_by_offset(btf, m->name_off), "fastreuse");
	btf__free(btf);
	return found;
}

/*
 * A bind() on another address (127.0.0.2) of the port connect() gave a client makes its bucket
 * bind()'s. The client's record, with the bind() socket there and after it left: CONNECT where
 * buckets go back to connect()'s once it leaves (6.18: the record says who bound the socket),
 * BIND before 6.18 (what the bucket is, and stays until its last owner leaves).
 */
static void check_join(struct snap *sn, struct eph_netns_list *l, struct eph_netns *ns, int self,
		       uint16_t lport)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002) };
	int resets = bucket_resets(), client = -1, joiner = -1, err;
	long want = resets ? EPH_BUCKET_CONNECT : EPH_BUCKET_BIND;

	if (resets < 0) {
		printf("RESULT join SKIP (no kernel BTF)\n");
		return;
	}
	printf("join: bind buckets %s\n", resets ? "go back to connect()'s" : "stay bind()'s");
	if (setns(ns->fd, CLONE_NEWNET))
		goto fail;
	client = tcp_socket(AF_INET, false, -1);
	if (client < 0 || connect_to(client, AF_INET, lport))
		goto fail;
	sin.sin_port = htons(local_port(client));
	joiner = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (joiner < 0 || bind(joiner, (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	if (setns(self, CLONE_NEWNET))
		goto fail;
	err = eph_netns__run(l, ns, read_ns, sn);
	check("join", "read", 0, err ?: sn->bucket_err);
	check_bucket("join", "joined-client",
		     find(sn, AF_INET, ntohs(sin.sin_port), false, TCP_ESTABLISHED), want);
	close(joiner);
	err = eph_netns__run(l, ns, read_ns, sn);
	check("join", "left-read", 0, err ?: sn->bucket_err);
	check_bucket("join", "client-after",
		     find(sn, AF_INET, ntohs(sin.sin_port), false, TCP_ESTABLISHED), want);
	close(client);
	return;
fail:
	result("join", "setup", false, 0, errno);
	if (joiner >= 0)
		close(joiner);
	if (client >= 0)
		close(client);
	if (setns(self, CLONE_NEWNET))
		perror("setns");
}

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}

/* A new namespace with lo up for this thread, its fd in *fd and its inode. 0 or -errno. */
static int private_netns(int *fd, uint32_t *inode)
{
	struct stat st;
	int err;

	if (unshare(CLONE_NEWNET))
		return -errno;
	err = lo_up();
	if (err)
		return err;
	*fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st))
		return -errno;
	*inode = st.st_ino;
	return 0;
}

int main(void)
{
	static struct snap sn;
	struct eph_netns_list l = { 0 };
	struct eph_netns ns = { 0 };
	struct peers p4, p6;
	int self, other, err, i;
	uint64_t other_ino;
	struct stat self_st;
	char why[256];

	sn.pi = eph_portiter__open(getenv("EPH_VERBOSE") != NULL, why, sizeof(why));
	if (!sn.pi) {
		printf("RESULT portiter-open SKIP (%s)\n", why);
		return 77;
	}
	if (eph_portiter__degraded(sn.pi))
		printf("port iterator: %s\n", eph_portiter__degraded(sn.pi));
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	other = tcp_socket(AF_INET, true, 0); /* bound-only, in the first namespace */
	other_ino = other < 0 ? 0 : sock_inode(other);
	err = self < 0 || other < 0 ? -errno : private_netns(&ns.fd, &ns.inode);
	if (!err)
		err = make_peers(&p4, AF_INET) ?: make_peers(&p6, AF_INET6);
	if (!err && setns(self, CLONE_NEWNET))
		err = -errno;
	if (err) {
		printf("RESULT setup SKIP (%s)\n", strerror(-err));
		return 77;
	}
	l.self = 1; /* not ns: eph_netns__run enters it from a thread */
	err = eph_netns__run(&l, &ns, read_ns, &sn);
	check("iterator", "read", 0, err ?: sn.bucket_err);
	check("iterator", "records-matched-by-cookie", sn.nrecs, sn.recs_matched);
	check_connected(&sn, &p4, "v4");
	check_connected(&sn, &p6, "v6");
	check_walk(&sn, &p4, &p6, other_ino, "walk");
	if (fstat(self, &self_st))
		self_st.st_ino = 0;
	check_walk_all(&sn, ns.inode, (uint32_t)self_st.st_ino, other_ino);

	close_clients(&p4);
	close_clients(&p6);
	for (i = 0; i < 100; i++) { /* until both clients of both families are in TIME_WAIT */
		err = eph_netns__run(&l, &ns, read_ns, &sn);
		if (err || (find(&sn, AF_INET, p4.conn_port, false, TCP_TIME_WAIT) &&
			    find(&sn, AF_INET6, p6.conn_port, false, TCP_TIME_WAIT) &&
			    find(&sn, AF_INET, p4.bound_port, false, TCP_TIME_WAIT) &&
			    find(&sn, AF_INET6, p6.bound_port, false, TCP_TIME_WAIT) &&
			    find(&sn, AF_INET, p4.ranged_port, false, TCP_TIME_WAIT) &&
			    find(&sn, AF_INET6, p6.ranged_port, false, TCP_TIME_WAIT)))
			break;
		usleep(20000);
	}
	check("iterator", "tw-read", 0, err ?: sn.bucket_err);
	check("iterator", "tw-records-matched-by-cookie", sn.nrecs, sn.recs_matched);
	check_time_wait(&sn, &p4, "v4");
	check_time_wait(&sn, &p6, "v6");
	check_walk(&sn, &p4, &p6, other_ino, "tw-walk");
	check_join(&sn, &l, &ns, self, p4.lport);
	eph_sockdiag_walk__clear(&sn.own);
	eph_portiter__free(sn.pi);
	return failed;
}
