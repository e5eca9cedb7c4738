// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/occupancy.c: seeding, events, windows, forecast, caps and output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "occupancy.h"

#define SEC 1000000000ull
#define NS1 4026532001u
#define NS2 4026532002u

/* ---- helpers --------------------------------------------------------------------------- */

static void set_port(uint8_t *bitmap, unsigned int p)
{
	bitmap[p / 8] |= 1u << (p % 8);
}

/* 40000-41999 with 40100-40199 reserved (and 30000, outside the range): usable 1900. */
static void set_test_range(struct eph_occ *occ, uint32_t netns)
{
	static uint8_t bitmap[8192];
	unsigned int p;

	memset(bitmap, 0, sizeof(bitmap));
	for (p = 40100; p <= 40199; p++)
		set_port(bitmap, p);
	set_port(bitmap, 30000);
	assert_int_equal(eph_occ__set_range(occ, netns, 40000, 41999, bitmap), 0);
}

static struct eph_occ *new_occ(uint32_t max_ports)
{
	struct eph_occ_opts o = { .max_ports = max_ports, .window_ms = 10000 };
	struct eph_occ *occ = eph_occ__new(&o);

	assert_non_null(occ);
	return occ;
}

static void addr4(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void addr6(uint8_t out[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static struct eph_occ_sock tcp4(uint32_t netns, uint8_t state, const char *src, uint16_t sport,
				const char *dst, uint16_t dport, uint32_t pid, uint64_t cookie)
{
	struct eph_occ_sock s;

	memset(&s, 0, sizeof(s));
	s.netns = netns;
	s.proto = IPPROTO_TCP;
	s.family = AF_INET;
	s.state = state;
	addr4(s.saddr, src);
	addr4(s.daddr, dst);
	s.sport = sport;
	s.dport = dport;
	s.pid = pid;
	s.cookie = cookie;
	s.inode = state == TCP_TIME_WAIT ? 0 : 1000 + cookie;
	if (pid) {
		strcpy(s.comm, "client");
		s.cgroup = "/system.slice/client.service";
	}
	return s;
}

static struct eph_occ_dest_key dkey4(uint32_t netns, const char *src, const char *dst,
				     uint16_t dport)
{
	struct eph_occ_dest_key k;

	memset(&k, 0, sizeof(k));
	k.netns = netns;
	k.proto = IPPROTO_TCP;
	k.family = AF_INET;
	addr4(k.saddr, src);
	addr4(k.daddr, dst);
	k.dport = dport;
	return k;
}

static struct eph_occ_scope_key skey4(uint32_t netns, uint8_t proto, const char *addr)
{
	struct eph_occ_scope_key k;

	memset(&k, 0, sizeof(k));
	k.netns = netns;
	k.proto = proto;
	k.family = AF_INET;
	addr4(k.addr, addr);
	return k;
}

static struct eph_occ_stats dest_st(struct eph_occ *occ, struct eph_occ_dest_key k, uint64_t now)
{
	struct eph_occ_stats st;

	assert_int_equal(eph_occ__dest(occ, &k, now, &st), 0);
	return st;
}

static struct eph_occ_stats proc_st(struct eph_occ *occ, uint32_t pid, uint64_t now)
{
	struct eph_occ_stats st;

	assert_int_equal(eph_occ__proc(occ, pid, now, &st), 0);
	return st;
}

/* A TCP/IPv4 connect() event 127.0.0.1:sport -> 127.0.0.1:dport in NS1. */
static struct eph_rec tcp_ev(uint8_t type, uint64_t ts, uint32_t pid, uint64_t sock_id,
			     uint16_t sport, uint16_t dport)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.ts_ns = ts;
	r.ev.type = type;
	r.ev.op = type == EPH_ASSIGN || type == EPH_FAIL ? EPH_OP_CONNECT : EPH_OP_NONE;
	r.ev.proto = IPPROTO_TCP;
	r.ev.family = AF_INET;
	r.ev.netns = NS1;
	r.ev.pid = pid;
	r.ev.tid = pid;
	r.ev.sock_id = sock_id;
	r.ev.sport = sport;
	r.ev.dport = dport;
	r.ev.flags = EPH_F_DEST | EPH_F_SADDR | (type == EPH_ASSIGN ? EPH_F_EPHEMERAL : 0);
	if (type != EPH_ASSIGN && type != EPH_FAIL)
		r.ev.flags |= EPH_F_OWNER;
	addr4(r.ev.saddr, "127.0.0.1");
	addr4(r.ev.daddr, "127.0.0.1");
	snprintf(r.ev.comm, sizeof(r.ev.comm), "proc%u", pid);
	return r;
}

static void feed(struct eph_occ *occ, struct eph_rec r)
{
	assert_int_equal(eph_occ__event(occ, &r), 0);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_new_rejects_tiny_window(void **state)
{
	struct eph_occ_opts o = { .window_ms = 9 };

	(void)state;
	assert_null(eph_occ__new(&o));
	eph_occ__free(NULL);
}

static void test_range_usable(void **state)
{
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	set_test_range(occ, NS1);
	assert_int_equal(eph_occ__add_netns(occ, NS2), 0);
	assert_int_equal(eph_occ__set_range(occ, NS1, 2, 1, NULL), -EINVAL);
	assert_int_equal(eph_occ__json(occ, &sb, 0, 0, 0), 0);
	assert_string_equal(
		sb.buf,
		"{\"time\":\"1970-01-01T00:00:00.000000000Z\",\"netns\":["
		"{\"netns\":4026532001,\"low\":40000,\"high\":41999,\"reserved\":100,"
		"\"usable\":1900,\"taken\":0,\"bound\":0,\"udp_usable\":1900,"
		"\"udp_taken\":0,\"udp_ports_left\":1900,\"bucket_unknown\":0,"
		"\"bound_only_listed\":true,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null},"
		"{\"netns\":4026532002,\"low\":null,\"high\":null,\"reserved\":null,"
		"\"usable\":null,\"taken\":null,\"bound\":null,\"udp_usable\":null,"
		"\"udp_taken\":null,\"udp_ports_left\":null,\"bucket_unknown\":0,"
		"\"bound_only_listed\":true,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null}],"
		"\"destinations\":[],\"bind_scopes\":[],\"processes\":[],\"findings\":[],"
		"\"findings_need_events\":[\"fixed_port_conflict\"],\"dropped\":0,"
		"\"resyncs\":0,\"resync_released\":0}");
	sb_free(&sb);
	eph_occ__free(occ);
}

/* Which sockets of a snapshot hold an ephemeral port, and where they are counted. */
static void test_seed_classification(void **state)
{
	struct eph_occ_sock s[20];
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	struct eph_occ_scope_key sk;
	struct eph_occ_dest_key dk;
	size_t n = 0;

	(void)state;
	set_test_range(occ, NS1);
	set_test_range(occ, NS2);
	/* a server listening inside the range, its accepted and server-side TIME_WAIT sockets */
	s[n++] = tcp4(NS1, TCP_LISTEN, "0.0.0.0", 41500, "0.0.0.0", 0, 7, 1);
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "10.0.0.1", 41500, "10.0.0.9", 33333, 7, 2);
	s[n++] = tcp4(NS1, TCP_TIME_WAIT, "10.0.0.1", 41500, "10.0.0.9", 33334, 0, 3);
	s[n++] = tcp4(NS1, TCP_SYN_RECV, "10.0.0.1", 41600, "10.0.0.9", 33335, 0, 4);
	/* a server outside the range and a socket on a reserved port: not the allocator's */
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "10.0.0.1", 8080, "10.0.0.9", 40001, 7, 5);
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40150, "127.0.0.1", 5000, 100, 6);
	/* clients of 127.0.0.1:5000: established, connecting, and two in TIME_WAIT */
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 100, 7);
	s[n++] = tcp4(NS1, TCP_SYN_SENT, "127.0.0.1", 40002, "127.0.0.1", 5000, 100, 8);
	s[n++] = tcp4(NS1, TCP_FIN_WAIT2, "127.0.0.1", 40008, "127.0.0.1", 5000, 101, 15);
	s[n++] = tcp4(NS1, TCP_TIME_WAIT, "127.0.0.1", 40004, "127.0.0.1", 5000, 0, 9);
	/* an owner for a TIME_WAIT socket is never believed: it has none */
	s[n++] = tcp4(NS1, TCP_TIME_WAIT, "127.0.0.1", 40006, "127.0.0.1", 5000, 100, 10);
	/* bound, not connected: a bind() hold of 127.0.0.1 */
	s[n++] = tcp4(NS1, TCP_CLOSE, "127.0.0.1", 40010, "0.0.0.0", 0, 102, 11);
	/* UDP: unconnected and connected both count for their local address, port 53 not */
	s[n] = tcp4(NS1, TCP_CLOSE, "0.0.0.0", 40020, "0.0.0.0", 0, 102, 12);
	s[n++].proto = IPPROTO_UDP;
	s[n] = tcp4(NS1, TCP_ESTABLISHED, "0.0.0.0", 40022, "8.8.8.8", 53, 102, 13);
	s[n++].proto = IPPROTO_UDP;
	s[n] = tcp4(NS1, TCP_CLOSE, "0.0.0.0", 53, "0.0.0.0", 0, 102, 14);
	s[n++].proto = IPPROTO_UDP;
	/* the same port as NS1's listener, in another namespace, is a client */
	s[n++] = tcp4(NS2, TCP_ESTABLISHED, "10.0.0.1", 41500, "10.0.0.9", 443, 103, 16);
	/* IPv6 */
	s[n] = tcp4(NS1, TCP_ESTABLISHED, "0.0.0.0", 40030, "0.0.0.0", 5000, 100, 17);
	s[n].family = AF_INET6;
	addr6(s[n].saddr, "::1");
	addr6(s[n++].daddr, "::1");

	assert_int_equal(eph_occ__seed(occ, s, n, 100 * SEC), 0);

	st = dest_st(occ, dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000), 100 * SEC);
	assert_int_equal(st.held, 5);
	assert_int_equal(st.time_wait, 2);
	assert_true(st.usable == 1900);
	/* connect() skips the listener's 41500 and the bound 40010 (bind() made their buckets)
	 * and its own five 4-tuples (TIME_WAIT of unknown age is not reused) */
	assert_true(st.ports_left == 1893);
	assert_float_equal(st.utilization, 7.0 / 1900, 1e-12);
	assert_true(isnan(st.assign_rate)); /* a snapshot has no rates */
	assert_true(isnan(st.exhaust_in_s));
	assert_int_equal(eph_occ__dest(occ, &(struct eph_occ_dest_key){ 0 }, 0, &st), -ENOENT);
	dk = dkey4(NS1, "10.0.0.1", "10.0.0.9", 33333);
	assert_int_equal(eph_occ__dest(occ, &dk, 0, &st), -ENOENT);
	dk = dkey4(NS1, "10.0.0.1", "10.0.0.9", 40001);
	assert_int_equal(eph_occ__dest(occ, &dk, 0, &st), -ENOENT);
	st = dest_st(occ, dkey4(NS2, "10.0.0.1", "10.0.0.9", 443), 100 * SEC);
	assert_int_equal(st.held, 1);
	memset(&dk, 0, sizeof(dk));
	dk.netns = NS1;
	dk.proto = IPPROTO_TCP;
	dk.family = AF_INET6;
	dk.dport = 5000;
	addr6(dk.saddr, "::1");
	addr6(dk.daddr, "::1");
	st = dest_st(occ, dk, 100 * SEC);
	assert_int_equal(st.held, 1);

	sk = skey4(NS1, IPPROTO_TCP, "127.0.0.1");
	assert_int_equal(eph_occ__scope(occ, &sk, 0, &st), 0);
	assert_int_equal(st.held, 1);
	/* bind(127.0.0.1:0) cannot share a port with any socket on 127.0.0.1 or 0.0.0.0: the
	 * listener, the five clients, the bound one; ::1 does not conflict */
	assert_true(st.ports_left == 1893);
	/* the listener inside the range: its port is bind()'s */
	sk = skey4(NS1, IPPROTO_TCP, "0.0.0.0");
	assert_int_equal(eph_occ__scope(occ, &sk, 0, &st), 0);
	assert_int_equal(st.held, 1);
	assert_true(st.ports_left == 1892); /* the wildcard conflicts with ::1 too */
	sk = skey4(NS1, IPPROTO_UDP, "0.0.0.0");
	assert_int_equal(eph_occ__scope(occ, &sk, 0, &st), 0);
	assert_int_equal(st.held, 2);
	assert_float_equal(st.utilization, 2.0 / 1900, 1e-12);
	assert_true(st.ports_left == 1898);

	st = proc_st(occ, 100, 0);
	assert_int_equal(st.held, 3); /* 40000, 40002 and the IPv6 one */
	assert_int_equal(st.time_wait, 0);
	assert_false(st.exited);
	assert_int_equal(proc_st(occ, 101, 0).held, 1);
	assert_int_equal(proc_st(occ, 102, 0).held, 3);
	assert_int_equal(proc_st(occ, 103, 0).held, 1);
	assert_int_equal(proc_st(occ, 7, 0).held, 1); /* the server's listener, not its clients */
	st = proc_st(occ, 0, 0);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.time_wait, 2);

	/* seeding the same snapshot again adds nothing */
	assert_int_equal(eph_occ__seed(occ, s, n, 101 * SEC), 0);
	assert_int_equal(dest_st(occ, dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000), 0).held, 5);
	assert_int_equal(proc_st(occ, 102, 0).held, 3);
	assert_int_equal(eph_occ__dropped(occ), 0);
	eph_occ__free(occ);
}

