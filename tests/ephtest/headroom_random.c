// SPDX-License-Identifier: GPL-2.0
/*
 * headroom-random: a headroom state drawn from a seed, so that every run of make test checks
 * ephtrace's ports_left against the kernel on a state nobody wrote down (the fixed cases of
 * headroom.c are states someone thought of). `ephtest --seed N` draws the state of seed N again;
 * without it the seed comes from the clock and the pid, and the scenario's line names it.
 *
 * What is drawn, and the limits that keep every state one the workload can build and count
 * exactly (headroom.c's story):
 * - tcp_tw_reuse 0, 1 or 2; TIME_WAIT aged whenever reuse is on (tcp_twsk_unique() reuses a
 *   TIME_WAIT only in a later second than its last timestamp: a fresh one could turn reusable
 *   between ephtrace's reading and the count), fresh or aged otherwise;
 * - the range: 40000 up, 56 to 80 ports, even (every connect() and bind(0) scan sees every
 *   port) three times in four, else odd, 57 to 81 ports. An odd range's scans see an even number
 *   of ports, and which end a call leaves out moves with its start (hr_case_odd): so both ends
 *   get a listener on 0.0.0.0, whose bind buckets stop every connect() and which conflicts with
 *   every IPv4 bind(0), and there is no TCP bind(0) on ::1 (which a 0.0.0.0 listener does not
 *   stop). Up to three runs of reserved ports inside the range, never at its ends;
 * - up to three listeners in the range on 127.0.0.1, 0.0.0.0 or :: (with IPV6_V6ONLY or
 *   without: dual-stack) (an odd range: one beside the two at its ends), and with a 127.0.0.1
 *   one, a socket bound to its port on 127.0.0.2 (a bind scope's hold the allocator did not
 *   choose);
 * - per destination: established, IPv4-mapped (IPv4 destinations), bind-before-connect (bound
 *   to 127.0.0.1 or ::1, or one time in three to the wildcard: 0.0.0.0, or :: without
 *   IPV6_V6ONLY) and TIME_WAIT clients, and on 127.0.0.1:5000 now and then one bound to a fixed port first;
 *   127.0.0.1:5000 also from a second source, 127.0.0.2 (IP_BIND_ADDRESS_NO_PORT, as a client
 *   that spreads over source addresses does): established and TIME_WAIT;
 * - TCP bind(0) holders on 127.0.0.1, 127.0.0.2, ::1, 0.0.0.0 and ::, UDP connect()s and UDP
 *   bind(0) holders on 127.0.0.1, 127.0.0.2, 0.0.0.0, ::1 and :: (IPv6 ones without
 *   IPV6_V6ONLY, as bind(0) makes them: "::" takes a port on every address of both families);
 * - top from before the state or after it.
 * Bind-made ports (bind(0) holders, bind-before-connect, listeners, fixed ports) are at most 24
 * and connections to one destination at most 20, so that the state itself always finds ports in
 * the range (at least 56 ports, less at most 9 reserved and an odd range's two ends). A state
 * whose counts have no order where none changes another (hr_countable(): ::1 connections,
 * recyclable TIME_WAIT and a TCP bind scope on 127.0.0.1 or 0.0.0.0; IPv4 connections,
 * recyclable TIME_WAIT on ::1 and a TCP bind scope on ::1; the same two with 127.0.0.2's
 * connections in the place of ::1's) loses bind scopes until it has one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "headroom.h"

struct hr_case hr_case_random;
char hr_random_tw_reuse[2] = "2";
char hr_random_reserved[64];
uint64_t hr_random_drawn;
char hr_random_desc[768] = "ports_left in a state drawn from a seed (--seed N draws it again)";

#define RANGE_LO HR_RANDOM_LO
#define RANGE_HI range_hi
static unsigned int range_hi = HR_RANDOM_LO + 63; /* drawn (hr_random_draw()) */
#define MAX_BIND_MADE 24 /* bind-made ports of the state */
#define MAX_DEST_CONNS 20

