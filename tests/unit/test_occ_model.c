// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the occupancy's numbers (user/core/occ_view.c, occ_model.c): the assign rate
 * over its window, the exhaustion forecast (filling, fitting, balanced, exhausted now), the
 * per-socket IP_LOCAL_PORT_RANGE of a destination, and TIME_WAIT 4-tuples that tcp_tw_reuse
 * gives back. The shared helpers are occ_fixture.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <netinet/tcp.h>
#include <string.h>

#include "occupancy.h"
#include "occ_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_window),   cmocka_unit_test(test_forecast_filling),
		cmocka_unit_test(test_forecast_fits), cmocka_unit_test(test_forecast_balanced),
		cmocka_unit_test(test_exhausted_now), cmocka_unit_test(test_tw_reuse),
		cmocka_unit_test(test_socket_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
