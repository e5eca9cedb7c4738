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

/* ---- snapshot seeding ------------------------------------------------------------------ */

enum sock_kind {
	KIND_NONE,
	KIND_DEST,
	KIND_SCOPE
};

/*
 * Which sockets of a snapshot hold an ephemeral port. Only the allocator's ports can run out,
 * so the test is on the local port first:
 * - a local port outside the netns range, or on a reserved port, is never one (a server's or a
 *   port the program chose with bind(): the allocator does not hand those out);
 * - TCP LISTEN is a server, not a hold, even inside the range;
 * - a TCP socket on the local port of a listener of the same netns is the accepted side of a
 *   connection (SYN_RECV, ESTABLISHED, ..., and its TIME_WAIT): the port is the listener's.
 *   connect() never picks a port a listener is bound to, so the port alone decides;
 * - any other TCP socket with a remote port (SYN_SENT, ESTABLISHED, FIN_WAIT*, CLOSE_WAIT,
 *   LAST_ACK, CLOSING, TIME_WAIT) holds a connect() port for its destination;
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
	if (s->proto != IPPROTO_TCP || s->state == TCP_LISTEN || listened)
		return KIND_NONE;
	if (s->state == TCP_SYN_RECV || s->state == TCP_NEW_SYN_RECV)
		return KIND_NONE; /* request sockets live on a listener's port */
	if (s->state == TCP_CLOSE || s->state == TCP_BOUND_INACTIVE)
		return KIND_SCOPE;
	return s->dport ? KIND_DEST : KIND_NONE;
}

static uint64_t listen_key(uint32_t netns, uint16_t port)
{
	return (uint64_t)netns << 16 | port;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void sock_tuple(const struct eph_occ_sock *s, bool with_dest, struct tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->dest.netns = s->netns;
	t->dest.proto = s->proto;
	t->dest.family = s->family;
	memcpy(t->dest.saddr, s->saddr, s->family == AF_INET ? 4 : 16);
	if (with_dest) {
		t->dest.dport = s->dport;
		memcpy(t->dest.daddr, s->daddr, s->family == AF_INET ? 4 : 16);
	}
	t->sport = s->sport;
}

int eph_occ__seed(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n, uint64_t now_ns)
{
	uint64_t *listen = NULL, key;
	size_t i, nlisten = 0;
	int err = 0;

	for (i = 0; i < n; i++) {
		const struct ns *ns = ns_find(occ, socks[i].netns);

		if (!ns || !ns->have_range)
			return -ENOENT;
		if (socks[i].proto == IPPROTO_TCP && socks[i].state == TCP_LISTEN)
			nlisten++;
	}
	if (nlisten) {
		listen = calloc(nlisten, sizeof(*listen));
		if (!listen)
			return -ENOMEM;
		nlisten = 0;
		for (i = 0; i < n; i++)
			if (socks[i].proto == IPPROTO_TCP && socks[i].state == TCP_LISTEN)
				listen[nlisten++] = listen_key(socks[i].netns, socks[i].sport);
		qsort(listen, nlisten, sizeof(*listen), cmp_u64);
	}
	for (i = 0; i < n && !err; i++) {
		const struct eph_occ_sock *s = &socks[i];
		struct hold_spec hs = { 0 };
		enum sock_kind kind;
		bool listened;

		key = listen_key(s->netns, s->sport);
		listened = s->proto == IPPROTO_TCP && nlisten &&
			   bsearch(&key, listen, nlisten, sizeof(*listen), cmp_u64);
		kind = sock_kind(s, ns_find(occ, s->netns), listened);
		if (kind == KIND_NONE)
			continue;
		sock_tuple(s, s->dport != 0, &hs.k.tuple);
		hs.cookie = s->cookie;
		hold_keys_hash(&hs.k, hs.sock_id, hs.cookie);
		if (eph_tab__find(&occ->holds, HOLD_BY_TUPLE, &hs.k.tuple,
				  hs.k.hash[HOLD_BY_TUPLE]) >= 0 ||
		    (s->cookie && eph_tab__find(&occ->holds, HOLD_BY_COOKIE, &s->cookie,
						hs.k.hash[HOLD_BY_COOKIE]) >= 0))
			continue; /* already known, e.g. from an event */
		hs.to_dest = kind == KIND_DEST;
		hs.tw = s->proto == IPPROTO_TCP && s->state == TCP_TIME_WAIT;
		hs.now_ns = now_ns;
		/* a TIME_WAIT socket has no owner any more: do not guess one */
		if (!hs.tw && s->pid) {
			hs.pid = s->pid;
			hs.comm = s->comm;
			hs.cgroup = s->cgroup;
		}
		if (hold_add(occ, &hs) == -ENOMEM)
			err = -ENOMEM;
	}
	free(listen);
	return err;
}

/* The hold a snapshot socket stands for (by cookie, else by 4-tuple), whatever its kind. */
static int64_t sock_find(const struct eph_occ *occ, const struct eph_occ_sock *s)
{
	struct tuple t;
	int64_t i;

	if (s->cookie) {
		i = eph_tab__find(&occ->holds, HOLD_BY_COOKIE, &s->cookie, hash_u64(s->cookie));
		if (i >= 0)
			return i;
	}
	sock_tuple(s, s->dport != 0, &t);
	return eph_tab__find(&occ->holds, HOLD_BY_TUPLE, &t, hash_tuple(&t));
}

int eph_occ__reconcile(struct eph_occ *occ, const struct eph_occ_sock *socks, size_t n,
		       uint64_t snap_ns)
{
	uint32_t i;
	size_t k;
	int removed = 0, err;

	for (k = 0; k < n; k++) {
		const struct ns *ns = ns_find(occ, socks[k].netns);

		if (!ns || !ns->have_range)
			return -ENOENT;
	}
	if (++occ->gen == 0)
		occ->gen = 1;
	for (k = 0; k < n; k++) {
		int64_t hi = sock_find(occ, &socks[k]);
		struct hold *h;

		if (hi < 0)
			continue;
		h = hold_rec(occ, hi);
		h->seen = occ->gen;
		if (socks[k].proto == IPPROTO_TCP && socks[k].state == TCP_TIME_WAIT)
			hold_set_tw(occ, h); /* its move was not seen */
	}
	for (i = 0; i < occ->holds.top; i++) {
		struct hold *h;

		if (!occ->holds.used[i])
			continue;
		h = hold_rec(occ, i);
		/* taken after the snapshot began: the snapshot may not show it yet */
		if (h->seen == occ->gen || (h->since_ns && h->since_ns >= snap_ns))
			continue;
		hold_del(occ, i, true, snap_ns,
			 h->since_ns ? (int64_t)(snap_ns - h->since_ns) : -1);
		removed++;
	}
	err = eph_occ__seed(occ, socks, n, snap_ns);
	return err ? err : removed;
}