static void test_seed_needs_range(void **state)
{
	struct eph_occ_sock s =
		tcp4(NS2, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 1, 1);
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;

	(void)state;
	set_test_range(occ, NS1);
	assert_int_equal(eph_occ__seed(occ, &s, 1, 0), -ENOENT);
	assert_int_equal(eph_occ__add_netns(occ, NS2), 0);
	assert_int_equal(eph_occ__seed(occ, &s, 1, 0), -ENOENT);
	assert_int_equal(eph_occ__proc(occ, 1, 0, &st), -ENOENT);
	eph_occ__free(occ);
}

/* assign -> time_wait -> release, with the owner keeping its TIME_WAIT after it exits */
static void test_event_lifecycle(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 6000);
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	struct eph_rec r;
	unsigned int i;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__start(occ, 100 * SEC);
	for (i = 0; i < 3; i++)
		feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC + i, 200, 0x1000 + i, 40000 + i, 6000));
	feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC, 200, 0x1000, 40000, 6000)); /* reported twice */
	st = dest_st(occ, k, 101 * SEC);
	assert_int_equal(st.held, 3);
	assert_int_equal(st.time_wait, 0);
	for (i = 0; i < 3; i++)
		feed(occ, tcp_ev(EPH_TIME_WAIT, 101 * SEC, 999, 0x1000 + i, 40000 + i, 6000));
	feed(occ, tcp_ev(EPH_TIME_WAIT, 101 * SEC, 999, 0x1000, 40000, 6000)); /* again */
	eph_occ__proc_exited(occ, 200);
	st = dest_st(occ, k, 102 * SEC);
	assert_int_equal(st.held, 3);
	assert_int_equal(st.time_wait, 3);
	st = proc_st(occ, 200, 102 * SEC);
	assert_int_equal(st.held, 3);
	assert_int_equal(st.time_wait, 3);
	assert_true(st.exited);
	assert_int_equal(eph_occ__proc(occ, 999, 0, &st), -ENOENT); /* softirq context, not owner */

	r = tcp_ev(EPH_RELEASE, 160 * SEC, 200, 0x1000, 40000, 6000);
	r.ev.flags |= EPH_F_TW;
	feed(occ, r);
	feed(occ, tcp_ev(EPH_RELEASE, 160 * SEC, 200, 0x1000, 40000, 6000)); /* unknown now */
	feed(occ, tcp_ev(EPH_RELEASE, 160 * SEC, 200, 0x7777, 41000, 6000)); /* never seen */
	st = dest_st(occ, k, 160 * SEC);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.time_wait, 2);
	assert_int_equal(proc_st(occ, 200, 160 * SEC).held, 2);

	/* a port outside the range that the kernel did not choose is nobody's hold */
	r = tcp_ev(EPH_ASSIGN, 161 * SEC, 201, 0x2000, 8080, 6000);
	r.ev.flags &= ~EPH_F_EPHEMERAL;
	feed(occ, r);
	assert_int_equal(eph_occ__proc(occ, 201, 0, &st), -ENOENT);
	/* ... but one inside it counts, like in a snapshot */
	r = tcp_ev(EPH_ASSIGN, 161 * SEC, 201, 0x2001, 41001, 6000);
	r.ev.flags &= ~EPH_F_EPHEMERAL;
	feed(occ, r);
	assert_int_equal(proc_st(occ, 201, 161 * SEC).held, 1);
	assert_int_equal(dest_st(occ, k, 161 * SEC).held, 3);
	eph_occ__free(occ);
}

/* A snapshot hold is adopted by its assignment event, and released by cookie. */
static void test_seed_then_events(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_sock s[2];
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 300, 55);
	s[1] = tcp4(NS1, TCP_TIME_WAIT, "127.0.0.1", 40002, "127.0.0.1", 5000, 0, 56);
	assert_int_equal(eph_occ__seed(occ, s, 2, 100 * SEC), 0);
	eph_occ__start(occ, 100 * SEC);

	/* the assignment of the first one, read after the snapshot: no second hold */
	feed(occ, tcp_ev(EPH_ASSIGN, 99 * SEC, 300, 0xa000, 40000, 5000));
	st = dest_st(occ, k, 100 * SEC);
	assert_int_equal(st.held, 2);
	assert_int_equal(proc_st(occ, 300, 100 * SEC).held, 1);
	/* its release by sock_id */
	feed(occ, tcp_ev(EPH_RELEASE, 101 * SEC, 300, 0xa000, 40000, 5000));
	assert_int_equal(dest_st(occ, k, 101 * SEC).held, 1);
	assert_int_equal(proc_st(occ, 300, 101 * SEC).held, 0);
	/* the TIME_WAIT one ends: matched by the cookie the dump gave it */
	r = tcp_ev(EPH_RELEASE, 102 * SEC, 0, 0xb000, 40002, 5000);
	r.ev.cookie = 56;
	r.ev.flags = EPH_F_TW | EPH_F_DEST | EPH_F_SADDR;
	feed(occ, r);
	st = dest_st(occ, k, 102 * SEC);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.time_wait, 0);
	assert_int_equal(eph_occ__proc(occ, 0, 0, &st), -ENOENT);
	eph_occ__free(occ);
}

