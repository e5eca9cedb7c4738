/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the occupancy's unit tests share (occ_fixture.c): the namespaces and times they use,
 * the test range, an occupancy, addresses, sockets and events as the core takes them, and the
 * stats of a destination or a process (each asserts that the core said 0).
 */
#ifndef EPH_TEST_OCC_FIXTURE_H
#define EPH_TEST_OCC_FIXTURE_H

#include <stdint.h>

#include "occupancy.h"

#define SEC 1000000000ull
#define NS1 4026532001u
#define NS2 4026532002u

void set_port(uint8_t *bitmap, unsigned int p);
/* 40000-41999 with 40100-40199 reserved (and 30000, outside the range): usable 1900. */
void set_test_range(struct eph_occ *occ, uint32_t netns);
struct eph_occ *new_occ(uint32_t max_ports);
void addr4(uint8_t out[16], const char *s);
void addr6(uint8_t out[16], const char *s);
struct eph_occ_sock tcp4(uint32_t netns, uint8_t state, const char *src, uint16_t sport,
			 const char *dst, uint16_t dport, uint32_t pid, uint64_t cookie);
/* The same for a UDP socket: connected (sock_diag's TCP_ESTABLISHED) when dport is set, else
 * TCP_CLOSE. */
struct eph_occ_sock udp4(uint32_t netns, const char *src, uint16_t sport, const char *dst,
			 uint16_t dport, uint32_t pid, uint64_t cookie);
struct eph_occ_dest_key dkey4(uint32_t netns, const char *src, const char *dst, uint16_t dport);
struct eph_occ_scope_key skey4(uint32_t netns, uint8_t proto, const char *addr);
struct eph_occ_stats dest_st(struct eph_occ *occ, struct eph_occ_dest_key k, uint64_t now);
struct eph_occ_stats proc_st(struct eph_occ *occ, uint32_t pid, uint64_t now);
/* A TCP/IPv4 connect() event 127.0.0.1:sport -> 127.0.0.1:dport in NS1. */
struct eph_rec tcp_ev(uint8_t type, uint64_t ts, uint32_t pid, uint64_t sock_id, uint16_t sport,
		      uint16_t dport);
/* A TCP/IPv4 bind(127.0.0.1:0) event that took port in NS1 (pid 400). */
struct eph_rec bind_ev(uint64_t ts, uint64_t sock_id, uint16_t port);
void feed(struct eph_occ *occ, struct eph_rec r);

#endif /* EPH_TEST_OCC_FIXTURE_H */
