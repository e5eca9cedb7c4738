// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: rate windows, destinations, bind scopes, processes and the holds that count in
 * them. See occ_int.h.
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

/* ---- rate windows ---------------------------------------------------------------------- */

/* The number of the rate bucket that time ts falls into (time / bucket width); the last one is
 * remembered, as events come in time order. */
static uint64_t epoch_of(struct eph_occ *occ, uint64_t ts)
{
	if (ts - occ->epoch_ns >= occ->bucket_ns) {
		occ->epoch = ts / occ->bucket_ns;
		occ->epoch_ns = occ->epoch * occ->bucket_ns;
		occ->epoch_slot = occ->epoch % EPH_OCC_BUCKETS;
	}
	return occ->epoch;
}

/* The bucket of the rate window that time ts falls into, reset if it held an older period;
 * NULL when ts is older than the window that the ring currently covers. */
static struct slot *ring_at(struct eph_occ *occ, struct slot *ring, uint64_t ts)
{
	uint64_t e = epoch_of(occ, ts);
	struct slot *s = &ring[occ->epoch_slot];

	if (s->epoch == e)
		return s;
	if (s->epoch > e)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->epoch = e;
	return s;
}

/* Sum of the buckets inside the window ending at now; *span_s = the time they cover (from
 * the start of the oldest bucket, or from eph_occ__start when that is later). */
void ring_sum(const struct eph_occ *occ, const struct slot *ring, uint64_t now, struct slot *sum,
	      double *span_s)
{
	uint64_t ne = now / occ->bucket_ns, first = 0, from;
	unsigned int i;

	if (ne >= EPH_OCC_BUCKETS - 1)
		first = ne - (EPH_OCC_BUCKETS - 1);
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < EPH_OCC_BUCKETS; i++) {
		const struct slot *s = &ring[i];

		if (s->epoch < first || s->epoch > ne)
			continue;
		sum->assigns += s->assigns;
		sum->releases += s->releases;
		sum->dur_n += s->dur_n;
		sum->fails += s->fails;
		sum->dur_ns += s->dur_ns;
	}
	from = first * occ->bucket_ns;
	if (occ->start_ns > from)
		from = occ->start_ns;
	*span_s = now > from ? (double)(now - from) / NSEC_PER_SEC : 0;
}

/* A connect() failure of destination d at ts, in its rate window. */
void count_fail(struct eph_occ *occ, struct dest *d, uint64_t ts)
{
	struct slot *s = ring_at(occ, d->ring, ts);

	if (s)
		s->fails++;
}

/* ---- aggregates ------------------------------------------------------------------------ */

/* The destination key, created if new; hash: hash_dest(key). */
int64_t dest_get(struct eph_occ *occ, const struct eph_occ_dest_key *key, uint32_t hash)
{
	int64_t i = eph_tab__find_n(&occ->dests, 0, key, sizeof(*key), hash);
	struct dest *d;

	if (i >= 0)
		return i;
	i = eph_tab__alloc(&occ->dests);
	if (i < 0)
		return i;
	d = eph_tab__rec(&occ->dests, i);
	d->key = *key;
	d->hash = hash;
	eph_tab__link(&occ->dests, i, &hash);
	return i;
}

/* The bind scope key, created if new. */
static int64_t scope_get(struct eph_occ *occ, const struct eph_occ_scope_key *key)
{
	uint32_t hash = eph_tab__hash(key, sizeof(*key));
	int64_t i = eph_tab__find(&occ->scopes, 0, key, hash);

	if (i >= 0)
		return i;
	i = eph_tab__alloc(&occ->scopes);
	if (i < 0)
		return i;
	memcpy(eph_tab__rec(&occ->scopes, i), key, sizeof(*key));
	eph_tab__link(&occ->scopes, i, &hash);
	return i;
}

void hold_keys_hash(struct hold_keys *k, uint64_t sock_id, uint64_t cookie)
{
	k->dest_hash = hash_dest(&k->tuple.dest);
	k->hash[HOLD_BY_SOCK] = sock_id ? hash_u64(sock_id) : 0;
	k->hash[HOLD_BY_COOKIE] = cookie ? hash_u64(cookie) : 0;
	k->hash[HOLD_BY_TUPLE] = hash_tuple_of(k->dest_hash, k->tuple.sport);
}

static void scope_key_of(const struct tuple *t, struct eph_occ_scope_key *k)
{
	memset(k, 0, sizeof(*k));
	k->netns = t->dest.netns;
	k->proto = t->dest.proto;
	k->family = t->dest.family;
	memcpy(k->addr, t->dest.saddr, sizeof(k->addr));
}

