// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: seeding from a kernel snapshot (sock_diag) and reconciling with one.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "occ_int.h"
#include "order.h"
#include "portsearch.h"

/* ---- snapshot seeding ------------------------------------------------------------------ */

enum sock_kind {
	KIND_NONE,
	KIND_DEST,
	KIND_SCOPE
};

/*
 * Which sockets of a snapshot own a port the allocators could hand out. Only the range can run
 * out, so the test is on the local port first:
 * - a local port outside the netns range, or on a reserved port, is never one;
 * - TCP LISTEN inside the range owns a port of its address's scope: its bind bucket is
 *   listen()'s or bind()'s, which connect() skips for every destination and bind(0) cannot
 *   share;
 * - a TCP socket on the local port of a listener of the same netns, on an address that
 *   listener accepts on (the same, or its wildcard: 0.0.0.0 for IPv4, :: for IPv6 and, without
 *   IPV6_V6ONLY, IPv4 too), is the accepted side of a connection (SYN_RECV, ESTABLISHED, ...,
 *   and its TIME_WAIT): the port is the listener's. A client bound to the port on another
 *   address (bind() before connect(), beside a listener on 127.0.0.1 or on :: with
 *   IPV6_V6ONLY) is not one: it holds the port for its destination;
 * - any other TCP socket with a remote port (SYN_SENT, ESTABLISHED, FIN_WAIT*, CLOSE_WAIT,
 *   LAST_ACK, CLOSING, TIME_WAIT) holds a port for its destination;
 * - TCP CLOSE / bound-inactive (bind() without connect or listen) holds a bind() port of its
 *   address's scope;
 * - UDP, connected or not, holds a port of its address's scope: UDP picks ports per local
 *   address (udp_lib_get_port), not per destination.
 */
static enum sock_kind sock_kind(const struct eph_occ_sock *s, const struct ns *ns, bool listened)
{
	if (!ns_port_in_range(ns, s->sport))
		return KIND_NONE;
	if (s->proto == IPPROTO_UDP)
		return KIND_SCOPE;
	if (s->proto != IPPROTO_TCP)
		return KIND_NONE;
	if (s->state == TCP_LISTEN)
		return KIND_SCOPE;
	if (s->state == TCP_CLOSE || s->state == TCP_BOUND_INACTIVE)
		return KIND_SCOPE; /* bound only, also beside a listener on another address */
	if (listened || s->state == TCP_SYN_RECV || s->state == TCP_NEW_SYN_RECV)
		return KIND_NONE; /* accepted and request sockets live on a listener's port */
	return s->dport ? KIND_DEST : KIND_NONE;
}

/* The bucket a snapshot socket's port has: the iterator's word when it had one; bound-only and
 * listening sockets made theirs with bind() or listen(). */
static uint8_t sock_bucket(const struct eph_occ_sock *s, enum sock_kind kind)
{
	if (s->proto != IPPROTO_TCP)
		return EPH_BUCKET_UNKNOWN;
	if (s->bucket != EPH_BUCKET_UNKNOWN)
		return s->bucket;
	return kind == KIND_SCOPE ? EPH_BUCKET_BIND : EPH_BUCKET_UNKNOWN;
}

/* When a TIME_WAIT socket of the snapshot began (0: not known). TCP_TIMEWAIT_LEN is 60 s. */
static uint64_t sock_tw_since(const struct eph_occ_sock *s, uint64_t snap_ns)
{
	uint64_t age_ns;

	if (s->proto != IPPROTO_TCP || s->state != TCP_TIME_WAIT || !s->tw_left_ms ||
	    s->tw_left_ms > 60000)
		return 0;
	age_ns = (uint64_t)(60000 - s->tw_left_ms) * NSEC_PER_MSEC;
	return snap_ns > age_ns ? snap_ns - age_ns : 1;
}

/* A snapshot's TCP listener, by (netns, port). */
struct listener {
	uint64_t key;
	const struct eph_occ_sock *s;
};

