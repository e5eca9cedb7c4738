// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the occupancy's reconciliations (eph_occ__reconcile(), user/core/occ_snapshot.c)
 * with what events made, and of events that meet what a snapshot made (occ_events.c): bind()
 * before connect(), kernels whose snapshots do not list bound-only sockets, resync_released per
 * namespace, sockets whose keys changed with no event, UDP autobinds seen by a dump in the
 * middle of their call. The shared helpers are occ_fixture.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "occupancy.h"
#include "occ_fixture.h"
#include "order.h"

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
	r = bind_ev(SEC, 0x10, 40001);
	r.ev.flags |= EPH_F_REQ;
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
	r = bind_ev(SEC, 0x10, 40001);
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
	r = bind_ev(7 * SEC, 0x11, 40003);
	feed(occ, r);
	assert_int_equal(eph_occ__reconcile(occ, NULL, 0, 8 * SEC), 1);
	eph_occ__free(occ);
}

/*
 * Where snapshots cannot list bound-only sockets, a socket bound to 0.0.0.0 that the snapshot
 * does not show is kept, also when another socket shares its port: a listener on [::] with
 * IPV6_V6ONLY (no conflict), which is not what the bound one became. One on 0.0.0.0 that now
 * shows connected from 127.0.0.1 is.
 */
static void test_bound_unlisted_beside_listener(void **state)
{
	struct eph_occ_scope_key sk = skey4(NS1, IPPROTO_TCP, "0.0.0.0");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s[2];
	struct eph_occ_stats st;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__set_bound_listed(occ, false);
	r = bind_ev(SEC, 0x10, 40003);
	addr4(r.ev.saddr, "0.0.0.0");
	feed(occ, r);
	s[0] = tcp4(NS1, TCP_LISTEN, "0.0.0.0", 40003, "0.0.0.0", 0, 401, 1);
	s[0].family = AF_INET6; /* [::]:40003 */
	s[0].v6only = 1;
	assert_int_equal(eph_occ__reconcile(occ, s, 1, 5 * SEC), 0);
	assert_int_equal(eph_occ__scope(occ, &sk, 5 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	/* the bound socket connected: the snapshot shows it from 127.0.0.1, its hold moves */
	s[1] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40003, "127.0.0.1", 5000, 400, 2);
	assert_int_equal(eph_occ__reconcile(occ, s, 2, 6 * SEC), 0);
	assert_int_equal(dest_st(occ, dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000), 0).held, 1);
	assert_int_equal(eph_occ__scope(occ, &sk, 6 * SEC, &st), 0);
	assert_int_equal(st.held, 0);
	eph_occ__free(occ);
}

/* What a reconciliation found gone is counted in all and in its netns's row (top's JSON). */
static void test_resync_released_per_netns(void **state)
{
	struct eph_occ *occ = new_occ(0);
	struct strbuf sb = STRBUF_INIT;
	struct eph_occ_sock s[3];

	(void)state;
	set_test_range(occ, NS1);
	set_test_range(occ, NS2);
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 42, 1);
	s[1] = tcp4(NS2, TCP_ESTABLISHED, "127.0.0.1", 40001, "127.0.0.1", 5000, 43, 2);
	s[2] = tcp4(NS2, TCP_ESTABLISHED, "127.0.0.1", 40002, "127.0.0.1", 5000, 43, 3);
	assert_int_equal(eph_occ__seed(occ, s, 3, 10 * SEC), 0);
	/* NS2's two gone unseen: the next snapshot lacks them */
	assert_int_equal(eph_occ__reconcile(occ, s, 1, 11 * SEC), 2);
	assert_int_equal(eph_occ__reconcile(occ, s, 1, 12 * SEC), 0);
	assert_int_equal(eph_occ__resync_released(occ), 2);
	assert_int_equal(eph_occ__json(occ, &sb, 12 * SEC, 0, 0), 0);
	assert_non_null(strstr(sb.buf, "{\"netns\":4026532001,"));
	assert_non_null(strstr(strstr(sb.buf, "{\"netns\":4026532001,"), "\"resync_released\":0,"));
	assert_non_null(strstr(strstr(sb.buf, "{\"netns\":4026532002,"), "\"resync_released\":2,"));
	assert_non_null(strstr(sb.buf, "\"resyncs\":2,\"resync_released\":2}"));
	sb_free(&sb);
	eph_occ__free(occ);
}

