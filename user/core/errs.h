/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Failures counted by errno, in fixed memory: the one counter the per-process rows (the
 * occupancy's processes, the events summary) and the per-identity metric series share.
 * Port selection fails in a handful of ways (EADDRNOTAVAIL, EADDRINUSE, EAGAIN, a few others):
 * EPH_ERRS_MAX distinct errnos are counted by name, ascending; what a further one counts is the
 * caller's to place (eph_errs__add() says false), "OTHER" in the rows.
 */
#ifndef EPH_ERRS_H
#define EPH_ERRS_H

#include <stdbool.h>
#include <stdint.h>

#include "jsonw.h"
#include "strbuf.h"

#define EPH_ERRS_MAX 8
#define EPH_ERRS_OTHER "OTHER"

struct eph_errcount {
	int32_t err; /* positive errno */
	uint32_t __pad;
	uint64_t count;
};

struct eph_errs {
	uint32_t n; /* errnos in v */
	uint32_t __pad;
	uint64_t other;			     /* counts that did not fit (eph_errs__count()) */
	struct eph_errcount v[EPH_ERRS_MAX]; /* ascending by err */
};

/* count more of err; false (nothing counted) when EPH_ERRS_MAX other errnos are there */
bool eph_errs__add(struct eph_errs *e, int32_t err, uint64_t count);
/* one of err, or one in other when it does not fit */
void eph_errs__count(struct eph_errs *e, int32_t err);
uint64_t eph_errs__total(const struct eph_errs *e); /* other included */
/* "key":{"EADDRNOTAVAIL":3,"EAGAIN":1,"OTHER":2} (the object empty when nothing is counted) */
void eph_errs__json(struct jsonw *w, const char *key, const struct eph_errs *e);
/* "EADDRNOTAVAIL=3 EAGAIN=1 OTHER=2", or "-" when nothing is counted. 0 or -ENOMEM. */
int eph_errs__text(struct strbuf *sb, const struct eph_errs *e);

#endif
