// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/node/sockdiag*.c: inet_diag answers into snapshot sockets, and the bind
 * buckets from the port iterator's records (its reads are stubbed: no BPF, no kernel);
 * snapshots given to an occupancy, less the sockets released meanwhile. The socket owners are
 * test_owners.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "portiter.h"
#include "sockdiag.h"

/* ---- the stubbed port iterator --------------------------------------------------------- */

static struct eph_portiter_rec stub_recs[8];
static size_t stub_n;
static int stub_err; /* returned after the records */
static int stub_reads;
static unsigned int stub_walk; /* the walk the last read asked for */

int eph_portiter__read(struct eph_portiter *pi, unsigned int walk,
		       int (*cb)(const struct eph_portiter_rec *rec, void *ctx), void *ctx)
{
	size_t i;
	int ret;

	(void)pi;
	stub_reads++;
	stub_walk = walk;
	for (i = 0; i < stub_n; i++) {
		ret = cb(&stub_recs[i], ctx);
		if (ret)
			return ret;
	}
	return stub_err;
}

bool eph_portiter__walks(const struct eph_portiter *pi)
{
	(void)pi;
	return true;
}

static void stub_set(const struct eph_portiter_rec *recs, size_t n, int err)
{
	memcpy(stub_recs, recs, n * sizeof(*recs));
	stub_n = n;
	stub_err = err;
	stub_reads = 0;
}

static struct eph_portiter *const some_pi = (struct eph_portiter *)&stub_n; /* never read */

/* ---- inet_diag answers ----------------------------------------------------------------- */

static char buf[4096] __attribute__((aligned(8)));

static struct nlmsghdr *diag_msg(uint8_t family, uint8_t state, struct inet_diag_msg **out)
{
	struct nlmsghdr *nlh;
	struct inet_diag_msg *m;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
	m->idiag_family = family;
	m->idiag_state = state;
	m->id.idiag_sport = htons(40001);
	m->id.idiag_dport = htons(5000);
	m->id.idiag_cookie[0] = 0x11223344;
	m->id.idiag_cookie[1] = 0x5;
	m->idiag_inode = 777;
	*out = m;
	return nlh;
}

static void test_parse_v4(void **state)
{
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh = diag_msg(AF_INET, TCP_ESTABLISHED, &m);
	struct eph_occ_sock s;
	uint8_t want[16] = { 127, 0, 0, 1 };

	(void)state;
	m->id.idiag_src[0] = htonl(INADDR_LOOPBACK);
	m->id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
	m->idiag_timer = 1; /* retransmit: not a TIME_WAIT time */
	m->idiag_expires = 200;
	memset(&s, 0xff, sizeof(s));
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), 0);
	assert_int_equal(s.proto, IPPROTO_TCP);
	assert_int_equal(s.family, AF_INET);
	assert_int_equal(s.state, TCP_ESTABLISHED);
	assert_int_equal(s.sport, 40001);
	assert_int_equal(s.dport, 5000);
	assert_memory_equal(s.saddr, want, 16);
	assert_memory_equal(s.daddr, want, 16);
	assert_true(s.cookie == 0x511223344ull);
	assert_int_equal(s.inode, 777);
	assert_int_equal(s.netns, 0);
	assert_int_equal(s.tw_left_ms, 0);
	assert_int_equal(s.v6only, 0);
	assert_int_equal(s.bucket, EPH_BUCKET_UNKNOWN);
	assert_int_equal(s.pid, 0);
}

