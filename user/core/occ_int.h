/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The occupancy core's own records and the functions its files share (occupancy.c: tables,
 * namespaces, processes; occ_holds.c: rate windows, aggregates, holds; occ_snapshot.c:
 * seeding and reconciling from sock_diag; occ_events.c: events; occ_view.c: the numbers of a
 * snapshot and the port-search model; occ_render.c: JSON and text). Not for other modules:
 * they use occupancy.h.
 */
#ifndef EPH_OCC_INT_H
#define EPH_OCC_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "container_out.h"
#include "errs.h"
#include "metrics.h"
#include "occupancy.h"
#include "portsearch.h"
#include "table.h"

#ifndef TCP_NEW_SYN_RECV
#define TCP_NEW_SYN_RECV 12
#endif
/* Bound, not connected, not listening: listed by kernels that dump bound-only sockets. */
#define TCP_BOUND_INACTIVE 13

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull

/* ---- keys ------------------------------------------------------------------------------ */

static inline uint32_t hash_u32(uint32_t v)
{
	return eph_tab__hash(&v, sizeof(v));
}

static inline uint32_t hash_u64(uint64_t v)
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
static inline uint32_t hash_dest_of(uint64_t head, uint64_t s0, uint64_t s1, uint64_t d0,
				    uint64_t d1)
{
	return eph_tab__fold(
		eph_tab__mix(eph_tab__mix(eph_tab__mix(EPH_TAB_K2, head, s0), s1, d0), d1, 0));
}

static inline uint64_t dest_head(uint32_t netns, uint8_t proto, uint8_t family, uint16_t dport)
{
	return netns | (uint64_t)proto << 32 | (uint64_t)family << 40 | (uint64_t)dport << 48;
}

static inline uint32_t hash_dest(const struct eph_occ_dest_key *k)
{
	return hash_dest_of(dest_head(k->netns, k->proto, k->family, k->dport),
			    eph_tab__load64(k->saddr), eph_tab__load64(k->saddr + 8),
			    eph_tab__load64(k->daddr), eph_tab__load64(k->daddr + 8));
}

static inline uint32_t hash_dest_key(const void *key)
{
	return hash_dest(key);
}

/* A tuple is a destination key and a port: its hash comes from the destination's, which a
 * hold's destination keeps, so that an event hashes its destination once. */
static inline uint32_t hash_tuple_of(uint32_t dest_hash, uint16_t sport)
{
	return eph_tab__fold((uint64_t)dest_hash << 16 | sport);
}

static inline uint32_t hash_tuple(const void *key)
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
	uint8_t bucket; /* TCP: EPH_BUCKET_* of its port's bind bucket */
	uint8_t v6only; /* AF_INET6 socket with IPV6_V6ONLY */
	uint8_t remote; /* UDP: a snapshot showed it connected (its tuple keeps no remote end) */
	/* TCP: IP_LOCAL_PORT_RANGE as the socket set it (0, 0: not set or not known). Only a
	 * snapshot with the port iterator tells it: events do not carry it. Not used for TIME_WAIT
	 * holds (the kernel keeps no range for them). */
	uint16_t range_lo;
	uint16_t range_hi;
	uint64_t tw_ns; /* when it entered TIME_WAIT (0: unknown) */
};

/* One bucket of a rate window. */
struct slot {
	uint64_t epoch; /* time / bucket width */
	uint32_t assigns;
	uint32_t releases;
	uint32_t dur_n;	 /* releases whose hold time is known */
	uint32_t fails;	 /* dest: connect() failures */
	uint64_t dur_ns; /* sum of those hold times */
};

/* Counts of one kind of event over the rate window, bucket by bucket (occ_facts.c). */
struct tally {
	uint64_t epoch[EPH_OCC_BUCKETS];
	uint32_t n[EPH_OCC_BUCKETS];
};

#define PROC_MAX_FIXED 2 /* fixed ports whose bind() failures a process has counted at once */

/* bind() of one fixed port failing with EADDRINUSE. */
struct fixed_fail {
	uint32_t netns;
	uint16_t port;
	uint8_t proto;
	uint8_t __pad;
	struct tally t;
};

struct dest {
	struct eph_occ_dest_key key;
	uint32_t hash; /* of key */
	uint32_t held;
	uint32_t tw;
	uint64_t failures;  /* connect() failures since the destination exists (only grows) */
	uint64_t last_ns;   /* last activity */
	uint64_t active_ns; /* first assignment after a window without any */
	uint64_t last_assign_ns;
	struct slot ring[EPH_OCC_BUCKETS];
};

struct scope {
	struct eph_occ_scope_key key;
	uint32_t held;
	uint32_t tw;
	uint64_t last_ns;
	/* Since the scope exists (counters: they only grow): no free port for a bind() to port 0
	 * or a listen() (EADDRINUSE), for a UDP implicit bind of connect() or sendmsg() (EAGAIN) */
	uint64_t fail_inuse;
	uint64_t fail_again;
};

