// SPDX-License-Identifier: GPL-2.0
/*
 * Occupancy: ports held now per destination, bind scope and process, against the range in
 * force; rates, failures and the exhaustion forecast. See occupancy.h.
 *
 * Every table is a struct eph_tab (table.h): fixed-size records with stable indexes (holds
 * refer to their destination, scope and process by index) and hash indexes on up to three
 * keys. A key whose bytes are all zero is "absent" and not indexed (a hold without a sock_id
 * yet). Adding or removing a hold is O(1); a snapshot sorts once.
 *
 * The hot path is one event: its keys are hashed once (ev_keys) and the hashes passed to every
 * find, link and unlink; the index slots it will read are fetched ahead; the netns and the
 * rate bucket of the last event are remembered.
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

struct eph_occ *eph_occ__new(const struct eph_occ_opts *opts)
{
	static const struct eph_tab_key hold_keys[] = {
		[HOLD_BY_SOCK] = { .off = offsetof(struct hold, sock_id), .len = sizeof(uint64_t) },
		[HOLD_BY_COOKIE] = { .off = offsetof(struct hold, cookie),
				     .len = sizeof(uint64_t) },
		[HOLD_BY_TUPLE] = { .off = offsetof(struct hold, tuple),
				    .len = sizeof(struct tuple),
				    .hash = hash_tuple },
	};
	static const struct eph_tab_key dest_key = { .len = sizeof(struct eph_occ_dest_key),
						     .hash = hash_dest_key };
	static const struct eph_tab_key scope_key = { .len = sizeof(struct eph_occ_scope_key) };
	static const struct eph_tab_key pid_key = { .off = offsetof(struct proc, pid),
						    .len = sizeof(uint32_t) };
	static const struct eph_tab_key ns_key = { .off = offsetof(struct ns, netns),
						   .len = sizeof(uint32_t) };
	uint32_t max = EPH_OCC_DEFAULT_MAX_PORTS, window_ms = EPH_OCC_DEFAULT_WINDOW_MS;
	struct eph_occ *occ;

	if (opts && opts->max_ports)
		max = opts->max_ports;
	if (opts && opts->window_ms)
		window_ms = opts->window_ms;
	if (window_ms < EPH_OCC_BUCKETS)
		return NULL;
	occ = calloc(1, sizeof(*occ));
	if (!occ)
		return NULL;
	occ->window_ns = window_ms * NSEC_PER_MSEC;
	occ->bucket_ns = occ->window_ns / EPH_OCC_BUCKETS;
	if (eph_tab__init(&occ->holds, sizeof(struct hold), hold_keys, 3, max))
		goto out_free;
	if (eph_tab__init(&occ->dests, sizeof(struct dest), &dest_key, 1, max))
		goto out_free;
	if (eph_tab__init(&occ->scopes, sizeof(struct scope), &scope_key, 1, max))
		goto out_free;
	if (eph_tab__init(&occ->procs, sizeof(struct proc), &pid_key, 1, max))
		goto out_free;
	if (eph_tab__init(&occ->nss, sizeof(struct ns), &ns_key, 1, max))
		goto out_free;
	return occ;

out_free:
	eph_occ__free(occ);
	return NULL;
}

void eph_occ__free(struct eph_occ *occ)
{
	uint32_t i;

	if (!occ)
		return;
	for (i = 0; i < occ->procs.top; i++)
		if (occ->procs.used[i])
			proc_free(eph_tab__rec(&occ->procs, i));
	for (i = 0; i < occ->nss.top; i++) {
		if (occ->nss.used[i]) {
			free(((struct ns *)eph_tab__rec(&occ->nss, i))->rbits);
			free(((struct ns *)eph_tab__rec(&occ->nss, i))->owner);
		}
	}
	free(occ->snap_tcp);
	eph_tab__fini(&occ->holds);
	eph_tab__fini(&occ->dests);
	eph_tab__fini(&occ->scopes);
	eph_tab__fini(&occ->procs);
	eph_tab__fini(&occ->nss);
	free(occ);
}

void eph_occ__snapshot_end(struct eph_occ *occ, uint64_t end_ns)
{
	if (end_ns > occ->snap_end_ns)
		occ->snap_end_ns = end_ns;
}

void eph_occ__set_bound_listed(struct eph_occ *occ, bool listed)
{
	occ->bound_unlisted = !listed;
}

uint64_t eph_occ__resyncs(const struct eph_occ *occ)
{
	return occ->resyncs;
}

uint64_t eph_occ__resync_released(const struct eph_occ *occ)
{
	return occ->resync_released;
}

uint64_t eph_occ__dropped(const struct eph_occ *occ)
{
	return occ->dropped;
}

/* ---- network namespaces ---------------------------------------------------------------- */

struct ns *ns_find(const struct eph_occ *occ, uint32_t netns)
{
	int64_t i;

	if (occ->last_ns && occ->last_netns == netns)
		return eph_tab__rec(&occ->nss, occ->last_ns - 1);
	i = eph_tab__find(&occ->nss, 0, &netns, hash_u32(netns));
	return i < 0 ? NULL : eph_tab__rec(&occ->nss, i);
}