static void test_parse_v6only(void **state)
{
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh = diag_msg(AF_INET6, TCP_LISTEN, &m);
	struct eph_occ_sock s;

	(void)state;
	m->id.idiag_src[3] = htonl(1);		     /* ::1 */
	mnl_attr_put_u8(nlh, INET_DIAG_SHUTDOWN, 3); /* another attribute first */
	mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, 1);
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), 0);
	assert_int_equal(s.family, AF_INET6);
	assert_int_equal(s.saddr[15], 1);
	assert_int_equal(s.v6only, 1);

	nlh = diag_msg(AF_INET6, TCP_CLOSE, &m);
	mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, 0);
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_UDP, &s), 0);
	assert_int_equal(s.v6only, 0);

	/* an attribute that claims more than the message has is not read */
	nlh = diag_msg(AF_INET6, TCP_LISTEN, &m);
	mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, 1);
	((struct nlattr *)((char *)nlh + nlh->nlmsg_len - MNL_ALIGN(5)))->nla_len = 64;
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), 0);
	assert_int_equal(s.v6only, 0);
}

static void test_parse_time_wait(void **state)
{
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh = diag_msg(AF_INET, TCP_TIME_WAIT, &m);
	struct eph_occ_sock s;

	(void)state;
	m->idiag_timer = 3;
	m->idiag_expires = 59676;
	m->idiag_inode = 0;
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), 0);
	assert_int_equal(s.tw_left_ms, 59676);
	assert_int_equal(s.inode, 0);
	m->idiag_expires = 0; /* due now: 1 ms, as 0 means unknown */
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), 0);
	assert_int_equal(s.tw_left_ms, 1);
	m->idiag_state = TCP_FIN_WAIT2; /* closed in FIN_WAIT2: the same timer */
	m->idiag_expires = 3000;
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), 0);
	assert_int_equal(s.tw_left_ms, 3000);
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_UDP, &s), 0);
	assert_int_equal(s.tw_left_ms, 0);
}

static void test_parse_bad(void **state)
{
	struct inet_diag_msg *m;
	struct nlmsghdr *nlh = diag_msg(AF_INET, TCP_ESTABLISHED, &m);
	struct eph_occ_sock s;

	(void)state;
	m->id.idiag_cookie[0] = m->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), 0);
	assert_true(s.cookie == 0);
	m->idiag_family = AF_UNIX;
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), -EAFNOSUPPORT);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(*m) - 1;
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), -EBADMSG);
	nlh->nlmsg_len = 4;
	assert_int_equal(eph_sockdiag_parse(nlh, IPPROTO_TCP, &s), -EBADMSG);
}

/* ---- bind buckets ---------------------------------------------------------------------- */

static struct eph_occ_sock tcp(uint64_t cookie, uint8_t family, uint16_t sport, uint8_t st)
{
	return (struct eph_occ_sock){ .cookie = cookie,
				      .proto = IPPROTO_TCP,
				      .family = family,
				      .sport = sport,
				      .state = st,
				      .dport = 80 };
}

static struct eph_portiter_rec rec(uint64_t cookie, uint8_t family, uint16_t sport, uint8_t st,
				   uint8_t bucket)
{
	return (struct eph_portiter_rec){ .cookie = cookie,
					  .family = family,
					  .sport = sport,
					  .state = st,
					  .bucket = bucket };
}

static void test_buckets_by_cookie(void **state)
{
	const struct eph_portiter_rec recs[] = {
		rec(30, AF_INET, 40003, TCP_TIME_WAIT, EPH_PORTITER_CONNECT),
		rec(10, AF_INET, 40001, TCP_ESTABLISHED, EPH_PORTITER_BIND),
		rec(20, AF_INET6, 40002, TCP_ESTABLISHED, EPH_PORTITER_CONNECT),
		rec(40, AF_INET, 40004, TCP_SYN_SENT, EPH_PORTITER_NO_BUCKET),
	};
	struct eph_occ_sock s[] = {
		tcp(20, AF_INET6, 40002, TCP_ESTABLISHED), tcp(10, AF_INET, 40001, TCP_ESTABLISHED),
		tcp(30, AF_INET, 40003, TCP_TIME_WAIT),	   tcp(40, AF_INET, 40004, TCP_SYN_SENT),
		tcp(50, AF_INET, 40005, TCP_ESTABLISHED), /* gone from the pass */
		tcp(10, AF_INET, 40001, TCP_ESTABLISHED), /* UDP below: never a bucket */
	};

	(void)state;
	s[5].proto = IPPROTO_UDP;
	stub_set(recs, 4, 0);
	assert_int_equal(eph_sockdiag_fill_buckets(some_pi, s, 6), 0);
	assert_int_equal(stub_reads, 1);
	assert_int_equal(s[0].bucket, EPH_BUCKET_CONNECT);
	assert_int_equal(s[1].bucket, EPH_BUCKET_BIND);
	assert_int_equal(s[2].bucket, EPH_BUCKET_CONNECT);
	assert_int_equal(s[3].bucket, EPH_BUCKET_UNKNOWN);
	assert_int_equal(s[4].bucket, EPH_BUCKET_UNKNOWN);
	assert_int_equal(s[5].bucket, EPH_BUCKET_UNKNOWN);
}

