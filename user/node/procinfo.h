/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What /proc says about a process that events name by pid only: its cgroup v2 path, its
 * container or pod (container.h) and its network namespace. Read the first time a pid is seen
 * and again after EPH_PI_TTL_NS (a pid can be reused); kept when the process is gone (its
 * releases still come), bounded. The one per-pid cache of the node-facing side: the tracker
 * (top, serve, events --explain) and events use it. Reads /proc: not part of the core.
 */
#ifndef EPH_PROCINFO_H
#define EPH_PROCINFO_H

#include <stdbool.h>
#include <stdint.h>

#include "container.h"
#include "occupancy.h"

#define EPH_PI_TTL_NS 30000000000ull /* 30 s */
#define EPH_PI_DEFAULT_MAX 8192	     /* pids cached */

struct eph_pinfo {
	uint32_t pid;
	uint32_t netns;		  /* its network namespace's inode; 0: not known */
	uint64_t learned_ns;	  /* when /proc was read (CLOCK_MONOTONIC) */
	bool known;		  /* read once at least: ct NULL is then a host process */
	uint64_t used_ns;	  /* when it was last asked for */
	char *cgroup;		  /* cgroup v2 path, or NULL (a v1-only host) */
	struct eph_container *ct; /* NULL: a host process */
};

struct eph_procinfo;

/* node_root: where the node's /var/log and /run are ("" or NULL: "/"); max pids (0: the
 * default). NULL on -ENOMEM (errno set). */
struct eph_procinfo *eph_procinfo__new(const char *node_root, uint32_t max);
void eph_procinfo__free(struct eph_procinfo *pi); /* NULL-safe */

/*
 * The facts of pid at now_ns: read when new or older than the TTL (kept as they were when the
 * process is gone by then). *fresh (if not NULL) says whether /proc was read now. NULL when
 * pid is 0, or on -ENOMEM. Valid until the next call.
 */
const struct eph_pinfo *eph_procinfo__get(struct eph_procinfo *pi, uint32_t pid, uint64_t now_ns,
					  bool *fresh);

/*
 * The same, given to the occupancy: the process's cgroup and container, and its namespace's
 * owner when it runs in a container (not the node's own namespace: a hostNetwork pod owns
 * none). Only what changed is written. 0 or -ENOMEM.
 * eph_procinfo__fact() then eph_pfact__apply(): see there.
 */
int eph_procinfo__apply(struct eph_procinfo *pi, struct eph_occ *occ, uint32_t pid,
			uint64_t now_ns);

/*
 * What eph_procinfo__apply() gives the occupancy, as a copy that outlives the cache: a worker
 * thread reads /proc (eph_procinfo__fact()) and the thread that owns the occupancy applies it
 * later (eph_pfact__apply()), without a /proc read of its own.
 */
struct eph_pfact {
	uint32_t pid;
	uint32_t claim_netns;	  /* the namespace the container owns (0: none) */
	bool fresh;		  /* /proc was read now: write it all */
	char *cgroup;		  /* copies, or NULL */
	struct eph_container *ct; /* NULL: a host process */
};

/* The facts of pid at now_ns into f (eph_procinfo__get()). Returns 1 when they may change the
 * occupancy (read now, or read before: an occupancy that pruned the process and met it again
 * has lost its container, or that it has none), 0 when not (f empty: never read), -ENOMEM. */
int eph_procinfo__fact(struct eph_procinfo *pi, uint32_t pid, uint64_t now_ns, struct eph_pfact *f);
/* Give f to occ: all of it when fresh, else when occ does not know the pid's container
 * (eph_occ__container_known()). 0 or -ENOMEM. */
int eph_pfact__apply(const struct eph_pfact *f, struct eph_occ *occ);
void eph_pfact__clear(struct eph_pfact *f); /* frees the copies; NULL-safe */

/* The node's own network namespace: PID 1's, or where that cannot be read ephtrace's own (it
 * runs in the node's, hostNetwork). 0 if neither is known. */
uint32_t eph_procinfo__init_netns(const struct eph_procinfo *pi);

/* Pids cached now, and cgroup paths the container resolver caches. */
uint32_t eph_procinfo__count(const struct eph_procinfo *pi);
size_t eph_procinfo__containers(const struct eph_procinfo *pi);

/* The node root given on the command line (--node-root), NULL for "/". */
extern const char *eph_node_root;

#endif
