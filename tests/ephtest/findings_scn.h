/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The findings scenarios (findings.c drives, findings_check.c reads the findings of a snapshot,
 * findings_wl.c makes the sockets): what the driver and a workload of theirs share, in the
 * workload's struct oracle .priv, and what the driver's two files share.
 */
#ifndef EPHTEST_FINDINGS_SCN_H
#define EPHTEST_FINDINGS_SCN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ephtest.h"

/* What a workload does in step 1 (fd_shared .mode); in step 2 it closes all with RST. */
enum fd_mode {
	FD_NONE,
	FD_BIND0,      /* listener on dport; count x bind(127.0.0.1:0) + connect(), kept */
	FD_NO_PORT,    /* count x IP_BIND_ADDRESS_NO_PORT + bind(127.0.0.1:0) + connect(), kept */
	FD_BIND0_RST,  /* count x bind(127.0.0.1:0) + connect(), each closed with RST at once */
	FD_TW_CHURN,   /* listener on dport; count short connections, closed by us first */
	FD_CONNS,      /* listener on dport; count connections kept (sr_hi: with that range) */
	FD_UDP,	       /* count UDP sockets connect()ed to 127.0.0.1:dport, kept */
	FD_LISTEN,     /* a listener on 127.0.0.1:dport (a fixed port) */
	FD_FIXED_BIND, /* count x bind(127.0.0.1:dport): each must fail with EADDRINUSE */
	FD_PLAIN,      /* a long plain client: keep-alive connections, short ones spread */
};

#define FD_PLAIN_KEEP 6 /* FD_PLAIN: long-lived connections, reused all along */

struct fd_shared {
	/* set by the driver before step 1 */
	int32_t mode; /* enum fd_mode */
	uint32_t count;
	uint16_t dport;
	uint16_t sr_lo, sr_hi; /* IP_LOCAL_PORT_RANGE of FD_CONNS (sr_hi 0: none) */
	uint16_t __pad;
	uint32_t rate;	  /* FD_PLAIN: short connections per second ... */
	uint32_t seconds; /* ... for this long */
	uint32_t hold_ms; /* ... each held this long before close() */
	/* written by the workload */
	int32_t no_option; /* setsockopt(IP_LOCAL_PORT_RANGE) failed with this errno */
	uint32_t made;	   /* sockets made as asked */
	uint32_t failed;   /* calls that failed (FD_FIXED_BIND: as they must) */
	int32_t first_err; /* the errno of the first failure */
	uint32_t bad;	   /* FD_FIXED_BIND: failures that were not EADDRINUSE, or successes */
	uint32_t pings;	   /* FD_PLAIN: request/response round trips on the kept ones */
	uint32_t late;	   /* FD_PLAIN: ticks late by more than a period */
	uint16_t port_lo, port_hi; /* the local ports the kernel chose */
	uint32_t est, tw;	   /* /proc/self/net/{tcp,udp} to dport when step 1 ended */
	int64_t start_wall_ns;	   /* step 1 began (CLOCK_REALTIME) */
	int64_t built_wall_ns;	   /* step 1 ended */
};

_Static_assert(sizeof(struct fd_shared) <= DRV_PRIV_SIZE, "fd_shared does not fit");

static inline struct fd_shared *fd_of(struct oracle *o)
{
	return (struct fd_shared *)o->priv;
}

/* ---- the driver (findings.c, findings_check.c) ---- */

#define FD_ROLES 2 /* processes besides the workload, in its namespace */

/* Whose a finding is (its pid), as bits: the findings of the expected kind must be exactly
 * those of a mask. */
#define W_NULL 1u /* pid null: the finding is about the namespace, or the owner is gone */
#define W_MAIN 2u /* the workload's pid (A) */
#define W_B 4u	  /* the first other process's */
#define W_C 8u	  /* the second's */
#define W_ALL 4

struct fd_role {
	int mode; /* enum fd_mode; FD_NONE: none */
	uint32_t count;
};

struct fd_spec {
	const char *name;
	int mode; /* enum fd_mode */
	uint32_t count;
	struct fd_role role[FD_ROLES];
	uint16_t dport;	       /* the destination port, or the fixed port */
	uint16_t sr_lo, sr_hi; /* IP_LOCAL_PORT_RANGE of the connections (sr_hi 0: none) */
	uint32_t rate, seconds, hold_ms; /* FD_PLAIN */
	uint32_t vm_seconds;		 /* FD_PLAIN in the test VMs */
	const char *vm_skip;		 /* in the test VMs: SKIP, and why */
	const char *kind;		 /* the one expected (NULL: none above info) */
	bool dest;			 /* the finding names 127.0.0.1:dport */
	bool fixed;			 /* the finding names tcp port dport */
	unsigned int top, status;	 /* W_*: whose findings of the kind there must be */
	const char *ringbuf;
};

/* One run of a findings scenario (findings.c). */
struct fd_run {
	struct drv d;
	const struct fd_spec *sp;
	struct workload role[FD_ROLES]; /* the other processes (B, C), if any */
	int nroles;			/* started */
	bool vm;			/* in a test VM (tests/vm) */
	int bad_snaps;			/* snapshots of top with a problem */
	char info_seen[128];		/* find-plain: the kinds seen at severity info */
	char top_saw[512], status_saw[512];
};

struct json_object;

/*
 * The findings of snap in r's namespace: the expected kind for exactly the processes of need
 * (none: nothing above info, find-plain), with its place, and nothing else. Returns the bits
 * of need found, hit[] the findings (references into snap); problems go to the report (show
 * false: counted only, in *bad).
 */
unsigned int fd_check_snap(struct fd_run *r, struct json_object *snap, const char *where,
			   unsigned int need, bool show, int *bad, struct json_object *hit[W_ALL]);
/* One problem about a snapshot (or status), the findings of r's namespace under it. */
void fd_snap_problem(struct fd_run *r, struct json_object *fs, const char *where, const char *what);
/* What was found, into out: each finding with the first words of its evidence. */
void fd_saw_all(char *out, size_t len, struct json_object *const hit[W_ALL], int words);
/* "pid 12 and pid 14" for a mask of W_*. */
const char *fd_who_text(const struct fd_run *r, unsigned int mask, char *buf, size_t len);

#endif