/*
 * The kernel found no free port in the bind scope of tuple t (its netns, protocol, family and
 * source address) at ts: err EADDRINUSE (bind() to port 0, listen()) or EAGAIN (a UDP implicit
 * bind); other errnos are not counted here. Returns 0, -ENOSPC (counted as dropped) or -ENOMEM.
 */
int count_scope_fail(struct eph_occ *occ, const struct tuple *t, int32_t err, uint64_t ts)
{
	struct eph_occ_scope_key k;
	struct scope *s;
	int64_t i;

	if (err != EADDRINUSE && err != EAGAIN)
		return 0;
	scope_key_of(t, &k);
	i = scope_get(occ, &k);
	if (i < 0) {
		if (i == -ENOSPC)
			occ->dropped++;
		return i;
	}
	s = eph_tab__rec(&occ->scopes, i);
	if (err == EADDRINUSE)
		s->fail_inuse++;
	else
		s->fail_again++;
	touch(&s->last_ns, ts);
	return 0;
}

/* Counters of a hold's destination or scope and owner: +1 or -1. */
static void hold_count(struct eph_occ *occ, const struct hold *h, int d)
{
	uint32_t *held, *tw;

	if (h->dest) {
		struct dest *x = eph_tab__rec(&occ->dests, h->dest - 1);

		held = &x->held;
		tw = &x->tw;
	} else {
		struct scope *x = eph_tab__rec(&occ->scopes, h->scope - 1);

		held = &x->held;
		tw = &x->tw;
	}
	*held += d;
	if (h->tw)
		*tw += d;
	if (h->proc) {
		struct proc *p = eph_tab__rec(&occ->procs, h->proc - 1);

		p->held += d;
		if (h->tw)
			p->tw += d;
	} else {
		occ->anon_held += d;
		if (h->tw)
			occ->anon_tw += d;
	}
}

/* The hash of a hold's tuple key (its destination keeps the destination's part). */
static uint32_t hold_tuple_hash(const struct eph_occ *occ, const struct hold *h)
{
	if (h->dest)
		return hash_tuple_of(((struct dest *)eph_tab__rec(&occ->dests, h->dest - 1))->hash,
				     h->tuple.sport);
	return hash_tuple(&h->tuple);
}

/*
 * The socket of hold hi is now known under other keys (k, hashed): a snapshot shows connected
 * what an event saw only bound (bind() before connect()), or with the source address connect()
 * gave it (a UDP autobind binds the wildcard). It moves to that destination or scope, with its
 * owner, ids and times. Returns 0, -ENOSPC (counted as dropped: the hold stays where it was)
 * or -ENOMEM.
 */
int hold_retarget(struct eph_occ *occ, int64_t hi, const struct hold_keys *k, bool to_dest)
{
	struct eph_occ_scope_key sk;
	struct hold *h = hold_rec(occ, hi);
	int64_t ai;

	if (to_dest) {
		ai = dest_get(occ, &k->tuple.dest, k->dest_hash);
	} else {
		scope_key_of(&k->tuple, &sk);
		ai = scope_get(occ, &sk);
	}
	if (ai < 0) {
		if (ai == -ENOSPC)
			occ->dropped++;
		return ai;
	}
	hold_count(occ, h, -1);
	eph_tab__unlink_key(&occ->holds, HOLD_BY_TUPLE, hi, hold_tuple_hash(occ, h));
	h->tuple = k->tuple;
	h->dest = to_dest ? ai + 1 : 0;
	h->scope = to_dest ? 0 : ai + 1;
	eph_tab__link_key(&occ->holds, HOLD_BY_TUPLE, hi, k->hash[HOLD_BY_TUPLE]);
	hold_count(occ, h, +1);
	return 0;
}

/* The hold moved to TIME_WAIT at ts (0: not known when). */
void hold_set_tw(struct eph_occ *occ, struct hold *h, uint64_t ts)
{
	if (h->tw)
		return;
	hold_count(occ, h, -1);
	h->tw = 1;
	h->tw_ns = ts;
	hold_count(occ, h, +1);
}

void hold_set_owner(struct eph_occ *occ, struct hold *h, uint32_t proc)
{
	hold_count(occ, h, -1);
	h->proc = proc;
	hold_count(occ, h, +1);
}

void hold_set_id(struct eph_occ *occ, int64_t hi, unsigned int k, uint64_t id)
{
	struct hold *h = hold_rec(occ, hi);
	uint64_t *field = k == HOLD_BY_SOCK ? &h->sock_id : &h->cookie;

	if (!id || *field == id)
		return;
	if (*field)
		eph_tab__unlink_key(&occ->holds, k, hi, hash_u64(*field));
	*field = id;
	eph_tab__link_key(&occ->holds, k, hi, hash_u64(id));
}

/* The socket object of a hold is gone (it moved to TIME_WAIT): the kernel will reuse its address
 * for another socket, so the hold is found by cookie or 4-tuple from now on. */