static void test_buckets_by_key(void **state)
{
	const struct eph_portiter_rec recs[] = {
		rec(11, AF_INET, 40001, TCP_ESTABLISHED, EPH_PORTITER_BIND),
		rec(12, AF_INET, 40002, TCP_ESTABLISHED, EPH_PORTITER_CONNECT),
		rec(13, AF_INET, 40002, TCP_ESTABLISHED, EPH_PORTITER_CONNECT),
		rec(14, AF_INET6, 40003, TCP_FIN_WAIT2, EPH_PORTITER_CONNECT),
	};
	struct eph_occ_sock s[] = {
		tcp(0, AF_INET, 40001, TCP_ESTABLISHED),  /* no cookie: the only 40001 record */
		tcp(99, AF_INET, 40001, TCP_ESTABLISHED), /* unknown cookie: the same */
		tcp(0, AF_INET, 40002, TCP_ESTABLISHED),  /* two records: ambiguous */
		tcp(0, AF_INET6, 40001, TCP_ESTABLISHED), /* another family */
		tcp(0, AF_INET, 40001, TCP_SYN_SENT),	  /* another state */
		tcp(0, AF_INET6, 40003, TCP_FIN_WAIT2),	  /* a TIME_WAIT socket's substate */
	};

	(void)state;
	stub_set(recs, 4, 0);
	assert_int_equal(eph_sockdiag_fill_buckets(some_pi, s, 6), 0);
	assert_int_equal(s[0].bucket, EPH_BUCKET_BIND);
	assert_int_equal(s[1].bucket, EPH_BUCKET_BIND);
	assert_int_equal(s[2].bucket, EPH_BUCKET_UNKNOWN);
	assert_int_equal(s[3].bucket, EPH_BUCKET_UNKNOWN);
	assert_int_equal(s[4].bucket, EPH_BUCKET_UNKNOWN);
	assert_int_equal(s[5].bucket, EPH_BUCKET_CONNECT);
}

static void test_buckets_without_iterator(void **state)
{
	const struct eph_portiter_rec recs[] = {
		rec(1, AF_INET, 40001, TCP_ESTABLISHED, EPH_PORTITER_BIND),
		rec(2, AF_INET, 5000, TCP_LISTEN, EPH_PORTITER_CONNECT), /* cannot be: ignored */
	};
	struct eph_occ_sock s[] = {
		tcp(1, AF_INET, 40001, TCP_ESTABLISHED),
		tcp(2, AF_INET, 5000, TCP_LISTEN),
		tcp(3, AF_INET, 40002, TCP_CLOSE), /* only bound: how sock_diag lists it */
		tcp(4, AF_INET, 40003, EPH_TCP_BOUND_INACTIVE),
	};
	size_t i;

	(void)state;
	stub_set(recs, 2, 0);
	assert_int_equal(eph_sockdiag_fill_buckets(NULL, s, 4), 0);
	assert_int_equal(stub_reads, 0);
	assert_int_equal(s[0].bucket, EPH_BUCKET_UNKNOWN);
	for (i = 1; i < 4; i++)
		assert_int_equal(s[i].bucket, EPH_BUCKET_BIND);

	/* a failed pass: its records are not used, the rule still is */
	stub_set(recs, 2, -ENOMEM);
	s[0].bucket = EPH_BUCKET_CONNECT; /* overwritten */
	assert_int_equal(eph_sockdiag_fill_buckets(some_pi, s, 4), -ENOMEM);
	assert_int_equal(s[0].bucket, EPH_BUCKET_UNKNOWN);
	for (i = 1; i < 4; i++)
		assert_int_equal(s[i].bucket, EPH_BUCKET_BIND);

	stub_set(recs, 2, 0);
	assert_int_equal(eph_sockdiag_fill_buckets(some_pi, s, 4), 0);
	assert_int_equal(s[0].bucket, EPH_BUCKET_BIND);
	assert_int_equal(s[1].bucket, EPH_BUCKET_BIND); /* LISTEN: bind(), whatever the record */
	assert_int_equal(eph_sockdiag_fill_buckets(some_pi, s, 0), 0);
}