/* splitmix64 (Steele, Lea, Flood 2014): a whole state from one 64-bit seed. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* 0..n-1 */
static unsigned int pick(uint64_t *s, unsigned int n)
{
	return (unsigned int)(next(s) % n);
}

/* A port of the range that no listener, bound socket or fixed port of the case has yet. */
static uint16_t free_port(uint64_t *s, const struct hr_case *c)
{
	uint16_t p;
	int i, tries;

	for (tries = 0; tries < 1000; tries++) {
		p = RANGE_LO + pick(s, RANGE_HI - RANGE_LO + 1);
		for (i = 0; i < HR_NR_LISTEN; i++)
			if (c->listen[i].addr && c->listen[i].port == p)
				break;
		if (i == HR_NR_LISTEN && c->dest[D_LO_5000].fixed != p)
			return p;
	}
	return RANGE_LO;
}

/* Up to three runs of 1-3 reserved ports, written as the kernel reads them back: in order,
 * touching runs as one (the workload checks what it reads back). */
static void draw_reserved(uint64_t *s)
{
	bool res[HR_RANDOM_MAX_SIZE] = {};
	unsigned int i, n = pick(s, 4), lo, len, off = 0, p, q;

	for (i = 0; i < n; i++) {
		lo = 1 + pick(s, RANGE_HI - RANGE_LO - 4); /* 1 .. size - 4, len <= 3: not an end */
		for (len = pick(s, 3); ; len--) {
			res[lo + len] = true;
			if (!len)
				break;
		}
	}
	hr_random_reserved[0] = 0;
	for (p = 0; p <= RANGE_HI - RANGE_LO; p = q) {
		for (q = p; q <= RANGE_HI - RANGE_LO && res[q] == res[p]; q++)
			;
		if (!res[p])
			continue;
		off += snprintf(hr_random_reserved + off, sizeof(hr_random_reserved) - off,
				q - p > 1 ? "%s%u-%u" : "%s%u", off ? "," : "", RANGE_LO + p,
				RANGE_LO + q - 1);
	}
}

static unsigned int bind_made(const struct hr_case *c)
{
	unsigned int i, n = 0;

	for (i = 0; i < HR_NR_LISTEN; i++)
		n += !!c->listen[i].addr;
	n += !!c->bound.addr + !!c->dest[D_LO_5000].fixed;
	for (i = 0; i < HR_NR_TCP_ADDRS; i++)
		n += c->tcp_bind0[i];
	for (i = 0; i < HR_NR_DESTS; i++)
		n += c->dest[i].bbc;
	return n;
}

static void draw_tcp(uint64_t *s, struct hr_case *c, bool odd)
{
	static const char *const lst_addr[] = { "127.0.0.1", "0.0.0.0", "::" };
	unsigned int i = 0, nl = pick(s, HR_NR_LISTEN + 1);

	if (odd) { /* both ends taken for every TCP scan (see the top) */
		c->listen[0] = (struct hr_fixed){ "0.0.0.0", RANGE_LO, false };
		c->listen[1] = (struct hr_fixed){ "0.0.0.0", RANGE_HI, false };
		i = 2;
		nl = 2 + pick(s, 2);
	}
	for (; i < nl; i++) {
		c->listen[i].addr = lst_addr[pick(s, 3)];
		c->listen[i].dual = !strcmp(c->listen[i].addr, "::") && pick(s, 2);
		c->listen[i].port = free_port(s, c);
		if (!c->bound.addr && !strcmp(c->listen[i].addr, "127.0.0.1") && pick(s, 2))
			c->bound = (struct hr_fixed){ "127.0.0.2", c->listen[i].port, false };
	}
	if (!pick(s, 4))
		c->dest[D_LO_5000].fixed = free_port(s, c);
	for (i = 0; i < HR_NR_DESTS; i++) {
		struct hr_dest *d = &c->dest[i];
		bool v4 = i != D_V6_5000 && i != D_SRC2_5000; /* mapped: from 127.0.0.1 */

		if (!pick(s, 5))
			continue; /* a destination without clients */
		d->est = pick(s, 10);
		d->mapped = v4 ? pick(s, 5) : 0;
		d->bbc = i != D_SRC2_5000 ? pick(s, 5) : 0;
		d->bbc_any = d->bbc && !pick(s, 3);
		d->tw = pick(s, 9);
		while (d->est + d->mapped + d->tw + !!d->fixed > MAX_DEST_CONNS)
			d->est--;
	}
	for (i = 0; i < HR_NR_TCP_ADDRS; i++)
		c->tcp_bind0[i] = pick(s, 3) ? 0 : 1 + pick(s, 12);
	if (odd)
		c->tcp_bind0[2] = 0; /* ::1: its scan may take an end */
	for (i = HR_NR_TCP_ADDRS; i-- > 0 && bind_made(c) > MAX_BIND_MADE;)
		c->tcp_bind0[i] = 0;
	for (i = 0; i < HR_NR_DESTS && bind_made(c) > MAX_BIND_MADE; i++)
		c->dest[i].bbc = 0;
}

