// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/core/portsearch.c: the model of the kernel's port search. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "portsearch.h"

#define MS 1000000ull

static uint8_t lo4[16], lo4b[16], any4[16], any6[16], lo6[16], ext4[16];

static int setup(void **state)
{
	(void)state;
	inet_pton(AF_INET, "127.0.0.1", lo4);
	inet_pton(AF_INET, "127.0.0.2", lo4b);
	inet_pton(AF_INET, "10.0.0.1", ext4);
	inet_pton(AF_INET6, "::1", lo6);
	return 0;
}

static struct eph_ps_sock tcp(const uint8_t *saddr, uint16_t sport, uint32_t dest, uint8_t flags)
{
	return (struct eph_ps_sock){ .proto = IPPROTO_TCP,
				     .family = AF_INET,
				     .flags = flags,
				     .sport = sport,
				     .dest = dest,
				     .saddr = saddr };
}

static struct eph_ps_sock udp(uint8_t family, const uint8_t *saddr, uint16_t sport)
{
	return (struct eph_ps_sock){ .proto = IPPROTO_UDP,
				     .family = family,
				     .sport = sport,
				     .saddr = saddr };
}

/* Every port of [low, high] counts, an odd-sized range too (each call leaves out one end, not
 * always the same); reserved ports are skipped. */
static void test_range_and_reserved(void **state)
{
	uint8_t rbits[2] = { 0x05, 0 }; /* 40000 and 40002 reserved */
	struct eph_ps_range odd = { 40000, 40014, NULL }, res = { 40000, 40015, rbits };
	struct eph_ps_query d[1] = { { .proto = IPPROTO_TCP, .family = AF_INET } };
	struct eph_ps_netns out;

	(void)state;
	assert_int_equal(eph_ps_compute(&odd, NULL, 0, d, 1, NULL, 0, &out), 0);
	assert_int_equal(out.tcp_usable, 15);
	assert_int_equal(out.udp_usable, 15);
	assert_int_equal(d[0].left, 15);
	assert_int_equal(out.udp_autobind_left, 15);
	assert_int_equal(eph_ps_compute(&res, NULL, 0, d, 1, NULL, 0, &out), 0);
	assert_int_equal(out.tcp_usable, 14);
	assert_int_equal(d[0].left, 14);
}

/* A port whose bucket bind() made is lost to every destination; a 4-tuple only to its own. */
static void test_connect_left(void **state)
{
	struct eph_ps_range r = { 40000, 40015, NULL };
	struct eph_ps_sock s[] = {
		tcp(lo4, 40000, 1, 0),			  /* dest 1 */
		tcp(lo4, 40001, 1, 0),			  /* dest 1 */
		tcp(lo4, 40000, 2, 0),			  /* dest 2 shares 40000 */
		tcp(lo4, 40002, 0, EPH_PS_TCP_BIND_MADE), /* bind(0) holder */
		tcp(lo4, 40003, 2, EPH_PS_TCP_BIND_MADE), /* bind() before connect() */
		tcp(lo4, 40004, 1, EPH_PS_TW),		  /* TIME_WAIT, not reusable */
		tcp(lo4, 40005, 1, EPH_PS_TW | EPH_PS_TW_REUSABLE),
		tcp(lo4, 40016, 1, 0), /* outside the range: not scanned */
	};
	struct eph_ps_query d[2] = { { .proto = IPPROTO_TCP, .family = AF_INET },
				     { .proto = IPPROTO_TCP, .family = AF_INET } };
	struct eph_ps_netns out;

	(void)state;
	assert_int_equal(eph_ps_compute(&r, s, 8, d, 2, NULL, 0, &out), 0);
	assert_int_equal(out.tcp_bound, 2);
	assert_int_equal(out.tcp_new_left, 16 - 2); /* a destination with no connection */
	assert_int_equal(out.tcp_taken, 6); /* 40000-40005, each once */
	assert_int_equal(d[0].taken, 3);    /* 40000, 40001, 40004 */
	assert_int_equal(d[0].left, 16 - 2 - 3);
	assert_int_equal(d[1].taken, 1); /* 40000; its 40003 is bind()'s, counted there */
	assert_int_equal(d[1].left, 16 - 2 - 1);
}

