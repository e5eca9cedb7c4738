/* SPDX-License-Identifier: GPL-2.0 */
/* Event lines: JSON (one object per line) and bcc-style text columns. */
#ifndef EPH_FORMAT_H
#define EPH_FORMAT_H

#include "event.h"
#include "strbuf.h"

/*
 * One JSON object, no trailing newline, with exactly the names of README's "events --json":
 * event op proto family pid tid comm process_comm cgroup_id netns saddr sport daddr dport
 * requested_port ephemeral bound bind_address_no_port error errno search_ns held_ns time backend
 * container_id container_runtime pod pod_namespace pod_uid container (from r->ct).
 * comm is the thread's name, process_comm the process's (eph_proc_comm()).
 * Unknown values are null (saddr without EPH_F_SADDR, daddr/dport without EPH_F_DEST as on bind,
 * requested_port without EPH_F_REQ as on connect/sendmsg, search_ns without EPH_F_SEARCH,
 * held_ns except on a release with EPH_F_HELD, error when err is 0, op for EPH_OP_NONE).
 * backend NULL means the record's own backend name. On error nothing is appended.
 */
int eph_format_json(struct strbuf *sb, const struct eph_rec *r, const char *backend);

/* RFC 3339 UTC with nanoseconds: 2026-11-24T05:18:08.123456789Z */
int eph_format_time(struct strbuf *sb, uint64_t wall_ns);

/* Text mode: the header and one aligned line (no trailing newline). Failures are marked
 * with the errno name in RESULT and a leading '!' in OP. TIME is local HH:MM:SS. COMM is the
 * process's name (eph_proc_comm()), as in the per-process tables. Releases show RESULT
 * "released" and, in the SEARCH_US column, "held=<microseconds>"; a connect() on a port bind()
 * gave shows RESULT "bound" (see format.c). */
int eph_format_text_header(struct strbuf *sb);
int eph_format_text(struct strbuf *sb, const struct eph_rec *r);

#endif
