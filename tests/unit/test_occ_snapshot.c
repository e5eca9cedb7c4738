// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the occupancy's snapshots (user/core/occ_snapshot.c): which sockets of a kernel
 * snapshot (sock_diag, the port iterator) hold a port and where they count, holds seeded and
 * then adopted by their events, the keys of events and of snapshots meeting, two holds on one
 * 4-tuple, namespaces that go and come, IPv4-mapped sockets, and events older than the first
 * snapshot (the reconciliations with events' holds: test_occ_resync.c). The shared helpers are
 * occ_fixture.c's.
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
	s[n++] = udp4(NS1, "0.0.0.0", 40020, "0.0.0.0", 0, 102, 12);
	s[n++] = udp4(NS1, "0.0.0.0", 40022, "8.8.8.8", 53, 102, 13);
	s[n++] = udp4(NS1, "0.0.0.0", 53, "0.0.0.0", 0, 102, 14);
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

static size_t cookies(struct eph_occ *occ, uint64_t **v, size_t *cap)
{
	size_t n = 99;

	assert_int_equal(eph_occ__seed_cookies(occ, v, &n, cap), 0);
	qsort(*v, n, sizeof(**v), eph_cmp_u64_at);
	return n;
}

/*
 * The cookies the kernel side is to follow: the holds only a snapshot knows, not those whose
 * assignment came as an event (the kernel side follows those by socket). A seeded socket's move
 * into TIME_WAIT (EPH_F_SEEDED, sock_id 0) keeps it there; its release takes it out.
 */
static void test_seed_cookies(void **state)
{
	struct eph_occ_dest_key k = dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000);
	struct eph_occ_sock s[3];
	struct eph_occ *occ = new_occ(0);
	uint64_t *v = NULL;
	size_t cap = 0;
	struct eph_rec r;

	(void)state;
	set_test_range(occ, NS1);
	s[0] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40000, "127.0.0.1", 5000, 300, 55);
	s[1] = tcp4(NS1, TCP_TIME_WAIT, "127.0.0.1", 40002, "127.0.0.1", 5000, 0, 56);
	s[2] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 40004, "127.0.0.1", 5000, 300, 0);
	assert_int_equal(eph_occ__seed(occ, s, 3, 100 * SEC), 0);
	eph_occ__start(occ, 100 * SEC);
	/* a connection made since: its event says who took the port */
	r = tcp_ev(EPH_ASSIGN, 101 * SEC, 300, 0xa000, 40006, 5000);
	r.ev.cookie = 57;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 101 * SEC).held, 4);
	/* no cookie (none made for it): nothing to follow it by */
	assert_int_equal(cookies(occ, &v, &cap), 2);
	assert_int_equal(v[0], 55);
	assert_int_equal(v[1], 56);
	/* the first one moves into TIME_WAIT, as the kernel side sends it */
	r = tcp_ev(EPH_TIME_WAIT, 102 * SEC, 0, 0, 40000, 5000);
	r.ev.cookie = 55;
	r.ev.flags = EPH_F_SEEDED | EPH_F_DEST | EPH_F_SADDR;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 102 * SEC).time_wait, 2);
	assert_int_equal(cookies(occ, &v, &cap), 2);
	/* its end, and the other TIME_WAIT's */
	r.ev.type = EPH_RELEASE;
	r.ev.flags |= EPH_F_TW;
	feed(occ, r);
	r.ev.cookie = 56;
	r.ev.sport = 40002;
	feed(occ, r);
	assert_int_equal(dest_st(occ, k, 103 * SEC).held, 2);
	assert_int_equal(dest_st(occ, k, 103 * SEC).time_wait, 0);
	assert_int_equal(cookies(occ, &v, &cap), 0);
	free(v);
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

