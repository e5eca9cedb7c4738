/* SPDX-License-Identifier: GPL-2.0 */
/* The per-process summary printed when "ephtrace events" ends. */
#ifndef EPH_SUMMARY_H
#define EPH_SUMMARY_H

#include <stdint.h>

#include "event.h"
#include "strbuf.h"

struct eph_summary;

/* Processes itemized at most (about 200 bytes each); the events of further processes are
 * counted in the summary's "untracked" totals, so that a long run stays bounded. */
#define EPH_SUMMARY_MAX_PROCS 65536

struct eph_summary *eph_summary__new(void);
void eph_summary__free(struct eph_summary *s); /* NULL-safe */

/*
 * Count one in-scope event. assign: assigned++ and held++ for ev.pid; fail: failed[errname]++;
 * release with EPH_F_OWNER: held-- for ev.pid (the owner) if it had one (this running count of
 * held is what eph_summary__set_held() replaces).
 * time_wait: nothing (the port is still held); bound_connect: nothing (no port was taken: the
 * bind() was the assignment). A release never creates a row. comm is the latest seen on an
 * assign or fail. At most 8 distinct errnos are named per process; further ones are counted
 * under "OTHER". O(1) per call. Returns 0 or -ENOMEM.
 */
int eph_summary__add(struct eph_summary *s, const struct eph_rec *r);

/*
 * The ports each process holds now, from the occupancy tracker, in place of the running count
 * (assignments minus releases seen), which cannot see a port go back without an event (the end
 * of TIME_WAIT on the tracepoint backend) nor one taken before the summary started.
 * eph_summary__clear_held() sets every process's held to 0; eph_summary__set_held() then sets
 * those that hold ports (a pid without a row is ignored: no row is made).
 */
void eph_summary__clear_held(struct eph_summary *s);
void eph_summary__set_held(struct eph_summary *s, uint32_t pid, uint64_t held);

/* Of the drops to come, the program runs the kernel skipped (EPH_CNT_MISSED): the JSON says
 * "missed":N after "dropped" and the text "(N runs skipped by the kernel)", when N > 0. */
void eph_summary__set_missed(struct eph_summary *s, uint64_t missed);

/* {"event":"summary","processes":[{"pid":N,"comm":"..","assigned":N,"failed":{"EADDRNOTAVAIL":N},
 *  "held":N}],"dropped":N,"backend":".."} without newline, processes by pid ascending, failed
 * names by errno ascending then "OTHER"; backend NULL gives null. */
int eph_summary__json(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend);
/* The same as an aligned table (PID COMM ASSIGNED FAILED HELD FAILURES; FAILED is the total,
 * FAILURES "EADDRNOTAVAIL=3 EAGAIN=1" or "-") and a last line "dropped: N, backend: NAME".
 * Lines are separated by '\n', with none after the last. */
int eph_summary__text(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend);

#endif