struct proc {
	uint32_t pid;
	uint32_t held;
	uint32_t tw;
	bool exited;
	bool ct_known; /* ct was given (eph_occ__set_container): NULL is then a host process */
	char comm[EPH_COMM_LEN];
	char *cgroup;
	struct eph_container *ct; /* its container or pod; NULL: a host process or not known */
	uint64_t last_ns;
	struct eph_errs errs;		   /* failures since the record exists */
	struct eph_proc_series_ref *sref;  /* serve's failure series (eph_occ__count_series) */
	struct slot ring[EPH_OCC_BUCKETS]; /* assigns only */
	/* for the findings (occ_facts.c) */
	uint32_t conn_netns;	     /* netns of its last bound connect() */
	struct tally bound_connects; /* ... on a socket bind(0) had given its port */
	struct fixed_fail fixed[PROC_MAX_FIXED];
};

struct ns {
	uint32_t netns;
	bool have_range;
	uint16_t low;
	uint16_t high;
	uint32_t reserved; /* reserved ports inside [low, high] */
	uint8_t *rbits;	   /* bit p - low set: port p is reserved; NULL when none is */
	struct eph_occ_tw_opts tw;
	struct tally udp_eagain; /* UDP autobinds that failed with EAGAIN (occ_facts.c) */
	uint64_t resync_released; /* holds of this netns that reconciliations found gone */
	/* The container or pod whose processes use it (NULL: none seen); for a pod, the
	 * container fields stay only while one container of the pod was seen in it. */
	struct eph_container *owner;
};

struct eph_occ {
	struct eph_ct_filter ctf; /* what the views show (--container, --pod) */
	struct eph_tab holds;
	struct eph_tab dests;
	struct eph_tab scopes;
	struct eph_tab procs; /* the one per-process table (occ_procs.c) */
	struct eph_tab nss;
	struct eph_proc_counts *pc; /* serve's failure series, or NULL (eph_occ__count_series) */
	uint64_t window_ns;
	uint64_t bucket_ns;
	bool started;
	uint64_t start_ns;
	uint64_t dropped;
	uint32_t anon_held; /* holds of unknown owner */
	uint32_t anon_tw;
	uint32_t gen;		    /* snapshots reconciled */
	bool bound_unlisted;	    /* snapshots do not list bound-only TCP sockets (< 6.8) */
	uint64_t snap_end_ns;	    /* when the latest snapshot's dump ended */
	struct snap_port *snap_tcp; /* bound_unlisted: the latest snapshot's TCP sockets */
	size_t nsnap_tcp;
	uint64_t resyncs;	  /* eph_occ__reconcile() calls */
	uint64_t resync_released; /* holds they found gone without an event */
	uint32_t last_netns;	  /* the netns of the last event ... */
	uint32_t last_ns;	  /* ... is record last_ns - 1 of nss (0: none remembered) */
	uint64_t epoch;		  /* the rate bucket of the last event (time / bucket_ns), */
	uint64_t epoch_ns;	  /* the time it starts at */
	uint32_t epoch_slot;	  /* and its slot in a ring (epoch % EPH_OCC_BUCKETS) */
};

enum {
	HOLD_BY_SOCK,
	HOLD_BY_COOKIE,
	HOLD_BY_TUPLE
};

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
	uint8_t bucket; /* EPH_BUCKET_* */
	uint8_t v6only;
	uint64_t tw_ns; /* TIME_WAIT since (0: unknown) */
	uint64_t sock_id;
	uint64_t cookie;
	uint64_t since_ns; /* 0: unknown */
	uint64_t now_ns;
	uint32_t pid; /* 0: unknown owner */
	const char *comm;
	const char *cgroup;
};

/* A TCP socket of a snapshot by namespace, port and address (IPv4-mapped as IPv4). */
struct snap_port {
	uint32_t netns;
	uint16_t port;
	uint8_t family;
	uint8_t listening; /* TCP_LISTEN */
	uint8_t addr[16];
};

/* One line of a snapshot: an entry and its numbers. */
struct row {
	const void *rec; /* struct ns, dest, scope or proc; NULL: the unknown owner */
	struct eph_occ_stats st;
	uint32_t nsno; /* 1-based number of its netns in the view's netns rows */
	uint64_t held; /* netns rows: ports held in it */
	uint64_t tw;
	const struct eph_ps_netns *ps; /* netns rows: the model's counts, NULL if unknown */
	uint32_t assumed;	       /* netns rows: TCP holds whose bucket was guessed */
	bool bound_unlisted;	       /* netns rows: snapshots miss bound-only sockets */
};