/* bind(127.0.0.1:0) of pid 400's socket sock_id at ts: port chosen. */
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
	s[1] = udp4(NS1, "127.0.0.1", 40003, "127.0.0.1", 53, 400, 2);
	assert_int_equal(eph_occ__seed(occ, s, 2, 10 * SEC), 0);
	eph_occ__snapshot_end(occ, 10 * SEC + SEC / 10);
	eph_occ__start(occ, 10 * SEC);
	r = bind_ev(9 * SEC, 0x10, 40001);
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
	r = bind_ev(16 * SEC, 0x30, 40005);
	feed(occ, r);
	assert_int_equal(eph_occ__scope(occ, &tk, 16 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	eph_occ__free(occ);
}

/* An IPv6 TCP socket of NS1 (addresses as inet_pton() reads them: "::ffff:127.0.0.1" too). */
static struct eph_occ_sock tcp6(uint8_t state, const char *src, uint16_t sport, const char *dst,
				uint16_t dport, bool v6only, uint64_t cookie)
{
	struct eph_occ_sock s = tcp4(NS1, state, "0.0.0.0", sport, "0.0.0.0", dport, 0, cookie);

	s.family = AF_INET6;
	addr6(s.saddr, src);
	addr6(s.daddr, dst);
	s.v6only = v6only;
	return s;
}

/*
 * A socket on a listener's port is the accepted side only on an address the listener accepts
 * on; a client that bind() put on that port from another address holds it for its destination.
 */
static void test_seed_accepted(void **state)
{
	struct eph_occ_sock s[12];
	struct eph_occ *occ = new_occ(0);
	struct eph_occ_dest_key dk;
	struct eph_occ_stats st;
	size_t n = 0;

	(void)state;
	set_test_range(occ, NS1);
	/* 41700: a listener on 127.0.0.1, one of its accepted sockets, a client from 127.0.0.2 */
	s[n++] = tcp4(NS1, TCP_LISTEN, "127.0.0.1", 41700, "0.0.0.0", 0, 7, 1);
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 41700, "127.0.0.9", 33333, 7, 2);
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.2", 41700, "127.0.0.1", 5000, 100, 3);
	/* 41800: [::] with IPV6_V6ONLY accepts IPv6 only: an IPv4 client beside it is one */
	s[n++] = tcp6(TCP_LISTEN, "::", 41800, "::", 0, true, 4);
	s[n++] = tcp6(TCP_ESTABLISHED, "::1", 41800, "::1", 33334, false, 5);
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 41800, "127.0.0.1", 5000, 100, 6);
	/* 41900: [::] without it accepts IPv4 too, mapped: nothing here is a client */
	s[n++] = tcp6(TCP_LISTEN, "::", 41900, "::", 0, false, 7);
	s[n++] = tcp6(TCP_ESTABLISHED, "::ffff:127.0.0.1", 41900, "::ffff:127.0.0.9", 33335, false,
		      8);
	s[n++] = tcp6(TCP_TIME_WAIT, "::1", 41900, "::1", 33336, false, 9);
	/* 41950: a listener on ::1 accepts nothing on 127.0.0.1 */
	s[n++] = tcp6(TCP_LISTEN, "::1", 41950, "::", 0, true, 10);
	s[n++] = tcp4(NS1, TCP_ESTABLISHED, "127.0.0.1", 41950, "127.0.0.1", 5000, 100, 11);

	assert_int_equal(eph_occ__seed(occ, s, n, 100 * SEC), 0);
	assert_int_equal(dest_st(occ, dkey4(NS1, "127.0.0.2", "127.0.0.1", 5000), 0).held, 1);
	assert_int_equal(dest_st(occ, dkey4(NS1, "127.0.0.1", "127.0.0.1", 5000), 0).held, 2);
	dk = dkey4(NS1, "127.0.0.1", "127.0.0.9", 33333); /* the accepted socket's: none */
	assert_int_equal(eph_occ__dest(occ, &dk, 0, &st), -ENOENT);
	assert_int_equal(proc_st(occ, 100, 0).held, 3);
	assert_int_equal(proc_st(occ, 7, 0).held, 1); /* its listener, not its accepted socket */
	assert_int_equal(proc_st(occ, 0, 0).held, 3); /* the IPv6 listeners */
	assert_int_equal(proc_st(occ, 0, 0).time_wait, 0);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_classification),
		cmocka_unit_test(test_seed_accepted),
		cmocka_unit_test(test_seed_needs_range),
		cmocka_unit_test(test_seed_then_events),
		cmocka_unit_test(test_seed_cookies),
		cmocka_unit_test(test_event_keys_meet_snapshot_keys),
		cmocka_unit_test(test_same_tuple_last_wins),
		cmocka_unit_test(test_netns_gone_and_new),
		cmocka_unit_test(test_v4mapped_is_ipv4),
		cmocka_unit_test(test_events_before_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