static uint64_t listen_key(uint32_t netns, uint16_t port)
{
	return (uint64_t)netns << 16 | port;
}

static int cmp_listener(const void *a, const void *b)
{
	return eph_cmp_u64_at(&((const struct listener *)a)->key,
			      &((const struct listener *)b)->key);
}

static int cmp_listener_key(const void *element, const void *key)
{
	return eph_cmp_u64_at(&((const struct listener *)element)->key, key);
}

/* The 4-tuple of a snapshot socket, in the IPv4 space when it is an IPv4-mapped IPv6 one.
 * any_src: with the wildcard source address. */
static void sock_tuple(const struct eph_occ_sock *s, bool with_dest, bool any_src, struct tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->dest.netns = s->netns;
	t->dest.proto = s->proto;
	t->dest.family = s->family;
	if (!any_src)
		memcpy(t->dest.saddr, s->saddr, s->family == AF_INET ? 4 : 16);
	if (with_dest) {
		t->dest.dport = s->dport;
		memcpy(t->dest.daddr, s->daddr, s->family == AF_INET ? 4 : 16);
	}
	if (s->family == AF_INET6 && occ_v4mapped(with_dest ? s->daddr : s->saddr)) {
		t->dest.family = AF_INET;
		occ_unmap(t->dest.saddr);
		occ_unmap(t->dest.daddr);
	}
	t->sport = s->sport;
}

/*
 * Whether l accepts connections on s's local address: s's is the same as l's, or l's wildcard
 * covers it (inet_rcv_saddr_equal() with the wildcard matched: the address a connected socket
 * has is never a wildcard, so it conflicts with l's exactly when l accepts on it). IPv4-mapped
 * addresses as IPv4, as in their tuples.
 */
static bool listener_accepts(const struct eph_occ_sock *l, const struct eph_occ_sock *s)
{
	struct tuple lt, st;

	sock_tuple(l, false, false, &lt);
	sock_tuple(s, false, false, &st);
	return eph_ps_addr_conflict(st.dest.family, st.dest.saddr, false, lt.dest.family,
				    lt.dest.saddr, l->v6only);
}

/*
 * The hold a snapshot socket stands for: by cookie, else by its 4-tuple, else by what an event
 * knew of it: the port bound without a destination (bind() before connect(), a UDP socket
 * connected after its autobind), or with the wildcard source address (what an autobind binds,
 * before connect() sets the source). -1 when none.
 */
static int64_t sock_find(const struct eph_occ *occ, const struct eph_occ_sock *s)
{
	static const bool variants[][2] = { { true, true }, { false, false }, { false, true } };
	bool connected = s->dport != 0;
	struct tuple t;
	unsigned int v;
	int64_t i;

	if (s->cookie) {
		i = eph_tab__find(&occ->holds, HOLD_BY_COOKIE, &s->cookie, hash_u64(s->cookie));
		if (i >= 0)
			return i;
	}
	sock_tuple(s, connected, false, &t);
	i = eph_tab__find(&occ->holds, HOLD_BY_TUPLE, &t, hash_tuple(&t));
	if (i >= 0)
		return i;
	for (v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		if (variants[v][0] && !connected)
			continue; /* the same as the exact tuple */
		sock_tuple(s, connected && variants[v][0], variants[v][1], &t);
		i = eph_tab__find(&occ->holds, HOLD_BY_TUPLE, &t, hash_tuple(&t));
		/* an event's hold (it knows when it was taken): never a snapshot's guess */
		if (i >= 0 && hold_rec(occ, i)->since_ns)
			return i;
	}
	return -1;
}