/* IP_LOCAL_PORT_RANGE comes with the record, raw; none without one, nor for a listener. */
static void test_socket_ranges(void **state)
{
	struct eph_portiter_rec recs[] = {
		rec(1, AF_INET, 40011, TCP_ESTABLISHED, EPH_PORTITER_CONNECT),
		rec(2, AF_INET, 40012, TCP_ESTABLISHED, EPH_PORTITER_CONNECT),
		rec(3, AF_INET, 40013, TCP_TIME_WAIT, EPH_PORTITER_CONNECT),
		rec(4, AF_INET, 5000, TCP_LISTEN, EPH_PORTITER_BIND),
	};
	struct eph_occ_sock s[] = {
		tcp(1, AF_INET, 40011, TCP_ESTABLISHED),
		tcp(0, AF_INET, 40012, TCP_ESTABLISHED), /* no cookie: by its key */
		tcp(3, AF_INET, 40013, TCP_TIME_WAIT),
		tcp(4, AF_INET, 5000, TCP_LISTEN),
		tcp(5, AF_INET, 40014, TCP_ESTABLISHED), /* no record */
	};

	(void)state;
	recs[0].range_lo = 40010;
	recs[0].range_hi = 40029;
	recs[1].range_hi = 40020; /* only the high end set */
	recs[3].range_lo = 40010; /* a listener's: not used */
	recs[3].range_hi = 40029;
	s[4].range_lo = 1; /* stale: overwritten */
	stub_set(recs, 4, 0);
	assert_int_equal(eph_sockdiag_fill_buckets(some_pi, s, 5), 0);
	assert_int_equal(s[0].range_lo, 40010);
	assert_int_equal(s[0].range_hi, 40029);
	assert_int_equal(s[1].range_lo, 0);
	assert_int_equal(s[1].range_hi, 40020);
	assert_int_equal(s[2].range_lo | s[2].range_hi, 0);
	assert_int_equal(s[3].range_lo | s[3].range_hi, 0);
	assert_int_equal(s[3].bucket, EPH_BUCKET_BIND);
	assert_int_equal(s[4].range_lo | s[4].range_hi, 0);
}

/*
 * IPV6_V6ONLY of a connected or TIME_WAIT IPv6 socket comes from its record (sock_diag gives it
 * for listening and closed ones only): set, never cleared (a listener's own attribute stays).
 */
