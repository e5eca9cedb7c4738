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

#include "format.h"
#include "occupancy.h"
#include "table.h"

#ifndef TCP_NEW_SYN_RECV
#define TCP_NEW_SYN_RECV 12
#endif
/* Bound, not connected, not listening: listed by kernels that dump bound-only sockets. */
#define TCP_BOUND_INACTIVE 13

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull

/* ---- keys ------------------------------------------------------------------------------ */

static uint32_t hash_u32(uint32_t v)
{
	return eph_tab__hash(&v, sizeof(v));
}

static uint32_t hash_u64(uint64_t v)
{
	return eph_tab__hash(&v, sizeof(v));
}

/* ---- records --------------------------------------------------------------------------- */

struct tuple {
	struct eph_occ_dest_key dest;
	uint16_t sport;
	uint8_t __pad[2];
};

/*
 * A destination is hashed by its fields, so that an event's is computed from the event itself
 * (ev_tuple) with the same result as from a key in memory: head is netns, proto, family
 * and dport in one word, the addresses are read as two words each.
 */
static uint32_t hash_dest_of(uint64_t head, uint64_t s0, uint64_t s1, uint64_t d0, uint64_t d1)
{
	return eph_tab__fold(
		eph_tab__mix(eph_tab__mix(eph_tab__mix(EPH_TAB_K2, head, s0), s1, d0), d1, 0));
}

static uint64_t dest_head(uint32_t netns, uint8_t proto, uint8_t family, uint16_t dport)
{
	return netns | (uint64_t)proto << 32 | (uint64_t)family << 40 | (uint64_t)dport << 48;
}

static uint32_t hash_dest(const struct eph_occ_dest_key *k)
{
	return hash_dest_of(dest_head(k->netns, k->proto, k->family, k->dport),
			    eph_tab__load64(k->saddr), eph_tab__load64(k->saddr + 8),
			    eph_tab__load64(k->daddr), eph_tab__load64(k->daddr + 8));
}

static uint32_t hash_dest_key(const void *key)
{
	return hash_dest(key);
}

/* A tuple is a destination key and a port: its hash comes from the destination's, which a
 * hold's destination keeps, so that an event hashes its destination once. */
static uint32_t hash_tuple_of(uint32_t dest_hash, uint16_t sport)
{
	return eph_tab__fold((uint64_t)dest_hash << 16 | sport);
}

static uint32_t hash_tuple(const void *key)
{
	const struct tuple *t = key;

	return hash_tuple_of(hash_dest(&t->dest), t->sport);
}

struct hold {
	uint64_t sock_id;   /* key 0 */
	uint64_t cookie;    /* key 1 */
	uint64_t since_ns;  /* assignment; 0 = unknown (found in a snapshot) */
	struct tuple tuple; /* key 2 */
	uint32_t dest;	    /* 1-based index in dests, or 0 */
	uint32_t scope;	    /* 1-based index in scopes, or 0 */
	uint32_t proc;	    /* 1-based index in procs; 0 = owner unknown */
	uint32_t seen;	    /* generation of the last snapshot that showed it */
	uint8_t tw;
};

/* One bucket of a rate window. */
struct slot {
	uint64_t epoch; /* time / bucket width */
	uint32_t assigns;
	uint32_t releases;
	uint32_t dur_n; /* releases whose hold time is known */
	uint32_t __pad;
	uint64_t dur_ns; /* sum of those hold times */
};

struct dest {
	struct eph_occ_dest_key key;
	uint32_t hash; /* of key */
	uint32_t held;
	uint32_t tw;
	uint64_t failures;
	uint64_t last_ns; /* last activity */
	struct slot ring[EPH_OCC_BUCKETS];
};

struct scope {
	struct eph_occ_scope_key key;
	uint32_t held;
	uint32_t tw;
	uint64_t last_ns;
};

#define PROC_MAX_ERRNOS 8 /* distinct errnos per process; more go to "OTHER" */

struct errcount {
	int32_t err;
	uint32_t __pad;
	uint64_t count;
};

struct proc {
	uint32_t pid;
	uint32_t held;
	uint32_t tw;
	uint32_t nerrs;
	bool exited;
	char comm[EPH_COMM_LEN];
	char *cgroup;
	uint64_t last_ns;
	uint64_t failures;
	uint64_t failures_other;
	struct errcount errs[PROC_MAX_ERRNOS]; /* ascending by err */
	struct slot ring[EPH_OCC_BUCKETS];     /* assigns only */
};

struct ns {
	uint32_t netns;
	bool have_range;
	uint16_t low;
	uint16_t high;
	uint32_t reserved; /* reserved ports inside [low, high] */
	uint8_t *rbits;	   /* bit p - low set: port p is reserved; NULL when none is */
};

struct eph_occ {
	struct eph_tab holds;
	struct eph_tab dests;
	struct eph_tab scopes;
	struct eph_tab procs;
	struct eph_tab nss;
	uint64_t window_ns;
	uint64_t bucket_ns;
	bool started;
	uint64_t start_ns;
	uint64_t dropped;
	uint32_t anon_held; /* holds of unknown owner */
	uint32_t anon_tw;
	uint32_t gen;	     /* snapshots reconciled */
	uint32_t last_netns; /* the netns of the last event ... */
	uint32_t last_ns;    /* ... is record last_ns - 1 of nss (0: none remembered) */
	uint64_t epoch;	     /* the rate bucket of the last event (time / bucket_ns), */
	uint64_t epoch_ns;   /* the time it starts at */
	uint32_t epoch_slot; /* and its slot in a ring (epoch % EPH_OCC_BUCKETS) */
};

enum {
	HOLD_BY_SOCK,
	HOLD_BY_COOKIE,
	HOLD_BY_TUPLE
};

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
			free(((struct proc *)eph_tab__rec(&occ->procs, i))->cgroup);
	for (i = 0; i < occ->nss.top; i++)
		if (occ->nss.used[i])
			free(((struct ns *)eph_tab__rec(&occ->nss, i))->rbits);
	eph_tab__fini(&occ->holds);
	eph_tab__fini(&occ->dests);
	eph_tab__fini(&occ->scopes);
	eph_tab__fini(&occ->procs);
	eph_tab__fini(&occ->nss);
	free(occ);
}

uint64_t eph_occ__dropped(const struct eph_occ *occ)
{
	return occ->dropped;
}

/* ---- network namespaces ---------------------------------------------------------------- */

static struct ns *ns_find(const struct eph_occ *occ, uint32_t netns)
{
	int64_t i;

	if (occ->last_ns && occ->last_netns == netns)
		return eph_tab__rec(&occ->nss, occ->last_ns - 1);
	i = eph_tab__find(&occ->nss, 0, &netns, hash_u32(netns));
	return i < 0 ? NULL : eph_tab__rec(&occ->nss, i);
}

