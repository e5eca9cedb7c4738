// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: the port-search model (portsearch.h) fed with the holds, one network namespace at
 * a time: how many more connect() each destination, and bind(0) each bind scope, would get.
 *
 * A hold is a port owner for the model: its TCP bind bucket is bind()'s when an event saw
 * bind() or listen() take it, when the port iterator said so, or when it is a bound-only or
 * listening socket of a snapshot; connect()'s when an event saw connect() take it or the
 * iterator said so; otherwise (a connected socket in a snapshot without the iterator) it is
 * taken for connect()'s, and the namespace says how many were so assumed.
 *
 * A destination whose live sockets set IP_LOCAL_PORT_RANGE (known from snapshots with the port
 * iterator only: events do not carry it) is also asked about its socket range: the effective
 * range (inet_sk_get_local_port_range(), eph_ps_sock_range()) most of those sockets that narrow
 * the netns range use, the narrower one on a tie.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "occ_int.h"
#include "order.h"
#include "portsearch.h"

void occ_model_free(struct occ_model *m)
{
	free(m->dest_left);
	free(m->dest_taken);
	free(m->dest_range);
	free(m->scope_left);
	free(m->ns);
	free(m->ns_assumed);
	free(m->ns_done);
	memset(m, 0, sizeof(*m));
}

static uint8_t hold_flags(const struct hold *h, const struct ns *ns, uint64_t now, bool *assumed)
{
	const struct tuple *t = &h->tuple;
	uint8_t f = 0;

	*assumed = false;
	if (t->dest.proto != IPPROTO_TCP)
		return 0;
	if (h->bucket == EPH_BUCKET_BIND || (h->bucket == EPH_BUCKET_UNKNOWN && !h->dest))
		f |= EPH_PS_TCP_BIND_MADE;
	else if (h->bucket == EPH_BUCKET_UNKNOWN)
		*assumed = true;
	if (h->tw) {
		f |= EPH_PS_TW;
		if (h->dest && h->tw_ns && now > h->tw_ns &&
		    eph_ps_tw_reusable(&ns->tw, t->dest.family, t->dest.saddr, t->dest.daddr,
				       now - h->tw_ns))
			f |= EPH_PS_TW_REUSABLE;
	}
	return f;
}

static int64_t ns_index(const struct eph_occ *occ, uint32_t netns)
{
	uint32_t key[1] = { netns };

	return eph_tab__find_n(&occ->nss, 0, key, sizeof(key), hash_u32(netns));
}

/* Counting sort of the used records of tab by namespace: out[] of record indexes, start[] by
 * ns index (start[nns] = total). */
static int group(const struct eph_occ *occ, const struct eph_tab *tab,
		 uint32_t (*netns_of)(const void *), uint32_t **out, uint32_t **start)
{
	uint32_t nns = occ->nss.top, i, *fill;
	int64_t *nsi;

	*out = calloc(tab->top + 1, sizeof(**out));
	*start = calloc(nns + 2, sizeof(**start));
	nsi = calloc(tab->top + 1, sizeof(*nsi));
	fill = calloc(nns + 1, sizeof(*fill));
	if (!*out || !*start || !nsi || !fill) {
		free(nsi);
		free(fill);
		return -ENOMEM;
	}
	for (i = 0; i < tab->top; i++) {
		nsi[i] = tab->used[i] ? ns_index(occ, netns_of(eph_tab__rec(tab, i))) : -1;
		if (nsi[i] >= 0)
			(*start)[nsi[i] + 1]++;
	}
	for (i = 0; i < nns; i++)
		(*start)[i + 1] += (*start)[i];
	memcpy(fill, *start, nns * sizeof(*fill));
	for (i = 0; i < tab->top; i++)
		if (nsi[i] >= 0)
			(*out)[fill[nsi[i]]++] = i;
	free(nsi);
	free(fill);
	return 0;
}

static uint32_t hold_netns(const void *rec)
{
	return ((const struct hold *)rec)->tuple.dest.netns;
}

static uint32_t dest_netns(const void *rec)
{
	return ((const struct dest *)rec)->key.netns;
}

static uint32_t scope_netns(const void *rec)
{
	return ((const struct scope *)rec)->key.netns;
}

/* A live socket of a destination whose IP_LOCAL_PORT_RANGE narrows the netns range. */
struct sock_range {
	uint32_t dest; /* 1-based index in dq */
	uint16_t lo, hi;
};

