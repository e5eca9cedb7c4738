// SPDX-License-Identifier: GPL-2.0
/*
 * Who made the bind bucket of each TCP socket sock_diag listed, and the TCP sockets only
 * bound that it does not list before 6.8, from one pass of the port iterator. See sockdiag.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "portiter.h"
#include "sockdiag.h"
#include "sockdiag_int.h"
#include "strbuf.h"

/* ---- bind buckets (the port iterator) ------------------------------------------------- */

struct bucket_recs {
	struct eph_portiter_rec *by_cookie; /* what the iterator gave, sorted by cookie */
	struct eph_portiter_rec *by_key;    /* the same by family, port, state; made on a miss */
	size_t n, cap;
	struct eph_portiter_rec *bound; /* the bound-only sockets of the bind hash walk */
	size_t nbound, bound_cap;
	bool walked; /* its WALKED record came: bound is all of them */
};

static int push_rec(const struct eph_portiter_rec *rec, void *ctx)
{
	struct bucket_recs *b = ctx;
	int err;

	if (rec->kind == EPH_PORTITER_REC_WALKED) {
		b->walked = true;
		return 0;
	}
	if (rec->kind == EPH_PORTITER_REC_BOUND) {
		err = eph_grow((void **)&b->bound, &b->bound_cap, b->nbound, sizeof(*b->bound));
		if (!err)
			b->bound[b->nbound++] = *rec;
		return err;
	}
	err = eph_grow((void **)&b->by_cookie, &b->cap, b->n, sizeof(*b->by_cookie));
	if (err)
		return err;
	b->by_cookie[b->n++] = *rec;
	return 0;
}

static int cmp_rec_cookie(const void *a, const void *b)
{
	const struct eph_portiter_rec *x = a, *y = b;

	return eph_cmp_u64(x->cookie, y->cookie);
}

static int cmp_rec_key(const void *a, const void *b)
{
	const struct eph_portiter_rec *x = a, *y = b;

	int c = eph_cmp_u64(x->family, y->family) ?: eph_cmp_u64(x->sport, y->sport);

	return c ?: eph_cmp_u64(x->state, y->state);
}

/* The only record with the family, port and state of key, else NULL. */
static const struct eph_portiter_rec *find_by_key(struct bucket_recs *b,
						  const struct eph_portiter_rec *key)
{
	size_t lo;

	if (!b->by_key) {
		b->by_key = malloc(b->n * sizeof(*b->by_key));
		if (!b->by_key)
			return NULL;
		memcpy(b->by_key, b->by_cookie, b->n * sizeof(*b->by_key));
		qsort(b->by_key, b->n, sizeof(*b->by_key), cmp_rec_key);
	}
	lo = eph_lower_bound(b->by_key, b->n, sizeof(*b->by_key), key, cmp_rec_key);
	if (lo == b->n || cmp_rec_key(&b->by_key[lo], key))
		return NULL;
	if (lo + 1 < b->n && !cmp_rec_key(&b->by_key[lo + 1], key))
		return NULL; /* ambiguous */
	return &b->by_key[lo];
}

/* The iterator's record of a sock_diag socket: by cookie, else the only one with its family,
 * port and state; NULL when none is. */
static const struct eph_portiter_rec *sock_rec(struct bucket_recs *b, const struct eph_occ_sock *s)
{
	struct eph_portiter_rec key = { .cookie = s->cookie };
	const struct eph_portiter_rec *r = NULL;

	if (!b->n)
		return NULL;
	if (s->cookie)
		r = bsearch(&key, b->by_cookie, b->n, sizeof(key), cmp_rec_cookie);
	if (!r) {
		key.family = s->family;
		key.sport = s->sport;
		key.state = s->state;
		r = find_by_key(b, &key);
	}
	return r;
}