static int64_t ns_lookup(struct eph_occ *occ, uint32_t netns)
{
	uint32_t hash = hash_u32(netns);
	int64_t i = eph_tab__find(&occ->nss, 0, &netns, hash);
	struct ns *ns;

	if (i < 0) {
		i = eph_tab__alloc(&occ->nss);
		if (i < 0)
			return i;
		ns = eph_tab__rec(&occ->nss, i);
		ns->netns = netns;
		eph_tab__link(&occ->nss, i, &hash);
	}
	occ->last_netns = netns;
	occ->last_ns = i + 1;
	return i;
}

/* The netns record, created if new; the last one is remembered (events come in runs of one
 * namespace). */
static inline int64_t ns_get(struct eph_occ *occ, uint32_t netns)
{
	if (occ->last_ns && occ->last_netns == netns)
		return occ->last_ns - 1;
	return ns_lookup(occ, netns);
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
		free(((struct ns *)eph_tab__rec(&occ->nss, ni))->rbits);
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
static double ns_usable(const struct ns *ns)
{
	if (!ns || !ns->have_range)
		return NAN;
	return (double)(ns->high - ns->low + 1) - ns->reserved;
}

static bool ns_port_in_range(const struct ns *ns, uint16_t port)
{
	uint32_t off;

	if (!ns || !ns->have_range || port < ns->low || port > ns->high)
		return false;
	off = port - ns->low;
	return !ns->rbits || !(ns->rbits[off / 8] & (1u << (off % 8)));
}

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
static void ring_sum(const struct eph_occ *occ, const struct slot *ring, uint64_t now,
		     struct slot *sum, double *span_s)
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
		sum->dur_ns += s->dur_ns;
	}
	from = first * occ->bucket_ns;
	if (occ->start_ns > from)
		from = occ->start_ns;
	*span_s = now > from ? (double)(now - from) / NSEC_PER_SEC : 0;
}

static double rate(uint32_t n, double span_s)
{
	return span_s > 0 ? n / span_s : 0;
}

/* ---- aggregates ------------------------------------------------------------------------ */

/* The destination key, created if new; hash: hash_dest(key). */
static int64_t dest_get(struct eph_occ *occ, const struct eph_occ_dest_key *key, uint32_t hash)
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

/* dst = the characters of src (a comm field, EPH_COMM_LEN bytes) up to its first NUL, at most
 * EPH_COMM_LEN - 1 of them, and zeros after. Once per event: a word at a time where it can. */
static void copy_comm(char dst[EPH_COMM_LEN], const char src[EPH_COMM_LEN])
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && EPH_COMM_LEN == 16
	const uint64_t ones = 0x0101010101010101ull, highs = ones << 7;
	uint64_t w[2], z;

	memcpy(w, src, sizeof(w));
	w[1] &= ~(0xffull << 56); /* the last byte is always NUL */
	/* the lowest 0x80 of z marks the first zero byte (higher ones may be false) */
	z = (w[0] - ones) & ~w[0] & highs;
	if (z) {
		w[0] &= ((z & -z) >> 7) - 1;
		w[1] = 0;
	} else {
		z = (w[1] - ones) & ~w[1] & highs;
		w[1] &= ((z & -z) >> 7) - 1;
	}
	memcpy(dst, w, sizeof(w));
#else
	size_t n = strnlen(src, EPH_COMM_LEN - 1);

	memcpy(dst, src, n);
	memset(dst + n, 0, EPH_COMM_LEN - n);
#endif
}

/* The process pid, created when new; comm (if not empty) and cgroup (if not NULL) update it. */
static int64_t proc_get(struct eph_occ *occ, uint32_t pid, const char *comm, const char *cgroup)
{
	uint32_t hash = hash_u32(pid);
	int64_t i = eph_tab__find_n(&occ->procs, 0, &pid, sizeof(pid), hash);
	struct proc *p;

	if (i < 0) {
		i = eph_tab__alloc(&occ->procs);
		if (i < 0)
			return i;
		p = eph_tab__rec(&occ->procs, i);
		p->pid = pid;
		eph_tab__link(&occ->procs, i, &hash);
	}
	p = eph_tab__rec(&occ->procs, i);
	if (comm && comm[0])
		copy_comm(p->comm, comm);
	if (cgroup && (!p->cgroup || strcmp(p->cgroup, cgroup))) {
		char *c = strdup(cgroup);

		if (!c)
			return -ENOMEM;
		free(p->cgroup);
		p->cgroup = c;
	}
	return i;
}

static void proc_count_failure(struct proc *p, int32_t err)
{
	uint32_t i;

	p->failures++;
	for (i = 0; i < p->nerrs && p->errs[i].err <= err; i++) {
		if (p->errs[i].err == err) {
			p->errs[i].count++;
			return;
		}
	}
	if (p->nerrs == PROC_MAX_ERRNOS) {
		p->failures_other++;
		return;
	}
	memmove(&p->errs[i + 1], &p->errs[i], (p->nerrs - i) * sizeof(p->errs[0]));
	p->errs[i].err = err;
	p->errs[i].count = 1;
	p->nerrs++;
}

static void touch(uint64_t *last, uint64_t ts)
{
	if (ts > *last)
		*last = ts;
}

/* ---- holds ----------------------------------------------------------------------------- */

/* A hold's keys and their hashes, computed once per event or socket. */
struct hold_keys {
	struct tuple tuple;
	uint32_t dest_hash;	     /* of tuple.dest */
	uint32_t hash[EPH_TAB_KEYS]; /* of sock_id, cookie and tuple */
};

struct hold_spec {
	struct hold_keys k;
	bool to_dest; /* else a bind scope */
	bool tw;
	uint64_t sock_id;
	uint64_t cookie;
	uint64_t since_ns; /* 0: unknown */
	uint64_t now_ns;
	uint32_t pid; /* 0: unknown owner */
	const char *comm;
	const char *cgroup;
};

/* The hashes of k->tuple, of its destination and of a hold's ids. */
static void hold_keys_hash(struct hold_keys *k, uint64_t sock_id, uint64_t cookie)
{
	k->dest_hash = hash_dest(&k->tuple.dest);
	k->hash[HOLD_BY_SOCK] = sock_id ? hash_u64(sock_id) : 0;
	k->hash[HOLD_BY_COOKIE] = cookie ? hash_u64(cookie) : 0;
	k->hash[HOLD_BY_TUPLE] = hash_tuple_of(k->dest_hash, k->tuple.sport);
}

static struct hold *hold_rec(const struct eph_occ *occ, int64_t i)
{
	return eph_tab__rec(&occ->holds, i);
}

