/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live occupancy of ephemeral ports, for top and serve: seeded from sock_diag at start,
 * kept up to date by BPF events, and reconciled with sock_diag every resync interval (ports
 * released without an event: the end of TIME_WAIT on the tracepoint backend, dropped events).
 *
 * The slow work (the dumps of every namespace, the owners of their sockets from /proc, the
 * cgroup and container of new pids, whether tracked pids still run) is a job: it is collected
 * without touching the occupancy, then applied to it in memory. top and events --explain do
 * both in eph_tracker__tick(). serve gives the collecting to a worker thread
 * (eph_tracker__start_worker()): its event loop only drains events and applies what the
 * worker found, under its own lock, so a resync never holds the lock or stops the draining.
 * A resync comes every resync_ms, or after a rest as long as its collect took, if longer
 * (each namespace's dump walks the kernel's whole socket hash: many namespaces, long dumps).
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
	uint32_t max_ports;	 /* holds tracked (0: the occupancy default) */
	uint32_t window_ms;	 /* rate window (0: default) */
	uint64_t resync_ms;	 /* sock_diag reconciliation interval (0: never) */
	int64_t mono_to_wall;	 /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	bool warn;		 /* namespaces that cannot be read are said on stderr */
	bool verbose;		 /* why the port iterator cannot be used (if warn), libbpf's log */
	struct eph_procinfo *pi; /* the command's own (kept), or NULL: the tracker makes one */
	bool log;		 /* a line per resync applied (what, how long) on stderr */
	/* the loaded BPF object, if opened with eph_loader_opts.seeds: its "seeds" map is kept
	 * equal to the holds only a snapshot knows after each one is applied (seeds.h); NULL:
	 * such holds wait for the next resync to go. Without a worker, its ring is drained
	 * between a resync's dumps and their applying (the events of the meantime first). */
	struct eph_loader *loader;
};

/* How the resyncs went (CLOCK_MONOTONIC durations). */
struct eph_tracker_stats {
	uint64_t resyncs;	 /* snapshots applied, the first (seed) included */
	uint64_t collect_ns;	 /* the last one's dumps and owners (the worker's, in serve) */
	uint64_t collect_max_ns; /* the longest */
	uint64_t apply_ns;	 /* the last one given to the occupancy (under serve's lock) */
	uint64_t apply_max_ns;
	uint64_t released_meanwhile; /* snapshot sockets events said were gone before it was
				      * applied (not brought back) */
	uint64_t pids_unnoted;	     /* pids of events that did not fit the list to learn */
	uint64_t seeds;		     /* sockets of the last snapshot the kernel side follows by
				      * cookie (opts.loader) */
	uint64_t seeds_full;	     /* of its sockets, those the seeds map had no room for */
};

struct eph_portiter;
struct eph_owners;
struct eph_tracker_worker;
struct eph_sockdiag_release;
struct eph_seeds;
struct eph_loader;

struct eph_tracker {
	struct eph_occ *occ;
	struct eph_tracker_opts o;
	uint32_t no_buckets; /* namespaces the last sync read without it (0: all known) */
	uint64_t next_resync_ns;
	uint64_t last_sync_ns;
	bool unknown_netns; /* an event came from a namespace not read yet */
	uint32_t *netns;    /* namespaces whose range is known, ascending */
	size_t nnetns, capnetns;
	struct eph_rec fails[EPH_TRACKER_FAILS]; /* ring of the latest failures */
	unsigned int nfails; /* failures seen (index of the next slot, mod the ring) */
	uint64_t bad_records;
	int err; /* -ENOMEM while handling an event */
	struct eph_tracker_stats stats;
	/* what a job collects with: the worker's alone while it runs */
	struct eph_portiter *portiter; /* bind buckets of TCP ports; NULL: the kernel refused it */
	struct eph_procinfo *pi;       /* cgroup, container and netns of the pids events name */
	bool own_pi;		       /* made by the tracker: freed with it */
	struct eph_owners *owners;     /* socket owners, kept from one sync to the next */
	uint64_t next_refresh_ns;      /* when the owners are looked for again from nothing */
	/* the event side's, for the next job */
	struct eph_tracker_worker *w; /* NULL: eph_tracker__tick() does the jobs itself */
	uint32_t *pids;		      /* pids events named since the last job */
	size_t npids, cappids;
	uint32_t *hints; /* the same since the last resync: their owners are looked for first */
	size_t nhints, caphints;
	bool resync_out; /* a resync job is out: releases are kept for it */
	struct eph_sockdiag_release *rels;
	size_t nrels, caprels;
	uint64_t next_check_ns; /* exited processes are looked for (serve: at most once a second) */
	struct eph_seeds *seeds; /* opts.loader's map, or NULL */
	uint64_t *seedv;	 /* eph_occ__seed_cookies()'s, for it */
	size_t capseedv;
};

/* Load the port iterator (optional: the tracker works without it), seed from sock_diag (every
 * namespace) and start measuring. Call after the BPF side is attached so that nothing falls
 * between the snapshot and the first event. Returns 0 or -errno. */
int eph_tracker__init(struct eph_tracker *t, const struct eph_tracker_opts *o);
/* Stops the worker first, if one runs. */
void eph_tracker__fini(struct eph_tracker *t);

/*
 * From now on jobs are collected by a thread of the tracker's: it reads /proc and sock_diag
 * and never touches the occupancy. The caller still calls the tracker from one thread at a
 * time (serve: its event loop, and its HTTP thread only reads t->occ, both under its lock).
 * Returns 0 or -errno (then the tracker goes on without it).
 */
int eph_tracker__start_worker(struct eph_tracker *t);

/* Ring-buffer callback (eph_record_fn): decode, then eph_tracker__event(). */
int eph_tracker__record(void *ctx, const void *data, size_t size);
/* One decoded event: feed the occupancy, note the pid for its cgroup and container (with a
 * worker; else read them now), keep failures. */
void eph_tracker__event(struct eph_tracker *t, const struct eph_rec *r);

/*
 * Housekeeping at now_ns (CLOCK_MONOTONIC): apply what the worker found, hand it the next job
 * (exited processes, the pids to learn, the sock_diag reconciliation when due, or at once when
 * an event came from an unknown namespace) and prune. Without a worker the job is done here.
 * Drain the ring buffer first. Returns 0 or -errno.
 */
int eph_tracker__tick(struct eph_tracker *t, uint64_t now_ns);

/* With a worker, whether eph_tracker__poll() has something to do: a job to apply, or pids
 * waiting for an idle worker. Needs no lock (the event thread's own call). */
bool eph_tracker__pending(const struct eph_tracker *t);
/* The tick without its pruning: apply the worker's job, if done, and hand it the next one if
 * anything waits. Drain the ring buffer first. Returns 0 or -errno. */
int eph_tracker__poll(struct eph_tracker *t, uint64_t now_ns);

#endif
