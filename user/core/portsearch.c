// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's port search, modelled: see portsearch.h for the functions it mirrors.
 *
 * Per namespace, sets of ports (65536-bit maps) are built once from the sockets: the ports
 * connect() and bind(0) scan, those UDP scans, the TCP ports whose bucket bind() made, the
 * ports any TCP or UDP socket owns. A destination's answer is then a subtraction; a bind
 * scope's is one pass over its sockets and one count of the map.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "portsearch.h"

#define NSEC_PER_MSEC 1000000ull
#define MAP_WORDS (65536 / 64)

struct portmap {
	uint64_t w[MAP_WORDS];
};

static void map_set(struct portmap *m, uint16_t p)
{
	m->w[p / 64] |= 1ull << (p % 64);
}

static bool map_test(const struct portmap *m, uint16_t p)
{
	return m->w[p / 64] >> (p % 64) & 1;
}

/* Ports of mask that are not in used. */
static uint32_t map_free(const struct portmap *mask, const struct portmap *used)
{
	uint32_t n = 0, i;

	for (i = 0; i < MAP_WORDS; i++)
		if (mask->w[i])
			n += __builtin_popcountll(mask->w[i] & ~used->w[i]);
	return n;
}

static uint32_t map_and_count(const struct portmap *a, const struct portmap *b)
{
	uint32_t n = 0, i;

	for (i = 0; i < MAP_WORDS; i++)
		if (a->w[i])
			n += __builtin_popcountll(a->w[i] & b->w[i]);
	return n;
}

/* Ports of [lo, hi] in a, and (b not NULL) in b too. */
static uint32_t span_count(const struct portmap *a, const struct portmap *b, uint16_t lo,
			   uint16_t hi)
{
	uint32_t p, n = 0;

	for (p = lo; p <= hi; p++)
		n += map_test(a, p) && (!b || map_test(b, p));
	return n;
}

static bool reserved(const struct eph_ps_range *r, uint32_t p)
{
	uint32_t off = p - r->low;

	return r->rbits && (r->rbits[off / 8] >> (off % 8) & 1);
}

/* The ports of [low, low + count) that are not reserved. */
static uint32_t mask_fill(struct portmap *m, const struct eph_ps_range *r, uint32_t count)
{
	uint32_t p, n = 0;

	for (p = r->low; p < (uint32_t)r->low + count; p++) {
		if (reserved(r, p))
			continue;
		map_set(m, p);
		n++;
	}
	return n;
}

static bool is_any(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, family == AF_INET ? 4 : 16);
}

bool eph_ps_loopback(uint8_t family, const uint8_t *a)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (family == AF_INET)
		return a[0] == 127;
	return !memcmp(a, lo6, 16);
}

/*
 * inet_rcv_saddr_equal(sk, sk2, match_wildcard = true): ipv4_rcv_saddr_equal() when sk is
 * IPv4, ipv6_rcv_saddr_equal() when it is IPv6. IPv4-mapped addresses arrive as AF_INET here.
 * An IPv4 socket's IPv6 address is "mapped" for ipv6_rcv_saddr_equal (inet6_rcv_saddr() is
 * NULL), and an IPv6 socket that is not mapped has an IPv4 address no IPv4 socket binds
 * (LOOPBACK4_IPV6), so a specific IPv4 address never equals it.
 */
bool eph_ps_addr_conflict(uint8_t fam1, const uint8_t *a1, bool v6only1, uint8_t fam2,
			  const uint8_t *a2, bool v6only2)
{
	bool any1 = is_any(fam1, a1), any2 = is_any(fam2, a2);

	if (fam1 == AF_INET && fam2 == AF_INET)
		return any1 || any2 || !memcmp(a1, a2, 4);
	if (fam1 == AF_INET) /* ipv4_rcv_saddr_equal with sk2 IPv6 */
		return !v6only2 && (any1 || any2);
	if (fam2 == AF_INET) /* ipv6_rcv_saddr_equal with sk2 "mapped" */
		return any1 && !v6only1;
	return any1 || any2 || !memcmp(a1, a2, 16);
}

bool eph_ps_sock_range(uint16_t low, uint16_t high, uint16_t sk_lo, uint16_t sk_hi, uint16_t *lo,
		       uint16_t *hi)
{
	*lo = low;
	*hi = high;
	if (*lo <= sk_lo && sk_lo <= *hi)
		*lo = sk_lo;
	if (*lo <= sk_hi && sk_hi <= *hi)
		*hi = sk_hi;
	return *lo != low || *hi != high;
}

/*
 * tcp_twsk_unique(): reuse == 2 means loopback only (an address of the TIME_WAIT socket is
 * loopback; binding to lo is not seen here); a timestamp must have been recorded
 * (tw_ts_recent_stamp != 0: timestamps on); then 6.1/6.12 compare whole seconds
 * (time_after32(ktime_get_seconds(), tw_ts_recent_stamp)), which a TIME_WAIT older than a
 * second always passes, and 6.13+ compare milliseconds with tcp_tw_reuse_delay.
 */
bool eph_ps_tw_reusable(const struct eph_occ_tw_opts *o, uint8_t family, const uint8_t *saddr,
			const uint8_t *daddr, uint64_t age_ns)
{
	uint64_t need_ms = o->reuse_delay_ms ? o->reuse_delay_ms : 1000;

	if (!o->timestamps || !o->tw_reuse)
		return false;
	if (o->tw_reuse == 2 && !eph_ps_loopback(family, saddr) && !eph_ps_loopback(family, daddr))
		return false;
	return age_ns > need_ms * NSEC_PER_MSEC;
}