/* bind(addr, 0) cannot share a port with any socket on a conflicting address. */
static void test_bind_left(void **state)
{
	struct eph_ps_range r = { 40000, 40015, NULL };
	struct eph_ps_sock s[] = {
		tcp(lo4, 40000, 1, 0),
		tcp(lo4, 40001, 1, EPH_PS_TW),
		tcp(any4, 40002, 0, EPH_PS_TCP_BIND_MADE), /* a wildcard listener */
		tcp(lo4b, 40003, 0, EPH_PS_TCP_BIND_MADE),
		udp(AF_INET, lo4, 40004), /* UDP: another table */
	};
	struct eph_ps_query q[3] = {
		{ .proto = IPPROTO_TCP, .family = AF_INET, .addr = lo4 },
		{ .proto = IPPROTO_TCP, .family = AF_INET, .addr = lo4b },
		{ .proto = IPPROTO_TCP, .family = AF_INET, .addr = any4 },
	};
	struct eph_ps_netns out;

	(void)state;
	assert_int_equal(eph_ps_compute(&r, s, 5, NULL, 0, q, 3, &out), 0);
	assert_int_equal(q[0].left, 16 - 3); /* 40000, 40001 (TIME_WAIT too), 40002 */
	assert_int_equal(q[1].left, 16 - 2); /* 40002, 40003 */
	assert_int_equal(q[2].left, 16 - 4); /* every TCP port */
}

/* UDP: all of the range, the wildcard autobind conflicts with every socket but v6only ones. */
static void test_udp(void **state)
{
	struct eph_ps_range r = { 40000, 40014, NULL };
	struct eph_ps_sock s[] = {
		udp(AF_INET, lo4, 40000),   udp(AF_INET, any4, 40001), udp(AF_INET6, lo6, 40002),
		udp(AF_INET6, any6, 40003), udp(AF_INET6, lo6, 40004),
	};
	struct eph_ps_query q[2] = { { .proto = IPPROTO_UDP, .family = AF_INET, .addr = lo4b },
				     { .proto = IPPROTO_UDP, .family = AF_INET6, .addr = lo6 } };
	struct eph_ps_netns out;

	(void)state;
	s[4].v6only = 1;
	assert_int_equal(eph_ps_compute(&r, s, 5, NULL, 0, q, 2, &out), 0);
	assert_int_equal(out.udp_usable, 15);
	assert_int_equal(out.udp_taken, 5);
	assert_int_equal(out.udp_autobind_left, 15 - 4); /* all but the v6only one */
	assert_int_equal(q[0].left, 15 - 2);		 /* 0.0.0.0 and :: */
	assert_int_equal(q[1].left, 15 - 3); /* ::1 twice and ::; an IPv4 0.0.0.0 is not :: */
}

/* inet_rcv_saddr_equal() with wildcards, as bind() sees it. */
static void test_addr_conflict(void **state)
{
	(void)state;
	assert_true(eph_ps_addr_conflict(AF_INET, lo4, false, AF_INET, lo4, false));
	assert_false(eph_ps_addr_conflict(AF_INET, lo4, false, AF_INET, lo4b, false));
	assert_true(eph_ps_addr_conflict(AF_INET, any4, false, AF_INET, lo4b, false));
	assert_true(eph_ps_addr_conflict(AF_INET, lo4, false, AF_INET, any4, false));
	/* IPv4 against IPv6 */
	assert_true(eph_ps_addr_conflict(AF_INET, lo4, false, AF_INET6, any6, false));
	assert_false(eph_ps_addr_conflict(AF_INET, lo4, false, AF_INET6, any6, true));
	assert_true(eph_ps_addr_conflict(AF_INET, any4, false, AF_INET6, lo6, false));
	assert_false(eph_ps_addr_conflict(AF_INET, lo4, false, AF_INET6, lo6, false));
	/* IPv6 against IPv4 */
	assert_true(eph_ps_addr_conflict(AF_INET6, any6, false, AF_INET, lo4, false));
	assert_false(eph_ps_addr_conflict(AF_INET6, any6, true, AF_INET, lo4, false));
	assert_false(eph_ps_addr_conflict(AF_INET6, lo6, false, AF_INET, any4, false));
	/* IPv6 */
	assert_true(eph_ps_addr_conflict(AF_INET6, lo6, false, AF_INET6, lo6, false));
	assert_true(eph_ps_addr_conflict(AF_INET6, any6, true, AF_INET6, lo6, true));
}

