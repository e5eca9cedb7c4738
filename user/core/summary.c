// SPDX-License-Identifier: GPL-2.0
/*
 * The per-process summary printed when "ephtrace events" ends.
 *
 * Events arrive at up to millions per second, so adding one is O(1): the tallies live in the
 * one per-process table, the occupancy's (eph_occ__tally(), occ_procs.c), one lookup by pid.
 * Sorting by pid happens once, when the summary is printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errs.h"
#include "jsonw.h"
#include "summary.h"

struct eph_summary {
	struct eph_occ *occ; /* whose process rows keep the tallies */
	bool own_occ;	     /* made by eph_summary__new(NULL): freed with it */
	uint64_t missed;     /* of the drops, program runs the kernel skipped */
};

struct eph_summary *eph_summary__new(struct eph_occ *occ)
{
	struct eph_summary *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->occ = occ;
	if (!occ) {
		s->occ = eph_occ__new(NULL);
		s->own_occ = true;
	}
	if (!s->occ) {
		free(s);
		return NULL;
	}
	return s;
}

void eph_summary__free(struct eph_summary *s)
{
	if (!s)
		return;
	if (s->own_occ)
		eph_occ__free(s->occ);
	free(s);
}

int eph_summary__add(struct eph_summary *s, const struct eph_rec *r)
{
	return eph_occ__tally(s->occ, r);
}

int eph_summary__held_now(struct eph_summary *s, uint8_t proto, uint8_t family)
{
	return eph_occ__tally_held(s->occ, proto, family);
}

void eph_summary__set_held(struct eph_summary *s, uint32_t pid, uint64_t held)
{
	eph_occ__tally_set_held(s->occ, pid, held);
}

static void proc_json(struct jsonw *w, const struct eph_occ_tally *p)
{
	jsonw_raw(w, "{");
	jsonw_u64(w, "pid", p->pid);
	jsonw_str(w, "comm", p->comm, sizeof(p->comm));
	jsonw_u64(w, "assigned", p->assigned);
	eph_errs__json(w, "failed", &p->failed);
	jsonw_u64(w, "held", p->held);
	jsonw_raw(w, "}");
}

static void restore(struct strbuf *sb, size_t len)
{
	sb->len = len;
	if (sb->buf)
		sb->buf[len] = '\0';
}

void eph_summary__set_missed(struct eph_summary *s, uint64_t missed)
{
	s->missed = missed;
}

int eph_summary__json(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend)
{
	const struct eph_occ_tally **v;
	struct jsonw w = { .sb = sb };
	uint64_t un_assigned, un_failed;
	size_t start = sb->len, n, i;

	w.err = eph_occ__tallies(s->occ, &v, &n, &un_assigned, &un_failed);
	if (w.err)
		return w.err;
	jsonw_raw(&w, "{");
	jsonw_str(&w, "event", "summary", SIZE_MAX);
	jsonw_key(&w, "processes");
	jsonw_raw(&w, "[");
	for (i = 0; i < n; i++) {
		jsonw_elem(&w);
		proc_json(&w, v[i]);
	}
	jsonw_raw(&w, "]");
	if (un_assigned || un_failed) {
		jsonw_key(&w, "untracked");
		jsonw_raw(&w, "{");
		jsonw_u64(&w, "assigned", un_assigned);
		jsonw_u64(&w, "failed", un_failed);
		jsonw_raw(&w, "}");
	}
	jsonw_u64(&w, "dropped", dropped);
	if (s->missed)
		jsonw_u64(&w, "missed", s->missed);
	jsonw_str(&w, "backend", backend, SIZE_MAX);
	jsonw_raw(&w, "}");
	free(v);
	return jsonw_end(&w, start);
}

#define SUMMARY_TEXT_FMT "%-7s %-16s %10s %10s %10s  %s"

static void text_comm(const char *comm, char out[EPH_COMM_LEN])
{
	size_t i;

	for (i = 0; i < EPH_COMM_LEN - 1 && comm[i]; i++)
		out[i] = comm[i] >= 0x20 && comm[i] < 0x7f ? comm[i] : '?';
	out[i] = '\0';
}

static int proc_text(struct strbuf *sb, const struct eph_occ_tally *p)
{
	char pid[16], comm[EPH_COMM_LEN], assigned[24], failed[24], held[24];
	int err;

	snprintf(pid, sizeof(pid), "%" PRIu32, p->pid);
	text_comm(p->comm, comm);
	snprintf(assigned, sizeof(assigned), "%" PRIu64, p->assigned);
	snprintf(failed, sizeof(failed), "%" PRIu64, eph_errs__total(&p->failed));
	snprintf(held, sizeof(held), "%" PRIu64, p->held);
	err = sb_printf(sb, "\n" SUMMARY_TEXT_FMT, pid, comm, assigned, failed, held, "");
	if (!err)
		err = eph_errs__text(sb, &p->failed);
	return err;
}

/*
 * PID COMM ASSIGNED FAILED HELD FAILURES, one line per process (FAILED is the total, FAILURES
 * the count per errno name), then "dropped: N, backend: NAME". Lines are separated by '\n',
 * with none after the last.
 */
int eph_summary__text(const struct eph_summary *s, struct strbuf *sb, uint64_t dropped,
		      const char *backend)
{
	const struct eph_occ_tally **v;
	uint64_t un_assigned, un_failed;
	size_t old_len = sb->len, n, i;
	int err;

	err = eph_occ__tallies(s->occ, &v, &n, &un_assigned, &un_failed);
	if (err)
		return err;
	err = sb_printf(sb, SUMMARY_TEXT_FMT, "PID", "COMM", "ASSIGNED", "FAILED", "HELD",
			"FAILURES");
	for (i = 0; !err && i < n; i++)
		err = proc_text(sb, v[i]);
	if (!err && (un_assigned || un_failed))
		err = sb_printf(sb,
				"\nbeyond the first %zu processes: %" PRIu64 " assigned, %" PRIu64
				" failed (not itemized)",
				n, un_assigned, un_failed);
	if (!err)
		err = sb_printf(sb, "\ndropped: %" PRIu64, dropped);
	if (!err && s->missed)
		err = sb_printf(sb, " (%" PRIu64 " runs skipped by the kernel)", s->missed);
	if (!err)
		err = sb_printf(sb, ", backend: %s", backend ? backend : "-");
	free(v);
	if (err)
		restore(sb, old_len);
	return err;
}