/* assign_rate over a 10 s window, from the times given. */
static void test_rate_window(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(0);
	unsigned int i;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__start(occ, 100 * SEC);
	for (i = 0; i < 50; i++) /* 100.0 .. 104.9 s */
		feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC + i * (SEC / 10), 400, 0x100 + i, 40000 + i,
				 5000));
	/* 50 in the 5 s since the start */
	assert_true(dest_st(occ, k, 105 * SEC).assign_rate == 10.0);
	assert_true(proc_st(occ, 400, 105 * SEC).assign_rate == 10.0);
	/* the window is 10 buckets of 1 s: at 109.5 s it covers 100.0-109.5 */
	assert_float_equal(dest_st(occ, k, 109 * SEC + SEC / 2).assign_rate, 50 / 9.5, 1e-9);
	/* at 110.5 s it starts at 101 s: 40 assignments in 9.5 s */
	assert_float_equal(dest_st(occ, k, 110 * SEC + SEC / 2).assign_rate, 40 / 9.5, 1e-9);
	assert_true(dest_st(occ, k, 115 * SEC).assign_rate == 0.0);
	assert_int_equal(dest_st(occ, k, 115 * SEC).held, 50);
	eph_occ__free(occ);
}

/* Ports taken faster than they come back: exhaustion at left / net fill rate. */
static void test_forecast_filling(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	unsigned int i;

	(void)state;
	assert_int_equal(eph_occ__set_range(occ, NS1, 40000, 40199, NULL), 0);
	eph_occ__start(occ, 100 * SEC);
	for (i = 0; i < 50; i++)
		feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC + i * (SEC / 10), 400, 0x100 + i, 40000 + i,
				 5000));
	st = dest_st(occ, k, 105 * SEC);
	assert_true(st.usable == 200);
	assert_true(isinf(st.need)); /* nothing released yet: the hold time is unknown */
	/* 150 left at 10 per second is 15 s: more than twice the 5 s seen so far */
	assert_true(isnan(st.exhaust_in_s));
	for (i = 50; i < 100; i++)
		feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC + i * (SEC / 10), 400, 0x100 + i, 40000 + i,
				 5000));
	st = dest_st(occ, k, 110 * SEC);
	assert_true(st.ports_left == 100);
	assert_true(st.exhaust_in_s == 10.0); /* 100 left at 10 per second, 10 s seen */
	/* nothing assigned for a window: no exhaustion in sight */
	st = dest_st(occ, k, 120 * SEC);
	assert_true(st.need == 0);
	assert_true(isnan(st.exhaust_in_s));
	eph_occ__free(occ);
}

/* A churn whose steady-state need fits in what is left: no forecast. */
static void test_forecast_fits(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	struct eph_rec r;
	unsigned int i;

	(void)state;
	assert_int_equal(eph_occ__set_range(occ, NS1, 40000, 40199, NULL), 0);
	eph_occ__start(occ, 100 * SEC);
	/* 10 per second, each held 1 s (held_ns from the kernel) */
	for (i = 0; i < 100; i++) {
		if (i >= 10) {
			r = tcp_ev(EPH_RELEASE, 100 * SEC + i * (SEC / 10), 400, 0x100 + i - 10,
				   40000 + (i - 10) % 50, 5000);
			r.ev.flags |= EPH_F_HELD;
			r.ev.held_ns = SEC;
			feed(occ, r);
		}
		feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC + i * (SEC / 10), 400, 0x100 + i,
				 40000 + i % 50, 5000));
	}
	st = dest_st(occ, k, 110 * SEC);
	assert_int_equal(st.held, 10);
	assert_float_equal(st.assign_rate, 10.0, 1e-9);
	assert_float_equal(st.need, 10.0, 1e-9); /* 10/s x 1 s */
	assert_true(isnan(st.exhaust_in_s));
	eph_occ__free(occ);
}

/* The need exceeds what is left, but ports come back as fast as they go: no forecast; when
 * releases stop, the forecast appears. */
static void test_forecast_balanced(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_sock s[60];
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	struct eph_rec r;
	unsigned int i;

	(void)state;
	assert_int_equal(eph_occ__set_range(occ, NS1, 40000, 40199, NULL), 0);
	for (i = 0; i < 60; i++) /* 60 long-lived connections */
		s[i] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40100 + i, "127.0.0.1", 5000, 1,
			    i + 1);
	assert_int_equal(eph_occ__seed(occ, s, 60, 100 * SEC), 0);
	eph_occ__start(occ, 100 * SEC);
	/* 10 per second, each held 5 s: the need is 50 */
	for (i = 0; i < 200; i++) {
		uint64_t ts = 100 * SEC + i * (SEC / 10);

		if (i >= 50) {
			r = tcp_ev(EPH_RELEASE, ts, 400, 0x100 + i - 50, 40000 + (i - 50) % 100,
				   5000);
			feed(occ, r);
		}
		feed(occ, tcp_ev(EPH_ASSIGN, ts, 400, 0x100 + i, 40000 + i % 100, 5000));
	}
	st = dest_st(occ, k, 120 * SEC);
	assert_int_equal(st.held, 110);
	assert_float_equal(st.need, 50.0, 1e-6); /* more than the 90 left? no: fits */
	assert_true(isnan(st.exhaust_in_s));

	/* 40 more long-lived ones: 50 left, the need is still 50; at 51 needed it would not be */
	for (i = 0; i < 40; i++)
		s[i] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40160 + i, "127.0.0.1", 5000, 1,
			    100 + i);
	assert_int_equal(eph_occ__seed(occ, s, 40, 120 * SEC), 0);
	st = dest_st(occ, k, 120 * SEC);
	assert_int_equal(st.held, 150);
	assert_true(isnan(st.exhaust_in_s));
	/* one more (40000 is free: the churn holds 40050-40099 now): the need (50) exceeds
	 * what is left (49), yet ports come back as fast as they go: none */
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 1, 999);
	assert_int_equal(eph_occ__seed(occ, s, 1, 120 * SEC), 0);
	st = dest_st(occ, k, 120 * SEC);
	assert_int_equal(st.held, 151);
	assert_true(isnan(st.exhaust_in_s));
	/* releases stop, assignments go on (20 in 2 s on 40001-40020) */
	for (i = 0; i < 20; i++)
		feed(occ, tcp_ev(EPH_ASSIGN, 120 * SEC + i * (SEC / 10), 400, 0x9000 + i, 40001 + i,
				 5000));
	/*
	 * At 122 s the window is 113-122 s (9 s): 90 assignments (70 of the churn, 20 new) and
	 * 70 releases, so the net fill rate is 20/9 per second; 29 ports are left.
	 */
	st = dest_st(occ, k, 122 * SEC);
	assert_int_equal(st.held, 171);
	assert_float_equal(st.assign_rate, 10.0, 1e-9);
	assert_float_equal(st.need, 50.0, 1e-6);
	assert_float_equal(st.exhaust_in_s, 29 / (20 / 9.0), 1e-9);
	eph_occ__free(occ);
}

static void test_exhausted_now(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_sock s[4];
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	unsigned int i;

	(void)state;
	assert_int_equal(eph_occ__set_range(occ, NS1, 40000, 40003, NULL), 0);
	for (i = 0; i < 4; i++)
		s[i] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000 + i, "127.0.0.1", 5000, 1,
			    i + 1);
	assert_int_equal(eph_occ__seed(occ, s, 4, 100 * SEC), 0);
	st = dest_st(occ, k, 100 * SEC);
	assert_true(st.utilization == 1.0);
	assert_true(st.exhaust_in_s == 0); /* known without events: nothing is left */
	eph_occ__free(occ);
}

static void test_failures(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;
	struct eph_rec r;
	unsigned int i;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__start(occ, 0);
	for (i = 0; i < 3; i++) {
		r = tcp_ev(EPH_FAIL, SEC, 500, 0, 0, 5000);
		r.ev.err = EADDRNOTAVAIL;
		feed(occ, r);
	}
	r = tcp_ev(EPH_FAIL, SEC, 500, 0, 0, 0);
	r.ev.op = EPH_OP_BIND;
	r.ev.flags = 0;
	r.ev.err = EADDRINUSE;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, SEC).failures, 3);
	assert_int_equal(proc_st(occ, 500, SEC).failures, 4);
	assert_int_equal(eph_occ__json(occ, &sb, 2 * SEC, 0, 7), 0);
	assert_non_null(strstr(
		sb.buf,
		"\"processes\":[{\"pid\":500,\"comm\":\"proc500\","
		"\"cgroup\":null,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,\"held\":0,\"time_wait\":0,"
		"\"assign_rate\":0,\"failures\":{\"EADDRINUSE\":1,"
		"\"EADDRNOTAVAIL\":3},\"exited\":false}]"));
	assert_non_null(strstr(
		sb.buf, "\"held\":0,\"time_wait\":0,\"usable\":1900,"
			"\"ports_left\":1900,\"utilization\":0,\"assign_rate\":0,\"failures\":3,"
			"\"exhaust_in_s\":null}"));
	assert_non_null(strstr(sb.buf, "\"dropped\":7,\"resyncs\":0,\"resync_released\":0}"));
	sb_free(&sb);
	eph_occ__free(occ);
}