static void test_v6only_from_records(void **state)
{
	struct eph_portiter_rec recs[] = {
		rec(1, AF_INET6, 40001, TCP_ESTABLISHED, EPH_PORTITER_BIND),
		rec(2, AF_INET6, 40002, TCP_ESTABLISHED, EPH_PORTITER_CONNECT),
		rec(3, AF_INET6, 40003, TCP_TIME_WAIT, EPH_PORTITER_BIND),
		rec(4, AF_INET6, 5000, TCP_LISTEN, EPH_PORTITER_BIND),
	};
	struct eph_occ_sock s[] = {
		tcp(1, AF_INET6, 40001, TCP_ESTABLISHED), /* bind(::1:0), then connect() */
		tcp(2, AF_INET6, 40002, TCP_ESTABLISHED), /* connect() alone */
		tcp(3, AF_INET6, 40003, TCP_TIME_WAIT),	  tcp(4, AF_INET6, 5000, TCP_LISTEN),
		tcp(5, AF_INET6, 40005, TCP_ESTABLISHED), /* no record */
	};

	(void)state;
	recs[0].v6only = recs[2].v6only = 1;
	s[3].v6only = 1; /* sock_diag's, for the listener */
	stub_set(recs, 4, 0);
	assert_int_equal(eph_sockdiag_fill_buckets(some_pi, s, 5), 0);
	assert_int_equal(s[0].v6only, 1);
	assert_int_equal(s[1].v6only, 0);
	assert_int_equal(s[2].v6only, 1);
	assert_int_equal(s[3].v6only, 1);
	assert_int_equal(s[4].v6only, 0);
}

/* ---- bound-only sockets from the iterator's walk of the bind hash (before 6.8) -------------- */

static struct eph_portiter_rec bound_rec(uint64_t cookie, uint8_t family, uint16_t sport,
					 uint64_t inode, uint8_t v6only)
{
	struct eph_portiter_rec r = { .cookie = cookie,
				      .sport = sport,
				      .state = TCP_CLOSE,
				      .family = family,
				      .bucket = EPH_PORTITER_BIND,
				      .kind = EPH_PORTITER_REC_BOUND,
				      .v6only = v6only,
				      .inode = inode };

	r.addr[0] = family == AF_INET ? 127 : 0;
	r.addr[family == AF_INET ? 3 : 15] = 1;
	return r;
}

struct added {
	struct eph_occ_sock s[8];
	size_t n;
};

static int add_sock(const struct eph_occ_sock *s, void *ctx)
{
	struct added *a = ctx;

	if (a->n == 8)
		return -ENOSPC;
	a->s[a->n++] = *s;
	return 0;
}

static void test_bound_walk(void **state)
{
	struct eph_portiter_rec recs[] = {
		rec(10, AF_INET, 40001, TCP_ESTABLISHED, EPH_PORTITER_BIND),
		bound_rec(0, AF_INET, 40002, 1002, 0),
		bound_rec(0, AF_INET6, 40003, 1003, 1),
		bound_rec(10, AF_INET, 40001, 1001, 0), /* sock_diag has it: connected since */
		{ .kind = EPH_PORTITER_REC_WALKED, .count = 3 },
	};
	struct eph_occ_sock s[] = { tcp(10, AF_INET, 40001, TCP_ESTABLISHED) };
	struct added a = { .n = 0 };
	struct eph_sockdiag_bound b = { .add = add_sock, .ctx = &a, .netns = 7 };

	(void)state;
	stub_set(recs, 5, 0);
	assert_int_equal(eph_sockdiag_fill_bound(some_pi, s, 1, &b), 0);
	assert_int_equal(stub_walk, EPH_PORTITER_WALK_NETNS);
	assert_true(b.listed);
	assert_int_equal(s[0].bucket, EPH_BUCKET_BIND); /* BOUND records match no socket */
	assert_int_equal(a.n, 2);
	assert_int_equal(a.s[0].proto, IPPROTO_TCP);
	assert_int_equal(a.s[0].state, TCP_CLOSE);
	assert_int_equal(a.s[0].sport, 40002);
	assert_int_equal(a.s[0].inode, 1002);
	assert_int_equal(a.s[0].netns, 7);
	assert_int_equal(a.s[0].bucket, EPH_BUCKET_BIND);
	assert_int_equal(a.s[0].dport, 0);
	assert_memory_equal(a.s[0].saddr, ((uint8_t[16]){ 127, 0, 0, 1 }), 16);
	assert_int_equal(a.s[1].family, AF_INET6);
	assert_int_equal(a.s[1].v6only, 1);
	assert_int_equal(a.s[1].saddr[15], 1);

	/* no WALKED record (a walk cut short, or none on this kernel): nothing added */
	a.n = 0;
	stub_set(recs, 4, 0);
	assert_int_equal(eph_sockdiag_fill_bound(some_pi, s, 1, &b), 0);
	assert_false(b.listed);
	assert_int_equal(a.n, 0);

	/* a failed pass: the same */
	stub_set(recs, 5, -EIO);
	assert_int_equal(eph_sockdiag_fill_bound(some_pi, s, 1, &b), -EIO);
	assert_false(b.listed);
	assert_int_equal(a.n, 0);

	/* add's failure stops and is returned */
	a.n = 8;
	stub_set(recs, 5, 0);
	assert_int_equal(eph_sockdiag_fill_bound(some_pi, s, 1, &b), -ENOSPC);
	assert_false(b.listed);

	/* the snapshot walks once for all namespaces later (no bound given): this pass walks
	 * nothing, adds nothing, lists nothing; the buckets are still filled */
	a.n = 0;
	s[0].bucket = EPH_BUCKET_UNKNOWN;
	stub_set(recs, 5, 0);
	assert_int_equal(eph_sockdiag_fill_bound(some_pi, s, 1, NULL), 0);
	assert_int_equal(stub_walk, EPH_PORTITER_WALK_NONE);
	assert_false(b.listed);
	assert_int_equal(a.n, 0);
	assert_int_equal(s[0].bucket, EPH_BUCKET_BIND);
}