/* A snapshot socket as a hold (its kind and keys decided). */
static void sock_spec(const struct eph_occ_sock *s, enum sock_kind kind, uint64_t now_ns,
		      struct hold_spec *hs)
{
	memset(hs, 0, sizeof(*hs));
	sock_tuple(s, kind == KIND_DEST, false, &hs->k.tuple);
	hs->cookie = s->cookie;
	hold_keys_hash(&hs->k, 0, hs->cookie);
	hs->to_dest = kind == KIND_DEST;
	hs->tw = s->proto == IPPROTO_TCP && s->state == TCP_TIME_WAIT;
	hs->tw_ns = sock_tw_since(s, now_ns);
	hs->bucket = sock_bucket(s, kind);
	hs->v6only = s->v6only;
	hs->now_ns = now_ns;
	/* a TIME_WAIT socket has no owner any more: do not guess one */
	if (!hs->tw && s->pid) {
		hs->pid = s->pid;
		hs->comm = s->comm;
		hs->cgroup = s->cgroup;
	}
}

/* A socket's IP_LOCAL_PORT_RANGE, raw, into its hold: only a snapshot knows it (the port
 * iterator reads it; events do not carry it). The model makes it effective with the netns
 * range (eph_ps_sock_range(), the kernel's inet_sk_get_local_port_range()). */
static void hold_set_range(struct hold *h, const struct eph_occ_sock *s)
{
	h->range_lo = s->range_lo;
	h->range_hi = s->range_hi;
}

/* Whether a UDP socket of the snapshot is connected (the findings count those). */
static void hold_set_remote(struct hold *h, const struct eph_occ_sock *s)
{
	h->remote = s->proto == IPPROTO_UDP && s->dport;
}

/*
 * What the snapshot knows better than the events: the bucket and the socket range (from the
 * port iterator), TIME_WAIT, and the socket's keys, whichever way it was found: a socket's
 * keys change with no port chosen, so with no event (a UDP socket autobound by sendmsg(),
 * then connected: udp_v4_rehash() moves it to the source address ip4_datagram_connect()
 * chose, the port kept), or their event was missed; its cookie stays.
 */
static int sock_update(struct eph_occ *occ, int64_t hi, const struct eph_occ_sock *s,
		       enum sock_kind kind, uint64_t snap_ns)
{
	struct hold_spec hs;
	struct hold *h = hold_rec(occ, hi);
	int err = 0;

	sock_spec(s, kind, snap_ns, &hs);
	if (kind != KIND_NONE &&
	    (memcmp(&h->tuple, &hs.k.tuple, sizeof(hs.k.tuple)) || !h->dest != !hs.to_dest))
		err = hold_retarget(occ, hi, &hs.k, hs.to_dest);
	h = hold_rec(occ, hi);
	h->seen = occ->gen;
	hold_set_remote(h, s);
	if (s->bucket != EPH_BUCKET_UNKNOWN) { /* the iterator saw it, or a bind() socket */
		h->bucket = s->bucket;
		if (!hs.tw)
			hold_set_range(h, s);
	}
	if (s->v6only)
		h->v6only = 1;
	if (hs.tw && !h->tw)
		hold_set_tw(occ, h, hs.tw_ns); /* its move was not seen */
	else if (hs.tw && !h->tw_ns)
		h->tw_ns = hs.tw_ns;
	return err == -ENOSPC ? 0 : err;
}

/* The snapshot's TCP listeners, sorted by (netns, port); *n = how many. */
static int listeners(const struct eph_occ_sock *socks, size_t n, struct listener **out,
		     size_t *nout)
{
	size_t i, k = 0;

	*out = NULL;
	for (i = 0; i < n; i++)
		k += socks[i].proto == IPPROTO_TCP && socks[i].state == TCP_LISTEN;
	*nout = k;
	if (!k)
		return 0;
	*out = calloc(k, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0, k = 0; i < n; i++)
		if (socks[i].proto == IPPROTO_TCP && socks[i].state == TCP_LISTEN)
			(*out)[k++] = (struct listener){
				.key = listen_key(socks[i].netns, socks[i].sport),
				.s = &socks[i],
			};
	qsort(*out, k, sizeof(**out), cmp_listener);
	return 0;
}