/* Memory is capped and what does not fit is counted. */
static void test_cap_counts_dropped(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(4);
	unsigned int i;

	(void)state;
	set_test_range(occ, NS1);
	for (i = 0; i < 6; i++)
		feed(occ, tcp_ev(EPH_ASSIGN, SEC, 600, 0x10 + i, 40000 + i, 5000));
	assert_int_equal(dest_st(occ, k, SEC).held, 4);
	assert_int_equal(eph_occ__dropped(occ), 2);
	feed(occ, tcp_ev(EPH_RELEASE, 2 * SEC, 600, 0x10, 40000, 5000));
	feed(occ, tcp_ev(EPH_ASSIGN, 2 * SEC, 600, 0x20, 40010, 5000));
	assert_int_equal(dest_st(occ, k, 2 * SEC).held, 4);
	assert_int_equal(eph_occ__dropped(occ), 2);
	eph_occ__free(occ);
}

/* Enough holds to make every table grow and rehash several times. */
static void test_many_holds(void **state)
{
	struct eph_occ_dest_key k;
	struct eph_occ *occ = new_occ(0);
	unsigned int i;

	(void)state;
	assert_int_equal(eph_occ__set_range(occ, NS1, 1024, 65535, NULL), 0);
	for (i = 0; i < 20000; i++) {
		struct eph_rec r = tcp_ev(EPH_ASSIGN, SEC, 1000 + i % 100, 0x100000 + i,
					  1024 + i / 7, 7000 + i % 7);

		feed(occ, r);
	}
	for (i = 0; i < 20000; i += 2)
		feed(occ,
		     tcp_ev(EPH_RELEASE, 2 * SEC, 0, 0x100000 + i, 1024 + i / 7, 7000 + i % 7));
	/*
	 * Port 7000 + d gets i = 7q + d: 2858 of them for d = 0, 2857 for the others. The even
	 * i were released; i = 7q + d is even when q + d is: 1429 are left for d = 0 and odd d,
	 * 1428 for d = 2, 4, 6.
	 */
	for (i = 0; i < 7; i++) {
		k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 7000 + i);
		assert_int_equal(dest_st(occ, k, 2 * SEC).held, i && i % 2 == 0 ? 1428 : 1429);
	}
	/* pid 1000 + i % 100: the even pids had even i only, all released */
	assert_int_equal(proc_st(occ, 1000, 2 * SEC).held, 0);
	assert_int_equal(proc_st(occ, 1001, 2 * SEC).held, 200);
	assert_int_equal(eph_occ__dropped(occ), 0);
	eph_occ__free(occ);
}

static bool alive_even(uint32_t pid, void *ctx)
{
	(*(unsigned int *)ctx)++;
	return pid % 2 == 0;
}

static void test_exited_and_prune(void **state)
{
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	unsigned int calls = 0;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__start(occ, 100 * SEC);
	feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC, 701, 0x1, 40000, 5000));
	feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC, 702, 0x2, 40001, 5001));
	feed(occ, tcp_ev(EPH_TIME_WAIT, 101 * SEC, 0, 0x1, 40000, 5000));
	r = tcp_ev(EPH_FAIL, 101 * SEC, 703, 0, 0, 5002);
	r.ev.err = EADDRNOTAVAIL;
	feed(occ, r);
	assert_int_equal(eph_occ__set_cgroup(occ, 702, "/x.slice"), 0);
	eph_occ__check_exited(occ, alive_even, &calls);
	assert_int_equal(calls, 3);
	eph_occ__check_exited(occ, alive_even, &calls);
	assert_int_equal(calls, 4); /* exited ones are not asked again */
	assert_true(proc_st(occ, 701, 0).exited);
	assert_false(proc_st(occ, 702, 0).exited);

	/* a window later: 703 (failures only) goes; :5002 (failures only) stays: its failure
	 * counter is a series that must not restart from 0 while its table has room */
	feed(occ, tcp_ev(EPH_RELEASE, 105 * SEC, 702, 0x2, 40001, 5001));
	eph_occ__prune(occ, 112 * SEC);
	assert_int_equal(eph_occ__proc(occ, 703, 0, &st), -ENOENT);
	{
		struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5002);

		assert_int_equal(eph_occ__dest(occ, &k, 0, &st), 0);
		assert_int_equal(st.held, 0);
	}
	st = proc_st(occ, 701, 112 * SEC);
	assert_int_equal(st.held, 1);
	assert_int_equal(st.time_wait, 1);
	assert_int_equal(proc_st(occ, 702, 0).held, 0); /* released at 105: not idle a window */
	assert_int_equal(dest_st(occ, dkey4(NS1, "127.0.0.1", "127.0.0.1", 5001), 0).held, 0);
	eph_occ__prune(occ, 116 * SEC);
	assert_int_equal(eph_occ__proc(occ, 702, 0, &st), -ENOENT);
	{
		struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5001);

		assert_int_equal(eph_occ__dest(occ, &k, 0, &st), -ENOENT);
		k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5002);
		assert_int_equal(eph_occ__dest(occ, &k, 0, &st), 0); /* failures: kept */
	}
	/* the pruned slots are reused */
	feed(occ, tcp_ev(EPH_ASSIGN, 117 * SEC, 704, 0x3, 40002, 5003));
	assert_int_equal(proc_st(occ, 704, 0).held, 1);
	assert_int_equal(proc_st(occ, 701, 0).held, 1);
	eph_occ__free(occ);
}

static void test_json_golden(void **state)
{
	struct eph_occ_sock s[3];
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	set_test_range(occ, NS1);
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 42, 1);
	strcpy(s[0].comm, "cu\"rl");
	s[1] = tcp4(NS1, TCP_TIME_WAIT, "127.0.0.1", 40002, "127.0.0.1", 6000, 0, 2);
	s[2] = tcp4(NS1, TCP_CLOSE, "0.0.0.0", 41000, "0.0.0.0", 0, 42, 3);
	s[2].proto = IPPROTO_UDP;
	strcpy(s[2].comm, "cu\"rl"); /* the same process: the latest name wins */
	assert_int_equal(eph_occ__seed(occ, s, 3, 100 * SEC), 0);
	assert_int_equal(eph_occ__json(occ, &sb, 100 * SEC, 1795497483123456789ull, 0), 0);
	assert_string_equal(
		sb.buf,
		"{\"time\":\"2026-11-24T05:18:03.123456789Z\",\"netns\":[{\"netns\":4026532001,"
		"\"low\":40000,\"high\":41999,\"reserved\":100,\"usable\":1900,\"taken\":2,"
		"\"bound\":0,\"udp_usable\":1900,\"udp_taken\":1,\"udp_ports_left\":1899,"
		"\"bucket_unknown\":2,\"bound_only_listed\":true,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null}],"
		"\"destinations\":["
		"{\"netns\":4026532001,\"proto\":\"tcp\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\","
		"\"daddr\":\"127.0.0.1\",\"dport\":5000,\"held\":1,\"time_wait\":0,\"usable\":1900,"
		"\"ports_left\":1899,\"utilization\":0.000526316,\"assign_rate\":null,\"failures\":null,"
		"\"exhaust_in_s\":null},"
		"{\"netns\":4026532001,\"proto\":\"tcp\",\"family\":\"ipv4\",\"saddr\":\"127.0.0.1\","
		"\"daddr\":\"127.0.0.1\",\"dport\":6000,\"held\":1,\"time_wait\":1,\"usable\":1900,"
		"\"ports_left\":1899,\"utilization\":0.000526316,\"assign_rate\":null,\"failures\":null,"
		"\"exhaust_in_s\":null}],"
		"\"bind_scopes\":[{\"netns\":4026532001,\"proto\":\"udp\",\"family\":\"ipv4\","
		"\"addr\":\"0.0.0.0\",\"held\":1,\"time_wait\":0,\"usable\":1900,\"ports_left\":1899,"
		"\"utilization\":0.000526316}],"
		"\"processes\":["
		"{\"pid\":42,\"comm\":\"cu\\\"rl\",\"cgroup\":\"/system.slice/client.service\","
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,"
		"\"held\":2,\"time_wait\":0,\"assign_rate\":null,\"failures\":null,\"exited\":false},"
		"{\"pid\":null,\"comm\":null,\"cgroup\":null,"
		"\"container_id\":null,\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,\"held\":1,\"time_wait\":1,"
		"\"assign_rate\":null,\"failures\":null,\"exited\":null}],"
		"\"findings\":[],\"findings_need_events\":[\"fixed_port_conflict\"],"
		"\"dropped\":0,\"resyncs\":0,\"resync_released\":0}");
	sb_free(&sb);
	eph_occ__free(occ);
}