/* inet_sk_get_local_port_range(): the socket's ends that lie inside the netns range win. */
static void test_sock_range_effective(void **state)
{
	uint16_t lo, hi;

	(void)state;
	assert_true(eph_ps_sock_range(40000, 40063, 40010, 40029, &lo, &hi));
	assert_int_equal(lo, 40010);
	assert_int_equal(hi, 40029);
	assert_false(eph_ps_sock_range(40000, 40063, 0, 0, &lo, &hi)); /* not set */
	assert_int_equal(lo, 40000);
	assert_int_equal(hi, 40063);
	assert_false(eph_ps_sock_range(40000, 40063, 40000, 40063, &lo, &hi)); /* the same */
	assert_false(eph_ps_sock_range(40000, 40063, 30000, 50000, &lo, &hi)); /* wider */
	assert_int_equal(lo, 40000);
	assert_int_equal(hi, 40063);
	assert_true(eph_ps_sock_range(40000, 40063, 40050, 0, &lo, &hi)); /* low end only */
	assert_int_equal(lo, 40050);
	assert_int_equal(hi, 40063);
	assert_true(eph_ps_sock_range(40000, 40063, 0, 40020, &lo, &hi)); /* high end only */
	assert_int_equal(lo, 40000);
	assert_int_equal(hi, 40020);
	assert_true(eph_ps_sock_range(40000, 40063, 30000, 40020, &lo, &hi)); /* low outside */
	assert_int_equal(lo, 40000);
	assert_int_equal(hi, 40020);
	assert_true(eph_ps_sock_range(40000, 40063, 40040, 50000, &lo, &hi)); /* high outside */
	assert_int_equal(lo, 40040);
	assert_int_equal(hi, 40063);
	/* the high end is tested against the low end already replaced (0 or a bad pair) */
	assert_true(eph_ps_sock_range(40000, 40063, 40040, 40020, &lo, &hi));
	assert_int_equal(lo, 40040);
	assert_int_equal(hi, 40063);
}

/*
 * A destination's socket range 40010-40029 in 40000-40063: 40012 reserved (40040 too, outside
 * it); the ports whose bucket bind() made are lost, its own 4-tuples too unless a TIME_WAIT
 * connect() may reuse; other destinations' 4-tuples and its ports outside the range do not
 * count.
 */