static void scope_key_of(const struct tuple *t, struct eph_occ_scope_key *k)
{
	memset(k, 0, sizeof(*k));
	k->netns = t->dest.netns;
	k->proto = t->dest.proto;
	k->family = t->dest.family;
	memcpy(k->addr, t->dest.saddr, sizeof(k->addr));
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

static void hold_set_tw(struct eph_occ *occ, struct hold *h)
{
	if (h->tw)
		return;
	hold_count(occ, h, -1);
	h->tw = 1;
	hold_count(occ, h, +1);
}

static void hold_set_owner(struct eph_occ *occ, struct hold *h, uint32_t proc)
{
	hold_count(occ, h, -1);
	h->proc = proc;
	hold_count(occ, h, +1);
}

static void hold_set_id(struct eph_occ *occ, int64_t hi, unsigned int k, uint64_t id)
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
static void hold_forget_sock(struct eph_occ *occ, int64_t hi)
{
	struct hold *h = hold_rec(occ, hi);

	if (!h->sock_id)
		return;
	eph_tab__unlink_key(&occ->holds, HOLD_BY_SOCK, hi, hash_u64(h->sock_id));
	h->sock_id = 0; /* absent: not indexed */
}

static void count_assign(struct eph_occ *occ, const struct hold *h, uint64_t ts)
{
	struct slot *s;

	if (h->dest) {
		struct dest *d = eph_tab__rec(&occ->dests, h->dest - 1);

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
static int64_t hold_add(struct eph_occ *occ, const struct hold_spec *hs)
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
static void hold_del(struct eph_occ *occ, int64_t hi, bool released, uint64_t ts, int64_t dur_ns)
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

/* ---- events ---------------------------------------------------------------------------- */

void eph_occ__start(struct eph_occ *occ, uint64_t now_ns)
{
	occ->started = true;
	occ->start_ns = now_ns;
}

/*
 * The 4-tuple of an event (netns, proto, family; the addresses and remote port it knows, zeros
 * for the rest; its port) and hash_dest() of its destination, both from the same words: the
 * hash does not wait for the tuple to be written and read back.
 */
static uint32_t ev_tuple(const struct eph_event *ev, struct tuple *t)
{
	static const uint8_t first4[8] = { 0xff, 0xff, 0xff, 0xff }; /* an IPv4 address's bytes */
	bool v4 = ev->family == AF_INET, src = ev->flags & EPH_F_SADDR;
	bool dest = ev->flags & EPH_F_DEST;
	uint64_t m0 = v4 ? eph_tab__load64(first4) : UINT64_MAX, m1 = v4 ? 0 : UINT64_MAX;
	uint64_t sa[2] = { 0, 0 }, da[2] = { 0, 0 };

	if (src) {
		sa[0] = eph_tab__load64(ev->saddr) & m0;
		sa[1] = eph_tab__load64(ev->saddr + 8) & m1;
	}
	if (dest) {
		da[0] = eph_tab__load64(ev->daddr) & m0;
		da[1] = eph_tab__load64(ev->daddr + 8) & m1;
	}
	t->dest.netns = ev->netns;
	t->dest.proto = ev->proto;
	t->dest.family = ev->family;
	t->dest.dport = dest ? ev->dport : 0;
	memcpy(t->dest.saddr, sa, sizeof(sa));
	memcpy(t->dest.daddr, da, sizeof(da));
	t->sport = ev->sport;
	memset(t->__pad, 0, sizeof(t->__pad));
	return hash_dest_of(dest_head(t->dest.netns, t->dest.proto, t->dest.family, t->dest.dport),
			    sa[0], sa[1], da[0], da[1]);
}

/* TCP ports with a known remote go to a destination; the rest (bind, listen, UDP) to a scope. */
static bool ev_to_dest(const struct eph_event *ev)
{
	return ev->proto == IPPROTO_TCP && (ev->flags & EPH_F_DEST) && ev->dport &&
	       ev->op != EPH_OP_BIND && ev->op != EPH_OP_LISTEN;
}

/*
 * The keys of an event and their hashes, once per event. The index slots they fall on (and the
 * destination's and owner's, for an assignment) are fetched ahead, so that the cache misses of
 * one event overlap instead of following one another.
 */
static void ev_keys(const struct eph_occ *occ, const struct eph_event *ev, struct hold_keys *k)
{
	unsigned int i;

	k->dest_hash = ev_tuple(ev, &k->tuple);
	k->hash[HOLD_BY_SOCK] = ev->sock_id ? hash_u64(ev->sock_id) : 0;
	k->hash[HOLD_BY_COOKIE] = ev->cookie ? hash_u64(ev->cookie) : 0;
	k->hash[HOLD_BY_TUPLE] = hash_tuple_of(k->dest_hash, ev->sport);
	for (i = 0; i < EPH_TAB_KEYS; i++)
		eph_tab__prefetch(&occ->holds, i, k->hash[i]);
	if (ev->type == EPH_ASSIGN) {
		eph_tab__prefetch(&occ->dests, 0, k->dest_hash);
		eph_tab__prefetch(&occ->procs, 0, hash_u32(ev->pid));
	}
}

/* The hold an event is about: by sock_id, by cookie, else a snapshot hold with its 4-tuple. */
static int64_t ev_find(const struct eph_occ *occ, const struct eph_event *ev,
		       const struct hold_keys *k)
{
	int64_t i;

	if (ev->sock_id) {
		i = eph_tab__find_n(&occ->holds, HOLD_BY_SOCK, &ev->sock_id, 8,
				    k->hash[HOLD_BY_SOCK]);
		if (i >= 0)
			return i;
	}
	if (ev->cookie) {
		i = eph_tab__find_n(&occ->holds, HOLD_BY_COOKIE, &ev->cookie, 8,
				    k->hash[HOLD_BY_COOKIE]);
		if (i >= 0)
			return i;
	}
	i = eph_tab__find_n(&occ->holds, HOLD_BY_TUPLE, &k->tuple, sizeof(k->tuple),
			    k->hash[HOLD_BY_TUPLE]);
	return i >= 0 && !hold_rec(occ, i)->sock_id ? i : -1;
}

static bool ev_counts(struct eph_occ *occ, const struct eph_event *ev)
{
	if (!ev->sport)
		return false;
	return (ev->flags & EPH_F_EPHEMERAL) ||
	       ns_port_in_range(ns_find(occ, ev->netns), ev->sport);
}

static int64_t ev_owner(struct eph_occ *occ, const struct eph_event *ev)
{
	if (!ev->pid)
		return -1;
	return proc_get(occ, ev->pid, ev->comm, NULL);
}

static int ev_assign(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	struct hold_spec hs = { .k = *k };
	struct hold *h;
	int64_t hi, pi;

	if (!ev_counts(occ, ev))
		return 0;
	hi = ev->sock_id ? eph_tab__find_n(&occ->holds, HOLD_BY_SOCK, &ev->sock_id, 8,
					   k->hash[HOLD_BY_SOCK]) :
			   -1;
	if (hi >= 0 && memcmp(&hold_rec(occ, hi)->tuple, &k->tuple, sizeof(k->tuple)))
		hold_del(occ, hi, false, ev->ts_ns, -1); /* its release was missed */
	else if (hi >= 0)
		return 0; /* the same assignment reported twice */
	hi = eph_tab__find_n(&occ->holds, HOLD_BY_TUPLE, &k->tuple, sizeof(k->tuple),
			     k->hash[HOLD_BY_TUPLE]);
	/* a TIME_WAIT hold on this 4-tuple is recycled (tcp_tw_reuse), never adopted */
	if (hi >= 0 && !hold_rec(occ, hi)->sock_id && !hold_rec(occ, hi)->tw) {
		/* found by the snapshot before its assignment event was read: adopt it */
		pi = ev_owner(occ, ev);
		if (pi == -ENOMEM)
			return -ENOMEM;
		h = hold_rec(occ, hi);
		if (!h->proc && pi >= 0)
			hold_set_owner(occ, h, pi + 1);
		h->since_ns = ev->ts_ns;
		hold_set_id(occ, hi, HOLD_BY_SOCK, ev->sock_id);
		hold_set_id(occ, hi, HOLD_BY_COOKIE, ev->cookie);
		count_assign(occ, hold_rec(occ, hi), ev->ts_ns);
		return 0;
	}
	if (hi >= 0)
		hold_del(occ, hi, false, ev->ts_ns, -1); /* same 4-tuple: the old one is gone */
	hs.to_dest = ev_to_dest(ev);
	hs.sock_id = ev->sock_id;
	hs.cookie = ev->cookie;
	hs.since_ns = ev->ts_ns;
	hs.now_ns = ev->ts_ns;
	hs.pid = ev->pid;
	hs.comm = ev->comm;
	hi = hold_add(occ, &hs);
	if (hi == -ENOMEM)
		return -ENOMEM;
	if (hi >= 0)
		count_assign(occ, hold_rec(occ, hi), ev->ts_ns);
	return 0;
}

static int ev_time_wait(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	bool owner = (ev->flags & EPH_F_OWNER) && ev->pid;
	struct hold_spec hs = { .k = *k };
	int64_t hi, pi;

	hi = ev_find(occ, ev, k);
	if (hi >= 0) {
		struct hold *h = hold_rec(occ, hi);

		if (!h->proc && owner) {
			pi = ev_owner(occ, ev);
			if (pi == -ENOMEM)
				return -ENOMEM;
			if (pi >= 0)
				hold_set_owner(occ, hold_rec(occ, hi), pi + 1);
		}
		hold_set_tw(occ, hold_rec(occ, hi));
		hold_set_id(occ, hi, HOLD_BY_COOKIE, ev->cookie);
		hold_forget_sock(occ, hi);
		return 0;
	}
	if (!ev_counts(occ, ev))
		return 0;
	/* a hold that was not seen being taken (e.g. before the snapshot) */
	hs.to_dest = ev_to_dest(ev);
	hs.tw = true;
	hs.cookie = ev->cookie; /* not sock_id: that socket object is gone (not linked: 0) */
	hs.now_ns = ev->ts_ns;
	if (owner) {
		hs.pid = ev->pid;
		hs.comm = ev->comm;
	}
	hi = hold_add(occ, &hs);
	return hi == -ENOMEM ? -ENOMEM : 0;
}

static int ev_release(struct eph_occ *occ, const struct eph_event *ev, const struct hold_keys *k)
{
	int64_t hi = ev_find(occ, ev, k), dur = -1;
	const struct hold *h;

	if (hi < 0)
		return 0; /* not a port we track (a server's, a fixed one, or before we looked) */
	h = hold_rec(occ, hi);
	if (ev->flags & EPH_F_HELD)
		dur = ev->held_ns;
	else if (h->since_ns && ev->ts_ns >= h->since_ns)
		dur = ev->ts_ns - h->since_ns;
	hold_del(occ, hi, true, ev->ts_ns, dur);
	return 0;
}

static int ev_fail(struct eph_occ *occ, const struct eph_event *ev)
{
	struct tuple t;
	int64_t i;

	if (ev->pid) {
		i = ev_owner(occ, ev);
		if (i == -ENOMEM)
			return -ENOMEM;
		if (i < 0) {
			occ->dropped++;
		} else {
			struct proc *p = eph_tab__rec(&occ->procs, i);

			proc_count_failure(p, ev->err);
			touch(&p->last_ns, ev->ts_ns);
		}
	}
	if (ev->proto != IPPROTO_TCP || ev->op != EPH_OP_CONNECT || !(ev->flags & EPH_F_DEST))
		return 0;
	i = dest_get(occ, &t.dest, ev_tuple(ev, &t));
	if (i == -ENOMEM)
		return -ENOMEM;
	if (i < 0) {
		occ->dropped++;
	} else {
		struct dest *d = eph_tab__rec(&occ->dests, i);

		d->failures++;
		touch(&d->last_ns, ev->ts_ns);
	}
	return 0;
}

int eph_occ__event(struct eph_occ *occ, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;
	struct hold_keys k;
	int64_t i;

	if (!occ->started)
		eph_occ__start(occ, ev->ts_ns);
	if (ev->type == EPH_ASSIGN || ev->type == EPH_TIME_WAIT || ev->type == EPH_RELEASE)
		ev_keys(occ, ev, &k);
	if (ev->netns) {
		i = ns_get(occ, ev->netns);
		if (i == -ENOMEM)
			return -ENOMEM;
	}
	switch (ev->type) {
	case EPH_ASSIGN:
		return ev_assign(occ, ev, &k);
	case EPH_TIME_WAIT:
		return ev_time_wait(occ, ev, &k);
	case EPH_RELEASE:
		return ev_release(occ, ev, &k);
	case EPH_FAIL:
		return ev_fail(occ, ev);
	default:
		return 0;
	}
}

/* ---- processes ------------------------------------------------------------------------- */

int eph_occ__set_cgroup(struct eph_occ *occ, uint32_t pid, const char *path)
{
	int64_t i;

	if (!pid || !path)
		return -EINVAL;
	i = proc_get(occ, pid, NULL, path);
	if (i == -ENOSPC)
		occ->dropped++;
	return i < 0 ? (int)i : 0;
}

void eph_occ__proc_exited(struct eph_occ *occ, uint32_t pid)
{
	int64_t i = eph_tab__find(&occ->procs, 0, &pid, hash_u32(pid));

	if (i >= 0)
		((struct proc *)eph_tab__rec(&occ->procs, i))->exited = true;
}

void eph_occ__check_exited(struct eph_occ *occ, bool (*alive)(uint32_t pid, void *ctx), void *ctx)
{
	uint32_t i;

	for (i = 0; i < occ->procs.top; i++) {
		struct proc *p = eph_tab__rec(&occ->procs, i);

		if (occ->procs.used[i] && !p->exited && !alive(p->pid, ctx))
			p->exited = true;
	}
}

void eph_occ__prune(struct eph_occ *occ, uint64_t now_ns)
{
	uint64_t horizon = now_ns > occ->window_ns ? now_ns - occ->window_ns : 0;
	uint32_t i;

	for (i = 0; i < occ->dests.top; i++) {
		struct dest *d = eph_tab__rec(&occ->dests, i);

		if (occ->dests.used[i] && !d->held && d->last_ns <= horizon)
			eph_tab__del(&occ->dests, i, NULL);
	}
	for (i = 0; i < occ->scopes.top; i++) {
		struct scope *s = eph_tab__rec(&occ->scopes, i);

		if (occ->scopes.used[i] && !s->held && s->last_ns <= horizon)
			eph_tab__del(&occ->scopes, i, NULL);
	}
	for (i = 0; i < occ->procs.top; i++) {
		struct proc *p = eph_tab__rec(&occ->procs, i);

		if (occ->procs.used[i] && !p->held && p->last_ns <= horizon) {
			free(p->cgroup);
			p->cgroup = NULL;
			eph_tab__del(&occ->procs, i, NULL);
		}
	}
}

/* ---- numbers --------------------------------------------------------------------------- */

static void stats_init(struct eph_occ_stats *st, uint32_t held, uint32_t tw)
{
	memset(st, 0, sizeof(*st));
	st->held = held;
	st->time_wait = tw;
	st->usable = NAN;
	st->utilization = NAN;
	st->assign_rate = NAN;
	st->need = NAN;
	st->exhaust_in_s = NAN;
}

static void stats_usable(struct eph_occ_stats *st, const struct ns *ns)
{
	st->usable = ns_usable(ns);
	if (st->usable > 0)
		st->utilization = st->held / st->usable;
}

/*
 * The forecast of a destination. rate = assignments per second over the window, mean hold time
 * W = the mean of the hold times of the ports released in the window, and by Little's law the
 * steady-state need of this destination's churn is rate x W ports (infinite when ports were
 * assigned but none released with a known hold time: the hold time is at least the window).
 * When the need exceeds what is left (usable - held) and ports are taken faster than they
 * come back, the time until none is left is left / (assign rate - release rate). Otherwise
 * there is no exhaustion in sight: NAN. None left now: 0.
 */
static void dest_stats(const struct eph_occ *occ, const struct dest *d, uint64_t now,
		       struct eph_occ_stats *st)
{
	double span, left, net;
	struct slot w;

	stats_init(st, d->held, d->tw);
	stats_usable(st, ns_find(occ, d->key.netns));
	st->failures = d->failures;
	left = st->usable - st->held;
	if (left <= 0)
		st->exhaust_in_s = 0;
	if (!occ->started)
		return;
	ring_sum(occ, d->ring, now, &w, &span);
	st->assign_rate = rate(w.assigns, span);
	if (w.dur_n)
		st->need = st->assign_rate * ((double)w.dur_ns / w.dur_n / NSEC_PER_SEC);
	else
		st->need = w.assigns ? INFINITY : 0;
	if (isnan(left) || left <= 0 || st->need <= left)
		return;
	net = st->assign_rate - rate(w.releases, span);
	if (net > 0)
		st->exhaust_in_s = left / net;
}

static void scope_stats(const struct eph_occ *occ, const struct scope *s, struct eph_occ_stats *st)
{
	stats_init(st, s->held, s->tw);
	stats_usable(st, ns_find(occ, s->key.netns));
}

static void proc_stats(const struct eph_occ *occ, const struct proc *p, uint64_t now,
		       struct eph_occ_stats *st)
{
	struct slot w;
	double span;

	stats_init(st, p->held, p->tw);
	st->failures = p->failures;
	st->exited = p->exited;
	if (!occ->started)
		return;
	ring_sum(occ, p->ring, now, &w, &span);
	st->assign_rate = rate(w.assigns, span);
}

int eph_occ__dest(const struct eph_occ *occ, const struct eph_occ_dest_key *key, uint64_t now_ns,
		  struct eph_occ_stats *out)
{
	int64_t i = eph_tab__find(&occ->dests, 0, key, hash_dest(key));

	if (i < 0)
		return -ENOENT;
	dest_stats(occ, eph_tab__rec(&occ->dests, i), now_ns, out);
	return 0;
}

int eph_occ__scope(const struct eph_occ *occ, const struct eph_occ_scope_key *key, uint64_t now_ns,
		   struct eph_occ_stats *out)
{
	int64_t i = eph_tab__find(&occ->scopes, 0, key, eph_tab__hash(key, sizeof(*key)));

	(void)now_ns;
	if (i < 0)
		return -ENOENT;
	scope_stats(occ, eph_tab__rec(&occ->scopes, i), out);
	return 0;
}

int eph_occ__proc(const struct eph_occ *occ, uint32_t pid, uint64_t now_ns,
		  struct eph_occ_stats *out)
{
	int64_t i;

	if (!pid) {
		if (!occ->anon_held)
			return -ENOENT;
		stats_init(out, occ->anon_held, occ->anon_tw);
		return 0;
	}
	i = eph_tab__find(&occ->procs, 0, &pid, hash_u32(pid));
	if (i < 0)
		return -ENOENT;
	proc_stats(occ, eph_tab__rec(&occ->procs, i), now_ns, out);
	return 0;
}

/* ---- snapshot -------------------------------------------------------------------------- */

/* One line of a snapshot: an entry and its numbers. */
struct row {
	const void *rec; /* struct ns, dest, scope or proc; NULL: the unknown owner */
	struct eph_occ_stats st;
	uint32_t nsno; /* 1-based number of its netns in the netns list (text) */
	uint64_t held; /* netns rows: ports held in it */
	uint64_t tw;
};

struct view {
	struct row *ns, *dests, *scopes, *procs;
	size_t nns, ndests, nscopes, nprocs;
};

static int cmp_double_desc(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) - isnan(b); /* unknown last */
	return a > b ? -1 : a < b;
}

static int cmp_ns(const void *a, const void *b)
{
	const struct ns *x = ((const struct row *)a)->rec, *y = ((const struct row *)b)->rec;

	return x->netns < y->netns ? -1 : x->netns > y->netns;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

/* Keys in a readable order: netns, proto, family, addresses (network order), port. */
static int cmp_dest_key(const struct eph_occ_dest_key *a, const struct eph_occ_dest_key *b)
{
	int c = cmp_u32(a->netns, b->netns);

	if (!c)
		c = cmp_u32(a->proto, b->proto);
	if (!c)
		c = cmp_u32(a->family, b->family);
	if (!c)
		c = memcmp(a->saddr, b->saddr, sizeof(a->saddr));
	if (!c)
		c = memcmp(a->daddr, b->daddr, sizeof(a->daddr));
	if (!c)
		c = cmp_u32(a->dport, b->dport);
	return c;
}

static int cmp_scope_key(const struct eph_occ_scope_key *a, const struct eph_occ_scope_key *b)
{
	int c = cmp_u32(a->netns, b->netns);

	if (!c)
		c = cmp_u32(a->proto, b->proto);
	if (!c)
		c = cmp_u32(a->family, b->family);
	if (!c)
		c = memcmp(a->addr, b->addr, sizeof(a->addr));
	return c;
}

/* Utilization, then held, descending. */
static int cmp_usage(const struct row *x, const struct row *y)
{
	int c = cmp_double_desc(x->st.utilization, y->st.utilization);

	if (!c)
		c = -cmp_u32(x->st.held, y->st.held);
	return c;
}

static int cmp_dest(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return cmp_usage(x, y) ?: cmp_dest_key(x->rec, y->rec);
}

/* Nearest exhaustion first: known forecasts ascending, then by utilization. */
static int cmp_dest_urgent(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (isnan(x->st.exhaust_in_s) != isnan(y->st.exhaust_in_s))
		return isnan(x->st.exhaust_in_s) ? 1 : -1;
	if (!isnan(x->st.exhaust_in_s) && x->st.exhaust_in_s != y->st.exhaust_in_s)
		return x->st.exhaust_in_s < y->st.exhaust_in_s ? -1 : 1;
	return cmp_dest(a, b);
}

static int cmp_scope(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return cmp_usage(x, y) ?: cmp_scope_key(x->rec, y->rec);
}

static int cmp_proc(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	uint32_t px, py;

	if (!x->rec || !y->rec)
		return !x->rec - !y->rec; /* the unknown owner last */
	if (x->st.held != y->st.held)
		return -cmp_u32(x->st.held, y->st.held);
	px = ((const struct proc *)x->rec)->pid;
	py = ((const struct proc *)y->rec)->pid;
	return cmp_u32(px, py);
}

static void view_free(struct view *v)
{
	free(v->ns);
	free(v->dests);
	free(v->scopes);
	free(v->procs);
}

static uint32_t view_nsno(const struct view *v, uint32_t netns)
{
	size_t lo = 0, hi = v->nns;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t m = ((const struct ns *)v->ns[mid].rec)->netns;

		if (m == netns)
			return mid + 1;
		if (m < netns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static void view_ns_add(struct view *v, uint32_t nsno, uint32_t held, uint32_t tw)
{
	if (!nsno)
		return;
	v->ns[nsno - 1].held += held;
	v->ns[nsno - 1].tw += tw;
}

static int view_build(const struct eph_occ *occ, uint64_t now, struct view *v)
{
	uint32_t i;

	memset(v, 0, sizeof(*v));
	v->ns = calloc(occ->nss.len + 1, sizeof(struct row));
	v->dests = calloc(occ->dests.len + 1, sizeof(struct row));
	v->scopes = calloc(occ->scopes.len + 1, sizeof(struct row));
	v->procs = calloc(occ->procs.len + 2, sizeof(struct row));
	if (!v->ns || !v->dests || !v->scopes || !v->procs) {
		view_free(v);
		return -ENOMEM;
	}
	for (i = 0; i < occ->nss.top; i++)
		if (occ->nss.used[i])
			v->ns[v->nns++].rec = eph_tab__rec(&occ->nss, i);
	qsort(v->ns, v->nns, sizeof(struct row), cmp_ns);
	for (i = 0; i < occ->dests.top; i++) {
		const struct dest *d = eph_tab__rec(&occ->dests, i);
		struct row *r;

		if (!occ->dests.used[i])
			continue;
		r = &v->dests[v->ndests++];
		r->rec = d;
		dest_stats(occ, d, now, &r->st);
		r->nsno = view_nsno(v, d->key.netns);
		view_ns_add(v, r->nsno, d->held, d->tw);
	}
	for (i = 0; i < occ->scopes.top; i++) {
		const struct scope *s = eph_tab__rec(&occ->scopes, i);
		struct row *r;

		if (!occ->scopes.used[i])
			continue;
		r = &v->scopes[v->nscopes++];
		r->rec = s;
		scope_stats(occ, s, &r->st);
		r->nsno = view_nsno(v, s->key.netns);
		view_ns_add(v, r->nsno, s->held, s->tw);
	}
	for (i = 0; i < occ->procs.top; i++) {
		struct row *r;

		if (!occ->procs.used[i])
			continue;
		r = &v->procs[v->nprocs++];
		r->rec = eph_tab__rec(&occ->procs, i);
		proc_stats(occ, r->rec, now, &r->st);
	}
	if (occ->anon_held)
		stats_init(&v->procs[v->nprocs++].st, occ->anon_held, occ->anon_tw);
	qsort(v->dests, v->ndests, sizeof(struct row), cmp_dest);
	qsort(v->scopes, v->nscopes, sizeof(struct row), cmp_scope);
	qsort(v->procs, v->nprocs, sizeof(struct row), cmp_proc);
	return 0;
}

/* ---- rows for exporters ---------------------------------------------------------------- */

void eph_occ_rows__free(struct eph_occ_rows *rows)
{
	if (!rows)
		return;
	free(rows->dests);
	free(rows->procs);
	free(rows->netns);
	memset(rows, 0, sizeof(*rows));
}

int eph_occ__rows(const struct eph_occ *occ, uint64_t now_ns, struct eph_occ_rows *rows)
{
	struct view v;
	size_t i;
	int err;

	memset(rows, 0, sizeof(*rows));
	err = view_build(occ, now_ns, &v);
	if (err)
		return err;
	rows->dests = calloc(v.ndests + 1, sizeof(*rows->dests));
	rows->procs = calloc(v.nprocs + 1, sizeof(*rows->procs));
	rows->netns = calloc(v.nns + 1, sizeof(*rows->netns));
	if (!rows->dests || !rows->procs || !rows->netns) {
		eph_occ_rows__free(rows);
		view_free(&v);
		return -ENOMEM;
	}
	for (i = 0; i < v.ndests; i++) {
		rows->dests[i].key = ((const struct dest *)v.dests[i].rec)->key;
		rows->dests[i].st = v.dests[i].st;
	}
	for (i = 0; i < v.nprocs; i++) {
		const struct proc *p = v.procs[i].rec;

		if (p) {
			rows->procs[i].pid = p->pid;
			memcpy(rows->procs[i].comm, p->comm, EPH_COMM_LEN);
		}
		rows->procs[i].st = v.procs[i].st;
	}
	for (i = 0; i < v.nns; i++) {
		const struct ns *ns = v.ns[i].rec;
		struct eph_occ_netns_row *r = &rows->netns[i];

		r->netns = ns->netns;
		r->have_range = ns->have_range;
		r->low = ns->low;
		r->high = ns->high;
		r->reserved = ns->reserved;
		r->usable = ns_usable(ns);
	}
	rows->ndests = v.ndests;
	rows->nprocs = v.nprocs;
	rows->nnetns = v.nns;
	view_free(&v);
	return 0;
}

/* ---- JSON ------------------------------------------------------------------------------ */

struct jw {
	struct strbuf *sb;
	int err;
};

static void jw_raw(struct jw *w, const char *s)
{
	if (!w->err)
		w->err = sb_puts(w->sb, s);
}

/* ",\"name\":" or "\"name\":" after an opening brace */
static void jw_key(struct jw *w, const char *name)
{
	if (w->err)
		return;
	if (w->sb->len && w->sb->buf[w->sb->len - 1] != '{')
		w->err = sb_putc(w->sb, ',');
	if (!w->err)
		w->err = sb_printf(w->sb, "\"%s\":", name);
}

static void jw_u64(struct jw *w, const char *name, uint64_t v)
{
	jw_key(w, name);
	if (!w->err)
		w->err = sb_printf(w->sb, "%" PRIu64, v);
}

static void jw_double(struct jw *w, const char *name, double v)
{
	jw_key(w, name);
	if (w->err)
		return;
	if (isnan(v) || isinf(v))
		w->err = sb_puts(w->sb, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		w->err = sb_printf(w->sb, "%.0f", v);
	else
		w->err = sb_printf(w->sb, "%.6g", v);
}

static void jw_str(struct jw *w, const char *name, const char *s, size_t n)
{
	jw_key(w, name);
	if (!w->err)
		w->err = s ? sb_json_str(w->sb, s, n) : sb_puts(w->sb, "null");
}

static void jw_addr(struct jw *w, const char *name, uint8_t family, const uint8_t *addr)
{
	char buf[64];

	if (eph_addr_str(family, addr, buf, sizeof(buf)))
		jw_str(w, name, NULL, 0);
	else
		jw_str(w, name, buf, sizeof(buf));
}

static void json_ns(struct jw *w, const struct row *r)
{
	const struct ns *ns = r->rec;

	jw_raw(w, "{");
	jw_u64(w, "netns", ns->netns);
	jw_double(w, "low", ns->have_range ? ns->low : NAN);
	jw_double(w, "high", ns->have_range ? ns->high : NAN);
	jw_double(w, "reserved", ns->have_range ? ns->reserved : NAN);
	jw_double(w, "usable", ns_usable(ns));
	jw_raw(w, "}");
}

static void json_dest(struct jw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct dest *d = r->rec;

	jw_raw(w, "{");
	jw_u64(w, "netns", d->key.netns);
	jw_str(w, "proto", eph_proto_name(d->key.proto), SIZE_MAX);
	jw_str(w, "family", eph_family_name(d->key.family), SIZE_MAX);
	jw_addr(w, "saddr", d->key.family, d->key.saddr);
	jw_addr(w, "daddr", d->key.family, d->key.daddr);
	jw_u64(w, "dport", d->key.dport);
	jw_u64(w, "held", r->st.held);
	jw_u64(w, "time_wait", r->st.time_wait);
	jw_double(w, "usable", r->st.usable);
	jw_double(w, "utilization", r->st.utilization);
	jw_double(w, "assign_rate", r->st.assign_rate);
	jw_double(w, "failures", occ->started ? (double)r->st.failures : NAN);
	jw_double(w, "exhaust_in_s", r->st.exhaust_in_s);
	jw_raw(w, "}");
}

static void json_scope(struct jw *w, const struct row *r)
{
	const struct scope *s = r->rec;

	jw_raw(w, "{");
	jw_u64(w, "netns", s->key.netns);
	jw_str(w, "proto", eph_proto_name(s->key.proto), SIZE_MAX);
	jw_str(w, "family", eph_family_name(s->key.family), SIZE_MAX);
	jw_addr(w, "addr", s->key.family, s->key.addr);
	jw_u64(w, "held", r->st.held);
	jw_double(w, "usable", r->st.usable);
	jw_double(w, "utilization", r->st.utilization);
	jw_raw(w, "}");
}

static void json_failures(struct jw *w, const struct eph_occ *occ, const struct proc *p)
{
	char name[24];
	uint32_t i;

	jw_key(w, "failures");
	if (!occ->started || !p) {
		jw_raw(w, "null");
		return;
	}
	jw_raw(w, "{");
	for (i = 0; i < p->nerrs; i++) {
		jw_key(w, eph_errno_name(p->errs[i].err, name, sizeof(name)));
		if (!w->err)
			w->err = sb_printf(w->sb, "%" PRIu64, p->errs[i].count);
	}
	if (p->failures_other)
		jw_u64(w, "OTHER", p->failures_other);
	jw_raw(w, "}");
}

static void json_proc(struct jw *w, const struct eph_occ *occ, const struct row *r)
{
	const struct proc *p = r->rec;

	jw_raw(w, "{");
	jw_double(w, "pid", p ? p->pid : NAN);
	jw_str(w, "comm", p ? p->comm : NULL, EPH_COMM_LEN);
	jw_str(w, "cgroup", p ? p->cgroup : NULL, SIZE_MAX);
	jw_u64(w, "held", r->st.held);
	jw_u64(w, "time_wait", r->st.time_wait);
	jw_double(w, "assign_rate", p ? r->st.assign_rate : NAN);
	json_failures(w, occ, p);
	jw_key(w, "exited");
	jw_raw(w, !p ? "null" : p->exited ? "true" : "false");
	jw_raw(w, "}");
}

int eph_occ__json(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped)
{
	struct jw w = { .sb = sb };
	size_t old_len = sb->len, i;
	struct view v;
	int err;

	err = view_build(occ, now_ns, &v);
	if (err)
		return err;
	jw_raw(&w, "{\"time\":\"");
	if (!w.err)
		w.err = eph_format_time(sb, wall_ns);
	jw_raw(&w, "\",\"netns\":[");
	for (i = 0; i < v.nns; i++) {
		jw_raw(&w, i ? "," : "");
		json_ns(&w, &v.ns[i]);
	}
	jw_raw(&w, "],\"destinations\":[");
	for (i = 0; i < v.ndests; i++) {
		jw_raw(&w, i ? "," : "");
		json_dest(&w, occ, &v.dests[i]);
	}
	jw_raw(&w, "],\"bind_scopes\":[");
	for (i = 0; i < v.nscopes; i++) {
		jw_raw(&w, i ? "," : "");
		json_scope(&w, &v.scopes[i]);
	}
	jw_raw(&w, "],\"processes\":[");
	for (i = 0; i < v.nprocs; i++) {
		jw_raw(&w, i ? "," : "");
		json_proc(&w, occ, &v.procs[i]);
	}
	jw_raw(&w, "]");
	jw_u64(&w, "dropped", occ->dropped + extra_dropped);
	jw_raw(&w, "}");
	view_free(&v);
	if (w.err) {
		sb->len = old_len;
		if (sb->buf)
			sb->buf[old_len] = '\0';
	}
	return w.err;
}

/* ---- text ------------------------------------------------------------------------------ */

/* s cut to width columns, keeping its end (a '~' marks the cut); non-printable bytes as '?'. */
static void fit(char *dst, size_t width, const char *s)
{
	size_t n = strlen(s), i, skip = 0;

	if (n > width) {
		skip = n - width + 1;
		*dst++ = '~';
	}
	for (i = skip; i < n; i++)
		*dst++ = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	*dst = '\0';
}

static void text_addr(char *dst, size_t width, uint8_t family, const uint8_t *addr, int port)
{
	char a[64], ps[8] = "", full[80];

	if (eph_addr_str(family, addr, a, sizeof(a)))
		strcpy(a, "?");
	if (port >= 0) {
		snprintf(ps, sizeof(ps), ":%d", port);
		if (family == AF_INET6) {
			snprintf(full, sizeof(full), "[%s]", a);
			strcpy(a, full);
		}
		fit(dst, width - strlen(ps), a);
		strcat(dst, ps);
		return;
	}
	fit(dst, width, a);
}

/* 12s, 5m, 3h, 2d; "now" for 0; "-" for unknown */
static void text_duration(char *dst, size_t len, double s)
{
	if (isnan(s))
		snprintf(dst, len, "-");
	else if (s <= 0)
		snprintf(dst, len, "now");
	else if (s < 100)
		snprintf(dst, len, "%.0fs", ceil(s));
	else if (s < 6000)
		snprintf(dst, len, "%.0fm", ceil(s / 60));
	else if (s < 360000)
		snprintf(dst, len, "%.0fh", ceil(s / 3600));
	else if (s < 8640000)
		snprintf(dst, len, "%.0fd", ceil(s / 86400));
	else
		snprintf(dst, len, ">99d");
}

static void text_num(char *dst, size_t len, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(dst, len, "-");
	else
		snprintf(dst, len, fmt, v);
}

static size_t shown(size_t n, unsigned int limit)
{
	return limit && n > limit ? limit : n;
}

static void text_more(struct jw *w, size_t n, unsigned int limit)
{
	if (limit && n > limit && !w->err)
		w->err = sb_printf(w->sb, "  (%zu more)\n", n - limit);
}

static void text_ns(struct jw *w, const struct view *v)
{
	size_t i;

	if (!w->err)
		w->err = sb_printf(w->sb, "%-3s %-11s %-11s %8s %7s %8s %7s\n", "NS", "NETNS",
				   "RANGE", "RESERVED", "USABLE", "HELD", "TW");
	for (i = 0; i < v->nns && !w->err; i++) {
		const struct ns *ns = v->ns[i].rec;
		char range[16] = "?", res[16] = "-", usable[16] = "-";

		if (ns->have_range) {
			snprintf(range, sizeof(range), "%u-%u", ns->low, ns->high);
			snprintf(res, sizeof(res), "%u", ns->reserved);
			text_num(usable, sizeof(usable), ns_usable(ns), "%.0f");
		}
		w->err = sb_printf(
			w->sb, "%-3zu %-11" PRIu32 " %-11s %8s %7s %8" PRIu64 " %7" PRIu64 "\n",
			i + 1, ns->netns, range, res, usable, v->ns[i].held, v->ns[i].tw);
	}
}

static void text_dests(struct jw *w, const struct eph_occ *occ, struct view *v, unsigned int limit)
{
	size_t i;

	qsort(v->dests, v->ndests, sizeof(struct row), cmp_dest_urgent);
	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-3s %-15s %-21s %5s %5s %5s %6s %5s %6s\n", "NS",
				   "SOURCE", "DESTINATION", "HELD", "TW", "USE%", "RATE/s", "FAIL",
				   "EXHST");
	for (i = 0; i < shown(v->ndests, limit) && !w->err; i++) {
		const struct row *r = &v->dests[i];
		const struct dest *d = r->rec;
		char src[16], dst[22], use[8], rt[16], fail[16], ex[8];

		text_addr(src, 15, d->key.family, d->key.saddr, -1);
		text_addr(dst, 21, d->key.family, d->key.daddr, d->key.dport);
		text_num(use, sizeof(use), r->st.utilization * 100, "%.1f");
		text_num(rt, sizeof(rt), r->st.assign_rate,
			 r->st.assign_rate < 1e4 ? "%.1f" : "%.0f");
		text_num(fail, sizeof(fail), occ->started ? (double)r->st.failures : NAN, "%.0f");
		text_duration(ex, sizeof(ex), r->st.exhaust_in_s);
		w->err = sb_printf(
			w->sb,
			"%-3" PRIu32 " %-15s %-21s %5" PRIu32 " %5" PRIu32 " %5s %6.6s %5.5s %6s\n",
			r->nsno, src, dst, r->st.held, r->st.time_wait, use, rt, fail, ex);
	}
	text_more(w, v->ndests, limit);
}

static void text_scopes(struct jw *w, const struct view *v, unsigned int limit)
{
	size_t i;

	if (!v->nscopes)
		return;
	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-3s %-5s %-39s %6s %6s %5s\n", "NS", "PROTO",
				   "BOUND ADDRESS", "HELD", "TW", "USE%");
	for (i = 0; i < shown(v->nscopes, limit) && !w->err; i++) {
		const struct row *r = &v->scopes[i];
		const struct scope *s = r->rec;
		char addr[40], use[8];

		text_addr(addr, 39, s->key.family, s->key.addr, -1);
		text_num(use, sizeof(use), r->st.utilization * 100, "%.1f");
		w->err = sb_printf(
			w->sb, "%-3" PRIu32 " %-5s %-39s %6" PRIu32 " %6" PRIu32 " %5s\n", r->nsno,
			eph_proto_name(s->key.proto), addr, r->st.held, r->st.time_wait, use);
	}
	text_more(w, v->nscopes, limit);
}

static void text_procs(struct jw *w, const struct eph_occ *occ, const struct view *v,
		       unsigned int limit)
{
	size_t i;

	if (!w->err)
		w->err = sb_printf(w->sb, "\n%-7s %-15s %5s %5s %6s %5s %-4s %s\n", "PID", "COMM",
				   "HELD", "TW", "RATE/s", "FAIL", "EXIT", "CGROUP");
	for (i = 0; i < shown(v->nprocs, limit) && !w->err; i++) {
		const struct row *r = &v->procs[i];
		const struct proc *p = r->rec;
		char pid[12] = "-", comm[EPH_COMM_LEN] = "(unknown)", rt[16], fail[16];
		char cg[26] = "-"; /* what is left of 79 columns */

		if (p) {
			snprintf(pid, sizeof(pid), "%" PRIu32, p->pid);
			fit(comm, EPH_COMM_LEN - 1, p->comm);
			if (p->cgroup)
				fit(cg, sizeof(cg) - 1, p->cgroup);
		}
		text_num(rt, sizeof(rt), r->st.assign_rate,
			 r->st.assign_rate < 1e4 ? "%.1f" : "%.0f");
		text_num(fail, sizeof(fail), occ->started && p ? (double)r->st.failures : NAN,
			 "%.0f");
		w->err = sb_printf(w->sb,
				   "%-7s %-15s %5" PRIu32 " %5" PRIu32 " %6.6s %5.5s %-4s %s\n",
				   pid, comm, r->st.held, r->st.time_wait, rt, fail,
				   !p	     ? "-" :
				   p->exited ? "yes" :
					       "no",
				   cg);
	}
	text_more(w, v->nprocs, limit);
}

int eph_occ__text(const struct eph_occ *occ, struct strbuf *sb, uint64_t now_ns, uint64_t wall_ns,
		  uint64_t extra_dropped, unsigned int limit)
{
	struct jw w = { .sb = sb };
	size_t old_len = sb->len;
	struct view v;
	int err;

	err = view_build(occ, now_ns, &v);
	if (err)
		return err;
	w.err = eph_format_time(sb, wall_ns);
	if (!w.err)
		w.err = sb_printf(sb, "  dropped %" PRIu64 "%s\n", occ->dropped + extra_dropped,
				  occ->started ? "" : "  (snapshot: no rates, no failures)");
	text_ns(&w, &v);
	text_dests(&w, occ, &v, limit);
	text_scopes(&w, &v, limit);
	text_procs(&w, occ, &v, limit);
	view_free(&v);
	if (w.err) {
		sb->len = old_len;
		if (sb->buf)
			sb->buf[old_len] = '\0';
	}
	return w.err;
}