/* Every text line fits 79 columns, even with IPv6 addresses and long names. */
static void test_text_fits_80_columns(void **state)
{
	struct eph_occ_sock s[3];
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;
	const char *line, *end;
	unsigned int lines = 0;

	(void)state;
	set_test_range(occ, NS1);
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "0.0.0.0", 40000, "0.0.0.0", 65535, 4194304, 1);
	s[0].family = AF_INET6;
	addr6(s[0].saddr, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff");
	addr6(s[0].daddr, "2001:db8:1111:2222:3333:4444:5555:6666");
	strcpy(s[0].comm, "a-very-long-nam");
	s[0].cgroup = "/system.slice/a-very-long-service-name-that-goes-on-and-on.service";
	s[0].range_lo = 40000; /* IP_LOCAL_PORT_RANGE: a note of two lines */
	s[0].range_hi = 40009;
	s[1] = s[0];
	s[1].proto = IPPROTO_UDP;
	s[1].sport = 40001;
	s[1].cookie = 2;
	s[2] = tcp4(NS1, TCP_ESTABLISHED, "255.255.255.255", 40002, "255.255.255.255", 65535, 9, 3);
	assert_int_equal(eph_occ__seed(occ, s, 3, 0), 0);
	eph_occ__start(occ, 0);
	assert_int_equal(eph_occ__text(occ, &sb, 10 * SEC, 0, 123456789, 0), 0);
	for (line = sb.buf; *line; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end);
		assert_in_range(end - line, 0, 79);
		lines++;
	}
	/* time; legend 3 + note; netns header + 1; blank, destinations header + 2, socket range
	 * note 2; blank, scopes header + 1; blank, processes header + 2 */
	assert_int_equal(lines, 20);
	assert_non_null(strstr(sb.buf, "\nnote: 1 socket to ~:4444:5555:6666]:65535 uses "
				       "IP_LOCAL_PORT_RANGE 40000-40009:\n      9 more connect()s "
				       "with it (of 10 usable; NS 161)\n"));
	assert_non_null(strstr(sb.buf, "  dropped 123456789\n"));
	assert_non_null(strstr(sb.buf, "note: 2 connected TCP socket(s) of unknown origin"));
	/* TCP ports 40000 and 40002 taken (counted once), the UDP one apart */
	assert_non_null(
		strstr(sb.buf, " 40000-41999   100   1900      2      0      0      1     1899\n"));
	assert_non_null(strstr(sb.buf,
			       " ~dddd:eeee:ffff ~444:5555:6666]:65535     1    0  1899  0.1"
			       "  0.0    0    -\n"));
	assert_non_null(strstr(sb.buf, "\n4194304 a-very-long-nam     2     0    0.0     0 no   "
				       "~t-goes-on-and-on.service\n"));
	assert_non_null(strstr(sb.buf, "255.255.255.255 255.255.255.255:65535"));
	sb_free(&sb);
	eph_occ__free(occ);
}

/*
 * An event's keys are hashed from the event, a snapshot's from the socket: both must meet.
 * IPv6 holds found by a snapshot are adopted by their events; an IPv4 event whose address
 * fields have bytes after the 4 of the address (not part of it) is found by its snapshot.
 */
static void test_event_keys_meet_snapshot_keys(void **state)
{
	struct eph_occ_dest_key k6, k4 = dkey4(NS1, "10.0.0.1", "10.9.9.9", 443);
	struct eph_occ_sock s[2];
	struct eph_occ *occ = new_occ(0);
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	memset(&k6, 0, sizeof(k6));
	k6.netns = NS1;
	k6.proto = IPPROTO_TCP;
	k6.family = AF_INET6;
	k6.dport = 8443;
	addr6(k6.saddr, "fd00::1");
	addr6(k6.daddr, "fd00:9::9");
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "10.0.0.1", 41500, "10.9.9.9", 443, 0, 0);
	s[1] = s[0];
	s[1].family = AF_INET6;
	memcpy(s[1].saddr, k6.saddr, 16);
	memcpy(s[1].daddr, k6.daddr, 16);
	s[1].sport = 41501;
	s[1].dport = 8443;
	s[1].pid = 900;
	s[1].cookie = 77;
	assert_int_equal(eph_occ__seed(occ, &s[1], 1, 100 * SEC), 0);
	eph_occ__start(occ, 100 * SEC);

	/* the IPv6 one's assignment: adopted, not a second hold */
	r = tcp_ev(EPH_ASSIGN, 100 * SEC, 900, 0xc000, 41501, 8443);
	r.ev.family = AF_INET6;
	memcpy(r.ev.saddr, k6.saddr, 16);
	memcpy(r.ev.daddr, k6.daddr, 16);
	feed(occ, r);
	assert_int_equal(dest_st(occ, k6, 100 * SEC).held, 1);
	assert_int_equal(proc_st(occ, 900, 100 * SEC).held, 1);

	/* an IPv4 one, bytes after its addresses; kept by a snapshot that shows it */
	r = tcp_ev(EPH_ASSIGN, 100 * SEC, 901, 0xc001, 41500, 443);
	addr4(r.ev.saddr, "10.0.0.1");
	addr4(r.ev.daddr, "10.9.9.9");
	memset(r.ev.saddr + 4, 0xee, 12);
	memset(r.ev.daddr + 4, 0x55, 12);
	feed(occ, r);
	assert_int_equal(dest_st(occ, k4, 100 * SEC).held, 1);
	assert_int_equal(eph_occ__reconcile(occ, s, 2, 101 * SEC), 0);
	assert_int_equal(dest_st(occ, k4, 101 * SEC).held, 1);
	assert_int_equal(proc_st(occ, 901, 101 * SEC).held, 1);
	/* released by its sock_id; the IPv6 one by its cookie */
	feed(occ, tcp_ev(EPH_RELEASE, 102 * SEC, 901, 0xc001, 41500, 443));
	r = tcp_ev(EPH_RELEASE, 102 * SEC, 900, 0, 41501, 8443);
	r.ev.family = AF_INET6;
	r.ev.cookie = 77;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k4, 102 * SEC).held, 0);
	assert_int_equal(dest_st(occ, k6, 102 * SEC).held, 0);
	assert_int_equal(proc_st(occ, 900, 102 * SEC).held, 0);
	eph_occ__free(occ);
}

/*
 * Two holds on one 4-tuple: a TIME_WAIT move whose socket was not seen being assigned, while
 * another socket with that 4-tuple is tracked. The next assignment on it replaces the hold
 * that came last (the TIME_WAIT one), not the first.
 */
static void test_same_tuple_last_wins(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 7100);
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__start(occ, 100 * SEC);
	feed(occ, tcp_ev(EPH_ASSIGN, 100 * SEC, 10, 0x1, 40500, 7100));
	feed(occ, tcp_ev(EPH_TIME_WAIT, 101 * SEC, 11, 0x2, 40500, 7100));
	st = dest_st(occ, k, 101 * SEC);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.time_wait, 1);
	assert_int_equal(proc_st(occ, 11, 101 * SEC).time_wait, 1);
	feed(occ, tcp_ev(EPH_ASSIGN, 102 * SEC, 12, 0x3, 40500, 7100));
	st = dest_st(occ, k, 102 * SEC);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.time_wait, 0);
	assert_int_equal(proc_st(occ, 10, 102 * SEC).held, 1);
	assert_int_equal(proc_st(occ, 11, 102 * SEC).held, 0);
	assert_int_equal(proc_st(occ, 12, 102 * SEC).held, 1);
	eph_occ__free(occ);
}

/* A namespace that goes and one that comes in its place are not confused. */
static void test_netns_gone_and_new(void **state)
{
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_rows rows;
	struct eph_rec r;

	(void)state;
	r = tcp_ev(EPH_FAIL, SEC, 20, 0, 0, 5000);
	r.ev.err = EADDRNOTAVAIL;
	feed(occ, r); /* NS1 known from its event */
	eph_occ__del_netns(occ, NS1);
	feed(occ, r); /* and again, right after it went */
	assert_int_equal(eph_occ__rows(occ, 2 * SEC, &rows), 0);
	assert_int_equal(rows.nnetns, 1);
	assert_int_equal(rows.netns[0].netns, NS1);
	eph_occ_rows__free(&rows);
	eph_occ__del_netns(occ, NS1);
	set_test_range(occ, NS2);
	feed(occ, r); /* NS1 again: a netns of its own, not NS2's */
	assert_int_equal(eph_occ__rows(occ, 2 * SEC, &rows), 0);
	assert_int_equal(rows.nnetns, 2);
	assert_int_equal(rows.netns[0].netns, NS1);
	assert_false(rows.netns[0].have_range);
	assert_int_equal(rows.netns[1].netns, NS2);
	assert_true(rows.netns[1].have_range);
	assert_int_equal(rows.netns[1].low, 40000);
	eph_occ_rows__free(&rows);
	eph_occ__free(occ);
}

/*
 * The end of a TIME_WAIT must not take a live connection with it: the kernel hands the address
 * of the socket that went to TIME_WAIT (its sock_id) to the next socket at once.
 */
static void test_tw_end_keeps_slab_reuse(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(0);
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	feed(occ, tcp_ev(EPH_ASSIGN, 1 * SEC, 400, 0xabc, 40000, 5000));
	feed(occ, tcp_ev(EPH_TIME_WAIT, 2 * SEC, 400, 0xabc, 40000, 5000));
	/* conn2 gets conn1's socket address */
	feed(occ, tcp_ev(EPH_ASSIGN, 3 * SEC, 400, 0xabc, 40002, 5000));
	assert_int_equal(dest_st(occ, k, 3 * SEC).held, 2);
	/* conn1's TIME_WAIT ends: the release names the old address */
	r = tcp_ev(EPH_RELEASE, 62 * SEC, 400, 0xabc, 40000, 5000);
	r.ev.flags |= EPH_F_TW;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 62 * SEC).held, 1);
	assert_int_equal(dest_st(occ, k, 62 * SEC).time_wait, 0);
	/* and conn2's own release still finds it */
	feed(occ, tcp_ev(EPH_RELEASE, 63 * SEC, 400, 0xabc, 40002, 5000));
	assert_int_equal(dest_st(occ, k, 63 * SEC).held, 0);
	eph_occ__free(occ);
}