int64_t ns_lookup(struct eph_occ *occ, uint32_t netns)
{
	bool made;
	int64_t i = eph_tab__get_n(&occ->nss, 0, &netns, sizeof(netns), hash_u32(netns), &made);
	struct ns *ns;

	if (i < 0)
		return i;
	if (made) {
		ns = eph_tab__rec(&occ->nss, i);
		ns->tw.tw_reuse = 2; /* the kernel's defaults */
		ns->tw.timestamps = 1;
	}
	occ->last_netns = netns;
	occ->last_ns = i + 1;
	return i;
}

int eph_occ__set_tw_opts(struct eph_occ *occ, uint32_t netns, const struct eph_occ_tw_opts *o)
{
	int64_t i;

	if (!netns || o->tw_reuse > 2)
		return -EINVAL;
	i = ns_get(occ, netns);
	if (i < 0)
		return i;
	((struct ns *)eph_tab__rec(&occ->nss, i))->tw = *o;
	return 0;
}

int eph_occ__add_netns(struct eph_occ *occ, uint32_t netns)
{
	int64_t i;

	if (!netns)
		return -EINVAL;
	i = ns_get(occ, netns);
	return i < 0 ? (int)i : 0;
}

int eph_occ__set_range(struct eph_occ *occ, uint32_t netns, uint16_t low, uint16_t high,
		       const uint8_t *reserved)
{
	uint32_t p, n = 0;
	uint8_t *rbits = NULL;
	struct ns *ns;
	int64_t i;

	if (!netns || low > high)
		return -EINVAL;
	for (p = low; reserved && p <= high; p++) {
		if (!(reserved[p / 8] & (1u << (p % 8))))
			continue;
		if (!rbits) {
			rbits = calloc((high - low) / 8 + 1, 1);
			if (!rbits)
				return -ENOMEM;
		}
		rbits[(p - low) / 8] |= 1u << ((p - low) % 8);
		n++;
	}
	i = ns_get(occ, netns);
	if (i < 0) {
		free(rbits);
		return i;
	}
	ns = eph_tab__rec(&occ->nss, i);
	free(ns->rbits);
	ns->rbits = rbits;
	ns->have_range = true;
	ns->low = low;
	ns->high = high;
	ns->reserved = n;
	return 0;
}

void eph_occ__del_netns(struct eph_occ *occ, uint32_t netns)
{
	int64_t ni = eph_tab__find(&occ->nss, 0, &netns, hash_u32(netns));
	uint32_t i;

	if (ni >= 0) {
		struct ns *ns = eph_tab__rec(&occ->nss, ni);

		free(ns->rbits);
		free(ns->owner);
		eph_tab__del(&occ->nss, ni, NULL);
		occ->last_ns = 0;
	}
	for (i = 0; i < occ->dests.top; i++) {
		struct dest *d = eph_tab__rec(&occ->dests, i);

		if (occ->dests.used[i] && d->key.netns == netns && !d->held)
			eph_tab__del(&occ->dests, i, NULL);
	}
	for (i = 0; i < occ->scopes.top; i++) {
		struct scope *sc = eph_tab__rec(&occ->scopes, i);

		if (occ->scopes.used[i] && sc->key.netns == netns && !sc->held)
			eph_tab__del(&occ->scopes, i, NULL);
	}
}

/* The ports connect() and bind(0) may hand out in this netns; NAN when not known. */
double ns_usable(const struct ns *ns)
{
	if (!ns || !ns->have_range)
		return NAN;
	return (double)(ns->high - ns->low + 1) - ns->reserved;
}

bool ns_port_in_range(const struct ns *ns, uint16_t port)
{
	uint32_t off;

	if (!ns || !ns->have_range || port < ns->low || port > ns->high)
		return false;
	off = port - ns->low;
	return !ns->rbits || !(ns->rbits[off / 8] & (1u << (off % 8)));
}

void eph_occ__prune(struct eph_occ *occ, uint64_t now_ns)
{
	uint64_t horizon = now_ns > occ->window_ns ? now_ns - occ->window_ns : 0;
	/* A destination or scope with failures counted is a counter series for an exporter: it
	 * stays (a new record would start from 0, a reset), until its table is half full. */
	bool keep_dests = occ->dests.len < occ->dests.max / 2;
	bool keep_scopes = occ->scopes.len < occ->scopes.max / 2;
	uint32_t i;

	for (i = 0; i < occ->dests.top; i++) {
		struct dest *d = eph_tab__rec(&occ->dests, i);

		if (occ->dests.used[i] && !d->held && d->last_ns <= horizon &&
		    !(keep_dests && d->failures))
			eph_tab__del(&occ->dests, i, NULL);
	}
	for (i = 0; i < occ->scopes.top; i++) {
		struct scope *s = eph_tab__rec(&occ->scopes, i);

		if (occ->scopes.used[i] && !s->held && s->last_ns <= horizon &&
		    !(keep_scopes && (s->fail_inuse || s->fail_again)))
			eph_tab__del(&occ->scopes, i, NULL);
	}
	procs_prune(occ, horizon);
}