static uint8_t sock_bucket(const struct eph_occ_sock *s, const struct eph_portiter_rec *r)
{
	if (s->state == TCP_LISTEN || s->state == TCP_CLOSE || s->state == EPH_TCP_BOUND_INACTIVE)
		return EPH_BUCKET_BIND;
	if (!r)
		return EPH_BUCKET_UNKNOWN;
	return r->bucket == EPH_PORTITER_BIND	 ? EPH_BUCKET_BIND :
	       r->bucket == EPH_PORTITER_CONNECT ? EPH_BUCKET_CONNECT :
						   EPH_BUCKET_UNKNOWN;
}

/* A TCP socket's bucket, its IP_LOCAL_PORT_RANGE as it set it (raw: the model applies the
 * netns range) and its IPV6_V6ONLY, which sock_diag gives only for listening and closed
 * sockets (a socket bind() put on ::1 has it, connected or not). Listeners and bound-only
 * sockets (in no table the iterator walks) need no record: their bucket is bind()'s, and no
 * connect() of theirs is modelled. */
static void sock_fill(struct bucket_recs *b, struct eph_occ_sock *s)
{
	const struct eph_portiter_rec *r = NULL;

	if (s->state != TCP_LISTEN && s->state != TCP_CLOSE && s->state != EPH_TCP_BOUND_INACTIVE)
		r = sock_rec(b, s);
	s->bucket = sock_bucket(s, r);
	s->range_lo = r ? r->range_lo : 0;
	s->range_hi = r ? r->range_hi : 0;
	if (r && s->family == AF_INET6 && r->v6only)
		s->v6only = 1;
}

/* ---- bound-only sockets (the port iterator's walk of the bind hash, before 6.8) ------------ */

/* What sock_diag listed of a namespace's TCP sockets: their cookies (it makes one for each)
 * and inodes, sorted. A walk's record whose socket is among them is not bound-only any more:
 * its cookie can be 0 (made by nobody while it was only bound), its inode is its own. */
struct listed {
	uint64_t *cookies, *inodes;
	size_t nc, ni;
};

static int listed_keys(const struct eph_occ_sock *socks, size_t n, struct listed *l)
{
	size_t i;

	memset(l, 0, sizeof(*l));
	if (!n)
		return 0;
	l->cookies = malloc(n * sizeof(*l->cookies));
	l->inodes = malloc(n * sizeof(*l->inodes));
	if (!l->cookies || !l->inodes)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (socks[i].proto != IPPROTO_TCP)
			continue;
		if (socks[i].cookie)
			l->cookies[l->nc++] = socks[i].cookie;
		if (socks[i].inode)
			l->inodes[l->ni++] = socks[i].inode;
	}
	if (l->nc)
		qsort(l->cookies, l->nc, sizeof(*l->cookies), cmp_u64);
	if (l->ni)
		qsort(l->inodes, l->ni, sizeof(*l->inodes), cmp_u64);
	return 0;
}

static bool is_listed(const struct listed *l, const struct eph_portiter_rec *r)
{
	return (r->cookie && l->nc &&
		bsearch(&r->cookie, l->cookies, l->nc, sizeof(*l->cookies), cmp_u64)) ||
	       (r->inode && l->ni &&
		bsearch(&r->inode, l->inodes, l->ni, sizeof(*l->inodes), cmp_u64));
}

static void listed_free(struct listed *l)
{
	free(l->cookies);
	free(l->inodes);
}

/* A BOUND record as sock_diag 6.8+ lists the socket: TCP_CLOSE, no remote end. */
static void bound_sock(const struct eph_portiter_rec *r, uint32_t netns, struct eph_occ_sock *s)
{
	memset(s, 0, sizeof(*s));
	s->cookie = r->cookie;
	s->inode = r->inode;
	s->netns = netns;
	s->proto = IPPROTO_TCP;
	s->family = r->family;
	s->state = TCP_CLOSE;
	s->sport = r->sport;
	memcpy(s->saddr, r->addr, r->family == AF_INET ? 4 : 16);
	s->bucket = r->bucket == EPH_PORTITER_CONNECT ? EPH_BUCKET_CONNECT : EPH_BUCKET_BIND;
	s->v6only = r->family == AF_INET6 && r->v6only;
}