/* An IPv6 socket connected to ::ffff:a.b.c.d uses the IPv4 4-tuple space: counted there. */
static void test_v4mapped_is_ipv4(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	r = tcp_ev(EPH_ASSIGN, SEC, 400, 0x1, 40000, 5000);
	r.ev.family = AF_INET6;
	addr6(r.ev.saddr, "::ffff:127.0.0.1");
	addr6(r.ev.daddr, "::ffff:127.0.0.1");
	feed(occ, r);
	s = tcp4(NS1, TCP_ESTABLISHED, "0.0.0.0", 40002, "0.0.0.0", 5000, 401, 7);
	s.family = AF_INET6;
	addr6(s.saddr, "::ffff:127.0.0.1");
	addr6(s.daddr, "::ffff:127.0.0.1");
	assert_int_equal(eph_occ__seed(occ, &s, 1, 2 * SEC), 0);
	assert_int_equal(dest_st(occ, k, 2 * SEC).held, 2);
	assert_true(dest_st(occ, k, 2 * SEC).ports_left == 1900 - 2);
	eph_occ__free(occ);
}

/*
 * bind() before connect(): the event saw a bind() hold (its port lost to every destination);
 * a snapshot that shows the socket connected keeps it, under its destination, still bind()'s.
 */
static void test_bind_before_connect(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_dest_key k2 = dkey4(NS1, "127.0.0.1", "127.0.0.1", 6000);
	struct eph_occ_scope_key sk = skey4(NS1, IPPROTO_TCP, "127.0.0.1");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s[2];
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	r = tcp_ev(EPH_ASSIGN, SEC, 400, 0x10, 40001, 0);
	r.ev.op = EPH_OP_BIND;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL | EPH_F_REQ;
	feed(occ, r);
	feed(occ, tcp_ev(EPH_ASSIGN, SEC, 401, 0x20, 40002, 6000));
	/* 40001 is lost to :6000 too; :6000's own 40002 only to it */
	assert_true(dest_st(occ, k2, SEC).ports_left == 1900 - 1 - 1);
	assert_int_equal(eph_occ__scope(occ, &sk, SEC, &st), 0);
	assert_int_equal(st.held, 1);
	assert_true(st.ports_left == 1900 - 2);
	/* the kernel's view 5 s later: both connected, the first to :5000 */
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40001, "127.0.0.1", 5000, 400, 0);
	s[1] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40002, "127.0.0.1", 6000, 401, 0);
	assert_int_equal(eph_occ__reconcile(occ, s, 2, 6 * SEC), 0); /* nothing released */
	assert_int_equal(dest_st(occ, k, 6 * SEC).held, 1);
	assert_int_equal(eph_occ__scope(occ, &sk, 6 * SEC, &st), 0);
	assert_int_equal(st.held, 0);
	assert_true(dest_st(occ, k2, 6 * SEC).ports_left == 1900 - 1 - 1);
	/* :5000's own 4-tuple sits on the bind() port, lost to all: counted once */
	assert_true(dest_st(occ, k, 6 * SEC).ports_left == 1900 - 1);
	/* a second resync changes nothing */
	assert_int_equal(eph_occ__reconcile(occ, s, 2, 7 * SEC), 0);
	assert_int_equal(proc_st(occ, 400, 7 * SEC).held, 1);
	eph_occ__free(occ);
}

/* A snapshot socket with IP_LOCAL_PORT_RANGE (raw, as the port iterator gives it). */
static struct eph_occ_sock ranged(uint16_t sport, uint16_t dport, uint16_t lo, uint16_t hi,
				  uint64_t cookie)
{
	struct eph_occ_sock s =
		tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", sport, "127.0.0.1", dport, 400, cookie);

	s.bucket = EPH_BUCKET_CONNECT;
	s.range_lo = lo;
	s.range_hi = hi;
	return s;
}

/*
 * Per-socket IP_LOCAL_PORT_RANGE in 40000-41999 (40100-40199 reserved): :5000 has three live
 * sockets with 40090-40119 (10 usable), one TIME_WAIT with 40000-40009 (not counted), one with
 * a range wider than the netns one (not narrowing); :5001 two with 40000-40009 and two with
 * 40010-40049 (a tie: the narrower wins); :5002 none.
 */
static void test_socket_range(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_dest_key k1 = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5001);
	struct eph_occ_dest_key k2 = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5002);
	struct eph_occ_sock s[] = {
		ranged(40090, 5000, 40090, 40119, 1),
		ranged(40091, 5000, 40090, 40119, 2),
		ranged(40092, 5000, 40090, 40119, 3),
		ranged(40093, 5000, 0, 0, 4),	      /* no range, on a port of it */
		ranged(40001, 5000, 40000, 40009, 5), /* TIME_WAIT below */
		ranged(40500, 5000, 30000, 50000, 6), /* not narrowing */
		ranged(40000, 5001, 40000, 40009, 7),
		ranged(40002, 5001, 40000, 40009, 8),
		ranged(40010, 5001, 40010, 40049, 9),
		ranged(40011, 5001, 40010, 40049, 10),
		ranged(40003, 5002, 0, 0, 11),
		tcp4(NS1, TCP_CLOSE, "127.0.0.1", 40094, "0.0.0.0", 0, 401, 12), /* bind(0) */
	};
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	s[4].state = TCP_TIME_WAIT;
	assert_int_equal(eph_occ__seed(occ, s, 12, SEC), 0);
	st = dest_st(occ, k, SEC);
	assert_int_equal(st.sock_range.low, 40090);
	assert_int_equal(st.sock_range.high, 40119);
	assert_int_equal(st.sock_range.sockets, 3);
	assert_int_equal(st.sock_range.usable, 10);
	assert_int_equal(st.sock_range.left, 10 - 4 - 1); /* 40090-40093; 40094 bind()'s */
	assert_true(st.ports_left == 1900 - 1 - 6);
	st = dest_st(occ, k1, SEC);
	assert_int_equal(st.sock_range.low, 40000);
	assert_int_equal(st.sock_range.high, 40009);
	assert_int_equal(st.sock_range.sockets, 2);
	assert_int_equal(st.sock_range.left, 10 - 2);
	assert_int_equal(dest_st(occ, k2, SEC).sock_range.sockets, 0);
	assert_int_equal(eph_occ__json(occ, &sb, SEC, 0, 0), 0);
	assert_non_null(strstr(sb.buf, "\"dport\":5000,\"held\":6,"));
	assert_non_null(strstr(sb.buf, ",\"socket_range\":{\"low\":40090,\"high\":40119,"
				       "\"sockets\":3,\"usable\":10,\"ports_left\":5}}"));
	assert_null(strstr(strstr(sb.buf, "\"dport\":5002"), "socket_range"));
	sb.len = 0;
	assert_int_equal(eph_occ__text(occ, &sb, SEC, 0, 0, 0), 0);
	assert_non_null(strstr(sb.buf, "\nnote: 3 sockets to 127.0.0.1:5000 use "
				       "IP_LOCAL_PORT_RANGE 40090-40119:\n      5 more connect()s "
				       "with it (of 10 usable; NS 161)\n"));
	/* events carry no range: a socket seen by an event gets one from the next snapshot */
	r = tcp_ev(EPH_ASSIGN, 2 * SEC, 402, 0x50, 40095, 5000);
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 2 * SEC).sock_range.left, 4);
	assert_int_equal(dest_st(occ, k, 2 * SEC).sock_range.sockets, 3);
	s[4] = ranged(40095, 5000, 40090, 40119, 0); /* the TIME_WAIT is gone */
	assert_int_equal(eph_occ__reconcile(occ, s, 12, 3 * SEC), 1);
	st = dest_st(occ, k, 3 * SEC);
	assert_int_equal(st.sock_range.sockets, 4);
	assert_int_equal(st.sock_range.left, 4);
	sb_free(&sb);
	eph_occ__free(occ);
}

/* TIME_WAIT 4-tuples come back to their destination after a second (tcp_tw_reuse). */
static void test_tw_reuse(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_tw_opts off = { .tw_reuse = 0, .timestamps = 1 };
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s;

	(void)state;
	set_test_range(occ, NS1);
	feed(occ, tcp_ev(EPH_ASSIGN, SEC, 400, 0x1, 40000, 5000));
	feed(occ, tcp_ev(EPH_TIME_WAIT, 2 * SEC, 400, 0x1, 40000, 5000));
	assert_true(dest_st(occ, k, 2 * SEC + SEC / 2).ports_left == 1899); /* 0.5 s old */
	/* one found in a snapshot at 3 s with 59.9 s of its 60 left: it began at 2.9 s */
	s = tcp4(NS1, TCP_TIME_WAIT, "127.0.0.1", 40002, "127.0.0.1", 5000, 0, 9);
	s.tw_left_ms = 59900;
	assert_int_equal(eph_occ__seed(occ, &s, 1, 3 * SEC), 0);
	assert_true(dest_st(occ, k, 3 * SEC + SEC / 2).ports_left == 1899);
	assert_true(dest_st(occ, k, 4 * SEC).ports_left == 1900);
	assert_int_equal(dest_st(occ, k, 4 * SEC).held, 2);
	assert_int_equal(eph_occ__set_tw_opts(occ, NS1, &off), 0);
	assert_true(dest_st(occ, k, 4 * SEC).ports_left == 1898);
	off.tw_reuse = 3;
	assert_int_equal(eph_occ__set_tw_opts(occ, NS1, &off), -EINVAL);
	eph_occ__free(occ);
}

