/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live occupancy of ephemeral ports, for top and serve: seeded from sock_diag at start,
 * kept up to date by BPF events, and reconciled with sock_diag every resync interval (ports
 * released without an event: the end of TIME_WAIT on the tracepoint backend, dropped events).
 */
#ifndef EPH_TRACKER_H
#define EPH_TRACKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "occupancy.h"

#define EPH_TRACKER_FAILS 8 /* latest failures kept */

struct eph_tracker_opts {
	uint32_t max_ports;   /* holds tracked (0: the occupancy default) */
	uint32_t window_ms;   /* rate window (0: default) */
	uint64_t resync_ms;   /* sock_diag reconciliation interval (0: never) */
	int64_t mono_to_wall; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	FILE *warn;	      /* where namespaces that cannot be read are reported, or NULL */
	bool verbose;	      /* why the port iterator cannot be used (on warn), libbpf's log */
};

struct eph_portiter;

struct eph_tracker {
	struct eph_occ *occ;
	struct eph_tracker_opts o;
	struct eph_portiter *portiter; /* bind buckets of TCP ports; NULL: the kernel refused it */
	uint32_t no_buckets;	       /* namespaces the last sync read without it (0: all known) */
	uint64_t next_resync_ns;
	uint64_t last_sync_ns;
	bool unknown_netns; /* an event came from a namespace not read yet */
	uint32_t *netns;    /* namespaces whose range is known, ascending */
	size_t nnetns, capnetns;
	struct eph_rec fails[EPH_TRACKER_FAILS]; /* ring of the latest failures */
	unsigned int nfails; /* failures seen (index of the next slot, mod the ring) */
	uint64_t bad_records;
	uint32_t cg_seen[1024]; /* pids whose cgroup was looked up (a cache, cleared when full) */
	unsigned int ncg_seen;
	int err; /* -ENOMEM while handling an event */
};

/* Load the port iterator (optional: the tracker works without it), seed from sock_diag (every
 * namespace) and start measuring. Call after the BPF side is attached so that nothing falls
 * between the snapshot and the first event. Returns 0 or -errno. */
int eph_tracker__init(struct eph_tracker *t, const struct eph_tracker_opts *o);
void eph_tracker__fini(struct eph_tracker *t);

/* Ring-buffer callback (eph_record_fn): decode, then eph_tracker__event(). */
int eph_tracker__record(void *ctx, const void *data, size_t size);
/* One decoded event: feed the occupancy, learn the cgroup of a new process, keep failures. */
void eph_tracker__event(struct eph_tracker *t, const struct eph_rec *r);

/* Housekeeping at now_ns (CLOCK_MONOTONIC): exited processes, pruning, and the sock_diag
 * reconciliation when due (or at once when an event came from an unknown namespace).
 * Drain the ring buffer first. Returns 0 or -errno. */
int eph_tracker__tick(struct eph_tracker *t, uint64_t now_ns);

#endif
