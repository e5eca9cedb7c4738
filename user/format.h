/* SPDX-License-Identifier: GPL-2.0 */
/* Event lines: JSON (one object per line) and bcc-style text columns. */
#ifndef EPH_FORMAT_H
#define EPH_FORMAT_H

#include "event.h"
#include "strbuf.h"

/*
 * One JSON object, no trailing newline, with exactly the names of README's "events --json":
 * event op proto family pid tid comm cgroup_id netns saddr sport daddr dport requested_port
 * ephemeral error errno search_ns held_ns time backend.
 * Unknown values are null (daddr/dport for bind, requested_port for connect/sendmsg,
 * search_ns without EPH_F_SEARCH, held_ns except on a release with EPH_F_HELD).
 */
int eph_format_json(struct strbuf *sb, const struct eph_rec *r, const char *backend);

/* RFC 3339 UTC with nanoseconds: 2026-11-24T05:18:08.123456789Z */
int eph_format_time(struct strbuf *sb, uint64_t wall_ns);

/* Text mode: the header and one aligned line (no trailing newline). Failures are marked
 * with the errno name in RESULT and a leading '!' in OP. TIME is local HH:MM:SS. */
int eph_format_text_header(struct strbuf *sb);
int eph_format_text(struct strbuf *sb, const struct eph_rec *r);

#endif