/* A kernel whose snapshots do not list bound-only sockets (< 6.8): resyncs keep what an event
 * saw bound, and release it at its own event. */
static void test_bound_unlisted(void **state)
{
	struct eph_occ_scope_key sk = skey4(NS1, IPPROTO_TCP, "127.0.0.1");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__set_bound_listed(occ, false);
	r = tcp_ev(EPH_ASSIGN, SEC, 400, 0x10, 40001, 0);
	r.ev.op = EPH_OP_BIND;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL;
	feed(occ, r);
	assert_int_equal(eph_occ__reconcile(occ, NULL, 0, 5 * SEC), 0);
	assert_int_equal(eph_occ__scope(occ, &sk, 5 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	r = tcp_ev(EPH_RELEASE, 6 * SEC, 400, 0x10, 40001, 0);
	r.ev.flags = EPH_F_SADDR | EPH_F_OWNER;
	feed(occ, r);
	assert_int_equal(eph_occ__scope(occ, &sk, 6 * SEC, &st), 0);
	assert_int_equal(st.held, 0);
	/* a kernel that lists them: not in the snapshot means gone */
	eph_occ__set_bound_listed(occ, true);
	r = tcp_ev(EPH_ASSIGN, 7 * SEC, 400, 0x11, 40003, 0);
	r.ev.op = EPH_OP_BIND;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL;
	feed(occ, r);
	assert_int_equal(eph_occ__reconcile(occ, NULL, 0, 8 * SEC), 1);
	eph_occ__free(occ);
}

/*
 * Events older than the first snapshot about sockets it already has under other keys (top's
 * start: attached, then sock_diag, then the events that waited): no second hold.
 */
static void test_events_before_snapshot(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_scope_key tk = skey4(NS1, IPPROTO_TCP, "127.0.0.1");
	struct eph_occ_scope_key uk = skey4(NS1, IPPROTO_UDP, "127.0.0.1");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s[2];
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	/* bind() then connect() at 9 s; a UDP connect() at 10.05 s, while the dump of the
	 * snapshot that began at 10 s runs */
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40001, "127.0.0.1", 5000, 400, 1);
	s[0].bucket = EPH_BUCKET_BIND;
	s[1] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40003, "127.0.0.1", 53, 400, 2);
	s[1].proto = IPPROTO_UDP;
	assert_int_equal(eph_occ__seed(occ, s, 2, 10 * SEC), 0);
	eph_occ__snapshot_end(occ, 10 * SEC + SEC / 10);
	eph_occ__start(occ, 10 * SEC);
	r = tcp_ev(EPH_ASSIGN, 9 * SEC, 400, 0x10, 40001, 0);
	r.ev.op = EPH_OP_BIND;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL;
	feed(occ, r);
	r = tcp_ev(EPH_ASSIGN, 10 * SEC + SEC / 20, 400, 0x20, 40003, 53);
	r.ev.proto = IPPROTO_UDP;
	addr4(r.ev.saddr, "0.0.0.0"); /* the autobind's */
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 10 * SEC).held, 1);
	assert_true(dest_st(occ, k, 10 * SEC).ports_left == 1900 - 1);
	assert_int_equal(eph_occ__scope(occ, &tk, 10 * SEC, &st), -ENOENT);
	assert_int_equal(eph_occ__scope(occ, &uk, 10 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	assert_int_equal(proc_st(occ, 400, 10 * SEC).held, 2);
	/* a resync finds nothing to release */
	assert_int_equal(eph_occ__reconcile(occ, s, 2, 15 * SEC), 0);
	/* an event after the snapshot is new */
	r = tcp_ev(EPH_ASSIGN, 16 * SEC, 400, 0x30, 40005, 0);
	r.ev.op = EPH_OP_BIND;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL;
	feed(occ, r);
	assert_int_equal(eph_occ__scope(occ, &tk, 16 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	eph_occ__free(occ);
}

/* ---- connect() on a socket bind() gave its port (EPH_CONNECT) ------------------------- */

/* A bound connect() of 127.0.0.1:sport to 127.0.0.1:dport in NS1 (a port bind(0) chose). */
static struct eph_rec bound_ev(uint64_t ts, uint32_t pid, uint64_t sock_id, uint64_t cookie,
			       uint16_t sport, uint16_t dport)
{
	struct eph_rec r = tcp_ev(EPH_CONNECT, ts, pid, sock_id, sport, dport);

	r.ev.op = EPH_OP_CONNECT;
	r.ev.cookie = cookie;
	r.ev.flags = EPH_F_DEST | EPH_F_SADDR | EPH_F_EPHEMERAL | EPH_F_BOUND;
	return r;
}

/*
 * bind(127.0.0.1:0) then connect() to :5000: the hold moves from the bind scope to the
 * destination at once (no resync), still bind()'s bucket (lost to every destination), and no
 * assignment is counted; its release ends it there.
 */
static void test_bound_connect_moves_hold(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_dest_key k2 = dkey4(NS1, "127.0.0.1", "127.0.0.1", 6000);
	struct eph_occ_scope_key sk = skey4(NS1, IPPROTO_TCP, "127.0.0.1");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	r = tcp_ev(EPH_ASSIGN, SEC, 400, 0x10, 40001, 0);
	r.ev.op = EPH_OP_BIND;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL | EPH_F_REQ;
	feed(occ, r);
	feed(occ, tcp_ev(EPH_ASSIGN, SEC, 401, 0x20, 40002, 6000));
	feed(occ, bound_ev(2 * SEC, 400, 0x10, 0, 40001, 5000));
	st = dest_st(occ, k, 2 * SEC);
	assert_int_equal(st.held, 1);
	assert_true(st.ports_left == 1900 - 1);
	assert_true(st.assign_rate == 0); /* bind() was the assignment */
	assert_int_equal(eph_occ__scope(occ, &sk, 2 * SEC, &st), 0);
	assert_int_equal(st.held, 0);
	/* the bind() port stays lost to :6000 as well */
	assert_true(dest_st(occ, k2, 2 * SEC).ports_left == 1900 - 1 - 1);
	assert_int_equal(proc_st(occ, 400, 2 * SEC).held, 1);
	/* reported twice (or found by a snapshot first): nothing changes */
	feed(occ, bound_ev(2 * SEC, 400, 0x10, 0, 40001, 5000));
	assert_int_equal(dest_st(occ, k, 2 * SEC).held, 1);
	assert_int_equal(proc_st(occ, 400, 2 * SEC).held, 1);
	/* a resync that shows it connected releases nothing */
	{
		struct eph_occ_sock s[2] = {
			tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40001, "127.0.0.1", 5000, 400, 0),
			tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40002, "127.0.0.1", 6000, 401, 0),
		};

		assert_int_equal(eph_occ__reconcile(occ, s, 2, 3 * SEC), 0);
	}
	assert_int_equal(dest_st(occ, k, 3 * SEC).held, 1);
	r = tcp_ev(EPH_RELEASE, 4 * SEC, 400, 0x10, 40001, 5000);
	r.ev.flags |= EPH_F_HELD;
	r.ev.held_ns = 3 * SEC;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 4 * SEC).held, 0);
	assert_int_equal(proc_st(occ, 400, 4 * SEC).held, 0);
	eph_occ__free(occ);
}

/*
 * The socket's hold not seen bound: found by cookie (a snapshot's bound-only socket), or made
 * from the event (bound before ephtrace looked); a fixed port outside the range is no hold.
 */
static void test_bound_connect_unseen_bind(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_dest_key k2 = dkey4(NS1, "127.0.0.1", "127.0.0.1", 6000);
	struct eph_occ_scope_key sk = skey4(NS1, IPPROTO_TCP, "127.0.0.1");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s = tcp4(NS1, TCP_CLOSE, "127.0.0.1", 40001, "0.0.0.0", 0, 400, 9);
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	assert_int_equal(eph_occ__seed(occ, &s, 1, SEC), 0);
	assert_int_equal(eph_occ__scope(occ, &sk, SEC, &st), 0);
	assert_int_equal(st.held, 1);
	feed(occ, bound_ev(2 * SEC, 400, 0x10, 9, 40001, 5000));
	assert_int_equal(eph_occ__scope(occ, &sk, 2 * SEC, &st), 0);
	assert_int_equal(st.held, 0);
	assert_int_equal(dest_st(occ, k, 2 * SEC).held, 1);
	/* now known by sock_id too: its release finds it */
	r = tcp_ev(EPH_RELEASE, 3 * SEC, 400, 0x10, 40001, 5000);
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 3 * SEC).held, 0);

	/* no hold at all: one made from the event, bind()'s bucket (lost to :6000 too) */
	feed(occ, bound_ev(4 * SEC, 401, 0x20, 0, 40003, 5000));
	feed(occ, tcp_ev(EPH_ASSIGN, 4 * SEC, 401, 0x21, 40004, 6000));
	st = dest_st(occ, k, 4 * SEC);
	assert_int_equal(st.held, 1);
	assert_true(st.ports_left == 1900 - 1);
	assert_true(dest_st(occ, k2, 4 * SEC).ports_left == 1900 - 1 - 1);
	assert_int_equal(proc_st(occ, 401, 4 * SEC).held, 2);

	/* bind(127.0.0.1:5555), outside the range, then connect(): no port of the range */
	r = bound_ev(5 * SEC, 402, 0x30, 0, 5555, 5000);
	r.ev.flags &= (uint16_t)~EPH_F_EPHEMERAL;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 5 * SEC).held, 1);
	eph_occ__free(occ);
}

