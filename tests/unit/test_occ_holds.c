// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the occupancy's holds from events (user/core/occupancy.c, occ_holds.c,
 * occ_events.c, occ_procs.c): a port's life from its assignment through TIME_WAIT to its release,
 * failures, the memory cap and what it drops, tables that grow, processes that exit and are
 * pruned, a TIME_WAIT's end beside the socket that took its address, connect() on a socket
 * bind() gave its port (EPH_CONNECT), and the bind scopes' failures. The shared helpers are
 * occ_fixture.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "occupancy.h"
#include "occ_fixture.h"

static void test_new_rejects_tiny_window(void **state)
{
	struct eph_occ_opts o = { .window_ms = 9 };

	(void)state;
	assert_null(eph_occ__new(&o));
	eph_occ__free(NULL);
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
	feed(occ,
	     scope_ev(EPH_ASSIGN, EPH_OP_SENDMSG, IPPROTO_UDP, SEC, 1, 0x10, 40000, 0, "0.0.0.0"));
	feed(occ,
	     scope_ev(EPH_ASSIGN, EPH_OP_CONNECT, IPPROTO_UDP, SEC, 1, 0x11, 40001, 0, "0.0.0.0"));
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
	feed(occ,
	     scope_ev(EPH_FAIL, EPH_OP_BIND, IPPROTO_UDP, 2 * SEC, 1, 0, 0, EACCES, "0.0.0.0"));

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
	feed(occ,
	     scope_ev(EPH_FAIL, EPH_OP_BIND, IPPROTO_TCP, 4 * SEC, 3, 0, 0, EADDRINUSE, "0.0.0.0"));
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

/*
 * A UDP socket with its port that connect() moves to another local address (EPH_CONNECT, UDP):
 * its hold goes to that scope, and back to the wildcard's at a connect(AF_UNSPEC); the other
 * addresses' bind(addr, 0) get its port again meanwhile (udp_lib_lport_inuse(): only the same
 * address or a wildcard conflicts). A move of a socket not tracked changes nothing.
 */
static struct eph_rec udp_moved_ev(uint64_t ts, uint64_t sock_id, uint16_t port, const char *addr,
				   uint16_t dport)
{
	struct eph_rec r = scope_ev(EPH_CONNECT, EPH_OP_CONNECT, IPPROTO_UDP, ts, 1, sock_id, port,
				    0, addr);

	r.ev.flags |= EPH_F_BOUND;
	if (dport) {
		r.ev.flags |= EPH_F_DEST;
		addr4(r.ev.daddr, "127.0.0.1");
		r.ev.dport = dport;
	}
	return r;
}

/* The scope key k holds held ports at now, and bind(addr, 0) has left more. */
static void scope_is(struct eph_occ *occ, struct eph_occ_scope_key k, uint64_t now, uint64_t held,
		     int left)
{
	struct eph_occ_stats st;

	assert_int_equal(eph_occ__scope(occ, &k, now, &st), 0);
	assert_int_equal(st.held, held);
	assert_true(st.ports_left == left);
}

static void test_udp_moved(void **state)
{
	struct eph_occ_scope_key any = skey4(NS1, IPPROTO_UDP, "0.0.0.0");
	struct eph_occ_scope_key lo = skey4(NS1, IPPROTO_UDP, "127.0.0.1");
	struct eph_occ_scope_key lo2 = skey4(NS1, IPPROTO_UDP, "127.0.0.2");
	struct eph_occ *occ = new_occ(0);

	(void)state;
	set_test_range(occ, NS1);
	eph_occ__start(occ, 0);
	feed(occ, scope_ev(EPH_ASSIGN, EPH_OP_BIND, IPPROTO_UDP, SEC, 1, 0x40, 40010, 0,
			   "0.0.0.0"));
	feed(occ, scope_ev(EPH_ASSIGN, EPH_OP_BIND, IPPROTO_UDP, SEC, 1, 0x41, 40020, 0,
			   "127.0.0.2"));
	scope_is(occ, lo2, 2 * SEC, 1, 1900 - 2);

	/* connect(127.0.0.1:53): the socket is on 127.0.0.1 now */
	feed(occ, udp_moved_ev(2 * SEC, 0x40, 40010, "127.0.0.1", 53));
	scope_is(occ, any, 3 * SEC, 0, 1900 - 2); /* a wildcard conflicts with both */
	scope_is(occ, lo, 3 * SEC, 1, 1900 - 1);
	scope_is(occ, lo2, 3 * SEC, 1, 1900 - 1);

	/* connect(AF_UNSPEC) of a socket bind() gave its port: back on the wildcard */
	feed(occ, udp_moved_ev(4 * SEC, 0x40, 40010, "0.0.0.0", 0));
	scope_is(occ, lo, 5 * SEC, 0, 1900 - 1);
	scope_is(occ, any, 5 * SEC, 1, 1900 - 2);
	scope_is(occ, lo2, 5 * SEC, 1, 1900 - 2);

	/* a socket never seen: nothing moves, nothing is added */
	feed(occ, udp_moved_ev(6 * SEC, 0x99, 40030, "127.0.0.1", 0));
	scope_is(occ, lo, 7 * SEC, 0, 1900 - 1);
	scope_is(occ, lo2, 7 * SEC, 1, 1900 - 2);
	eph_occ__free(occ);
}

/* A TCP bind([::]:port) event in NS1, with IPV6_V6ONLY or without. */
static struct eph_rec bind6_ev(uint64_t sock_id, uint16_t port, bool v6only)
{
	struct eph_rec r =
		scope_ev(EPH_ASSIGN, EPH_OP_BIND, IPPROTO_TCP, SEC, 1, sock_id, port, 0, "0.0.0.0");

	r.ev.family = AF_INET6;
	addr6(r.ev.saddr, "::");
	r.ev.req_port = port;
	r.ev.flags &= ~EPH_F_EPHEMERAL;
	if (v6only)
		r.ev.flags |= EPH_F_V6ONLY;
	return r;
}

/*
 * EPH_F_V6ONLY: a socket on [::] with IPV6_V6ONLY takes its port on no IPv4 address
 * (inet_rcv_saddr_equal()), so bind(127.0.0.1:0) may still get it; one without takes it on
 * every address. Known from the event, not only from the next sock_diag snapshot.
 */
static void test_v6only_events(void **state)
{
	struct eph_occ_scope_key lo = skey4(NS1, IPPROTO_TCP, "127.0.0.1"), any6;
	struct eph_occ *occ = new_occ(4096);
	struct eph_occ_stats st;

	(void)state;
	set_test_range(occ, NS1);
	feed(occ, bind6_ev(0x60, 40000, true));
	feed(occ, bind6_ev(0x61, 40001, false));
	feed(occ,
	     scope_ev(EPH_ASSIGN, EPH_OP_BIND, IPPROTO_TCP, SEC, 1, 0x62, 40002, 0, "127.0.0.1"));
	/* 127.0.0.1 loses its own port and the dual-stack socket's, not the IPv6-only one's */
	assert_int_equal(eph_occ__scope(occ, &lo, 2 * SEC, &st), 0);
	assert_int_equal(st.held, 1);
	assert_true(st.ports_left == 1900 - 2);
	/* [::] (a new socket without IPV6_V6ONLY) loses all three */
	any6 = lo;
	any6.family = AF_INET6;
	memset(any6.addr, 0, sizeof(any6.addr));
	assert_int_equal(eph_occ__scope(occ, &any6, 2 * SEC, &st), 0);
	assert_int_equal(st.held, 2);
	assert_true(st.ports_left == 1900 - 3);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_tiny_window),
		cmocka_unit_test(test_event_lifecycle),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_cap_counts_dropped),
		cmocka_unit_test(test_many_holds),
		cmocka_unit_test(test_exited_and_prune),
		cmocka_unit_test(test_tw_end_keeps_slab_reuse),
		cmocka_unit_test(test_bound_connect_moves_hold),
		cmocka_unit_test(test_bound_connect_unseen_bind),
		cmocka_unit_test(test_scope_failures),
		cmocka_unit_test(test_udp_moved),
		cmocka_unit_test(test_v6only_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
