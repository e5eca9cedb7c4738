/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's port search, modelled: given every socket that owns a port of a network
 * namespace's range, how many more connect() to a destination, bind(addr, 0) on an address,
 * or UDP autobinds (connect()/sendto() on an unbound UDP socket) would succeed now.
 *
 * Mirrors, in Linux 6.1 to 6.18:
 * - __inet_hash_connect() (net/ipv4/inet_hashtables.c): connect() scans an even count of
 *   ports from a hashed offset (remaining = n & ~1, two parity passes, wrapping at high + 1).
 *   In a range with an odd count n that leaves out the lowest port in 30 of 31 calls and the
 *   highest in the other one: over a series of calls every port of [low, high] is used (a
 *   fill of 40000-40062 took all 63 in 37 of 40 runs here), so every port counts; only when the
 *   lowest port is the last one free does a call fail with 30-in-31 odds. It skips
 *   ip_local_reserved_ports, skips every port whose bind
 *   bucket bind() or listen() made (tb->fastreuse >= 0 || tb->fastreuseport >= 0), whatever
 *   the destination, and takes any other port whose 4-tuple is free in the established hash
 *   (__inet_check_established), or whose TIME_WAIT tcp_twsk_unique() lets it reuse. A socket
 *   with IP_LOCAL_PORT_RANGE scans its own range instead (inet_sk_get_local_port_range(): the
 *   netns range narrowed by the socket's ends that lie inside it), with the same rules: 6.1
 *   with the even count and parity passes, 6.8+ port after port (commit 207184853dbd
 *   "tcp/dccp: change source port selection at connect() time"); every port of it counts;
 * - inet_csk_find_open_port() (net/ipv4/inet_connection_sock.c): bind(0) scans the same way
 *   (an even count, the same end left out) and skips reserved ports and every port that any TCP socket, in any state (listening,
 *   connected, TIME_WAIT, bound), holds on a conflicting address (inet_rcv_saddr_equal() with
 *   wildcards; relax is false, so SO_REUSEADDR does not help);
 * - udp_lib_get_port() (net/ipv4/udp.c): UDP scans all of [low, high] (no even count), skips
 *   reserved ports and ports a UDP socket holds on a conflicting address; an autobind
 *   (inet_autobind() from connect() or sendto()) binds the wildcard address, which conflicts
 *   with every UDP socket of the port that is not IPV6_V6ONLY.
 * - tcp_twsk_unique() (net/ipv4/tcp_ipv4.c): a TIME_WAIT 4-tuple is reused by connect() when
 *   tcp_tw_reuse is 1, or 2 and an address is loopback, timestamps were on, and the last
 *   timestamp is at least a second old (6.1, 6.12: ktime_get_seconds() moved on; 6.13+:
 *   tcp_tw_reuse_delay ms).
 * bind(0) and UDP counts are for a socket without SO_REUSEADDR or SO_REUSEPORT: a UDP socket
 * with SO_REUSEADDR takes a port whose owners all have it (udp_lib_lport_inuse()), which these
 * counts take as held. A port several sockets own counts once.
 * Not modelled (said in README): SO_REUSEPORT groups, SO_BINDTODEVICE/VRF (l3mdev) buckets,
 * net.ipv4.ip_autobind_reuse, IP_LOCAL_PORT_RANGE for bind(0) and UDP (only connect() with a
 * destination's socket range is).
 *
 * No libbpf, no system calls: fed by the occupancy core, unit-tested alone.
 */
#ifndef EPH_PORTSEARCH_H
#define EPH_PORTSEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "occupancy.h"

#define EPH_PS_TCP_BIND_MADE (1u << 0) /* the port's bind bucket is bind()'s or listen()'s */
#define EPH_PS_TW (1u << 1)	       /* a TIME_WAIT socket */
#define EPH_PS_TW_REUSABLE (1u << 2)   /* ... that connect() may reuse now */

/* A network namespace's range: [low, high], reserved: bit p - low set for a reserved port p
 * (NULL: none). */
struct eph_ps_range {
	uint16_t low;
	uint16_t high;
	const uint8_t *rbits;
};

/* One port owner. Addresses in network order; IPv4-mapped IPv6 already turned into AF_INET. */
struct eph_ps_sock {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;
	uint8_t v6only;
	uint8_t flags; /* EPH_PS_* */
	uint16_t sport;
	uint16_t __pad;
	uint32_t dest;	      /* TCP: 1-based index of its destination query, 0 = none */
	const uint8_t *saddr; /* 16 bytes */
};

/* A question: a destination (connect()) or a bind scope (bind(addr, 0)). */
struct eph_ps_query {
	uint8_t proto; /* scope: IPPROTO_TCP or IPPROTO_UDP; destination: IPPROTO_TCP */
	uint8_t family;
	uint8_t __pad[2];
	const uint8_t *addr; /* scope: its address (16 bytes) */
	uint32_t left;	     /* out: further calls that would succeed now */
	uint32_t taken;	     /* out, destination: its own 4-tuples that block a port */
	/* destination: a socket range, [range_low, range_high] inside the netns range (what
	 * eph_ps_sock_range() gives); range_high 0: none, the range_* outs are 0 */
	uint16_t range_low;
	uint16_t range_high;
	uint32_t range_usable; /* out: ports of the socket range that are not reserved */
	uint32_t range_taken;  /* out: its own 4-tuples that block a port of the socket range */
	uint32_t range_left;   /* out: further connect()s from sockets with that range */
};

/* What one namespace has, counted once per port. */
struct eph_ps_netns {
	uint32_t tcp_usable;   /* [low, high] minus reserved ports */
	uint32_t udp_usable;   /* [low, high] minus reserved ports */
	uint32_t tcp_taken;    /* ports of tcp_usable that a TCP socket owns */
	uint32_t tcp_bound;    /* ... whose bucket bind()/listen() made: no connect() gets them */
	uint32_t tcp_new_left; /* connect()s a destination with no connection in the range gets:
				* tcp_usable less tcp_bound (each destination's left starts here) */
	uint32_t udp_taken;    /* ports of udp_usable that a UDP socket owns */
	uint32_t udp_autobind_left; /* UDP connect()/sendto() from unbound AF_INET sockets */
};

/* inet_rcv_saddr_equal(sk, sk2, true): do two bound addresses conflict? */
bool eph_ps_addr_conflict(uint8_t fam1, const uint8_t *a1, bool v6only1, uint8_t fam2,
			  const uint8_t *a2, bool v6only2);

/* Is this address loopback (127/8, ::1)? */
bool eph_ps_loopback(uint8_t family, const uint8_t *addr);

/*
 * inet_sk_get_local_port_range() (net/ipv4/inet_connection_sock.c, 6.1 to 6.18): the range a
 * socket's connect() scans, from the netns range [low, high] and the socket's
 * IP_LOCAL_PORT_RANGE (sk_lo, sk_hi as it set them; 0: that end not set). sk_lo replaces low
 * when it lies in [low, high]; then sk_hi replaces high when it lies in [the new low, high].
 * Returns whether [*lo, *hi] is narrower than [low, high].
 */
bool eph_ps_sock_range(uint16_t low, uint16_t high, uint16_t sk_lo, uint16_t sk_hi, uint16_t *lo,
		       uint16_t *hi);

/* tcp_twsk_unique(): may connect() reuse a TIME_WAIT 4-tuple that began age_ns ago? */
bool eph_ps_tw_reusable(const struct eph_occ_tw_opts *o, uint8_t family, const uint8_t *saddr,
			const uint8_t *daddr, uint64_t age_ns);

/*
 * Answer every query of one namespace from its sockets (socks, queries and results all of
 * that namespace). dests[i] is destination i + 1 of eph_ps_sock.dest. Returns 0 or -ENOMEM.
 */
int eph_ps_compute(const struct eph_ps_range *r, const struct eph_ps_sock *socks, size_t nsocks,
		   struct eph_ps_query *dests, size_t ndests, struct eph_ps_query *scopes,
		   size_t nscopes, struct eph_ps_netns *out);

#endif