/*
 * A socket's keys change with no port chosen, so with no event, or their event was missed: the
 * next resync moves its hold, found by its cookie, to the keys the kernel shows (and no
 * further one moves it again). A UDP socket autobound by sendmsg() on the wildcard, connected
 * later (udp_v4_rehash(): the source address, the same port); a TCP socket whose bind() event
 * had a cookie (a snapshot had seen it bound only), its connect() event lost.
 */
static void test_keys_change_unseen(void **state)
{
	struct eph_occ_scope_key any = skey4(NS1, IPPROTO_UDP, "0.0.0.0");
	struct eph_occ_scope_key lo = skey4(NS1, IPPROTO_UDP, "127.0.0.1");
	struct eph_occ_scope_key tlo = skey4(NS1, IPPROTO_TCP, "127.0.0.1");
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s[2];
	struct eph_occ_stats st;
	struct eph_rec r;
	int i;

	(void)state;
	set_test_range(occ, NS1);
	s[0] = udp4(NS1, "0.0.0.0", 40010, "0.0.0.0", 0, 400, 55);
	assert_int_equal(eph_occ__seed(occ, s, 1, SEC), 0);
	eph_occ__start(occ, SEC);
	assert_int_equal(eph_occ__scope(occ, &any, SEC, &st), 0);
	assert_int_equal(st.held, 1);
	r = bind_ev(2 * SEC, 0x10, 40011);
	r.ev.cookie = 56;
	feed(occ, r);
	assert_int_equal(eph_occ__scope(occ, &tlo, 2 * SEC, &st), 0);
	assert_int_equal(st.held, 1);

	s[0] = udp4(NS1, "127.0.0.1", 40010, "127.0.0.1", 5300, 400, 55);
	s[1] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40011, "127.0.0.1", 5000, 400, 56);
	for (i = 0; i < 2; i++) {
		assert_int_equal(eph_occ__reconcile(occ, s, 2, (3 + i) * SEC), 0);
		assert_int_equal(eph_occ__scope(occ, &any, (3 + i) * SEC, &st), 0);
		assert_int_equal(st.held, 0);
		assert_int_equal(eph_occ__scope(occ, &lo, (3 + i) * SEC, &st), 0);
		assert_int_equal(st.held, 1);
		assert_int_equal(eph_occ__scope(occ, &tlo, (3 + i) * SEC, &st), 0);
		assert_int_equal(st.held, 0);
		assert_int_equal(dest_st(occ, k, (3 + i) * SEC).held, 1);
		/* still bind()'s port: lost to every destination */
		assert_true(dest_st(occ, k, (3 + i) * SEC).ports_left == 1900 - 1);
	}
	assert_int_equal(eph_occ__resync_released(occ), 0);
	/* released by the cookie they kept */
	r = tcp_ev(EPH_RELEASE, 5 * SEC, 400, 0, 40010, 5300);
	r.ev.proto = IPPROTO_UDP;
	r.ev.cookie = 55;
	feed(occ, r);
	r = tcp_ev(EPH_RELEASE, 5 * SEC, 400, 0x10, 40011, 5000);
	feed(occ, r);
	assert_int_equal(eph_occ__scope(occ, &lo, 5 * SEC, &st), 0);
	assert_int_equal(st.held, 0);
	assert_int_equal(dest_st(occ, k, 5 * SEC).held, 0);
	eph_occ__free(occ);
}

/* A UDP autobind's event (saddr:port; the destination of the send or connect() that caused it,
 * from the system call) at ts. */