/* A UDP or TCP event of a bind scope in NS1 (local address addr, no destination). */
static struct eph_rec scope_ev(uint8_t type, uint8_t op, uint8_t proto, uint64_t ts, uint32_t pid,
			       uint64_t sock_id, uint16_t sport, int err, const char *addr)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.ts_ns = ts;
	r.ev.type = type;
	r.ev.op = op;
	r.ev.proto = proto;
	r.ev.family = AF_INET;
	r.ev.netns = NS1;
	r.ev.pid = pid;
	r.ev.tid = pid;
	r.ev.sock_id = sock_id;
	r.ev.sport = sport;
	r.ev.err = err;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL | (op == EPH_OP_BIND ? EPH_F_REQ : 0);
	addr4(r.ev.saddr, addr);
	snprintf(r.ev.comm, sizeof(r.ev.comm), "proc%u", pid);
	return r;
}

static void count_held(uint32_t pid, uint32_t held, void *ctx)
{
	uint32_t *v = ctx;

	if (pid < 4)
		v[pid] = held;
}

/*
 * Bind scopes count the failures of the kernel's own port choice there, cumulatively (a
 * counter): bind() to port 0 and listen() (EADDRINUSE), UDP implicit binds (EAGAIN); not a
 * fixed port's conflict. The rows carry them with the scope's gauges; a scope with nothing held
 * and nothing new for a window goes, and its counts with it.
 */
static void test_scope_failures(void **state)
{
	struct eph_occ_scope_key udp = skey4(NS1, IPPROTO_UDP, "0.0.0.0");
	struct eph_occ_scope_key tcp = skey4(NS1, IPPROTO_TCP, "0.0.0.0");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_rows rows;
	struct eph_occ_stats st;
	struct eph_rec r;
	uint32_t held[4] = { 0 };
	unsigned int i;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__start(occ, 0);
	feed(occ, scope_ev(EPH_ASSIGN, EPH_OP_SENDMSG, IPPROTO_UDP, SEC, 1, 0x10, 40000, 0,
			   "0.0.0.0"));
	feed(occ, scope_ev(EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_UDP, SEC, 1, 0x11, 40001, 0,
			   "0.0.0.0"));
	feed(occ, tcp_ev(EPH_ASSIGN, SEC, 2, 0x12, 40002, 5000));
	for (i = 0; i < 4; i++)
		feed(occ, scope_ev(EPH_FAIL, EPH_OP_SENDMSG, IPPROTO_UDP, 2 * SEC, 1, 0, 0, EAGAIN,
				   "0.0.0.0"));
	for (i = 0; i < 3; i++)
		feed(occ, scope_ev(EPH_FAIL, EPH_OP_BIND, IPPROTO_UDP, 2 * SEC, 1, 0, 0, EADDRINUSE,
				   "0.0.0.0"));
	for (i = 0; i < 5; i++)
		feed(occ, scope_ev(EPH_FAIL, EPH_OP_BIND, IPPROTO_TCP, 2 * SEC, 3, 0, 0, EADDRINUSE,
				   "0.0.0.0"));
	feed(occ, scope_ev(EPH_FAIL, EPH_OP_LISTEN, IPPROTO_TCP, 2 * SEC, 3, 0, 0, EADDRINUSE,
			   "0.0.0.0"));
	/* bind(0.0.0.0:8080) in use: a conflict, not the scope's exhaustion */
	r = scope_ev(EPH_FAIL, EPH_OP_BIND, IPPROTO_TCP, 2 * SEC, 3, 0, 0, EADDRINUSE, "0.0.0.0");
	r.ev.flags &= (uint16_t)~EPH_F_EPHEMERAL;
	r.ev.req_port = 8080;
	feed(occ, r);
	/* not port choices of a scope: a TCP connect()'s EADDRNOTAVAIL, a UDP EACCES */
	r = tcp_ev(EPH_FAIL, 2 * SEC, 2, 0, 0, 5000);
	r.ev.err = EADDRNOTAVAIL;
	feed(occ, r);
	feed(occ, scope_ev(EPH_FAIL, EPH_OP_BIND, IPPROTO_UDP, 2 * SEC, 1, 0, 0, EACCES,
			   "0.0.0.0"));

	assert_int_equal(eph_occ__scope(occ, &udp, 3 * SEC, &st), 0);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.failures, 7);
	assert_true(st.ports_left == 1900 - 2);
	assert_int_equal(eph_occ__scope(occ, &tcp, 3 * SEC, &st), 0);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.failures, 6);
	assert_int_equal(proc_st(occ, 3, 3 * SEC).failures, 7);

	assert_int_equal(eph_occ__rows(occ, 3 * SEC, &rows), 0);
	assert_int_equal(rows.nscopes, 2);
	/* by utilization, then held: the UDP scope holds two */
	assert_int_equal(rows.scopes[0].key.proto, IPPROTO_UDP);
	assert_int_equal(rows.scopes[0].st.held, 2);
	assert_int_equal(rows.scopes[0].fail_inuse, 3);
	assert_int_equal(rows.scopes[0].fail_again, 4);
	assert_null(rows.scopes[0].ct);
	assert_int_equal(rows.scopes[1].key.proto, IPPROTO_TCP);
	assert_int_equal(rows.scopes[1].fail_inuse, 6);
	assert_int_equal(rows.scopes[1].fail_again, 0);
	assert_int_equal(rows.ndests, 1);
	assert_int_equal(rows.dests[0].st.failures, 1);
	eph_occ_rows__free(&rows);

	/* the ports each process holds, all or by protocol */
	assert_int_equal(eph_occ__held_by_proc(occ, 0, 0, count_held, held), 0);
	assert_int_equal(held[1], 2);
	assert_int_equal(held[2], 1);
	assert_int_equal(held[3], 0);
	memset(held, 0, sizeof(held));
	assert_int_equal(eph_occ__held_by_proc(occ, IPPROTO_TCP, AF_INET, count_held, held), 0);
	assert_int_equal(held[1], 0);
	assert_int_equal(held[2], 1);
	memset(held, 0, sizeof(held));
	assert_int_equal(eph_occ__held_by_proc(occ, 0, AF_INET6, count_held, held), 0);
	assert_int_equal(held[1] + held[2], 0);

	/* counters only grow: a later failure adds to them */
	feed(occ, scope_ev(EPH_FAIL, EPH_OP_BIND, IPPROTO_TCP, 4 * SEC, 3, 0, 0, EADDRINUSE,
			   "0.0.0.0"));
	assert_int_equal(eph_occ__scope(occ, &tcp, 4 * SEC, &st), 0);
	assert_int_equal(st.failures, 7);
	/* nothing held, nothing new for a window: the TCP scope stays all the same (its failure
	 * counters must not restart from 0 while the table has room); the UDP one holds ports */
	eph_occ__prune(occ, 15 * SEC);
	assert_int_equal(eph_occ__scope(occ, &tcp, 15 * SEC, &st), 0);
	assert_int_equal(st.failures, 7);
	assert_int_equal(eph_occ__scope(occ, &udp, 15 * SEC, &st), 0);
	assert_int_equal(st.failures, 7);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_tiny_window),
		cmocka_unit_test(test_range_usable),
		cmocka_unit_test(test_seed_classification),
		cmocka_unit_test(test_seed_needs_range),
		cmocka_unit_test(test_event_lifecycle),
		cmocka_unit_test(test_seed_then_events),
		cmocka_unit_test(test_rate_window),
		cmocka_unit_test(test_forecast_filling),
		cmocka_unit_test(test_forecast_fits),
		cmocka_unit_test(test_forecast_balanced),
		cmocka_unit_test(test_exhausted_now),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_cap_counts_dropped),
		cmocka_unit_test(test_many_holds),
		cmocka_unit_test(test_exited_and_prune),
		cmocka_unit_test(test_json_golden),
		cmocka_unit_test(test_text_fits_80_columns),
		cmocka_unit_test(test_event_keys_meet_snapshot_keys),
		cmocka_unit_test(test_same_tuple_last_wins),
		cmocka_unit_test(test_netns_gone_and_new),
		cmocka_unit_test(test_tw_end_keeps_slab_reuse),
		cmocka_unit_test(test_v4mapped_is_ipv4),
		cmocka_unit_test(test_bind_before_connect),
		cmocka_unit_test(test_tw_reuse),
		cmocka_unit_test(test_bound_unlisted),
		cmocka_unit_test(test_events_before_snapshot),
		cmocka_unit_test(test_socket_range),
		cmocka_unit_test(test_bound_connect_moves_hold),
		cmocka_unit_test(test_bound_connect_unseen_bind),
		cmocka_unit_test(test_scope_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