/* A state whose counts have no order where none changes another (hr_countable()) loses bind
 * scopes: on 127.0.0.2 and ::1, or on 127.0.0.1 and 0.0.0.0 (which first is drawn), or all
 * four (one on :: is never in the way). */
static void make_countable(uint64_t *s, struct hr_case *c)
{
	static const uint8_t drop[3][HR_NR_TCP_ADDRS] = { { 0, 1, 1, 0, 0 },
							  { 1, 0, 0, 1, 0 },
							  { 1, 1, 1, 1, 0 } };
	struct hr_case t;
	const char *why;
	unsigned int i, k, first = pick(s, 2);

	for (k = 0; k < 3 && !hr_countable(c, hr_random_tw_reuse, &why); k++) {
		t = *c;
		for (i = 0; i < HR_NR_TCP_ADDRS; i++)
			if (drop[k < 2 ? k ^ first : k][i])
				t.tcp_bind0[i] = 0;
		if (hr_countable(&t, hr_random_tw_reuse, &why) || k == 2)
			*c = t;
	}
}

static void draw_udp(uint64_t *s, struct hr_case *c)
{
	unsigned int i, total;

	c->udp_conn = pick(s, 3) ? pick(s, 21) : 0;
	total = c->udp_conn;
	for (i = 0; i < HR_NR_UDP_ADDRS; i++) {
		c->udp_bind0[i] = pick(s, 2) ? 0 : pick(s, 13);
		if (total + c->udp_bind0[i] > 30)
			c->udp_bind0[i] = 0;
		total += c->udp_bind0[i];
	}
}

/* Drawn last, so that a seed draws the rest as before they were added: the holders' options,
 * which change no count (a count is of a socket without them). */
static void draw_options(uint64_t *s, struct hr_case *c)
{
	unsigned int i;

	for (i = 0; i < HR_NR_TCP_ADDRS; i++)
		c->tcp_shared[i] = c->tcp_bind0[i] && !pick(s, 3) ? 1 + pick(s, 3) : 0;
	for (i = 0; i < HR_NR_UDP_ADDRS; i++)
		c->udp_shared[i] = c->udp_bind0[i] && !pick(s, 3) ? 1 + pick(s, 3) : 0;
	c->reuse_listen = pick(s, 2);
	c->reuse_bbc = !pick(s, 3);
}

static bool shares(const struct hr_case *c)
{
	unsigned int i, n = 0;

	for (i = 0; i < HR_NR_TCP_ADDRS; i++)
		n += c->tcp_shared[i];
	for (i = 0; i < HR_NR_UDP_ADDRS; i++)
		n += c->udp_shared[i];
	return n;
}

