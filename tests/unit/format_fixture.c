// SPDX-License-Identifier: GPL-2.0
/*
 * What the unit tests of user/core/format.c share (test_format.c, test_format_text.c;
 * format_fixture.h): the addresses and the events they format, one of each kind.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "format_fixture.h"

static const uint8_t V4_LO1[16] = { 127, 0, 0, 1 };
static const uint8_t V4_LO2[16] = { 127, 0, 0, 2 };
const uint8_t V6_LO[16] = { [15] = 1 };
static const uint8_t V6_DOC1[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t V6_DOC2[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* TCP/IPv4: curl (4242) connects from 127.0.0.1:40000 to 127.0.0.2:8080. */
struct eph_rec v4_assign(void)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.wall_ns = WALL_NS;
	r.ev.ts_ns = 1000;
	r.ev.search_ns = 12345;
	r.ev.cgroup_id = 7777;
	r.ev.pid = 4242;
	r.ev.tid = 4243;
	r.ev.netns = 4026531840u;
	r.ev.sport = 40000;
	r.ev.dport = 8080;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_DEST | EPH_F_SADDR;
	r.ev.type = EPH_ASSIGN;
	r.ev.op = EPH_OP_CONNECT;
	r.ev.proto = IPPROTO_TCP;
	r.ev.family = AF_INET;
	r.ev.backend = EPH_BACKEND_TRACEPOINT;
	memcpy(r.ev.saddr, V4_LO1, 16);
	memcpy(r.ev.daddr, V4_LO2, 16);
	strcpy(r.ev.comm, "curl");
	strcpy(r.ev.pcomm, "curl");
	return r;
}

/* The same connect() failing: no port, no local address known. */
struct eph_rec v4_fail(void)
{
	struct eph_rec r = v4_assign();

	r.ev.type = EPH_FAIL;
	r.ev.err = 99;
	r.ev.sport = 0;
	r.ev.search_ns = 56789;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_DEST;
	memset(r.ev.saddr, 0, 16);
	return r;
}

/* The port of v4_assign going back 1.5 s later. */
struct eph_rec v4_release(void)
{
	struct eph_rec r = v4_assign();

	r.wall_ns = 1795497489000000001ull;
	r.ev.type = EPH_RELEASE;
	r.ev.op = EPH_OP_NONE;
	r.ev.search_ns = 999; /* no EPH_F_SEARCH: must not show */
	r.ev.held_ns = 1500000000ull;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_DEST | EPH_F_SADDR | EPH_F_HELD | EPH_F_OWNER;
	return r;
}

/* The same socket had 40000 from bind(127.0.0.1:0): its connect() chooses no port. */
struct eph_rec v4_bound_connect(void)
{
	struct eph_rec r = v4_assign();

	r.ev.type = EPH_CONNECT;
	r.ev.search_ns = 0;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_BOUND | EPH_F_DEST | EPH_F_SADDR;
	return r;
}

/* UDP/IPv6: nc (77) binds [2001:db8::1]:0 and gets 50000. */
struct eph_rec v6_bind(void)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.wall_ns = WALL_NS;
	r.ev.search_ns = 250;
	r.ev.cgroup_id = 1;
	r.ev.pid = 77;
	r.ev.tid = 78;
	r.ev.netns = 4026532000u;
	r.ev.sport = 50000;
	r.ev.dport = 9; /* no EPH_F_DEST: must not show */
	r.ev.req_port = 0;
	r.ev.flags = EPH_F_EPHEMERAL | EPH_F_SEARCH | EPH_F_REQ | EPH_F_SADDR;
	r.ev.type = EPH_ASSIGN;
	r.ev.op = EPH_OP_BIND;
	r.ev.proto = IPPROTO_UDP;
	r.ev.family = AF_INET6;
	r.ev.backend = EPH_BACKEND_FENTRY;
	memcpy(r.ev.saddr, V6_DOC1, 16);
	memcpy(r.ev.daddr, V6_DOC2, 16);
	strcpy(r.ev.comm, "nc");
	strcpy(r.ev.pcomm, "nc");
	return r;
}