struct ns_work {
	struct eph_ps_sock *socks;
	struct eph_ps_query *dq, *sq;
	uint32_t *dlocal;	 /* by dest record index: 1-based index in dq */
	struct sock_range *sr;	 /* this namespace's, nsr of them */
	uint32_t *range_sockets; /* by dq index: sockets with its query's socket range */
	uint32_t nsr;
};

static int cmp_sock_range(const void *a, const void *b)
{
	const struct sock_range *x = a, *y = b;

	int c = eph_cmp_u64(x->dest, y->dest) ?: eph_cmp_u64(x->lo, y->lo);

	return c ?: eph_cmp_u64(x->hi, y->hi);
}

/* Whether a run of n sockets with [lo, hi] beats the best so far: more sockets, or as many
 * with a narrower range (then the lower one). */
static bool range_beats(uint32_t n, const struct sock_range *r, uint32_t best_n,
			const struct eph_ps_query *best)
{
	uint32_t w = r->hi - r->lo, best_w = best->range_high - best->range_low;

	if (n != best_n)
		return n > best_n;
	return w != best_w ? w < best_w : r->lo < best->range_low;
}

/* A live TCP hold of a destination whose range narrows the netns range goes into w->sr. */
static void note_range(const struct hold *h, const struct ns *ns, struct ns_work *w)
{
	struct sock_range *r = &w->sr[w->nsr];

	if (h->tuple.dest.proto != IPPROTO_TCP || !h->dest || h->tw ||
	    (!h->range_lo && !h->range_hi))
		return;
	if (!eph_ps_sock_range(ns->low, ns->high, h->range_lo, h->range_hi, &r->lo, &r->hi))
		return;
	r->dest = w->dlocal[h->dest - 1];
	w->nsr++;
}

/* Each destination's socket range: the one most of its sockets in w->sr use. */
static void pick_ranges(struct ns_work *w, uint32_t nd)
{
	uint32_t i, j;

	memset(w->range_sockets, 0, nd * sizeof(*w->range_sockets));
	qsort(w->sr, w->nsr, sizeof(*w->sr), cmp_sock_range);
	for (i = 0; i < w->nsr; i = j) {
		struct eph_ps_query *q = &w->dq[w->sr[i].dest - 1];
		uint32_t *best_n = &w->range_sockets[w->sr[i].dest - 1];

		for (j = i + 1; j < w->nsr && !cmp_sock_range(&w->sr[i], &w->sr[j]); j++)
			;
		if (range_beats(j - i, &w->sr[i], *best_n, q)) {
			*best_n = j - i;
			q->range_low = w->sr[i].lo;
			q->range_high = w->sr[i].hi;
		}
	}
}

/* One namespace: its holds as sockets, its destinations and scopes as queries. */
static int model_ns(const struct eph_occ *occ, struct occ_model *m, uint64_t now, uint32_t nsi,
		    uint32_t *hv, uint32_t *hs, uint32_t *dv, uint32_t *ds, uint32_t *sv,
		    uint32_t *ss, struct ns_work *w)
{
	const struct ns *ns = eph_tab__rec(&occ->nss, nsi);
	struct eph_ps_range r = { ns->low, ns->high, ns->rbits };
	uint32_t i, nh = hs[nsi + 1] - hs[nsi], nd = ds[nsi + 1] - ds[nsi];
	uint32_t nsc = ss[nsi + 1] - ss[nsi];
	bool assumed;
	int err;

	for (i = 0; i < nd; i++) {
		const struct dest *d = eph_tab__rec(&occ->dests, dv[ds[nsi] + i]);

		w->dlocal[dv[ds[nsi] + i]] = i + 1;
		w->dq[i] = (struct eph_ps_query){ .proto = d->key.proto, .family = d->key.family };
	}
	for (i = 0; i < nsc; i++) {
		const struct scope *s = eph_tab__rec(&occ->scopes, sv[ss[nsi] + i]);

		w->sq[i] = (struct eph_ps_query){ .proto = s->key.proto,
						  .family = s->key.family,
						  .addr = s->key.addr };
	}
	w->nsr = 0;
	for (i = 0; i < nh; i++) {
		const struct hold *h = hold_rec(occ, hv[hs[nsi] + i]);

		note_range(h, ns, w);
		w->socks[i] = (struct eph_ps_sock){
			.proto = h->tuple.dest.proto,
			.family = h->tuple.dest.family,
			.v6only = h->v6only,
			.flags = hold_flags(h, ns, now, &assumed),
			.sport = h->tuple.sport,
			.dest = h->dest ? w->dlocal[h->dest - 1] : 0,
			.saddr = h->tuple.dest.saddr,
		};
		m->ns_assumed[nsi] += assumed;
	}
	pick_ranges(w, nd);
	err = eph_ps_compute(&r, w->socks, nh, w->dq, nd, w->sq, nsc, &m->ns[nsi]);
	if (err)
		return err;
	for (i = 0; i < nd; i++) {
		const struct eph_ps_query *q = &w->dq[i];

		m->dest_left[dv[ds[nsi] + i]] = q->left;
		m->dest_taken[dv[ds[nsi] + i]] = q->taken;
		if (w->range_sockets[i])
			m->dest_range[dv[ds[nsi] + i]] = (struct eph_occ_range){
				.low = q->range_low,
				.high = q->range_high,
				.sockets = w->range_sockets[i],
				.usable = q->range_usable,
				.left = q->range_left,
			};
	}
	for (i = 0; i < nsc; i++)
		m->scope_left[sv[ss[nsi] + i]] = w->sq[i].left;
	m->ns_done[nsi] = 1;
	return 0;
}

