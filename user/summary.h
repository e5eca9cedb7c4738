/* SPDX-License-Identifier: GPL-2.0 */
/* The per-process summary printed when "ephtrace events" ends. */
#ifndef EPH_SUMMARY_H
#define EPH_SUMMARY_H

#include <stdint.h>

#include "event.h"
#include "strbuf.h"

struct eph_summary;

struct eph_summary *eph_summary__new(void);
void eph_summary__free(struct eph_summary *s); /* NULL-safe */

/*
 * Count one in-scope event. assign: assigned++ and held++ for ev.pid; fail: failed[errname]++;
 * release with EPH_F_OWNER: held-- for ev.pid (the owner) if it had one.
 * time_wait: nothing (the port is still held). Returns 0 or -ENOMEM.
 */
int eph_summary__add(struct eph_summary *s, const struct eph_rec *r);

/* {"event":"summary","processes":[{"pid":N,"comm":"..","assigned":N,"failed":{"EADDRNOTAVAIL":N},
 *  "held":N}],"dropped":N,"backend":".."} without newline, processes by pid ascending. */
int eph_summary__json(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend);
/* The same as an aligned table (PID COMM ASSIGNED FAILED HELD) with a dropped/backend line. */
int eph_summary__text(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend);

#endif