/* Whether a listener of s's netns and port accepts on s's address: s is an accepted socket. */
static bool accepted(const struct eph_occ_sock *s, const struct listener *listen, size_t nlisten)
{
	uint64_t key = listen_key(s->netns, s->sport);
	size_t i;

	if (s->proto != IPPROTO_TCP || s->state == TCP_LISTEN)
		return false;
	for (i = eph_lower_bound(listen, nlisten, sizeof(*listen), &key, cmp_listener_key);
	     i < nlisten && listen[i].key == key; i++)
		if (listener_accepts(listen[i].s, s))
			return true;
	return false;
}

static enum sock_kind sock_kind_of(const struct eph_occ *occ, const struct eph_occ_sock *s,
				   const struct listener *listen, size_t nlisten)
{
	return sock_kind(s, ns_find(occ, s->netns), accepted(s, listen, nlisten));
}

static int check_ranges(const struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct ns *ns = ns_find(occ, socks[i].netns);

		if (!ns || !ns->have_range)
			return -ENOENT;
	}
	return 0;
}

/* By netns and port alone: the entries of one port are a run. */
static int cmp_snap_netns_port(const void *a, const void *b)
{
	const struct snap_port *x = a, *y = b;

	return eph_cmp_u64(x->netns, y->netns) ?: eph_cmp_u64(x->port, y->port);
}

static int cmp_snap_port(const void *a, const void *b)
{
	const struct snap_port *x = a, *y = b;

	int c = cmp_snap_netns_port(a, b) ?: eph_cmp_u64(x->family, y->family);

	return c ?: memcmp(x->addr, y->addr, sizeof(x->addr));
}

/* Keep the snapshot's TCP sockets, on a kernel whose snapshots do not list bound-only ones:
 * what an event saw bound that the snapshot does not show may still be there. */