static void test_sock_range_left(void **state)
{
	uint8_t rbits[8] = { [1] = 0x10, [5] = 0x01 }; /* 40012, 40040 */
	struct eph_ps_range r = { 40000, 40063, rbits };
	struct eph_ps_sock s[] = {
		tcp(lo4, 40010, 1, 0),
		tcp(lo4, 40011, 1, 0),
		tcp(lo4, 40013, 1, EPH_PS_TW),			    /* not reusable: lost */
		tcp(lo4, 40014, 1, EPH_PS_TW | EPH_PS_TW_REUSABLE), /* reusable: not lost */
		tcp(lo4, 40015, 0, EPH_PS_TCP_BIND_MADE),	    /* bind(0) holder */
		tcp(lo4, 40016, 1, EPH_PS_TCP_BIND_MADE),	    /* bind() then connect() */
		tcp(lo4, 40017, 2, 0), /* another destination's 4-tuple */
		tcp(lo4, 40030, 1, 0), /* outside the socket range */
		tcp(lo4, 40050, 0, EPH_PS_TCP_BIND_MADE),
	};
	struct eph_ps_query d[2] = {
		{ .proto = IPPROTO_TCP,
		  .family = AF_INET,
		  .range_low = 40010,
		  .range_high = 40029 },
		{ .proto = IPPROTO_TCP, .family = AF_INET },
	};
	struct eph_ps_netns out;

	(void)state;
	assert_int_equal(eph_ps_compute(&r, s, 9, d, 2, NULL, 0, &out), 0);
	assert_int_equal(out.tcp_usable, 62);
	assert_int_equal(out.tcp_bound, 3);
	assert_int_equal(out.tcp_new_left, 62 - 3);
	assert_int_equal(d[0].range_usable, 19);
	assert_int_equal(d[0].range_taken, 3); /* 40010, 40011, 40013 */
	assert_int_equal(d[0].range_left, 19 - 2 - 3);
	assert_int_equal(d[0].taken, 4); /* and 40030 */
	assert_int_equal(d[0].left, 62 - 3 - 4);
	/* no socket range: nothing said of one */
	assert_int_equal(d[1].range_usable, 0);
	assert_int_equal(d[1].range_left, 0);
	assert_int_equal(d[1].left, 62 - 3 - 1);
	/* now a reusable TIME_WAIT no more: one port less */
	s[3].flags = EPH_PS_TW;
	assert_int_equal(eph_ps_compute(&r, s, 9, d, 2, NULL, 0, &out), 0);
	assert_int_equal(d[0].range_left, 19 - 2 - 4);
	/* the whole socket range taken */
	d[0].range_low = 40013;
	d[0].range_high = 40016;
	assert_int_equal(eph_ps_compute(&r, s, 9, d, 2, NULL, 0, &out), 0);
	assert_int_equal(d[0].range_usable, 4);
	assert_int_equal(d[0].range_left, 0);
}

/* tcp_twsk_unique(): mode, loopback, timestamps and age. */
static void test_tw_reusable(void **state)
{
	struct eph_occ_tw_opts o = { .tw_reuse = 2, .timestamps = 1 };

	(void)state;
	assert_true(eph_ps_tw_reusable(&o, AF_INET, lo4, lo4, 1001 * MS));
	assert_false(eph_ps_tw_reusable(&o, AF_INET, lo4, lo4, 1000 * MS));
	assert_false(eph_ps_tw_reusable(&o, AF_INET, ext4, ext4, 5000 * MS)); /* not loopback */
	assert_true(eph_ps_tw_reusable(&o, AF_INET, ext4, lo4, 5000 * MS));
	assert_true(eph_ps_tw_reusable(&o, AF_INET6, lo6, lo6, 5000 * MS));
	o.tw_reuse = 1;
	assert_true(eph_ps_tw_reusable(&o, AF_INET, ext4, ext4, 5000 * MS));
	o.reuse_delay_ms = 3000; /* 6.13+: tcp_tw_reuse_delay */
	assert_false(eph_ps_tw_reusable(&o, AF_INET, ext4, ext4, 2999 * MS));
	assert_true(eph_ps_tw_reusable(&o, AF_INET, ext4, ext4, 3001 * MS));
	o.timestamps = 0;
	assert_false(eph_ps_tw_reusable(&o, AF_INET, ext4, ext4, 5000 * MS));
	o.timestamps = 1;
	o.tw_reuse = 0;
	assert_false(eph_ps_tw_reusable(&o, AF_INET, lo4, lo4, 5000 * MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_and_reserved),
		cmocka_unit_test(test_connect_left),
		cmocka_unit_test(test_bind_left),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_addr_conflict),
		cmocka_unit_test(test_tw_reusable),
		cmocka_unit_test(test_sock_range_effective),
		cmocka_unit_test(test_sock_range_left),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