static struct eph_portiter_rec bound_in(uint32_t netns, uint64_t cookie, uint16_t sport,
					uint64_t inode)
{
	struct eph_portiter_rec r = bound_rec(cookie, AF_INET, sport, inode, 0);

	r.netns = netns;
	return r;
}

/* One walk of the bind hash for every namespace: each namespace gets its own records, less
 * those sock_diag listed in it (by cookie, or by inode when the walk saw no cookie). */
static void test_walk_every_netns(void **state)
{
	struct eph_portiter_rec recs[] = {
		bound_in(9, 0, 40005, 1005),
		rec(10, AF_INET, 40001, TCP_ESTABLISHED, EPH_PORTITER_BIND), /* dropped */
		bound_in(7, 0, 40002, 1002),
		bound_in(9, 0, 40002, 1012),
		bound_in(7, 0, 40003, 1003),  /* sock_diag lists it (connected since): inode */
		bound_in(7, 11, 40004, 1004), /* the same, by cookie */
		{ .kind = EPH_PORTITER_REC_WALKED, .count = 5 },
	};
	struct eph_occ_sock s[] = { tcp(12, AF_INET, 40003, TCP_ESTABLISHED),
				    tcp(11, AF_INET, 40004, TCP_ESTABLISHED) };
	struct eph_sockdiag_walk w = { 0 };
	struct added a = { .n = 0 };
	struct eph_sockdiag_bound b = { .add = add_sock, .ctx = &a, .netns = 7 };

	(void)state;
	s[0].inode = 1003;
	stub_set(recs, 7, 0);
	assert_int_equal(eph_sockdiag_walk__read(some_pi, true, &w), 0);
	assert_int_equal(stub_walk, EPH_PORTITER_WALK_ALL);
	assert_true(w.whole);
	assert_int_equal(w.n, 5);

	assert_int_equal(eph_sockdiag_walk__add(&w, s, 2, &b), 0);
	assert_true(b.listed);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.s[0].sport, 40002);
	assert_int_equal(a.s[0].inode, 1002);
	assert_int_equal(a.s[0].netns, 7);

	a.n = 0;
	b.netns = 9; /* nothing listed there */
	assert_int_equal(eph_sockdiag_walk__add(&w, NULL, 0, &b), 0);
	assert_true(b.listed);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.s[0].netns, 9);
	assert_int_equal(a.s[1].netns, 9);
	assert_int_equal(a.s[0].inode + a.s[1].inode, 1005 + 1012);

	a.n = 0;
	b.netns = 8; /* no bound-only socket: listed, none added */
	assert_int_equal(eph_sockdiag_walk__add(&w, NULL, 0, &b), 0);
	assert_true(b.listed);
	assert_int_equal(a.n, 0);

	/* no WALKED record (its records did not fit): what came is added, nothing is listed */
	stub_set(recs, 6, 0);
	assert_int_equal(eph_sockdiag_walk__read(some_pi, true, &w), 0);
	assert_false(w.whole);
	b.netns = 9;
	assert_int_equal(eph_sockdiag_walk__add(&w, NULL, 0, &b), 0);
	assert_false(b.listed);

	/* the walk of one namespace (the thread's): what a namespace asks for itself when the
	 * walk of every one was not whole */
	stub_set(recs, 7, 0);
	assert_int_equal(eph_sockdiag_walk__read(some_pi, false, &w), 0);
	assert_int_equal(stub_walk, EPH_PORTITER_WALK_NETNS);
	assert_true(w.whole);

	/* a failed pass: an error, an empty walk */
	stub_set(recs, 7, -EIO);
	assert_int_equal(eph_sockdiag_walk__read(some_pi, true, &w), -EIO);
	assert_false(w.whole);
	assert_int_equal(w.n, 0);
	eph_sockdiag_walk__clear(&w);
}

