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
	size_t lo = 0, hi = b->n;

	if (!b->by_key) {
		b->by_key = malloc(b->n * sizeof(*b->by_key));
		if (!b->by_key)
			return NULL;
		memcpy(b->by_key, b->by_cookie, b->n * sizeof(*b->by_key));
		qsort(b->by_key, b->n, sizeof(*b->by_key), cmp_rec_key);
	}
	while (lo < hi) { /* the first one not below key */
		size_t mid = (lo + hi) / 2;

		if (cmp_rec_key(&b->by_key[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
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

/* A TCP socket's bucket, and its IP_LOCAL_PORT_RANGE as it set it (raw: the model applies the
 * netns range). Listeners and bound-only sockets (in no table the iterator walks) need no
 * record: their bucket is bind()'s, and no connect() of theirs is modelled. */
static void sock_fill(struct bucket_recs *b, struct eph_occ_sock *s)
{
	const struct eph_portiter_rec *r = NULL;

	if (s->state != TCP_LISTEN && s->state != TCP_CLOSE && s->state != EPH_TCP_BOUND_INACTIVE)
		r = sock_rec(b, s);
	s->bucket = sock_bucket(s, r);
	s->range_lo = r ? r->range_lo : 0;
	s->range_hi = r ? r->range_hi : 0;
}

/* ---- bound-only sockets (the port iterator's walk of the bind hash, before 6.8) ------------ */

/* The cookies of the TCP sockets sock_diag listed, sorted (made them: it lists none without);
 * *cookies NULL when there are none. 0 or -ENOMEM. */
static int listed_cookies(const struct eph_occ_sock *socks, size_t n, uint64_t **cookies,
			  size_t *nc)
{
	size_t i;

	*cookies = NULL;
	*nc = 0;
	for (i = 0; i < n; i++) {
		if (socks[i].proto != IPPROTO_TCP || !socks[i].cookie)
			continue;
		if (!*cookies) {
			*cookies = malloc((n - i) * sizeof(**cookies));
			if (!*cookies)
				return -ENOMEM;
		}
		(*cookies)[(*nc)++] = socks[i].cookie;
	}
	if (*nc)
		qsort(*cookies, *nc, sizeof(**cookies), cmp_u64);
	return 0;
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

/* The walk's sockets that sock_diag did not list (cookies, sorted) to bound->add. */
static int add_bound(const struct bucket_recs *b, const uint64_t *cookies, size_t nc,
		     struct eph_sockdiag_bound *bound)
{
	struct eph_occ_sock s;
	size_t i;
	int err;

	for (i = 0; i < b->nbound; i++) {
		const struct eph_portiter_rec *r = &b->bound[i];

		if (r->family != AF_INET && r->family != AF_INET6)
			continue;
		if (r->cookie && nc && bsearch(&r->cookie, cookies, nc, sizeof(*cookies), cmp_u64))
			continue; /* listed by sock_diag meanwhile (connected or listening now) */
		bound_sock(r, bound->netns, &s);
		err = bound->add(&s, bound->ctx);
		if (err)
			return err;
	}
	return 0;
}

int eph_sockdiag_fill_bound(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n,
			    struct eph_sockdiag_bound *bound)
{
	struct bucket_recs b = { 0 };
	uint64_t *cookies = NULL;
	size_t i, nc = 0;
	int err = 0;

	if (bound)
		bound->listed = false;
	if (pi)
		err = eph_portiter__read(pi, push_rec, &b);
	if (err)
		b.n = b.nbound = 0; /* a partial pass: sockets it missed would look unknown */
	if (b.n)
		qsort(b.by_cookie, b.n, sizeof(*b.by_cookie), cmp_rec_cookie);
	for (i = 0; i < n; i++)
		if (socks[i].proto == IPPROTO_TCP)
			sock_fill(&b, &socks[i]);
	if (!err && bound && b.walked) {
		err = listed_cookies(socks, n, &cookies, &nc);
		/* socks is not used after this: add may move it */
		err = err ?: add_bound(&b, cookies, nc, bound);
		bound->listed = !err;
	}
	free(cookies);
	free(b.by_cookie);
	free(b.by_key);
	free(b.bound);
	return err;
}

int eph_sockdiag_fill_buckets(struct eph_portiter *pi, struct eph_occ_sock *socks, size_t n)
{
	return eph_sockdiag_fill_bound(pi, socks, n, NULL);
}