static int model_alloc(const struct eph_occ *occ, struct occ_model *m, struct ns_work *w)
{
	memset(m, 0, sizeof(*m));
	m->dest_left = calloc(occ->dests.top + 1, sizeof(*m->dest_left));
	m->dest_taken = calloc(occ->dests.top + 1, sizeof(*m->dest_taken));
	m->dest_range = calloc(occ->dests.top + 1, sizeof(*m->dest_range));
	m->scope_left = calloc(occ->scopes.top + 1, sizeof(*m->scope_left));
	m->ns = calloc(occ->nss.top + 1, sizeof(*m->ns));
	m->ns_assumed = calloc(occ->nss.top + 1, sizeof(*m->ns_assumed));
	m->ns_done = calloc(occ->nss.top + 1, sizeof(*m->ns_done));
	w->socks = calloc(occ->holds.top + 1, sizeof(*w->socks));
	w->dq = calloc(occ->dests.top + 1, sizeof(*w->dq));
	w->sq = calloc(occ->scopes.top + 1, sizeof(*w->sq));
	w->dlocal = calloc(occ->dests.top + 1, sizeof(*w->dlocal));
	w->sr = calloc(occ->holds.top + 1, sizeof(*w->sr));
	w->range_sockets = calloc(occ->dests.top + 1, sizeof(*w->range_sockets));
	if (!m->dest_left || !m->dest_taken || !m->dest_range || !m->scope_left || !m->ns ||
	    !m->ns_assumed || !m->ns_done || !w->socks || !w->dq || !w->sq || !w->dlocal ||
	    !w->sr || !w->range_sockets)
		return -ENOMEM;
	return 0;
}

int occ_model_build(const struct eph_occ *occ, uint64_t now, struct occ_model *m)
{
	uint32_t *hv = NULL, *hs = NULL, *dv = NULL, *ds = NULL, *sv = NULL, *ss = NULL, i;
	struct ns_work w = { 0 };
	int err;

	err = model_alloc(occ, m, &w);
	if (!err)
		err = group(occ, &occ->holds, hold_netns, &hv, &hs);
	if (!err)
		err = group(occ, &occ->dests, dest_netns, &dv, &ds);
	if (!err)
		err = group(occ, &occ->scopes, scope_netns, &sv, &ss);
	for (i = 0; !err && i < occ->nss.top; i++) {
		const struct ns *ns = eph_tab__rec(&occ->nss, i);

		if (occ->nss.used[i] && ns->have_range)
			err = model_ns(occ, m, now, i, hv, hs, dv, ds, sv, ss, &w);
	}
	free(hv);
	free(hs);
	free(dv);
	free(ds);
	free(sv);
	free(ss);
	free(w.socks);
	free(w.dq);
	free(w.sq);
	free(w.dlocal);
	free(w.sr);
	free(w.range_sockets);
	if (err)
		occ_model_free(m);
	return err;
}