struct ns_maps {
	struct portmap tcp_mask;  /* ports connect() and bind(0) scan */
	struct portmap udp_mask;  /* ports UDP scans */
	struct portmap bind_made; /* TCP ports whose bucket bind()/listen() made */
	struct portmap tcp_used;  /* TCP ports any socket owns */
	struct portmap udp_used;  /* UDP ports any socket owns */
	struct portmap udp_any;	  /* UDP ports a wildcard autobind conflicts with */
	struct portmap scratch;
};

static void maps_fill(struct ns_maps *m, const struct eph_ps_sock *socks, size_t n)
{
	static const uint8_t any4[16];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct eph_ps_sock *s = &socks[i];

		if (s->proto == IPPROTO_TCP) {
			map_set(&m->tcp_used, s->sport);
			if (s->flags & EPH_PS_TCP_BIND_MADE)
				map_set(&m->bind_made, s->sport);
		} else if (s->proto == IPPROTO_UDP) {
			map_set(&m->udp_used, s->sport);
			if (eph_ps_addr_conflict(AF_INET, any4, false, s->family, s->saddr,
						 s->v6only))
				map_set(&m->udp_any, s->sport);
		}
	}
}

static bool has_range(const struct eph_ps_query *q)
{
	return q->range_high && q->range_low <= q->range_high;
}

/* A destination's socket range: the same subtraction over [range_low, range_high] only. */
static void answer_range(const struct ns_maps *m, struct eph_ps_query *q)
{
	uint32_t bound, lost;

	if (!has_range(q)) {
		q->range_usable = q->range_left = 0;
		return;
	}
	q->range_usable = span_count(&m->tcp_mask, NULL, q->range_low, q->range_high);
	bound = span_count(&m->tcp_mask, &m->bind_made, q->range_low, q->range_high);
	lost = bound + q->range_taken;
	q->range_left = q->range_usable > lost ? q->range_usable - lost : 0;
}

/* __inet_hash_connect(): the ports left to each destination, and to its socket range. */
static void answer_dests(const struct ns_maps *m, uint32_t new_left,
			 const struct eph_ps_sock *socks, size_t n, struct eph_ps_query *dests,
			 size_t ndests)
{
	struct eph_ps_query *q;
	size_t i;

	for (i = 0; i < ndests; i++)
		dests[i].taken = dests[i].range_taken = 0;
	for (i = 0; i < n; i++) {
		const struct eph_ps_sock *s = &socks[i];

		if (s->proto != IPPROTO_TCP || !s->dest || s->dest > ndests)
			continue;
		if (!map_test(&m->tcp_mask, s->sport) || map_test(&m->bind_made, s->sport))
			continue; /* not scanned, or skipped for every destination */
		if (s->flags & EPH_PS_TW_REUSABLE)
			continue;
		q = &dests[s->dest - 1];
		q->taken++;
		if (has_range(q) && q->range_low <= s->sport && s->sport <= q->range_high)
			q->range_taken++;
	}
	for (i = 0; i < ndests; i++) {
		dests[i].left = new_left > dests[i].taken ? new_left - dests[i].taken : 0;
		answer_range(m, &dests[i]);
	}
}

/* inet_csk_find_open_port() / udp_lib_get_port(): the ports left to bind(addr, 0). */
static void answer_scope(struct ns_maps *m, const struct eph_ps_sock *socks, size_t n,
			 struct eph_ps_query *q)
{
	const struct portmap *mask = q->proto == IPPROTO_TCP ? &m->tcp_mask : &m->udp_mask;
	size_t i;

	memset(&m->scratch, 0, sizeof(m->scratch));
	for (i = 0; i < n; i++) {
		const struct eph_ps_sock *s = &socks[i];

		if (s->proto != q->proto || map_test(&m->scratch, s->sport))
			continue;
		if (eph_ps_addr_conflict(q->family, q->addr, false, s->family, s->saddr, s->v6only))
			map_set(&m->scratch, s->sport);
	}
	q->taken = 0;
	q->left = map_free(mask, &m->scratch);
}

int eph_ps_compute(const struct eph_ps_range *r, const struct eph_ps_sock *socks, size_t nsocks,
		   struct eph_ps_query *dests, size_t ndests, struct eph_ps_query *scopes,
		   size_t nscopes, struct eph_ps_netns *out)
{
	struct ns_maps *m = calloc(1, sizeof(*m));
	size_t i;

	if (!m)
		return -ENOMEM;
	out->tcp_usable = mask_fill(&m->tcp_mask, r, (uint32_t)r->high - r->low + 1);
	out->udp_usable = mask_fill(&m->udp_mask, r, (uint32_t)r->high - r->low + 1);
	maps_fill(m, socks, nsocks);
	out->tcp_taken = map_and_count(&m->tcp_mask, &m->tcp_used);
	out->tcp_bound = map_and_count(&m->tcp_mask, &m->bind_made);
	out->tcp_new_left = map_free(&m->tcp_mask, &m->bind_made);
	out->udp_taken = map_and_count(&m->udp_mask, &m->udp_used);
	out->udp_autobind_left = map_free(&m->udp_mask, &m->udp_any);
	answer_dests(m, out->tcp_new_left, socks, nsocks, dests, ndests);
	for (i = 0; i < nscopes; i++)
		answer_scope(m, socks, nsocks, &scopes[i]);
	free(m);
	return 0;
}