/* sock_diag dumps bound-only TCP sockets from 6.8 on (TCPF_BOUND_INACTIVE). */
static void test_lists_bound(void **state)
{
	(void)state;
	assert_false(eph_sockdiag_lists_bound("6.1.0-56-amd64"));
	assert_false(eph_sockdiag_lists_bound("6.7.12"));
	assert_true(eph_sockdiag_lists_bound("6.8.0"));
	assert_true(eph_sockdiag_lists_bound("6.12.117-cloud-amd64"));
	assert_true(eph_sockdiag_lists_bound("7.0"));
	assert_false(eph_sockdiag_lists_bound("5.15.0"));
	assert_true(eph_sockdiag_lists_bound("garbage"));
}

/* ---- snapshots: releases seen meanwhile, and into an occupancy ----------------------------- */

static const uint8_t dst4[16] = { 10, 0, 0, 1 };

static struct eph_occ_sock tcp_in(uint32_t netns, uint64_t cookie, uint16_t sport)
{
	struct eph_occ_sock s = tcp(cookie, AF_INET, sport, TCP_ESTABLISHED);

	s.netns = netns;
	memcpy(s.daddr, dst4, 4);
	return s;
}

static struct eph_event release(uint32_t netns, uint64_t cookie, uint16_t sport, uint64_t ts)
{
	struct eph_event ev = { .type = EPH_RELEASE, .proto = IPPROTO_TCP, .family = AF_INET };

	ev.netns = netns;
	ev.cookie = cookie;
	ev.sport = sport;
	ev.dport = 80;
	ev.ts_ns = ts;
	ev.flags = EPH_F_DEST;
	memcpy(ev.daddr, dst4, 4);
	return ev;
}