/* What the port-search model says of every entry, by record index (occ_model.c). */
struct occ_model {
	uint32_t *dest_left, *dest_taken; /* by dest index */
	struct eph_occ_range *dest_range; /* by dest index */
	uint32_t *scope_left;		  /* by scope index */
	struct eph_ps_netns *ns;	  /* by ns index, when ns_done */
	uint32_t *ns_assumed;		  /* by ns index: TCP holds whose bucket was guessed */
	uint8_t *ns_done;		  /* by ns index: its range is known, numbers computed */
};

struct view {
	struct row *ns, *dests, *scopes, *procs;
	size_t nns, ndests, nscopes, nprocs;
	struct occ_model model;
};

/* occ_holds.c */
int64_t dest_get(struct eph_occ *occ, const struct eph_occ_dest_key *key, uint32_t hash);
int64_t hold_add(struct eph_occ *occ, const struct hold_spec *hs);
int64_t proc_get(struct eph_occ *occ, uint32_t pid, const char *comm, const char *cgroup);
void proc_free(struct proc *p);
/* a failure of p: its errno counts, and serve's series */
int proc_count_failure(struct eph_occ *occ, struct proc *p, int32_t err, uint64_t ts);
void procs_prune(struct eph_occ *occ, uint64_t horizon);
void count_assign(struct eph_occ *occ, const struct hold *h, uint64_t ts);
void count_fail(struct eph_occ *occ, struct dest *d, uint64_t ts);
int count_scope_fail(struct eph_occ *occ, const struct tuple *t, int32_t err, uint64_t ts);
void hold_del(struct eph_occ *occ, int64_t hi, bool released, uint64_t ts, int64_t dur_ns);
void hold_forget_sock(struct eph_occ *occ, int64_t hi);
void hold_keys_hash(struct hold_keys *k, uint64_t sock_id, uint64_t cookie);
void hold_set_id(struct eph_occ *occ, int64_t hi, unsigned int k, uint64_t id);
void hold_set_owner(struct eph_occ *occ, struct hold *h, uint32_t proc);
void hold_set_tw(struct eph_occ *occ, struct hold *h, uint64_t ts);
int hold_retarget(struct eph_occ *occ, int64_t hi, const struct hold_keys *k, bool to_dest);
void ring_sum(const struct eph_occ *occ, const struct slot *ring, uint64_t now, struct slot *sum,
	      double *span_s);

/* occ_model.c */
int occ_model_build(const struct eph_occ *occ, uint64_t now, struct occ_model *m);
void occ_model_free(struct occ_model *m); /* leaves it zeroed */

/* occ_snapshot.c */
bool snap_shows(const struct eph_occ *occ, uint32_t netns, uint16_t port, uint8_t family,
		const uint8_t *addr, bool v6only);

/* occ_view.c */
int cmp_dest_urgent(const void *a, const void *b);
int view_build(const struct eph_occ *occ, uint64_t now, struct view *v);
void view_free(struct view *v);

/* occ_facts.c */
struct eph_findings;
/* Count what the findings need of one event; p: its owner's record, NULL when unknown. */
void occ_facts_event(struct eph_occ *occ, const struct eph_event *ev, struct proc *p);
/* The findings of a view built at now. 0 or -ENOMEM. */
int occ_findings(const struct eph_occ *occ, const struct view *v, uint64_t now,
		 struct eph_findings *out);

/* occupancy.c */
bool ns_port_in_range(const struct ns *ns, uint16_t port);
double ns_usable(const struct ns *ns);
struct ns *ns_find(const struct eph_occ *occ, uint32_t netns);
int64_t ns_lookup(struct eph_occ *occ, uint32_t netns);

/* Small helpers of the hot path, inline in every file. */

/* ::ffff:a.b.c.d */
static inline bool occ_v4mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

/* An IPv6 address as the IPv4 one it maps (::ffff:a.b.c.d -> a.b.c.d; :: -> 0.0.0.0). */
static inline void occ_unmap(uint8_t a[16])
{
	if (occ_v4mapped(a))
		memmove(a, a + 12, 4);
	memset(a + 4, 0, 12);
}

static inline double rate(uint32_t n, double span_s)
{
	return span_s > 0 ? n / span_s : 0;
}

static inline void touch(uint64_t *last, uint64_t ts)
{
	if (ts > *last)
		*last = ts;
}

static inline struct hold *hold_rec(const struct eph_occ *occ, int64_t i)
{
	return eph_tab__rec(&occ->holds, i);
}

/* The netns record, created if new; the last one is remembered (events come in runs of one
 * namespace). */
static inline int64_t ns_get(struct eph_occ *occ, uint32_t netns)
{
	if (occ->last_ns && occ->last_netns == netns)
		return occ->last_ns - 1;
	return ns_lookup(occ, netns);
}

#endif
