/* SPDX-License-Identifier: GPL-2.0 */
/* log2 histograms read from the kernel's "hists" map: accumulate, diff, print. No libbpf. */
#ifndef EPH_HIST_H
#define EPH_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "ephtrace_user.h"
#include "strbuf.h"

struct eph_hist {
	struct eph_hist_key key; /* slot is always 0 here */
	uint64_t slots[EPH_HIST_SLOTS];
	uint64_t count;
	uint64_t sum_ns;
	/* Port choices of this kind and result that the kernel counted ("stats" map), timed or
	 * not (eph_hists__add_calls); 0 when not read. */
	uint64_t calls;
	/* In a difference (eph_hists__diff): the calls that no bucket timed, because the backend
	 * cannot see where the search ends (tracepoint: a search that succeeds, a bind()). */
	uint64_t untimed;
};

struct eph_hists {
	struct eph_hist *v;
	size_t n, cap;
};

#define EPH_HISTS_INIT { NULL, 0, 0 }

/* Add one map entry (slot < EPH_HIST_SLOTS: a bucket; EPH_HIST_SUM: the sum). Returns 0,
 * -EINVAL for an unknown kind or slot, -ENOMEM. */
int eph_hists__add(struct eph_hists *h, const struct eph_hist_key *k, uint64_t value);
/* Add one "stats" map entry: the calls its port choice histogram would count (assignments and
 * failures of connect(), bind(), listen() and UDP implicit binds; a bound connect() chooses no
 * port and is skipped). Read the stats before the histograms: a call counted in both then never
 * shows as untimed. Returns 0, -EINVAL for an unknown type or errno, -ENOMEM. */
int eph_hists__add_calls(struct eph_hists *h, const struct eph_stat_key *k, uint64_t value);
void eph_hists__reset(struct eph_hists *h); /* empty, keeps the memory */
void eph_hists__free(struct eph_hists *h);
/* out = now - before, histogram by histogram (counters only grow; a missing one counts 0), and
 * the calls not timed in the interval (before NULL: since the start). Histograms with nothing in
 * the interval, timed or not, are left out. Sorted by kind, proto, family, result. */
int eph_hists__diff(struct eph_hists *out, const struct eph_hists *now,
		    const struct eph_hists *before);

/* The order of histograms: by kind, proto, family, result (the slot is not compared). */
int eph_hist_key_cmp(const struct eph_hist_key *a, const struct eph_hist_key *b);

const char *eph_hist_kind_name(uint8_t kind); /* "connect_search" "bind_search" "hold" */

/* bcc's print_log2_hist layout: "low -> high : count |****|" for slots 0..last non-zero. */
int eph_log2_text(struct strbuf *sb, const uint64_t *slots, unsigned int n, const char *unit);
/* Every histogram, each under a title line ("connect port search, tcp ipv4, EADDRNOTAVAIL"),
 * and a line for the calls the backend could not time. */
int eph_hists__text(struct strbuf *sb, const struct eph_hists *h);
/* {"time":"..","histograms":[{"kind","proto","family","result","unit":"ns","count","sum",
 *  "untimed","buckets":[{"low","high","count"}]}]} (non-empty buckets only; count: the calls
 *  timed, untimed: those the backend could not time), no newline. On error nothing is
 *  appended. */
int eph_hists__json(struct strbuf *sb, const struct eph_hists *h, uint64_t wall_ns);

#endif
