// SPDX-License-Identifier: GPL-2.0
/*
 * What the occupancy's unit tests share (test_occ_holds.c, test_occ_snapshot.c,
 * test_occ_model.c, test_occ_render.c; occ_fixture.h): a test range, an occupancy, addresses,
 * a TCP/IPv4 socket of a snapshot, the keys of a destination and of a bind scope, their stats,
 * a TCP/IPv4 connect() event and feeding it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "occupancy.h"
#include "occ_fixture.h"

void set_port(uint8_t *bitmap, unsigned int p)
{
	bitmap[p / 8] |= 1u << (p % 8);
}

/* 40000-41999 with 40100-40199 reserved (and 30000, outside the range): usable 1900. */
void set_test_range(struct eph_occ *occ, uint32_t netns)
{
	static uint8_t bitmap[8192];
	unsigned int p;

	memset(bitmap, 0, sizeof(bitmap));
	for (p = 40100; p <= 40199; p++)
		set_port(bitmap, p);
	set_port(bitmap, 30000);
	assert_int_equal(eph_occ__set_range(occ, netns, 40000, 41999, bitmap), 0);
}

struct eph_occ *new_occ(uint32_t max_ports)
{
	struct eph_occ_opts o = { .max_ports = max_ports, .window_ms = 10000 };
	struct eph_occ *occ = eph_occ__new(&o);

	assert_non_null(occ);
	return occ;
}

void addr4(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

void addr6(uint8_t out[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

struct eph_occ_sock tcp4(uint32_t netns, uint8_t state, const char *src, uint16_t sport,
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

struct eph_occ_sock udp4(uint32_t netns, const char *src, uint16_t sport, const char *dst,
			 uint16_t dport, uint32_t pid, uint64_t cookie)
{
	struct eph_occ_sock s = tcp4(netns, dport ? TCP_ESTABLISHED : TCP_CLOSE, src, sport, dst,
				     dport, pid, cookie);

	s.proto = IPPROTO_UDP;
	return s;
}

struct eph_occ_dest_key dkey4(uint32_t netns, const char *src, const char *dst, uint16_t dport)
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

struct eph_occ_scope_key skey4(uint32_t netns, uint8_t proto, const char *addr)
{
	struct eph_occ_scope_key k;

	memset(&k, 0, sizeof(k));
	k.netns = netns;
	k.proto = proto;
	k.family = AF_INET;
	addr4(k.addr, addr);
	return k;
}

struct eph_occ_stats dest_st(struct eph_occ *occ, struct eph_occ_dest_key k, uint64_t now)
{
	struct eph_occ_stats st;

	assert_int_equal(eph_occ__dest(occ, &k, now, &st), 0);
	return st;
}

struct eph_occ_stats proc_st(struct eph_occ *occ, uint32_t pid, uint64_t now)
{
	struct eph_occ_stats st;

	assert_int_equal(eph_occ__proc(occ, pid, now, &st), 0);
	return st;
}

/* A TCP/IPv4 connect() event 127.0.0.1:sport -> 127.0.0.1:dport in NS1. */
struct eph_rec tcp_ev(uint8_t type, uint64_t ts, uint32_t pid, uint64_t sock_id, uint16_t sport,
		      uint16_t dport)
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

void feed(struct eph_occ *occ, struct eph_rec r)
{
	assert_int_equal(eph_occ__event(occ, &r), 0);
}

struct eph_rec bind_ev(uint64_t ts, uint64_t sock_id, uint16_t port)
{
	struct eph_rec r = tcp_ev(EPH_ASSIGN, ts, 400, sock_id, port, 0);

	r.ev.op = EPH_OP_BIND;
	r.ev.flags = EPH_F_SADDR | EPH_F_EPHEMERAL;
	return r;
}
