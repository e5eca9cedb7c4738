// SPDX-License-Identifier: GPL-2.0
/*
 * After a snapshot was collected: the sockets that events said were released meanwhile are
 * dropped from it, then it is given to an occupancy (seeded, or reconciled with). See
 * sockdiag.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "order.h"
#include "sockdiag.h"

/* ---- releases seen while a snapshot was taken ----------------------------------------------- */

static bool v4mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

/* An IPv4-mapped IPv6 address as IPv4 (the first 4 bytes), as the occupancy counts it. */
static void unmap(uint8_t *a)
{
	memmove(a, a + 12, 4);
	memset(a + 4, 0, 12);
}

bool eph_sockdiag_release_of(const struct eph_event *ev, struct eph_sockdiag_release *r)
{
	size_t alen = ev->family == AF_INET ? 4 : 16;

	if (ev->type != EPH_RELEASE)
		return false;
	memset(r, 0, sizeof(*r));
	r->ts_ns = ev->ts_ns;
	r->cookie = ev->cookie;
	r->netns = ev->netns;
	r->proto = ev->proto;
	r->family = ev->family;
	r->sport = ev->sport;
	r->has_saddr = !!(ev->flags & EPH_F_SADDR);
	r->has_daddr = !!(ev->flags & EPH_F_DEST);
	if (r->has_saddr)
		memcpy(r->saddr, ev->saddr, alen);
	if (r->has_daddr) {
		memcpy(r->daddr, ev->daddr, alen);
		r->dport = ev->dport;
	}
	if (ev->family == AF_INET6 && v4mapped(r->has_daddr ? r->daddr : r->saddr)) {
		r->family = AF_INET;
		unmap(r->saddr);
		unmap(r->daddr);
	}
	return true;
}

static int cmp_release(const void *a, const void *b)
{
	const struct eph_sockdiag_release *x = a, *y = b;

	return eph_cmp_u64(x->netns, y->netns) ?: eph_cmp_u64(x->sport, y->sport);
}

/* Whether release r is about socket s (its family and addresses as r has them). */
static bool release_matches(const struct eph_sockdiag_release *r, const struct eph_occ_sock *s,
			    uint8_t family, const uint8_t *saddr, const uint8_t *daddr)
{
	static const uint8_t any[16];

	if (r->proto != s->proto || r->family != family)
		return false;
	if (r->cookie && s->cookie)
		return r->cookie == s->cookie;
	if (r->has_daddr && (r->dport != s->dport || memcmp(r->daddr, daddr, 16)))
		return false;
	/* a socket bound to the wildcard address releases it as such */
	return !r->has_saddr || !memcmp(r->saddr, saddr, 16) || !memcmp(r->saddr, any, 16);
}

/* Whether a release of rel (sorted by netns, port) at or after from is about s. */
static bool released(const struct eph_sockdiag_release *rel, size_t n, uint64_t from,
		     const struct eph_occ_sock *s)
{
	struct eph_sockdiag_release key = { .netns = s->netns, .sport = s->sport };
	uint8_t saddr[16] = { 0 }, daddr[16] = { 0 }, family = s->family;
	size_t alen = s->family == AF_INET ? 4 : 16;
	/* the first release of (netns, port) */
	size_t lo = eph_lower_bound(rel, n, sizeof(*rel), &key, cmp_release);

	if (lo == n || cmp_release(&rel[lo], &key))
		return false;
	memcpy(saddr, s->saddr, alen);
	memcpy(daddr, s->daddr, alen);
	if (family == AF_INET6 && v4mapped(s->dport ? daddr : saddr)) {
		family = AF_INET;
		unmap(saddr);
		unmap(daddr);
	}
	for (; lo < n && !cmp_release(&rel[lo], &key); lo++)
		if (rel[lo].ts_ns >= from && release_matches(&rel[lo], s, family, saddr, daddr))
			return true;
	return false;
}

size_t eph_sockdiag_snap__drop_released(struct eph_sockdiag_snap *s,
					struct eph_sockdiag_release *rel, size_t n)
{
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(rel, n, sizeof(*rel), cmp_release);
	for (i = 0; i < s->nsocks; i++)
		if (!released(rel, n, s->start_ns, &s->socks[i]))
			s->socks[k++] = s->socks[i];
	n = s->nsocks - k;
	s->nsocks = k;
	return n;
}

