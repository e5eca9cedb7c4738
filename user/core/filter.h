/* SPDX-License-Identifier: GPL-2.0 */
/* Which events a command looks at (scope) and which it prints (show). */
#ifndef EPH_FILTER_H
#define EPH_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "container_out.h"
#include "event.h"

struct eph_filter {
	uint32_t pid;		 /* 0 = any; matches the tgid */
	char comm[EPH_COMM_LEN]; /* "" = any; the thread's or the process's name, exactly */
	uint8_t family;		 /* 0 = any, AF_INET, AF_INET6 */
	uint8_t proto;		 /* 0 = any, IPPROTO_TCP, IPPROTO_UDP */
	bool failures_only;	 /* show only failures */
	bool releases;		 /* show releases too (hidden by default) */
	struct eph_ct_filter ct; /* --container, --pod: matched against r->ct */
};

/* The event belongs to what the user asked about (pid, comm, family, proto, container).
 * Summaries and counts use this. */
bool eph_filter_scope(const struct eph_filter *f, const struct eph_rec *r);

/* The event is printed: in scope, and its type is shown (assign, bound_connect and fail;
 * release with --releases; time_wait never; only fail with --failures-only, even with
 * --releases). */
bool eph_filter_show(const struct eph_filter *f, const struct eph_rec *r);

#endif