static int keep_tcp_ports(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n)
{
	struct snap_port *v = NULL;
	struct tuple t;
	size_t i, k = 0;

	if (occ->bound_unlisted && n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (i = 0; v && i < n; i++) {
		if (socks[i].proto != IPPROTO_TCP)
			continue;
		sock_tuple(&socks[i], socks[i].dport != 0, false, &t);
		v[k].netns = t.dest.netns;
		v[k].port = t.sport;
		v[k].family = t.dest.family;
		v[k].listening = socks[i].state == TCP_LISTEN;
		memcpy(v[k].addr, t.dest.saddr, sizeof(v[k].addr));
		k++;
	}
	if (v)
		qsort(v, k, sizeof(*v), cmp_snap_port);
	free(occ->snap_tcp);
	occ->snap_tcp = v;
	occ->nsnap_tcp = k;
	return 0;
}

/*
 * Does the latest snapshot show a TCP socket on this port and address? For a wildcard, one the
 * socket bound there could have become: connected from any address of its family (an IPv6 one
 * without IPV6_V6ONLY: of either family), or listening on the wildcard. A listener on another
 * address, or a socket of the other family (beside a [::] one with IPV6_V6ONLY), is another.
 */
bool snap_shows(const struct eph_occ *occ, uint32_t netns, uint16_t port, uint8_t family,
		const uint8_t *addr, bool v6only)
{
	static const uint8_t any[16];
	bool wild = !memcmp(addr, any, family == AF_INET ? 4 : 16);
	const struct snap_port key = { .netns = netns, .port = port };
	/* the first entry of (netns, port) */
	size_t lo = eph_lower_bound(occ->snap_tcp, occ->nsnap_tcp, sizeof(*occ->snap_tcp), &key,
				    cmp_snap_netns_port);

	for (; lo < occ->nsnap_tcp; lo++) {
		const struct snap_port *m = &occ->snap_tcp[lo];

		if (m->netns != netns || m->port != port)
			return false;
		if (m->family == family && !memcmp(m->addr, addr, 16))
			return true;
		if (wild && !m->listening &&
		    (m->family == family || (family == AF_INET6 && !v6only)))
			return true;
	}
	return false;
}

/* A hold the snapshot did not show that may still be there: a port bind() took, on a kernel
 * whose snapshots cannot list bound-only sockets, where the snapshot shows no socket. */
static bool unlisted_bound(const struct eph_occ *occ, const struct hold *h)
{
	return occ->bound_unlisted && h->since_ns && h->scope && !h->tw &&
	       h->tuple.dest.proto == IPPROTO_TCP && h->bucket == EPH_BUCKET_BIND &&
	       !snap_shows(occ, h->tuple.dest.netns, h->tuple.sport, h->tuple.dest.family,
			   h->tuple.dest.saddr, h->v6only);
}

/* Add the sockets not known yet; with update, bring the known ones up to date (reconcile). */
static int seed(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n, uint64_t now_ns,
		bool update)
{
	struct listener *listen;
	size_t i, nlisten;
	int err = check_ranges(occ, socks, n);

	if (!err)
		err = keep_tcp_ports(occ, socks, n);
	if (err)
		return err;
	err = listeners(socks, n, &listen, &nlisten);
	for (i = 0; i < n && !err; i++) {
		const struct eph_occ_sock *s = &socks[i];
		enum sock_kind kind = sock_kind_of(occ, s, listen, nlisten);
		struct hold_spec hs;
		int64_t hi;

		hi = sock_find(occ, s);
		if (hi >= 0) { /* already known, e.g. from an event */
			if (update)
				err = sock_update(occ, hi, s, kind, now_ns);
			continue;
		}
		if (kind == KIND_NONE)
			continue;
		sock_spec(s, kind, now_ns, &hs);
		hi = hold_add(occ, &hs);
		if (hi == -ENOMEM)
			err = -ENOMEM;
		else if (hi >= 0) {
			hold_set_range(hold_rec(occ, hi), s);
			hold_set_remote(hold_rec(occ, hi), s);
		}
		if (!err && update &&
		    (hi = eph_tab__find(&occ->holds, HOLD_BY_TUPLE, &hs.k.tuple,
					hs.k.hash[HOLD_BY_TUPLE])) >= 0)
			hold_rec(occ, hi)->seen = occ->gen;
	}
	free(listen);
	return err;
}

int eph_occ__seed(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n, uint64_t now_ns)
{
	return seed(occ, socks, n, now_ns, false);
}

int eph_occ__reconcile(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n,
		       uint64_t snap_ns)
{
	struct ns *ns;
	uint32_t i;
	int removed = 0, err;

	err = check_ranges(occ, socks, n);
	if (err)
		return err;
	if (++occ->gen == 0)
		occ->gen = 1;
	err = seed(occ, socks, n, snap_ns, true);
	if (err)
		return err;
	for (i = 0; i < occ->holds.top; i++) {
		struct hold *h;

		if (!occ->holds.used[i])
			continue;
		h = hold_rec(occ, i);
		/* taken after the snapshot began: the snapshot may not show it yet */
		if (h->seen == occ->gen || (h->since_ns && h->since_ns >= snap_ns))
			continue;
		if (unlisted_bound(occ, h))
			continue;
		ns = ns_find(occ, h->tuple.dest.netns);
		if (ns)
			ns->resync_released++;
		hold_del(occ, i, true, snap_ns,
			 h->since_ns ? (int64_t)(snap_ns - h->since_ns) : -1);
		removed++;
	}
	occ->resyncs++;
	occ->resync_released += removed;
	return removed;
}

int eph_occ__seed_cookies(const struct eph_occ *occ, uint64_t **v, size_t *n, size_t *cap)
{
	const struct hold *h;
	uint32_t i;

	*n = 0;
	for (i = 0; i < occ->holds.top; i++) {
		if (!occ->holds.used[i])
			continue;
		h = hold_rec(occ, i);
		if (h->sock_id || h->since_ns || !h->cookie)
			continue;
		if (eph_grow((void **)v, cap, *n, sizeof(**v)))
			return -ENOMEM;
		(*v)[(*n)++] = h->cookie;
	}
	return 0;
}