/* ---- giving a snapshot to an occupancy ------------------------------------------------------ */

/* The range and the TIME_WAIT settings of a namespace read, into occ. 0 or -errno. */
static int set_settings(struct eph_occ *occ, uint32_t netns, const struct eph_port_range *r)
{
	int err;

	err = eph_occ__set_range(occ, netns, r->low, r->high, r->reserved);
	if (err)
		return err;
	return eph_occ__set_tw_opts(occ, netns,
				    &(struct eph_occ_tw_opts){
					    .tw_reuse = r->tw_reuse,
					    .timestamps = r->timestamps != 0,
					    .reuse_delay_ms = r->tw_reuse_delay_ms,
				    });
}

/* The sockets of s without those of the namespaces in bad (ascending; none: s's own). */
static int socks_without(const struct eph_sockdiag_snap *s, const uint32_t *bad, size_t nbad,
			 struct eph_occ_sock **out, size_t *n)
{
	size_t i;

	*out = s->socks;
	*n = s->nsocks;
	if (!nbad)
		return 0;
	*out = malloc((s->nsocks + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0, *n = 0; i < s->nsocks; i++)
		if (!bsearch(&s->socks[i].netns, bad, nbad, sizeof(*bad), eph_cmp_u32_at))
			(*out)[(*n)++] = s->socks[i];
	return 0;
}

int eph_sockdiag_apply(struct eph_occ *occ, const struct eph_sockdiag_snap *s, bool reconcile,
		       uint64_t snap_ns)
{
	struct eph_occ_sock *socks;
	uint32_t *bad = NULL;
	size_t i, n, nbad = 0, nread = 0;
	int err = 0, first_err = 0;

	for (i = 0; i < s->nns && !err; i++) {
		const struct eph_sockdiag_ns *ns = &s->ns[i];
		int e = ns->err;

		if (!e)
			e = set_settings(occ, ns->inode, ns->range);
		if (e && e != -ENOMEM) {
			if (!ns->err) { /* its sockets must go: their namespace has no range */
				bad = bad ?: calloc(s->nns, sizeof(*bad));
				if (!bad)
					return -ENOMEM;
				bad[nbad++] = ns->inode;
			}
			e = eph_occ__add_netns(occ, ns->inode) ?: e;
		}
		if (e == -ENOMEM)
			err = e;
		else if (e && !first_err)
			first_err = e;
		nread += !e;
	}
	err = err ?: socks_without(s, bad, nbad, &socks, &n);
	if (err)
		goto out_free;
	/* one flag for the whole snapshot: listed only if every namespace read had them */
	eph_occ__set_bound_listed(occ, s->lists_bound || (nread && !s->no_bound));
	err = reconcile ? eph_occ__reconcile(occ, socks, n, snap_ns) :
			  eph_occ__seed(occ, socks, n, snap_ns);
	if (socks != s->socks)
		free(socks);
	if (err >= 0 && !nread)
		err = first_err ? first_err : -ENOENT;
out_free:
	free(bad);
	return err;
}

int eph_sockdiag_seed(struct eph_occ *occ, const struct eph_netns_list *l, uint32_t only_netns,
		      uint64_t now_ns, struct eph_sockdiag_opts *o)
{
	struct eph_sockdiag_opts none = { 0 };
	struct eph_sockdiag_snap *s;
	int err;

	err = eph_sockdiag_collect(l, only_netns, o ?: &none, &s);
	if (!err)
		err = eph_sockdiag_apply(occ, s, false, now_ns);
	eph_sockdiag_snap__free(s);
	return err;
}

int eph_sockdiag_reconcile(struct eph_occ *occ, const struct eph_netns_list *l, uint64_t snap_ns,
			   struct eph_sockdiag_opts *o)
{
	struct eph_sockdiag_opts none = { 0 };
	struct eph_sockdiag_snap *s;
	int err;

	err = eph_sockdiag_collect(l, 0, o ?: &none, &s);
	if (!err)
		err = eph_sockdiag_apply(occ, s, true, snap_ns);
	eph_sockdiag_snap__free(s);
	return err;
}
