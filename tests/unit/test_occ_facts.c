// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/occ_facts.c: the findings the occupancy core gives from its holds and the
 * events of its window (eph_occ__findings), end to end from events and snapshots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "findings.h"
#include "occupancy.h"

#define NS1 4026532001u
#define SEC 1000000000ull

static struct eph_occ *new_occ(uint16_t low, uint16_t high)
{
	struct eph_occ_opts o = { .window_ms = 10000 };
	struct eph_occ *occ = eph_occ__new(&o);

	assert_non_null(occ);
	assert_int_equal(eph_occ__set_range(occ, NS1, low, high, NULL), 0);
	return occ;
}

/* A TCP event of pid towards 127.0.0.1:dport (or a bind() of 127.0.0.1:req). */
static struct eph_rec ev(uint8_t type, uint8_t op, uint64_t ts, uint32_t pid, uint64_t sock_id,
			 uint16_t sport, uint16_t dport)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.ts_ns = ts;
	r.ev.type = type;
	r.ev.op = op;
	r.ev.proto = IPPROTO_TCP;
	r.ev.family = AF_INET;
	r.ev.netns = NS1;
	r.ev.pid = pid;
	r.ev.tid = pid;
	r.ev.sock_id = sock_id;
	r.ev.sport = sport;
	r.ev.dport = dport;
	r.ev.flags = EPH_F_SADDR;
	if (dport)
		r.ev.flags |= EPH_F_DEST;
	inet_pton(AF_INET, "127.0.0.1", r.ev.saddr);
	inet_pton(AF_INET, "127.0.0.1", r.ev.daddr);
	snprintf(r.ev.comm, sizeof(r.ev.comm), "proc%u", pid);
	return r;
}

static void feed(struct eph_occ *occ, struct eph_rec r)
{
	assert_int_equal(eph_occ__event(occ, &r), 0);
}

static const char *kinds(const struct eph_findings *fs)
{
	static char buf[512];
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 0; i < fs->n && off < sizeof(buf); i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s%s/%s/%u", i ? " " : "",
				eph_find_kind_name(fs->f[i].kind),
				eph_find_severity_name(fs->f[i].severity), fs->f[i].who.pid);
	return buf;
}

/* bind(0) then connect() (the bound_connect event) by pid 10; IP_BIND_ADDRESS_NO_PORT by
 * pid 11 (a plain connect() assignment): only pid 10 is found. */
static void test_bind_before_connect(void **state)
{
	struct eph_occ *occ = new_occ(40000, 40999);
	struct eph_findings fs = { 0 };
	struct eph_rec r;
	unsigned int i;

	(void)state;
	eph_occ__start(occ, 0);
	for (i = 0; i < 5; i++) {
		r = ev(EPH_ASSIGN, EPH_OP_BIND, SEC + i, 10, 0x100 + i, 40100 + i, 0);
		r.ev.flags |= EPH_F_EPHEMERAL | EPH_F_REQ;
		feed(occ, r);
		r = ev(EPH_CONNECT, EPH_OP_CONNECT, 2 * SEC + i, 10, 0x100 + i, 40100 + i, 5000);
		r.ev.flags |= EPH_F_BOUND | EPH_F_EPHEMERAL;
		feed(occ, r);
		r = ev(EPH_ASSIGN, EPH_OP_CONNECT, 2 * SEC + i, 11, 0x200 + i, 40200 + i, 5000);
		r.ev.flags |= EPH_F_EPHEMERAL | EPH_F_NO_PORT;
		feed(occ, r);
	}
	assert_int_equal(eph_occ__findings(occ, 3 * SEC, &fs), 0);
	assert_string_equal("bind_before_connect/info/10", kinds(&fs));
	assert_string_equal("5 connect()s in 10 s came after bind(0) took the port (of 5 ports it "
			    "took); 5 of 5 connections hold such ports now, 5 of 1000 usable ports "
			    "are bind()'s",
			    fs.f[0].evidence);
	assert_string_equal("proc10", fs.f[0].who.comm);
	/* after the window only the sockets now are evidence */
	assert_int_equal(eph_occ__findings(occ, 30 * SEC, &fs), 0);
	assert_string_equal("5 of 5 connections hold a port bind() took before connect(); 5 of "
			    "1000 usable ports are bind()'s",
			    fs.f[0].evidence);
	eph_findings__free(&fs);
	eph_occ__free(occ);
}