/* Append to hr_random_desc, cut at its end. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	size_t off = strlen(hr_random_desc);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hr_random_desc + off, sizeof(hr_random_desc) - off, fmt, ap);
	va_end(ap);
}

static void describe(uint64_t seed, const struct hr_case *c)
{
	static const char *const dname[HR_NR_DESTS] = { "127.0.0.1:5000", "127.0.0.1:5001",
							"127.0.0.2:5000", "127.0.0.1:5002",
							"[::1]:5000",	  "127.0.0.2->127.0.0.1:5000" };
	int i;

	hr_random_desc[0] = 0;
	say("ports_left, seed %llu (ephtest --seed): range %u-%u (%u ports), tw_reuse %s, %s",
	    (unsigned long long)seed, RANGE_LO, RANGE_HI, RANGE_HI - RANGE_LO + 1,
	    hr_random_tw_reuse, c->aged ? "aged" : "fresh");
	if (hr_random_reserved[0])
		say(", reserved %s", hr_random_reserved);
	for (i = 0; i < HR_NR_LISTEN; i++) {
		const struct hr_fixed *l = &c->listen[i];

		if (!l->addr)
			continue;
		if (strchr(l->addr, ':'))
			say(", listen [%s]:%u %s", l->addr, l->port, l->dual ? "dual" : "v6only");
		else
			say(", listen %s:%u", l->addr, l->port);
	}
	if (c->bound.addr)
		say(", bound %s:%u", c->bound.addr, c->bound.port);
	for (i = 0; i < HR_NR_DESTS; i++) {
		const struct hr_dest *d = &c->dest[i];

		if (d->est + d->mapped + d->bbc + d->tw + d->fixed)
			say(", %s est/mapped/bbc/tw %u/%u/%u%s/%u", dname[i], d->est, d->mapped, d->bbc,
			    d->bbc_any ? " (bound on the wildcard)" : "", d->tw);
		if (d->fixed)
			say(" and one from port %u", d->fixed);
	}
	say(", tcp bind0 %u/%u/%u/%u/%u, udp connect %u bind0 %u/%u/%u/%u/%u", c->tcp_bind0[0],
	    c->tcp_bind0[1], c->tcp_bind0[2], c->tcp_bind0[3], c->tcp_bind0[4], c->udp_conn,
	    c->udp_bind0[0], c->udp_bind0[1], c->udp_bind0[2], c->udp_bind0[3], c->udp_bind0[4]);
	if (shares(c))
		say(", SO_REUSEADDR sharers tcp %u/%u/%u/%u/%u udp %u/%u/%u/%u/%u",
		    c->tcp_shared[0], c->tcp_shared[1], c->tcp_shared[2], c->tcp_shared[3],
		    c->tcp_shared[4], c->udp_shared[0], c->udp_shared[1], c->udp_shared[2],
		    c->udp_shared[3], c->udp_shared[4]);
	if (c->reuse_listen || c->reuse_bbc)
		say(", SO_REUSEADDR on %s%s%s", c->reuse_listen ? "listeners" : "",
		    c->reuse_listen && c->reuse_bbc ? " and " : "", c->reuse_bbc ? "bbc" : "");
	say(", top %s", c->top_before ? "before" : "after");
}

uint64_t hr_random_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000) ^ ((uint64_t)getpid() << 20);
}

void hr_random_draw(uint64_t seed)
{
	struct hr_case *c = &hr_case_random;
	uint64_t s = seed;
	bool odd;

	memset(c, 0, sizeof(*c));
	hr_random_drawn = seed;
	snprintf(hr_random_tw_reuse, sizeof(hr_random_tw_reuse), "%u", pick(&s, 3));
	c->aged = strcmp(hr_random_tw_reuse, "0") || pick(&s, 2);
	c->top_before = pick(&s, 2);
	odd = !pick(&s, 4);
	range_hi = RANGE_LO + 56 + 2 * pick(&s, 13) + odd - 1; /* 56..80 ports, or 57..81 */
	scenario_set_random_range(range_hi);
	draw_reserved(&s);
	draw_tcp(&s, c, odd);
	make_countable(&s, c);
	draw_udp(&s, c);
	draw_options(&s, c);
	describe(seed, c);
}