void hold_forget_sock(struct eph_occ *occ, int64_t hi)
{
	struct hold *h = hold_rec(occ, hi);

	if (!h->sock_id)
		return;
	eph_tab__unlink_key(&occ->holds, HOLD_BY_SOCK, hi, hash_u64(h->sock_id));
	h->sock_id = 0; /* absent: not indexed */
}

void count_assign(struct eph_occ *occ, const struct hold *h, uint64_t ts)
{
	struct slot *s;

	if (h->dest) {
		struct dest *d = eph_tab__rec(&occ->dests, h->dest - 1);

		/* a new stretch of activity: the forecast's rates start here, not a window ago */
		if (!d->last_assign_ns || ts > d->last_assign_ns + occ->window_ns)
			d->active_ns = ts;
		if (ts > d->last_assign_ns)
			d->last_assign_ns = ts;
		s = ring_at(occ, d->ring, ts);
		if (s)
			s->assigns++;
	}
	if (h->proc) {
		struct proc *p = eph_tab__rec(&occ->procs, h->proc - 1);

		s = ring_at(occ, p->ring, ts);
		if (s)
			s->assigns++;
	}
}

/* Track a new hold (hs->k hashed). Returns its index, -ENOSPC (a cap: counted as dropped) or
 * -ENOMEM. */
int64_t hold_add(struct eph_occ *occ, const struct hold_spec *hs)
{
	int64_t di = -1, si = -1, pi = -1, hi;
	struct hold *h;

	if (hs->to_dest) {
		hi = di = dest_get(occ, &hs->k.tuple.dest, hs->k.dest_hash);
	} else {
		struct eph_occ_scope_key sk;

		scope_key_of(&hs->k.tuple, &sk);
		hi = si = scope_get(occ, &sk);
	}
	if (hi < 0)
		goto out_count_drop;
	if (hs->pid) {
		hi = pi = proc_get(occ, hs->pid, hs->comm, hs->cgroup);
		if (hi < 0)
			goto out_count_drop;
	}
	hi = eph_tab__alloc(&occ->holds);
	if (hi < 0)
		goto out_count_drop;
	h = hold_rec(occ, hi);
	h->sock_id = hs->sock_id;
	h->cookie = hs->cookie;
	h->tuple = hs->k.tuple;
	h->since_ns = hs->since_ns;
	h->dest = di + 1;
	h->scope = si + 1;
	h->proc = pi + 1;
	h->tw = hs->tw;
	h->tw_ns = hs->tw_ns;
	h->bucket = hs->bucket;
	h->v6only = hs->v6only;
	eph_tab__link(&occ->holds, hi, hs->k.hash);
	hold_count(occ, h, +1);
	if (h->dest)
		touch(&((struct dest *)eph_tab__rec(&occ->dests, di))->last_ns, hs->now_ns);
	else
		touch(&((struct scope *)eph_tab__rec(&occ->scopes, si))->last_ns, hs->now_ns);
	if (h->proc)
		touch(&((struct proc *)eph_tab__rec(&occ->procs, pi))->last_ns, hs->now_ns);
	return hi;

out_count_drop:
	if (hi == -ENOSPC)
		occ->dropped++;
	return hi;
}

/*
 * Forget hold hi. released: it went back to the pool at ts (counted in its destination's
 * window with its hold time dur_ns, when known: dur_ns >= 0); else it is dropped as stale.
 */
void hold_del(struct eph_occ *occ, int64_t hi, bool released, uint64_t ts, int64_t dur_ns)
{
	struct hold *h = hold_rec(occ, hi);
	uint32_t hash[EPH_TAB_KEYS];

	hold_count(occ, h, -1);
	hash[HOLD_BY_SOCK] = h->sock_id ? hash_u64(h->sock_id) : 0;
	hash[HOLD_BY_COOKIE] = h->cookie ? hash_u64(h->cookie) : 0;
	if (h->dest) {
		struct dest *d = eph_tab__rec(&occ->dests, h->dest - 1);
		struct slot *s = released ? ring_at(occ, d->ring, ts) : NULL;

		hash[HOLD_BY_TUPLE] = hash_tuple_of(d->hash, h->tuple.sport);
		if (s) {
			s->releases++;
			if (dur_ns >= 0) {
				s->dur_n++;
				s->dur_ns += dur_ns;
			}
		}
		touch(&d->last_ns, ts);
	} else {
		hash[HOLD_BY_TUPLE] = hash_tuple(&h->tuple);
		touch(&((struct scope *)eph_tab__rec(&occ->scopes, h->scope - 1))->last_ns, ts);
	}
	if (h->proc)
		touch(&((struct proc *)eph_tab__rec(&occ->procs, h->proc - 1))->last_ns, ts);
	eph_tab__del(&occ->holds, hi, hash);
}