/* Connections closed first by us: TIME_WAIT after 0.5 s of life each. */
static void test_time_wait_churn(void **state)
{
	struct eph_occ *occ = new_occ(40000, 40999);
	struct eph_findings fs = { 0 };
	struct eph_rec r;
	unsigned int i;

	(void)state;
	eph_occ__start(occ, 0);
	for (i = 0; i < 30; i++) {
		r = ev(EPH_ASSIGN, EPH_OP_CONNECT, SEC + i * 1000, 20, 0x300 + i, 40300 + i, 6000);
		r.ev.flags |= EPH_F_EPHEMERAL;
		feed(occ, r);
		r = ev(EPH_TIME_WAIT, EPH_OP_CONNECT, SEC + SEC / 2 + i * 1000, 20, 0x300 + i,
		       40300 + i, 6000);
		r.ev.flags |= EPH_F_OWNER;
		feed(occ, r);
	}
	assert_int_equal(eph_occ__findings(occ, 2 * SEC, &fs), 0);
	assert_string_equal("time_wait_churn/info/20", kinds(&fs));
	assert_true(fs.f[0].has_dest);
	assert_int_equal(fs.f[0].dest.dport, 6000);
	assert_string_equal("30 of the 30 4-tuples taken to 127.0.0.1:6000 are TIME_WAIT after "
			    "0.5 s of life on average; tcp_tw_reuse=2",
			    fs.f[0].evidence);
	eph_findings__free(&fs);
	eph_occ__free(occ);
}

/* bind() of port 8080 failing three times; the port is outside the range. */
static void test_fixed_port(void **state)
{
	struct eph_occ *occ = new_occ(40000, 40999);
	struct eph_findings fs = { 0 };
	struct eph_rec r;
	unsigned int i;

	(void)state;
	eph_occ__start(occ, 0);
	for (i = 0; i < 3; i++) {
		r = ev(EPH_FAIL, EPH_OP_BIND, SEC + i, 30, 0x400 + i, 0, 0);
		r.ev.err = EADDRINUSE;
		r.ev.req_port = 8080;
		r.ev.flags |= EPH_F_REQ;
		feed(occ, r);
		if (i == 1) { /* two are not a pattern */
			assert_int_equal(eph_occ__findings(occ, 2 * SEC, &fs), 0);
			assert_string_equal("", kinds(&fs));
		}
	}
	assert_int_equal(eph_occ__findings(occ, 2 * SEC, &fs), 0);
	assert_string_equal("fixed_port_conflict/critical/30", kinds(&fs));
	assert_int_equal(fs.f[0].port, 8080);
	assert_ptr_equal(eph_findings__explain(&fs, &r.ev), &fs.f[0]);
	/* gone with the window */
	assert_int_equal(eph_occ__findings(occ, 30 * SEC, &fs), 0);
	assert_string_equal("", kinds(&fs));
	eph_findings__free(&fs);
	eph_occ__free(occ);
}

/* A 16-port range filled with connections to one destination, then EADDRNOTAVAIL. */
static void test_single_destination_and_explain(void **state)
{
	struct eph_occ *occ = new_occ(40000, 40015);
	struct eph_findings fs = { 0 };
	struct eph_rec r;
	unsigned int i;

	(void)state;
	eph_occ__start(occ, 0);
	for (i = 0; i < 16; i++) {
		r = ev(EPH_ASSIGN, EPH_OP_CONNECT, SEC + i, 40, 0x500 + i, 40000 + i, 5000);
		r.ev.flags |= EPH_F_EPHEMERAL;
		feed(occ, r);
	}
	r = ev(EPH_FAIL, EPH_OP_CONNECT, 2 * SEC, 40, 0x600, 0, 5000);
	r.ev.err = EADDRNOTAVAIL;
	feed(occ, r);
	assert_int_equal(eph_occ__findings(occ, 2 * SEC, &fs), 0);
	/* a 16-port range: narrow too */
	assert_string_equal("single_destination/critical/40 narrow_range/critical/0", kinds(&fs));
	assert_ptr_equal(eph_findings__explain(&fs, &r.ev), &fs.f[0]);
	/* another destination's failure: only the range accounts for it */
	r.ev.dport = 5001;
	assert_ptr_equal(eph_findings__explain(&fs, &r.ev), &fs.f[1]);
	eph_findings__free(&fs);
	eph_occ__free(occ);
}

/* A snapshot: no events, so no fixed_port_conflict, and no window counts. */
static void test_snapshot_only(void **state)
{
	struct eph_occ *occ = new_occ(40000, 40998);
	struct eph_findings fs = { 0 };

	(void)state;
	assert_int_equal(eph_occ__findings(occ, SEC, &fs), 0);
	assert_string_equal("range_parity/info/0", kinds(&fs));
	eph_findings__free(&fs);
	eph_occ__free(occ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_before_connect),
		cmocka_unit_test(test_time_wait_churn),
		cmocka_unit_test(test_fixed_port),
		cmocka_unit_test(test_single_destination_and_explain),
		cmocka_unit_test(test_snapshot_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