static void test_drop_released(void **state)
{
	struct eph_occ_sock socks[6] = {
		tcp_in(7, 11, 40001), tcp_in(7, 12, 40002), tcp_in(7, 0, 40003),
		tcp_in(7, 14, 40004), tcp_in(8, 15, 40001), tcp_in(7, 16, 40005),
	};
	struct eph_event evs[7] = {
		release(7, 11, 40001, 150), /* by cookie: [0], not [4] (another namespace) */
		release(7, 99, 40002, 150), /* another cookie on [1]'s 4-tuple: a new socket */
		release(7, 0, 40003, 150),  /* no cookie: by 4-tuple, [2] */
		release(7, 0, 40004, 150),  /* [3], an IPv4-mapped IPv6 socket */
		release(8, 15, 40001, 50),  /* before the snapshot began: [4] stays */
		release(7, 0, 40005, 150),  /* [5] talks to another destination */
		release(7, 0, 40001, 150),
	};
	struct eph_sockdiag_release rel[7];
	struct eph_sockdiag_snap s = { .socks = socks, .nsocks = 6, .start_ns = 100 };
	size_t i, n = 0;

	(void)state;
	socks[3].family = AF_INET6;
	memset(socks[3].daddr, 0, 16);
	socks[3].daddr[10] = socks[3].daddr[11] = 0xff;
	memcpy(socks[3].daddr + 12, dst4, 4);
	socks[5].daddr[3] = 2;
	evs[6].type = EPH_ASSIGN; /* not a release */
	for (i = 0; i < 7; i++)
		n += eph_sockdiag_release_of(&evs[i], &rel[n]);
	assert_int_equal(n, 6);
	assert_int_equal(eph_sockdiag_snap__drop_released(&s, rel, n), 3);
	assert_int_equal(s.nsocks, 3);
	assert_int_equal(s.socks[0].cookie, 12);
	assert_int_equal(s.socks[1].cookie, 15);
	assert_int_equal(s.socks[2].cookie, 16);
	assert_int_equal(eph_sockdiag_snap__drop_released(&s, rel, 0), 0);
}

static const struct eph_occ_netns_row *netns_row(const struct eph_occ_rows *r, uint32_t netns)
{
	size_t i;

	for (i = 0; i < r->nnetns; i++)
		if (r->netns[i].netns == netns)
			return &r->netns[i];
	return NULL;
}

/* Namespaces read get their range, the others none; a reconcile removes what is gone. */
static void test_apply(void **state)
{
	struct eph_port_range r1 = { .low = 40000, .high = 40015, .tw_reuse = 2, .timestamps = 1 };
	struct eph_sockdiag_ns ns[2] = { { .inode = 7, .range = &r1 },
					 { .inode = 8, .err = -EPERM } };
	struct eph_occ_sock sk = tcp_in(7, 21, 40001);
	struct eph_sockdiag_snap s = { .ns = ns,
				       .nns = 2,
				       .socks = &sk,
				       .nsocks = 1,
				       .lists_bound = true };
	struct eph_occ *occ = eph_occ__new(&(struct eph_occ_opts){ 0 });
	struct eph_occ_rows rows = { 0 };

	(void)state;
	assert_non_null(occ);
	assert_int_equal(eph_sockdiag_apply(occ, &s, false, 1000), 0);
	assert_int_equal(eph_occ__rows(occ, 1000, &rows), 0);
	assert_int_equal(rows.nnetns, 2);
	assert_true(netns_row(&rows, 7)->have_range);
	assert_int_equal(netns_row(&rows, 7)->low, 40000);
	assert_false(netns_row(&rows, 8)->have_range);
	assert_int_equal(rows.ndests, 1);
	assert_int_equal(rows.dests[0].st.held, 1);
	eph_occ_rows__free(&rows);
	/* the socket is gone from the next one */
	s.nsocks = 0;
	assert_int_equal(eph_sockdiag_apply(occ, &s, true, 2000), 1);
	/* no namespace read: the first one's error */
	ns[0].err = -EACCES;
	assert_int_equal(eph_sockdiag_apply(occ, &s, true, 3000), -EACCES);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v4),
		cmocka_unit_test(test_parse_v6only),
		cmocka_unit_test(test_parse_time_wait),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_buckets_by_cookie),
		cmocka_unit_test(test_buckets_by_key),
		cmocka_unit_test(test_buckets_without_iterator),
		cmocka_unit_test(test_socket_ranges),
		cmocka_unit_test(test_v6only_from_records),
		cmocka_unit_test(test_bound_walk),
		cmocka_unit_test(test_walk_every_netns),
		cmocka_unit_test(test_lists_bound),
		cmocka_unit_test(test_drop_released),
		cmocka_unit_test(test_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