static struct eph_rec udp_autobind_ev(uint64_t ts, uint8_t op, uint64_t sock_id, uint16_t port,
				      const char *saddr)
{
	struct eph_rec r = tcp_ev(EPH_ASSIGN, ts, 400, sock_id, port, 5300);

	r.ev.proto = IPPROTO_UDP;
	r.ev.op = op;
	addr4(r.ev.saddr, saddr);
	return r;
}

/*
 * A UDP autobind's event, and snapshots that show its socket: one hold, never released, under
 * the keys the kernel shows. Its event carries the destination of the send or connect() that
 * caused it; the socket shows it only once connected. sendmsg(): never connected, on the
 * wildcard. connect(): its event comes at the call's end, with the source address chosen; a
 * snapshot can see the socket between the autobind and ip4_datagram_connect()'s rehash (the
 * wildcard, no destination), its dump over before the event: the event must find that hold, and
 * move it where the socket is now.
 */
static void test_udp_autobind_meets_snapshot(void **state)
{
	struct eph_occ_scope_key any = skey4(NS1, IPPROTO_UDP, "0.0.0.0");
	struct eph_occ_scope_key lo = skey4(NS1, IPPROTO_UDP, "127.0.0.1");
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_sock s[3];
	struct eph_occ_stats st;
	int i;

	(void)state;
	set_test_range(occ, NS1);
	assert_int_equal(eph_occ__seed(occ, NULL, 0, SEC), 0);
	eph_occ__start(occ, SEC);
	eph_occ__snapshot_end(occ, SEC);
	/* sendmsg(): its event first, then snapshots that show it unconnected */
	feed(occ, udp_autobind_ev(2 * SEC, EPH_OP_SENDMSG, 0x10, 40020, "0.0.0.0"));
	s[0] = udp4(NS1, "0.0.0.0", 40020, "0.0.0.0", 0, 400, 60);
	/* connect(): a snapshot (its dump over at 4 s) saw it before the rehash */
	s[1] = udp4(NS1, "0.0.0.0", 40021, "0.0.0.0", 0, 400, 61);
	assert_int_equal(eph_occ__reconcile(occ, s, 2, 3 * SEC), 0);
	eph_occ__snapshot_end(occ, 4 * SEC);
	feed(occ, udp_autobind_ev(4 * SEC + 1, EPH_OP_CONNECT, 0x11, 40021, "127.0.0.1"));
	assert_int_equal(eph_occ__scope(occ, &any, 4 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	assert_int_equal(eph_occ__scope(occ, &lo, 4 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	/* another after the rehash, its destination not set yet */
	s[1] = udp4(NS1, "127.0.0.1", 40021, "127.0.0.1", 5300, 400, 61);
	s[2] = udp4(NS1, "127.0.0.1", 40022, "0.0.0.0", 0, 400, 62);
	assert_int_equal(eph_occ__reconcile(occ, s, 3, 5 * SEC), 0);
	eph_occ__snapshot_end(occ, 6 * SEC);
	feed(occ, udp_autobind_ev(6 * SEC + 1, EPH_OP_CONNECT, 0x12, 40022, "127.0.0.1"));
	assert_int_equal(eph_occ__scope(occ, &lo, 6 * SEC, &st), 0);
	assert_int_equal(st.held, 2);
	s[2] = udp4(NS1, "127.0.0.1", 40022, "127.0.0.1", 5300, 400, 62);
	for (i = 0; i < 2; i++) {
		assert_int_equal(eph_occ__reconcile(occ, s, 3, (7 + i) * SEC), 0);
		assert_int_equal(eph_occ__scope(occ, &any, (7 + i) * SEC, &st), 0);
		assert_int_equal(st.held, 1);
		assert_int_equal(eph_occ__scope(occ, &lo, (7 + i) * SEC, &st), 0);
		assert_int_equal(st.held, 2);
	}
	assert_int_equal(eph_occ__resync_released(occ), 0);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_before_connect),
		cmocka_unit_test(test_bound_unlisted),
		cmocka_unit_test(test_bound_unlisted_beside_listener),
		cmocka_unit_test(test_resync_released_per_netns),
		cmocka_unit_test(test_keys_change_unseen),
		cmocka_unit_test(test_udp_autobind_meets_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
