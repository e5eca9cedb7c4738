/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The findings scenarios (findings.c drives, findings_wl.c makes the sockets): what the driver
 * and a workload of theirs share, in the workload's struct oracle .priv.
 */
#ifndef EPHTEST_FINDINGS_SCN_H
#define EPHTEST_FINDINGS_SCN_H

#include <stdint.h>

#include "ephtest.h"

/* What a workload does in step 1 (fd_shared .mode); in step 2 it closes all with RST. */
enum fd_mode {
	FD_NONE,
	FD_BIND0,      /* listener on dport; count x bind(127.0.0.1:0) + connect(), kept */
	FD_NO_PORT,    /* count x IP_BIND_ADDRESS_NO_PORT + bind(127.0.0.1:0) + connect(), kept */
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

#endif