/* The records r[0, n) that sock_diag did not list (socks[0, nsocks)) to bound->add; then
 * bound->listed = whole. socks is not used after the first add: add may move it. */
static int add_bound(const struct eph_portiter_rec *r, size_t n, bool whole,
		     const struct eph_occ_sock *socks, size_t nsocks,
		     struct eph_sockdiag_bound *bound)
{
	struct eph_occ_sock s;
	struct listed l;
	size_t i;
	int err;

	err = listed_keys(socks, nsocks, &l);
	for (i = 0; i < n && !err; i++) {
		if (r[i].family != AF_INET && r[i].family != AF_INET6)
			continue;
		if (is_listed(&l, &r[i]))
			continue; /* listed by sock_diag meanwhile (connected or listening now) */
		bound_sock(&r[i], bound->netns, &s);
		err = bound->add(&s, bound->ctx);
	}
	listed_free(&l);
	bound->listed = !err && whole;
	return err;
}

int eph_sockdiag_fill_bound(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n,
			    struct eph_sockdiag_bound *bound)
{
	unsigned int walk = bound ? EPH_PORTITER_WALK_NETNS : EPH_PORTITER_WALK_NONE;
	struct bucket_recs b = { 0 };
	size_t i;
	int err = 0;

	if (bound)
		bound->listed = false;
	if (pi)
		err = eph_portiter__read(pi, walk, push_rec, &b);
	if (err)
		b.n = b.nbound = 0; /* a partial pass: sockets it missed would look unknown */
	if (b.n)
		qsort(b.by_cookie, b.n, sizeof(*b.by_cookie), cmp_rec_cookie);
	for (i = 0; i < n; i++)
		if (socks[i].proto == IPPROTO_TCP)
			sock_fill(&b, &socks[i]);
	if (!err && walk == EPH_PORTITER_WALK_NETNS && b.walked)
		err = add_bound(b.bound, b.nbound, true, socks, n, bound);
	free(b.by_cookie);
	free(b.by_key);
	free(b.bound);
	return err;
}

int eph_sockdiag_fill_buckets(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n)
{
	return eph_sockdiag_fill_bound(pi, socks, n, NULL);
}

/* ---- one walk for every namespace of a snapshot ------------------------------------------ */

static int push_bound(const struct eph_portiter_rec *rec, void *ctx)
{
	return rec->kind == EPH_PORTITER_REC_SOCK ? 0 : push_rec(rec, ctx);
}

static int cmp_rec_netns(const void *a, const void *b)
{
	const struct eph_portiter_rec *x = a, *y = b;

	return eph_cmp_u64(x->netns, y->netns);
}

int eph_sockdiag_walk__read(struct eph_portiter *pi, bool every_netns, struct eph_sockdiag_walk *w)
{
	struct bucket_recs b = { 0 };
	int err;

	eph_sockdiag_walk__clear(w);
	err = eph_portiter__read(pi, every_netns ? EPH_PORTITER_WALK_ALL : EPH_PORTITER_WALK_NETNS,
				 push_bound, &b);
	if (!err && b.nbound)
		qsort(b.bound, b.nbound, sizeof(*b.bound), cmp_rec_netns);
	if (!err) {
		w->recs = b.bound;
		w->n = b.nbound;
		w->whole = b.walked;
	} else {
		free(b.bound);
	}
	return err;
}

int eph_sockdiag_walk__add(const struct eph_sockdiag_walk *w, const struct eph_occ_sock *socks,
			   size_t n, struct eph_sockdiag_bound *bound)
{
	const struct eph_portiter_rec key = { .netns = bound->netns };
	size_t lo = eph_lower_bound(w->recs, w->n, sizeof(*w->recs), &key, cmp_rec_netns), k = 0;

	while (lo + k < w->n && w->recs[lo + k].netns == bound->netns)
		k++;
	return add_bound(w->recs + lo, k, w->whole, socks, n, bound);
}

void eph_sockdiag_walk__clear(struct eph_sockdiag_walk *w)
{
	free(w->recs);
	memset(w, 0, sizeof(*w));
}
